package model

import (
	"math"

	"github.com/maopao/maopao/engine/tensor"
)

// rmsNorm writes x / rms(x) * w into dst. dst may alias x.
func rmsNorm(dst, x, w []float32, eps float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := float32(1 / math.Sqrt(ss/float64(len(x))+float64(eps)))
	for i, v := range x {
		dst[i] = v * scale * w[i]
	}
}

// softmax normalises x in place; it subtracts the maximum first so large
// logits do not overflow.
func softmax(x []float32) { tensor.Softmax(x) }

func sigmoid(x float32) float32 { return 1 / (1 + tensor.Expf(-x)) }

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

// ropeTable holds the inverse frequencies of rotary embeddings for one head
// dimension; positions multiply them at use time.
type ropeTable struct {
	invFreq []float64 // len nRot/2
	neox    bool
	nRot    int
}

func newRope(nRot int, base, freqScale float32, neox bool) ropeTable {
	t := ropeTable{neox: neox, nRot: nRot, invFreq: make([]float64, nRot/2)}
	for i := range t.invFreq {
		t.invFreq[i] = float64(freqScale) * math.Pow(float64(base), -2*float64(i)/float64(nRot))
	}
	return t
}

// cosSin fills the rotation of each frequency pair for position pos.
func (t ropeTable) cosSin(pos int, cos, sin []float32) {
	for i, f := range t.invFreq {
		s, c := math.Sincos(float64(pos) * f)
		cos[i], sin[i] = float32(c), float32(s)
	}
}

// rotate applies rotary embedding to one head vector in place. The normal
// (GPT-J style) ordering pairs adjacent elements (2i, 2i+1); the NeoX
// ordering pairs element i with i+nRot/2. Elements past nRot are untouched.
func (t ropeTable) rotate(v, cos, sin []float32) {
	half := t.nRot / 2
	for i := 0; i < half; i++ {
		a, b := 2*i, 2*i+1
		if t.neox {
			a, b = i, i+half
		}
		x0, x1 := v[a], v[b]
		v[a] = x0*cos[i] - x1*sin[i]
		v[b] = x0*sin[i] + x1*cos[i]
	}
}
