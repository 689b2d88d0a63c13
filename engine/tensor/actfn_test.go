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
