package tensor

import (
	"encoding/binary"
	"math"
	"sync"
)

// act holds n activation rows prepared for one weight type: the float rows
// themselves for float weights, or 8-bit blocks for quantized weights
// (32-wide blocks for Q4_0/Q8_0, 256-wide blocks with 16-wide partial sums
// for the K-quants, which need those sums to apply their per-sub-block mins).
type act struct {
	n, cols int
	f       []float32
	qs      []int8
	d       []float32 // one scale per block
	bsums   []int16   // per 32 weights (Q8_0-style) or per 16 (K-style)
	blk     int       // 32 or QK_K; 0 for float activations

	// Groups of four activations interleaved chunk by chunk (see pack4),
	// for the kernels that decode a weight block once for four.
	pqs []int8
	pd  []float32
	pbs []int16

	bs16 []int16 // scratch: 16-wide sums before pairing for 32-wide blocks

	fr []float32 // F16 products: the activations rounded to F16

	// pg: the activations packed in groups for the Q8_0 pairs kernel (see
	// q8pack).
	pg []byte
}

// q8GroupSize is the size of the next group q8pack makes of the rest
// activations still to pack: up to 8 (the kernels' accumulators).
func q8GroupSize(rest int) int { return min(rest, 8) }

// q8pack packs the first n activations (32-wide blocks) for the Q8_0
// pairs kernel in groups of q8GroupSize, group after group, so activation
// i's group starts at byte i·(cols/32)·68. Per group of J and block: the J
// activations' 32 int8s, then each one's 8 int32 lane biases (-128 × the
// sum of the lane's 4 int8s: the kernel flips the weights' sign bits to
// make them unsigned for VPDPBUSD, and the bias takes the flip's 128·x
// back out), then their block scales as float32, all little-endian.
func (a *act) q8pack(n int) {
	nb := a.cols / 32
	a.pg = grow(a.pg, n*nb*68)
	for first := 0; first < n; {
		J := q8GroupSize(n - first)
		for k := 0; k < nb; k++ {
			blk := a.pg[(first*nb+J*k)*68:][:68*J]
			for j := 0; j < J; j++ {
				i := first + j
				q := a.qs[i*a.cols+32*k:][:32]
				for t, v := range q {
					blk[32*j+t] = byte(v)
				}
				for l := 0; l < 8; l++ {
					s := int32(q[4*l]) + int32(q[4*l+1]) + int32(q[4*l+2]) + int32(q[4*l+3])
					binary.LittleEndian.PutUint32(blk[32*J+32*j+4*l:], uint32(-128*s))
				}
				binary.LittleEndian.PutUint32(blk[64*J+4*j:], math.Float32bits(a.d[i*nb+k]))
			}
		}
		first += J
	}
}

// roundF16 sets dst[i] to x[i] rounded to float16 (nearest even); assembly
// init code may replace it.
var roundF16 = roundF16Go

func roundF16Go(x, dst []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = F16ToF32(F32ToF16(v))
	}
}

// quantActRows, when set by assembly, does what quantAct and the
// partial-sum loops do for whole rows: int8 blocks of blk, one scale per
// block, and the sum of every 16 int8s in bs16.
var quantActRows func(x []float32, q []int8, d []float32, bs16 []int16, blk int)

var actPool = sync.Pool{New: func() any { return new(act) }}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// actBlock is the activation block size the fast kernel of t wants.
func actBlock(t Type) int {
	switch t {
	case Q4_0, Q8_0:
		return 32
	case Q4_K, Q5_K, Q6_K:
		return QK_K
	}
	return 0
}

func prepareAct(t Type, x []float32, n, cols int) *act {
	a := actPool.Get().(*act)
	a.n, a.cols, a.f = n, cols, x
	a.blk = actBlock(t)
	if t == F16 {
		// ggml converts the activations of an F16 product to F16 first
		// (its vec_dot_type), so they are rounded here as there.
		a.fr = grow(a.fr, n*cols)
		roundF16(x[:n*cols], a.fr)
		a.f = a.fr
	}
	if a.blk == 0 {
		return a
	}
	nb := n * cols / a.blk
	a.qs = grow(a.qs, n*cols)
	a.d = grow(a.d, nb)
	if a.blk == 32 {
		a.bsums = grow(a.bsums, nb)
	} else {
		a.bsums = grow(a.bsums, n*cols/16)
	}
	if quantActRows != nil {
		bs16 := a.bsums
		if a.blk == 32 {
			a.bs16 = grow(a.bs16, n*cols/16)
			bs16 = a.bs16
		}
		quantActRows(x[:n*cols], a.qs, a.d, bs16, a.blk)
		if a.blk == 32 {
			for b := range a.bsums {
				a.bsums[b] = bs16[2*b] + bs16[2*b+1]
			}
			roundScalesF16(a.d)
		}
		return a
	}
	for b := 0; b < nb; b++ {
		quantAct(x[b*a.blk:(b+1)*a.blk], a.qs[b*a.blk:(b+1)*a.blk], &a.d[b])
	}
	if a.blk == 32 {
		roundScalesF16(a.d)
		for b := 0; b < nb; b++ {
			a.bsums[b] = sum8(a.qs[32*b : 32*b+32])
		}
	} else {
		for g := range a.bsums {
			a.bsums[g] = sum8(a.qs[16*g : 16*g+16])
		}
	}
	return a
}

// packChunk is how many weights of one activation the 4-way kernels of a
// type read at a time: a K-quant super-block, or a pair of 32-blocks.
func packChunk(blk int) int {
	if blk == QK_K {
		return QK_K
	}
	return 64
}

