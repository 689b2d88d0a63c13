package tensor

import (
	"math"
	"testing"
)

func TestF16Known(t *testing.T) {
	cases := []struct {
		h uint16
		f float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x3555, 0.333251953125},
		{0x0001, 1.0 / (1 << 24)}, {0x0400, 1.0 / (1 << 14)}, {0x7c00, float32(math.Inf(1))},
		{0xfc00, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		if got := F16ToF32(c.h); got != c.f {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", c.h, got, c.f)
		}
		if got := F32ToF16(c.f); got != c.h {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if !math.IsNaN(float64(F16ToF32(0x7e00))) || !math.IsNaN(float64(F16ToF32(F32ToF16(float32(math.NaN()))))) {
		t.Error("NaN not preserved")
	}
}

func TestF16Rounding(t *testing.T) {
	// 1 + 2^-11 is exactly halfway between 1 and the next half (1+2^-10):
	// ties go to the even mantissa (1.0); slightly above rounds up.
	if got := F32ToF16(1 + 1.0/2048); got != 0x3c00 {
		t.Errorf("tie to even: got %#04x", got)
	}
	if got := F32ToF16(1 + 3.0/2048); got != 0x3c02 {
		t.Errorf("tie to even (odd below): got %#04x", got)
	}
	if got := F32ToF16(1 + 1.0/2048 + 1.0/(1<<20)); got != 0x3c01 {
		t.Errorf("above half: got %#04x", got)
	}
	if got := F32ToF16(65520); got != 0x7c00 {
		t.Errorf("65520 should overflow to Inf, got %#04x", got)
	}
	if got := F32ToF16(1.0 / (1 << 25)); got != 0 { // half of the smallest subnormal, tie to even 0
		t.Errorf("2^-25 got %#04x", got)
	}
	if got := F32ToF16(1.5 / (1 << 24)); got != 2 { // tie between 1 and 2 subnormal units → 2
		t.Errorf("1.5*2^-24 got %#04x", got)
	}
}

func TestF16RoundTripAll(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToF16(f); got != h {
			t.Fatalf("round trip %#04x -> %v -> %#04x", h, f, got)
		}
		if f16ToF32Slow(h) != f {
			t.Fatalf("table mismatch at %#04x", h)
		}
	}
}

func TestBF16(t *testing.T) {
	if got := BF16ToF32(0x3f80); got != 1 {
		t.Errorf("BF16ToF32(0x3f80) = %v", got)
	}
	if got := F32ToBF16(1); got != 0x3f80 {
		t.Errorf("F32ToBF16(1) = %#04x", got)
	}
	// 1 + 2^-8 is halfway between bf16 1.0 and 1+2^-7: ties to even.
	if got := F32ToBF16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("tie: %#04x", got)
	}
	if got := F32ToBF16(1 + 3.0/256); got != 0x3f82 {
		t.Errorf("tie odd: %#04x", got)
	}
	if !math.IsNaN(float64(BF16ToF32(F32ToBF16(float32(math.NaN()))))) {
		t.Error("NaN lost")
	}
	for i := 0; i < 1<<16; i++ {
		f := BF16ToF32(uint16(i))
		if math.IsNaN(float64(f)) {
			continue
		}
		if F32ToBF16(f) != uint16(i) {
			t.Fatalf("bf16 round trip %#04x", i)
		}
	}
}

func TestRowBytes(t *testing.T) {
	cases := []struct {
		t    Type
		n, b int
	}{{F32, 3, 12}, {F16, 5, 10}, {BF16, 2, 4}, {Q4_0, 64, 36}, {Q8_0, 32, 34}, {Q4_K, 512, 288}, {Q5_K, 256, 176}, {Q6_K, 256, 210}}
	for _, c := range cases {
		got, err := RowBytes(c.t, c.n)
		if err != nil || got != c.b {
			t.Errorf("RowBytes(%v,%d) = %d,%v want %d", c.t, c.n, got, err, c.b)
		}
	}
	if _, err := RowBytes(Q4_K, 100); err == nil {
		t.Error("Q4_K with 100 weights should fail")
	}
	if _, err := RowBytes(Type(3), 32); err == nil {
		t.Error("Q4_1 is unsupported and should fail")
	}
	if Type(3).String() != "Q4_1" || Type(99).String() != "type(99)" || Q6_K.String() != "Q6_K" {
		t.Error("String names wrong")
	}
	if Type(3).Valid() || !BF16.Valid() {
		t.Error("Valid wrong")
	}
}

// The bulk conversion gives every float16 value's exact float32, in every
// kernel set, for lengths that exercise the vector loops and the tails.
func TestF16sToF32(t *testing.T) {
	forEachKernelSet(t, false, func(t *testing.T) {
		src := make([]byte, 2*65536)
		for h := 0; h < 65536; h++ {
			src[2*h], src[2*h+1] = byte(h), byte(h>>8)
		}
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 40, 65536} {
			dst := make([]float32, n+1)
			dst[n] = 42
			F16sToF32(src, dst[:n])
			for i := 0; i < n; i++ {
				want := F16ToF32(uint16(i))
				if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
					t.Fatalf("n=%d: value %#04x -> %v, want %v", n, i, dst[i], want)
				}
			}
			if dst[n] != 42 {
				t.Fatalf("n=%d: wrote past the end", n)
			}
		}
		x := []float32{1.0001, -3.14159, 65504, 1e-8, 7}
		got := make([]float32, len(x))
		RoundF16(x, got)
		for i, v := range x {
			if want := F16ToF32(F32ToF16(v)); got[i] != want {
				t.Fatalf("RoundF16(%v) = %v, want %v", v, got[i], want)
			}
		}
	})
}
