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

func sigmoid(x float32) float32 { return 1 / (1 + expf(-x)) }

// expf is e^x in float32, several times faster than math.Exp (sigmoid
// gates; softmax and SiLU use tensor's vector versions): x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two
// parts so the reduction is exact enough), e^r by its Taylor polynomial to
// r⁶ (remainder below 2e-7 relative), times 2ⁿ built from the exponent bits.
func expf(x float32) float32 {
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
