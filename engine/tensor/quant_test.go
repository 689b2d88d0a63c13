package tensor

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

var allTypes = []Type{F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K}

func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

func dq(t *testing.T, typ Type, blk []byte, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	if err := Dequantize(typ, blk, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestQ4_0Layout(t *testing.T) {
	blk := make([]byte, 18)
	putF16(blk, 0.5)
	for j := 0; j < 16; j++ {
		blk[2+j] = byte(j) | byte(15-j)<<4 // element j = j, element j+16 = 15-j
	}
	y := dq(t, Q4_0, blk, 32)
	for j := 0; j < 16; j++ {
		if want := 0.5 * float32(j-8); y[j] != want {
			t.Errorf("elem %d = %v want %v", j, y[j], want)
		}
		if want := 0.5 * float32(15-j-8); y[j+16] != want {
			t.Errorf("elem %d = %v want %v", j+16, y[j+16], want)
		}
	}
}

func TestQ8_0Layout(t *testing.T) {
	blk := make([]byte, 34)
	putF16(blk, 0.25)
	blk[2] = 0x80 // -128
	blk[3] = 4
	blk[33] = 0x7f
	y := dq(t, Q8_0, blk, 32)
	if y[0] != -32 || y[1] != 1 || y[31] != 31.75 || y[5] != 0 {
		t.Errorf("got %v", y)
	}
}

// TestQ4KLayout builds a block by hand: sub-block 1 (weights 32..63, the high
// nibbles of bytes 0..31) has scale 3 and min 5; sub-block 6 (weights
// 192..223, low nibbles of bytes 96..127) has scale 33 = 0b100001 and min 50 =
// 0b110010, exercising the split 6-bit encoding.
func TestQ4KLayout(t *testing.T) {
	blk := make([]byte, 144)
	putF16(blk, 2)     // d
	putF16(blk[2:], 1) // dmin
	sc := blk[4:16]
	sc[1] = 3             // scale of sub-block 1
	sc[5] = 5             // min of sub-block 1
	sc[10] = 0x1 | 0x2<<4 // low 4 bits of scale 33 (0001) and min 50 (0010) of sub-block 6
	sc[2] |= 0x2 << 6     // top bits of scale 33 = 10
	sc[6] |= 0x3 << 6     // top bits of min 50 = 11
	qs := blk[16:]
	qs[7] = 0x90    // high nibble 9 -> weight 32+7
	qs[96+4] = 0x0c // low nibble 12 -> weight 192+4
	y := dq(t, Q4_K, blk, 256)
	if want := float32(2*3*9 - 5); y[39] != want {
		t.Errorf("w39 = %v want %v", y[39], want)
	}
	if want := float32(-5); y[40] != want {
		t.Errorf("w40 = %v want %v", y[40], want)
	}
	if want := float32(2*33*12 - 50); y[196] != want {
		t.Errorf("w196 = %v want %v", y[196], want)
	}
	if y[197] != -50 || y[0] != 0 {
		t.Errorf("w197 = %v, w0 = %v", y[197], y[0])
	}
}

func TestQ5KLayout(t *testing.T) {
	blk := make([]byte, 176)
	putF16(blk, 1)
	putF16(blk[2:], 0.5)
	sc := blk[4:16]
	sc[3] = 2 // sub-block 3: weights 96..127, high nibbles of qs[32..63], qh bit 3
	sc[7] = 4
	qh := blk[16:48]
	qs := blk[48:]
	qs[32+10] = 0x70 // high nibble 7 -> weight 106
	qh[10] = 1 << 3  // +16
	y := dq(t, Q5_K, blk, 256)
	if want := float32(2*(7+16)) - 0.5*4; y[106] != want {
		t.Errorf("w106 = %v want %v", y[106], want)
	}
	if want := float32(-2); y[107] != want {
		t.Errorf("w107 = %v want %v", y[107], want)
	}
}

func TestQ6KLayout(t *testing.T) {
	blk := make([]byte, 210)
	putF16(blk[208:], 0.5)
	sc := blk[192:208]
	// Weight 128+64+17 = 209 lives in the second half, third quarter: low
	// nibble is the high nibble of ql[64+17], top 2 bits are bits 4-5 of
	// qh[32+17]; its sub-block is 8 + 4 + 1 = 13.
	sc[13] = 0xfd             // int8 -3
	blk[64+17] = 0xa0         // low 4 bits = 10
	blk[128+32+17] = 0x2 << 4 // high 2 bits = 2 -> q = 10 + 32 = 42
	y := dq(t, Q6_K, blk, 256)
	if want := float32(0.5 * -3 * (42 - 32)); y[209] != want {
		t.Errorf("w209 = %v want %v", y[209], want)
	}
	// Weight 0 with q=0 (all bits zero) decodes to d*sc[0]*(-32).
	sc[0] = 1
	y = dq(t, Q6_K, blk, 256)
	if y[0] != -16 {
		t.Errorf("w0 = %v want -16", y[0])
	}
}

func TestDequantizeSizeErrors(t *testing.T) {
	if err := Dequantize(Q4_K, make([]byte, 143), make([]float32, 256)); err == nil {
		t.Error("short Q4_K block accepted")
	}
	if err := Dequantize(Q8_0, make([]byte, 34), make([]float32, 31)); err == nil {
		t.Error("31 weights of Q8_0 accepted")
	}
	if err := Dequantize(Type(7), nil, nil); err == nil {
		t.Error("unsupported type accepted")
	}
	if _, err := Quantize(Q4_0, []float32{float32(math.Inf(1))}); err == nil {
		t.Error("bad length accepted")
	}
	x := make([]float32, 32)
	x[3] = float32(math.NaN())
	if _, err := Quantize(Q8_0, x); err == nil {
		t.Error("NaN accepted")
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// Bounds on RMS(error)/RMS(x) for Gaussian data, a little above what the
// quantizers reach (Q4_0 0.088, Q4_K 0.072, Q5_K 0.036, Q6_K 0.018, Q8_0
// 0.0055); plain min/max rounding for Q4_K would be near Q4_0's error.
var relRMSBound = map[Type]float64{
	F32: 0, F16: 4e-4, BF16: 3e-3, Q8_0: 0.007, Q4_0: 0.10, Q4_K: 0.082, Q5_K: 0.042, Q6_K: 0.021,
}

func relRMS(a, b []float32) float64 {
	var e, s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		e += d * d
		s += float64(a[i]) * float64(a[i])
	}
	return math.Sqrt(e / s)
}

func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := randVec(r, 4096)
	for _, typ := range allTypes {
		q, err := Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		y := dq(t, typ, q, len(x))
		got := relRMS(x, y)
		t.Logf("%v rel RMS %.4f", typ, got)
		if got > relRMSBound[typ] {
			t.Errorf("%v: relative RMS error %.4f above %.4f", typ, got, relRMSBound[typ])
		}
	}
}

// The K-quant scale search must beat plain min/max grid rounding; this is
// what the search is for.
func TestKQuantSearchHelps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := randVec(r, 32)
	w := make([]float32, 32)
	for i := range w {
		w[i] = 1
	}
	var L [32]uint8
	s, m := fitScaleMin(x, w, 15, L[:])
	var eSearch, eNaive float64
	mn, mx := x[0], x[0]
	for _, v := range x {
		mn, mx = min(mn, v), max(mx, v)
	}
	for i, v := range x {
		d := float64(s*float32(L[i]) - m - v)
		eSearch += d * d
		step := (mx - mn) / 15
		l := math.Round(float64((v - mn) / step))
		d = float64(float32(l)*step+mn) - float64(v)
		eNaive += d * d
	}
	if eSearch > eNaive {
		t.Errorf("search error %v worse than naive %v", eSearch, eNaive)
	}
}

func TestQuantizeSpecialBlocks(t *testing.T) {
	for _, typ := range allTypes {
		bs := max(typ.BlockSize(), 256)
		zero := make([]float32, bs)
		q, err := Quantize(typ, zero)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range dq(t, typ, q, bs) {
			if v != 0 {
				t.Fatalf("%v zero block decodes %v at %d", typ, v, i)
			}
		}
		// Constant positive and negative blocks must come back close.
		for _, c := range []float32{3, -0.7} {
			x := make([]float32, bs)
			for i := range x {
				x[i] = c
			}
			q, _ := Quantize(typ, x)
			y := dq(t, typ, q, bs)
			if e := relRMS(x, y); e > relRMSBound[typ]+1e-3 {
				t.Errorf("%v constant %v: rel err %v", typ, c, e)
			}
		}
	}
}

// QuantizeQ8_0Act rounds as ggml's CPU quantizer for activations and
// cache rows does (×127/amax, ties to even), where Quantize rounds as
// llama-quantize writes files (÷(amax/127), ties away from zero); a
// non-finite block becomes zeros.
func TestQuantizeQ8_0Act(t *testing.T) {
	x := make([]float32, 64)
	x[0], x[1], x[2], x[3] = 127, 2.5, -3.5, 0.5
	x[32], x[33] = 1, float32(math.Inf(1))
	got := make([]byte, 68)
	QuantizeQ8_0Act(x, got)
	if d := F16ToF32(uint16(got[0]) | uint16(got[1])<<8); d != 1 {
		t.Fatalf("scale %v, want 1", d)
	}
	if q := [4]int8{int8(got[2]), int8(got[3]), int8(got[4]), int8(got[5])}; q != [4]int8{127, 2, -4, 0} {
		t.Errorf("activation rounding gave %v, want [127 2 -4 0] (ties to even)", q)
	}
	if !bytes.Equal(got[34:], make([]byte, 34)) {
		t.Errorf("a block with +Inf was stored as %v, want zeros", got[34:])
	}
	w, err := Quantize(Q8_0, x[:32])
	if err != nil {
		t.Fatal(err)
	}
	if q := [3]int8{int8(w[3]), int8(w[4]), int8(w[5])}; q != [3]int8{3, -4, 1} {
		t.Errorf("file rounding gave %v, want [3 -4 1] (ties away from zero)", q)
	}
}
