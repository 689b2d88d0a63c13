package tensor

import "math"

// Softmax and SwiGLU are here rather than with the model because their
// exponentials dominate attention over long prompts once vectorised
// matrix kernels have taken the rest; the kernel table swaps in assembly.

// Kernel table entries; assembly init code may replace them.
var (
	expSum = expSumGo // x[i] = e^(x[i]-m) in place; returns the sum
	maxF32 = maxF32Go // largest element of a non-empty slice (NaN ignored)
	swiglu = swigluGo // g[i] = silu(g[i]) · u[i]
)

// Softmax normalises x in place to e^(x[i]-max) / Σ e^(x[j]-max); the
// maximum is subtracted first so large values do not overflow.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	inv := 1 / expSum(x, maxF32(x))
	for i := range x {
		x[i] *= inv
	}
}

// SwiGLU sets g[i] = silu(g[i]) · u[i], where silu(v) = v / (1 + e^-v):
// the gated activation of a SwiGLU feed-forward block.
func SwiGLU(g, u []float32) {
	if len(u) != len(g) {
		panic("tensor: SwiGLU of slices of different lengths")
	}
	swiglu(g, u)
}

func maxF32Go(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

func expSumGo(x []float32, m float32) float32 {
	var sum float32
	for i, v := range x {
		e := Expf(v - m)
		x[i] = e
		sum += e
	}
	return sum
}

func swigluGo(g, u []float32) {
	u = u[:len(g)]
	for i, v := range g {
		g[i] = v / (1 + Expf(-v)) * u[i]
	}
}

// Expf is e^x in float32, several times faster than math.Exp: x = n·ln2 + r
// with |r| ≤ ln2/2 (ln2 split in two parts so the reduction is exact
// enough), e^r by its Taylor polynomial to r⁶ (remainder below 2e-7
// relative), times 2ⁿ built from the exponent bits.
func Expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 88.72:
		return float32(math.Inf(1))
	case x < -87.33:
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	if n > 127 { // 2^128 is not a float32, but p·2·2^127 can be
		p, n = p*2, n-1
	}
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}
