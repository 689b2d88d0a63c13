package tensor

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestSoftmaxSwiGLU checks every kernel set's Softmax and SwiGLU against
// float64 math at lengths around the vector width, with large, tiny and
// non-finite inputs.
func TestSoftmaxSwiGLU(t *testing.T) { forEachKernelSet(t, false, testSoftmaxSwiGLU) }

func testSoftmaxSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 2, 15, 16, 17, 33, 100, 513} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 20)
		}
		x[0] = 80 // e^80 alone would not fit a float32 without the max shift
		want := make([]float64, n)
		mx := math.Inf(-1)
		for _, v := range x {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for i, v := range x {
			want[i] = math.Exp(float64(v) - mx)
			sum += want[i]
		}
		Softmax(x)
		for i := range x {
			if d := math.Abs(float64(x[i]) - want[i]/sum); d > 1e-6+1e-5*want[i]/sum {
				t.Fatalf("softmax n=%d [%d] = %v, want %v", n, i, x[i], want[i]/sum)
			}
		}

		g, u := make([]float32, n), make([]float32, n)
		for i := range g {
			g[i], u[i] = float32(r.NormFloat64()*8), float32(r.NormFloat64())
		}
		g[0] = -200 // e^200 overflows: silu must still go to -0, not NaN
		if n > 1 {
			g[1] = 200
		}
		g0 := append([]float32(nil), g...)
		SwiGLU(g, u)
		for i, v := range g0 {
			w := float64(v) / (1 + math.Exp(-float64(v))) * float64(u[i])
			if d := math.Abs(float64(g[i]) - w); d > 1e-5*math.Abs(w)+1e-6 || math.IsNaN(float64(g[i])) {
				t.Fatalf("swiglu n=%d [%d] of %v,%v = %v, want %v", n, i, v, u[i], g[i], w)
			}
		}
	}
	x := []float32{1, float32(math.NaN()), 2}
	Softmax(x)
	if !math.IsNaN(float64(x[1])) {
		t.Errorf("softmax with a NaN gave %v", x)
	}
	Softmax(nil)
	SwiGLU(nil, nil)
}

// TestFMA32 checks the float32 FMA against exact arithmetic, including the
// case plain float64 rounding gets wrong: a product on a float32 tie, pushed
// just above it by an addend too small for float64 to keep.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	one := float32(1 + 0x1p-12)
	if got, want := FMA32(one, one, 0x1p-80), float32(1+0x1p-11+0x1p-23); got != want {
		t.Fatalf("FMA32 tie case = %v, want %v", got, want)
	}
	if got, want := FMA32(one, one, -0x1p-80), float32(1+0x1p-11); got != want {
		t.Fatalf("FMA32 tie case below = %v, want %v", got, want)
	}
	r := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 200000; i++ {
		a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
		c := float32(r.NormFloat64() * math.Ldexp(1, r.IntN(80)-40))
		if i%2 == 0 {
			c = -a * b * float32(1+r.NormFloat64()*1e-6)
		}
		if got, want := FMA32(a, b, c), exact(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%v, %v, %v) = %v, want %v", a, b, c, got, want)
		}
	}
	if v := FMA32(float32(math.Inf(1)), 1, 1); !math.IsInf(float64(v), 1) {
		t.Fatalf("FMA32(+Inf, 1, 1) = %v", v)
	}
}

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88; x += 0.01 {
		w := math.Exp(float64(x))
		worst = math.Max(worst, math.Abs(float64(Expf(x))-w)/w)
	}
	if worst > 1e-6 {
		t.Errorf("expf max relative error %.3g", worst)
	}
	if Expf(-110) != 0 || !math.IsInf(float64(Expf(100)), 1) || !math.IsNaN(float64(Expf(float32(math.NaN())))) {
		t.Error("expf edge cases wrong")
	}
}

// TestAttentionKernelsBitExact checks that every kernel set's softmax,
// SwiGLU and attention dot products give the Go kernels' bits.
func TestAttentionKernelsBitExact(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{16, 17, 64, 100, 128, 320} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()*4), float32(r.NormFloat64())
		}
		var want []float32
		forEachKernelSet(t, false, func(t *testing.T) {
			var got []float32
			if n%16 == 0 {
				got = append(got, DotF32x16(x, y))
			}
			got = append(got, DotF32x64(x, y))
			sm := append([]float32(nil), x...)
			Softmax(sm)
			got = append(got, sm...)
			sm = append(sm[:0], x...)
			SoftmaxMasked(sm)
			got = append(got, sm...)
			g := append([]float32(nil), x...)
			SwiGLU(g, y)
			got = append(got, g...)
			if Kernels() == "go" {
				want = got
				return
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d: value %d = %v, Go kernels %v", n, i, got[i], want[i])
				}
			}
		})
	}
}

