package model

import (
	"math"

	"github.com/maopao/maopao/engine/tensor"
)

// rmsNorm writes x / rms(x) * w into dst. dst may alias x. The rounding
// steps are ggml's (float squares summed in float64, a float mean and
// scale), so that both engines normalise to the same bits.
func rmsNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v * v)
	}
	mean := float32(ss / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// softmax normalises x in place; it subtracts the maximum first so large
// logits do not overflow.
func softmax(x []float32) { tensor.Softmax(x) }

// sharedGate is the sigmoid gate of a shared expert (qwen2moe) as llama.cpp
// computes it: silu(x)/x, silu by ggml's scalar x/(1+expf(−x)) with libm's
// expf. At x = 0, where that is 0/0, it is the sigmoid's 1/2.
func sharedGate(x float32) float32 {
	if x == 0 {
		return 0.5
	}
	return x / (1 + tensor.LibmExpf(-x)) / x
}

// topK returns the indices of the k largest values of p, largest first; ties
// go to the lower index so routing is deterministic. idx is reused as the
// result buffer. Selection by repeated scans: k and len(p) are small.
func topK(p []float32, k int, idx []int) []int {
	idx = idx[:0]
	for len(idx) < k {
		best := -1
		for i, v := range p {
			if (best < 0 || v > p[best]) && !contains(idx, i) {
				best = i
			}
		}
		idx = append(idx, best)
	}
	return idx
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// ropeTable holds what rotary embeddings need for one head dimension.
// Angles are computed as ggml does, in float32: position · scale^i by
// repeated multiplication, so that long positions carry the same rounding
// as llama.cpp's (a float64 angle differs from it by several float32 ulps
// at position 100, enough to change tokens on quantized models).
type ropeTable struct {
	thetaScale, freqScale float32
	neox                  bool
	nRot                  int
	// YaRN: how much of each frequency keeps its trained (extrapolated)
	// angle, ramping between the correction dimensions, and the magnitude.
	extFactor float32
	corr      [2]float32
	mscale    float32
}

func newRope(c Config) ropeTable {
	nRot := c.RopeDims
	ts := float32(math.Pow(float64(c.RopeBase), float64(-2/float32(nRot))))
	t := ropeTable{thetaScale: ts, freqScale: c.RopeFreqScale, neox: c.RopeNeoX, nRot: nRot, mscale: c.RopeAttnFactor}
	if c.RopeYaRN {
		t.extFactor = c.YaRNExtFactor
		t.corr = yarnCorrDims(nRot, c.RopeOrigCtx, c.RopeBase, c.YaRNBetaFast, c.YaRNBetaSlow)
	}
	return t
}

// yarnCorrDims are the first and last dimension pairs whose wavelength
// sits between beta_fast and beta_slow turns over the trained context:
// below, angles stay as trained; above, they are interpolated.
func yarnCorrDims(nDims, origCtx int, base, betaFast, betaSlow float32) [2]float32 {
	dim := func(nRot float32) float32 {
		return float32(nDims) * logf(float32(origCtx)/(nRot*2*float32(math.Pi))) / (2 * logf(base))
	}
	start := float32(math.Floor(float64(dim(betaFast))))
	end := float32(math.Ceil(float64(dim(betaSlow))))
	return [2]float32{max(0, start), min(float32(nDims-1), end)}
}

// cosSin fills the rotation of each frequency pair for position pos.
func (t ropeTable) cosSin(pos int, cos, sin []float32) {
	theta := float32(pos)
	for i := range cos[:t.nRot/2] {
		th, ms := t.freqScale*theta, t.mscale
		if t.extFactor != 0 {
			y := (float32(i) - t.corr[0]) / max(0.001, t.corr[1]-t.corr[0])
			mix := (1 - min(1, max(0, y))) * t.extFactor
			th = th*(1-mix) + theta*mix
			ms *= 1 + 0.1*logf(1/t.freqScale)
		}
		sin[i], cos[i] = sincosf(th) // glibc's bits, as ggml calls it
		if ms != 1 {
			sin[i], cos[i] = sin[i]*ms, cos[i]*ms
		}
		theta *= t.thetaScale
	}
}

// rotate applies rotary embedding to one head vector in place. The normal
// (GPT-J style) ordering pairs adjacent elements (2i, 2i+1); the NeoX
// ordering pairs element i with i+nRot/2. Elements past nRot are untouched.
// The fused multiply-adds are where GCC puts them in ggml's rope.
func (t ropeTable) rotate(v, cos, sin []float32) {
	half := t.nRot / 2
	for i := 0; i < half; i++ {
		a, b := 2*i, 2*i+1
		if t.neox {
			a, b = i, i+half
		}
		x0, x1 := v[a], v[b]
		v[a] = tensor.FMA32(x0, cos[i], -(x1 * sin[i]))
		v[b] = tensor.FMA32(x0, sin[i], x1*cos[i])
	}
}
