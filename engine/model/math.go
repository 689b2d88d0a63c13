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
}

func newRope(nRot int, base, freqScale float32, neox bool) ropeTable {
	ts := float32(math.Pow(float64(base), float64(-2/float32(nRot))))
	return ropeTable{thetaScale: ts, freqScale: freqScale, neox: neox, nRot: nRot}
}

// cosSin fills the rotation of each frequency pair for position pos.
func (t ropeTable) cosSin(pos int, cos, sin []float32) {
	theta := float32(pos)
	for i := range cos[:t.nRot/2] {
		sin[i], cos[i] = sincosf(t.freqScale * theta) // glibc's bits, as ggml calls it
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