// libmExpfVectors are {x, expf(x)} as float32 bits from glibc 2.36's expf
// (x86-64, FMA variant: the one llama.cpp calls), from a C program. The
// first 48 are random x in [-30, 10) on which glibc's result is not the
// correctly rounded e^x (about one float in 1700); the rest are edge cases.
// The whole float32 range was also checked against glibc, with no
// difference, by a program outside the repository.
var libmExpfVectors = [...][2]uint32{
	{0x4096a545, 0x42dd96a3}, {0xc152a3d3, 0x36009dad}, {0xc18c7875, 0x32cb5f67}, {0xc05f7428, 0x3cf97f5a},
	{0xc134b18d, 0x3750f804}, {0xc141299e, 0x36bfb77e}, {0xc1ca710a, 0x2d340ef2}, {0xbea22977, 0x3f3a8121},
	{0xbe29c38f, 0x3f58e3f5}, {0xc12bcdfb, 0x37b61b83}, {0xc1c0338b, 0x2e21e7dd}, {0xc1eea476, 0x29f9af8c},
	{0x3feeadb5, 0x40ce85e7}, {0xc1e900c0, 0x2a7ca59b}, {0xc0881c71, 0x3c68e52e}, {0x4008c963, 0x41079f8a},
	{0xc18d5025, 0x32b70b23}, {0xbc975e60, 0x3f7b502c}, {0xbfaaed25, 0x3e86b02f}, {0x410a7508, 0x45b314a4},
	{0xc1b7150e, 0x2efd1799}, {0xbfc3ac15, 0x3e5e05fe}, {0x3f558e0f, 0x401363d5}, {0xc1b92099, 0x2ec40026},
	{0x40d9dd66, 0x446253c5}, {0x40dbf387, 0x44719365}, {0xbfd0cf99, 0x3e485d39}, {0x3f96b1e4, 0x404fb81a},
	{0xc1621afc, 0x3543b0b5}, {0xc1bbe37c, 0x2e8aca1a}, {0xbf8a04c9, 0x3eae2c7e}, {0x40a03d10, 0x43158608},
	{0x3ff5dbfd, 0x40da70ac}, {0x410d7f41, 0x45d88d62}, {0xc1d1429a, 0x2c998fd0}, {0xc19d1a5e, 0x314b7364},
	{0xc12d9a50, 0x37a2bfd5}, {0xc15f0d4e, 0x356cd651}, {0xc1dab789, 0x2bbc598b}, {0xc0d8b8d8, 0x3a960ba2},
	{0xc1486f60, 0x36736200}, {0x40be60ca, 0x43bfbecc}, {0xc154e667, 0x35df58a5}, {0xc114473b, 0x38c615fb},
	{0x40907705, 0x42b6ab46}, {0xc14b80fc, 0x3648e7e6}, {0xc13dcbf1, 0x36ec9ab4}, {0xc1b7091b, 0x2efe92bd},
	{0xff800000, 0x00000000}, {0x7f800000, 0x7f800000}, {0x7fc00000, 0x7fc00000}, {0x42b17218, 0x7f800000}, {0x42b17217, 0x7f7fff84}, {0xc2cff1b5, 0x00000000}, {0xc2cff1b4, 0x00000001}, {0xc2ce8ed0, 0x00000001}, {0xc2ce8ecf, 0x00000001}, {0x00000001, 0x3f800000}, {0x80000000, 0x3f800000}, {0x3f800000, 0x402df854},
}

func TestLibmExpf(t *testing.T) {
	for i, v := range libmExpfVectors {
		x := math.Float32frombits(v[0])
		got := LibmExpf(x)
		if math.Float32bits(got) != v[1] && !(math.IsNaN(float64(got)) && math.IsNaN(float64(math.Float32frombits(v[1])))) {
			t.Errorf("LibmExpf(%v) = %v (%#08x), glibc %#08x", x, got, math.Float32bits(got), v[1])
		}
		if i < 48 && math.Float32bits(float32(math.Exp(float64(x)))) == v[1] {
			t.Errorf("vector %d: glibc agrees with the correctly rounded e^x; it tests nothing", i)
		}
	}
}

// TestDotRows checks the many-row dot products against the single ones,
// bit for bit, on every kernel set, at lengths with and without tails.
func TestDotRows(t *testing.T) {
	forEachKernelSet(t, false, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		for _, n := range []int{16, 48, 64, 80, 192} {
			for _, nrows := range []int{1, 3, 17} {
				stride := n + 16
				x, rows := randVec(r, n), randVec(r, nrows*stride)
				out := make([]float32, nrows)
				DotF32x64Rows(x, rows, stride, out)
				for i := range out {
					if want := DotF32x64(x, rows[i*stride:i*stride+n]); math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Fatalf("DotF32x64Rows n=%d row %d = %v, want %v", n, i, out[i], want)
					}
				}
				DotF32x16Rows(x, rows, stride, out)
				for i := range out {
					if want := DotF32x16(x, rows[i*stride:i*stride+n]); math.Float32bits(out[i]) != math.Float32bits(want) {
						t.Fatalf("DotF32x16Rows n=%d row %d = %v, want %v", n, i, out[i], want)
					}
				}
			}
		}
	})
}