// pack packs the first 8·eights activations in groups of eight (for the
// 8-way kernels), the next 4·fours in groups of four and then a group of
// the tail (0, 2 or 3) after them. Each group is interleaved chunk by chunk
// (see packChunk): for chunk c, the group's int8s, then their scales and
// (K-quants) 16-wide partial sums are adjacent, so a J-way kernel walks one
// pointer per array. cols must be a multiple of the chunk. permFours permutes each 256-wide block of the groups of four as
// the AVX-512 Q4_K batch kernel reads them (see q4kBatchPerm).
func (a *act) pack(eights, fours, tail int, permFours bool) {
	nd, n := a.cols/a.blk, 8*eights+4*fours+tail
	a.pqs = grow(a.pqs, n*a.cols)
	a.pd = grow(a.pd, n*nd)
	if a.blk == QK_K {
		a.pbs = grow(a.pbs, n*a.cols/16)
	} else {
		a.pbs = a.pbs[:0]
	}
	for first := 0; first < n; {
		J := 8
		switch {
		case first >= 8*eights+4*fours:
			J = tail
		case first >= 8*eights:
			J = 4
		}
		var bs []int16
		if a.blk == QK_K {
			bs = a.pbs[first*a.cols/16:]
		}
		perm := permFours && J == 4 && first < 8*eights+4*fours && a.blk == QK_K
		a.packGroup(first, J, a.pqs[first*a.cols:], a.pd[first*nd:], bs, perm)
		first += J
	}
}

// packGroup interleaves activations first..first+J-1 chunk by chunk into
// qs, d and (K-quants) bs.
//
// perm (256-wide blocks only) stores each block's 16-byte pieces in the
// order 0, 4, 8, 12, 1, 5, 9, 13, ...: 64-byte vector k then holds, in its
// 128-bit lane g, the int8s 64g+16k .. 64g+16k+15, so that a kernel's
// lane g sums only the block's 64-weight chunk g.
func (a *act) packGroup(first, J int, qs []int8, d []float32, bs []int16, perm bool) {
	G := packChunk(a.blk)
	nc, nd, dpc := a.cols/G, a.cols/a.blk, G/a.blk
	for j := 0; j < J; j++ {
		i := first + j
		for c := 0; c < nc; c++ {
			dst := (J*c + j) * G
			src := a.qs[i*a.cols+c*G:]
			if perm {
				for k := 0; k < 4; k++ {
					for g := 0; g < 4; g++ {
						copy(qs[dst+64*k+16*g:dst+64*k+16*g+16], src[64*g+16*k:])
					}
				}
			} else {
				copy(qs[dst:dst+G], src)
			}
			dd := (J*c + j) * dpc
			copy(d[dd:dd+dpc], a.d[i*nd+c*dpc:])
			if a.blk == QK_K {
				dbs := (J*c + j) * 16
				copy(bs[dbs:dbs+16], a.bsums[(i*nd+c)*16:])
			}
		}
	}
}

// roundScalesF16 rounds 32-block activation scales to float16, as ggml's
// block_q8_0 stores them. The int8s were rounded with the float scale (ggml
// does the same: it multiplies by 127/amax), so only the scale a dot product
// applies changes. Doing what llama.cpp does here is what lets Q8_0 and Q4_0
// models produce the same tokens as llama.cpp; a float32 scale is more exact
// by about 1e-4 relative per projection, which no one can hear but which
// flips greedy choices on untrained weights.
func roundScalesF16(d []float32) {
	for i, v := range d {
		d[i] = F16ToF32(F32ToF16(v))
	}
}

func (a *act) release() {
	a.f = nil
	actPool.Put(a)
}

func sum8(q []int8) int16 {
	var s int16
	for _, v := range q {
		s += int16(v)
	}
	return s
}

// actTiny is the block maximum below which a block is taken as all zero:
// 127/amax would overflow for the smallest floats, and such a block adds
// less than 1e-30 per weight to a dot product.
const actTiny = 1e-30

// quantAct rounds one activation block to int8 with a symmetric scale.
// The scale is written as ggml writes it, which matters for matching
// llama.cpp bit for bit: amax/127 for 32-wide blocks (block_q8_0), and for
// 256-wide K blocks (block_q8_K) the reciprocal of the multiplier,
// 1/(127/amax), which differs from amax/127 in the last bit now and then.
// Non-finite activations make the scale NaN so the result is NaN rather
// than silently wrong.
func quantAct(x []float32, q []int8, d *float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	if nonFinite := math.IsNaN(float64(amax)) || math.IsInf(float64(amax), 0); nonFinite || amax < actTiny {
		for i := range q {
			q[i] = 0
		}
		*d = 0
		if nonFinite {
			*d = float32(math.NaN())
		}
		return
	}
	id := 127 / amax
	*d = amax / 127
	if len(x) == QK_K {
		*d = 1 / id
	}
	for i, v := range x {
		q[i] = int8(roundSmall(v * id))
	}
}

// roundSmall rounds |f| < 2^22 to the nearest integer, ties to even, by
// letting the float adder do it: adding 1.5·2^23 leaves the rounded integer
// in the low mantissa bits. It is much cheaper than math.RoundToEven.
func roundSmall(f float32) int32 {
	const magic = 12582912 // 1.5 * 2^23
	return int32(math.Float32bits(f+magic)&0x7fffff) - 0x400000
}

// row returns activation i's int8s, block scales and partial sums.
func (a *act) row(i int) ([]int8, []float32, []int16) {
	nb, ng := a.cols/a.blk, a.cols/a.blk
	if a.blk == QK_K {
		ng = a.cols / 16
	}
	return a.qs[i*a.cols : (i+1)*a.cols], a.d[i*nb : (i+1)*nb], a.bsums[i*ng : (i+1)*ng]
}
