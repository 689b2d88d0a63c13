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
// 16-element chunks use Expf; the tail uses LibmExpf, as ggml's softmax
// does with libm's expf.
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
		e := LibmExpf(x[i] - m)
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
		g[i] = v / (1 + LibmExpf(-v)) * u[i]
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

// LibmExpf is e^x computed as glibc 2.36's expf does on x86-64 CPUs with
// FMA (the variant llama.cpp's scalar tails call): x/ln2 = k/32 + r, e^x =
// 2^(k/32)·p(r) with 2^(i/32) from a table and p a cubic, in float64, FMAs
// where glibc's build put them, rounded to float32 at the end. Its error is
// below 0.502 ulp: one float in a few hundred rounds the other way from the
// exact e^x, and those are the ones that must round as glibc does.
func LibmExpf(x float32) float32 {
	bits := math.Float32bits(x)
	if bits>>20&0x7ff > 0x42a { // |x| ≥ 88, Inf or NaN
		switch {
		case bits == 0xff800000:
			return 0
		case bits>>20&0x7ff >= 0x7f8:
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		case x < -0x1.9d1d9ep6:
			return 0x1p-149 // glibc's "may underflow" value
		}
	}
	const (
		invLn2N = 0x1.71547652b82fep+5 // 32/ln2
		shift   = 0x1.8p+52
		c0      = 0x1.c6af84b912394p-20
		c1      = 0x1.ebfce50fac4f3p-13
		c2      = 0x1.62e42ff0c52d6p-6
	)
	xd := float64(x)
	kd := math.FMA(invLn2N, xd, shift)
	ki := math.Float64bits(kd)
	kd -= shift
	r := math.FMA(invLn2N, xd, -kd)
	s := math.Float64frombits(exp2fTab[ki&31] + ki<<47)
	y := math.FMA(math.FMA(c0, r, c1), r*r, math.FMA(r, c2, 1))
	return float32(y * s)
}

// exp2fTab[i] is the bits of 2^(i/32) less i<<47, so that adding k<<47 for
// k ≡ i (mod 32) gives 2^(k/32) (glibc's and Arm's __exp2f_data).
var exp2fTab = [32]uint64{
	0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
	0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
	0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
	0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
	0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
	0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
	0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
	0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
}
