package tensor

import "math"

// Softmax and SwiGLU are here rather than with the model because their
// exponentials dominate attention over long prompts once vectorised
// matrix kernels have taken the rest; the kernel table swaps in assembly.

// Kernel table entries; assembly init code may replace them.
var (
	expSum = expSumGo // x[i] = e^(x[i]-m) in place, 16-wide chunks; returns the sum
	maxF32 = maxF32Go // largest element of a non-empty slice (NaN ignored)
	swiglu = swigluGo // g[i] = silu(g[i]) · u[i] for the whole 16-wide chunks
)

// The rounding steps of Softmax, SwiGLU and Expf are ggml's (llama.cpp's
// CPU backend built for AVX-512), step for step: the same exponential, the
// same 16-wide chunk sums added in float64, the same scalar tails. Random
// and quantized models amplify a last-bit difference here into different
// tokens, and producing llama.cpp's tokens for the same file is a goal of
// this engine.

// Softmax normalises x in place to e^(x[i]-max) / Σ e^(x[j]-max); the
// maximum is subtracted first so large values do not overflow. Whole
// 16-element chunks use Expf; the tail uses a correctly rounded exp, as
// ggml's softmax does with libm's expf.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := maxF32(x)
	full := len(x) &^ 15
	sum := float64(0)
	if full > 0 {
		sum = expSum(x[:full], m)
	}
	for i := full; i < len(x); i++ {
		e := expfExact(x[i] - m)
		x[i] = e
		sum += float64(e)
	}
	scaleBy(x, float32(1/sum))
}

// SoftmaxMasked is Softmax of a row that goes on past len(x) with masked
// (−Inf) entries up to a multiple of 16, as llama.cpp's attention rows do
// (its KV cache is padded): every chunk, the last one too, goes through
// Expf, and the masked entries add exactly zero.
func SoftmaxMasked(x []float32) {
	if len(x) == 0 {
		return
	}
	sum := expSum(x, maxF32(x))
	scaleBy(x, float32(1/sum))
}

func scaleBy(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// SwiGLU sets g[i] = silu(g[i]) · u[i], where silu(v) = v / (1 + e^-v):
// the gated activation of a SwiGLU feed-forward block.
func SwiGLU(g, u []float32) {
	if len(u) != len(g) {
		panic("tensor: SwiGLU of slices of different lengths")
	}
	full := len(g) &^ 15
	if full > 0 {
		swiglu(g[:full], u[:full])
	}
	for i := full; i < len(g); i++ {
		v := g[i]
		g[i] = v / (1 + expfExact(-v)) * u[i]
	}
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

// expSumGo exponentiates x in place (x[i] = e^(x[i]-m)) and returns the
// sum, added as ggml does: each 16-wide chunk summed in float32 by halving
// (lanes i and i+8, then i+4, i+2, i+1), the chunk sums in float64. A
// short last chunk counts its missing lanes as zero.
func expSumGo(x []float32, m float32) float64 {
	var sum float64
	var lanes [16]float32
	for c := 0; c < len(x); c += 16 {
		lanes = [16]float32{}
		for l := 0; l < 16 && c+l < len(x); l++ {
			e := Expf(x[c+l] - m)
			x[c+l] = e
			lanes[l] = e
		}
		sum += float64(reduce16(&lanes))
	}
	return sum
}

// reduce16 adds 16 lanes pairwise the way _mm512_reduce_add_ps does.
func reduce16(v *[16]float32) float32 {
	var t [8]float32
	for i := range t {
		t[i] = v[i] + v[i+8]
	}
	a0, a1, a2, a3 := t[0]+t[4], t[1]+t[5], t[2]+t[6], t[3]+t[7]
	return (a0 + a2) + (a1 + a3)
}

func swigluGo(g, u []float32) {
	u = u[:len(g)]
	for i, v := range g {
		g[i] = v / (1 + Expf(0-v)) * u[i]
	}
}

// FMA32 is a float32 fused multiply-add, x·y+z rounded once (as the FMA
// instructions ggml's kernels use). The product of two float32s is exact in
// float64; the sum is rounded to float64 "to odd" (truncated, with the last
// bit set when anything was cut off), after which rounding to float32 gives
// the correctly rounded result. Plain float64 rounding there would round
// twice and miss by one ulp about once in 2^29 operations.
func FMA32(a, b, c float32) float32 {
	p, z := float64(a)*float64(b), float64(c)
	s := p + z
	// TwoSum: the exact error of s = p + z.
	v := s - p
	e := (p - (s - v)) + (z - v)
	if (e > 0 || e < 0) && math.Float64bits(s)&1 == 0 {
		bits := math.Float64bits(s)
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// Expf is e^x in float32 by the algorithm of ggml's AVX-512 ggml_v_expf
// (after Arm's optimized routines): x = n·ln2 + b with n = round(x/ln2), b
// in two steps of a split ln2, e^b by a degree-5 polynomial evaluated in
// two halves, then scaled by 2^n. Error ≤ 1.5 ulp plus rounding; inputs
// below −103.97 give 0 and above 88.38 give +Inf.
func Expf(x float32) float32 {
	const shift = 0x1.8p23
	z := FMA32(x, 0x1.715476p+0, shift)
	n := z - shift
	b := FMA32(-n, 0x1.7f7d1cp-20, FMA32(-n, 0x1.62e4p-1, x))
	u := b * b
	j := FMA32(FMA32(FMA32(0x1.0e4020p-7, b, 0x1.573e2ep-5), u, FMA32(0x1.555e66p-3, b, 0x1.fffdb6p-2)),
		u, FMA32(0x1.ffffecp-1, b, 1))
	if abs32(n) > 192 {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	// j·2^n (VSCALEFPS): exact in float64, then one rounding to float32.
	return float32(float64(j) * math.Ldexp(1, int(n)))
}

// expfExact is e^x correctly rounded to float32 (but for double rounding in
// rare halfway cases), standing in for libm's expf in ggml's scalar tails.
func expfExact(x float32) float32 { return float32(math.Exp(float64(x))) }
