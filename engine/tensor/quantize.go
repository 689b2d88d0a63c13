package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantize encodes src as type t with reference (round-to-nearest, scale
// searching for the K-quants) quantizers. len(src) must be a multiple of the
// block size. Non-finite inputs are rejected for block types because one
// Inf would poison the whole block's scale.
func Quantize(t Type, src []float32) ([]byte, error) {
	n, err := RowBytes(t, len(src))
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if t.BlockSize() > 1 {
		for i, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor: quantize %v: element %d is %v", t, i, v)
			}
		}
	}
	switch t {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(v))
		}
	case Q4_0:
		for b := 0; b < len(src)/32; b++ {
			quantQ4_0(src[32*b:32*b+32], out[18*b:18*b+18])
		}
	case Q8_0:
		for b := 0; b < len(src)/32; b++ {
			quantQ8_0(src[32*b:32*b+32], out[34*b:34*b+34])
		}
	case Q4_K:
		for b := 0; b < len(src)/QK_K; b++ {
			quantQ4K(src[QK_K*b:QK_K*b+QK_K], out[144*b:144*b+144])
		}
	case Q5_K:
		for b := 0; b < len(src)/QK_K; b++ {
			quantQ5K(src[QK_K*b:QK_K*b+QK_K], out[176*b:176*b+176])
		}
	case Q6_K:
		for b := 0; b < len(src)/QK_K; b++ {
			quantQ6K(src[QK_K*b:QK_K*b+QK_K], out[210*b:210*b+210])
		}
	}
	return out, nil
}

func roundInt(f float32) int { return int(math.RoundToEven(float64(f))) }

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// QuantizeQ8_0Act writes x (a multiple of 32 values) as Q8_0 blocks into
// dst the way ggml's CPU backend quantizes activations and KV-cache rows
// (quantize_row_q8_0: values times 127/amax rounded to nearest even, the
// scale amax/127 stored as float16) — not as Quantize writes weight files
// (llama-quantize's reference rounding, ties away from zero). A block with
// a non-finite value is stored as zeros.
func QuantizeQ8_0Act(x []float32, dst []byte) {
	var q [32]int8
	for b := 0; b < len(x)/32; b++ {
		var d float32
		quantAct(x[32*b:32*b+32], q[:], &d)
		blk := dst[34*b : 34*b+34]
		if d != d { // NaN: a non-finite activation
			clear(blk)
			continue
		}
		binary.LittleEndian.PutUint16(blk, F32ToF16(d))
		for j, v := range q {
			blk[2+j] = byte(v)
		}
	}
}

func quantQ8_0(x []float32, blk []byte) {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	d := amax / 127
	binary.LittleEndian.PutUint16(blk, F32ToF16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for j, v := range x {
		// ggml rounds Q8_0 with roundf (ties away from zero), unlike the
		// K-quants' nearest-even; match it so files are byte-identical.
		blk[2+j] = byte(int8(clampInt(int(math.Round(float64(v*id))), -127, 127)))
	}
}

// quantQ4_0 maps the value of largest magnitude to -8, so that side of the
// range gets the extra level of the asymmetric 4-bit grid.
func quantQ4_0(x []float32, blk []byte) {
	var amax, mx float32
	for _, v := range x {
		if abs32(v) > amax {
			amax, mx = abs32(v), v
		}
	}
	d := mx / -8
	binary.LittleEndian.PutUint16(blk, F32ToF16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	q := func(v float32) byte { return byte(clampInt(int(math.Floor(float64(v*id+8.5))), 0, 15)) }
	for j := 0; j < 16; j++ {
		blk[2+j] = q(x[j]) | q(x[j+16])<<4
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// fitScaleMin searches for scale s and offset m ≥ 0 so that x ≈ s·L − m with
// integer L in [0, nmax], minimising Σ w·err². It tries a sweep of grid
// scales around nmax/(max−min) and, for each resulting L, solves the
// weighted least-squares problem for (s, m) in closed form.
func fitScaleMin(x, w []float32, nmax int, L []uint8) (scale, negMin float32) {
	mn, mx := x[0], x[0]
	for _, v := range x[1:] {
		mn, mx = min(mn, v), max(mx, v)
	}
	mn = min(mn, 0)
	if mx == mn {
		for i := range L {
			L[i] = 0
		}
		return 0, -mn
	}
	var sumW, sumX float64
	for i, v := range x {
		sumW += float64(w[i])
		sumX += float64(w[i]) * float64(v)
	}
	errFor := func(s, m float32, q []uint8) float64 {
		var e float64
		for i, v := range x {
			diff := float64(s*float32(q[i]) + m - v)
			e += float64(w[i]) * diff * diff
		}
		return e
	}
	iscale := float32(nmax) / (mx - mn)
	for i, v := range x {
		L[i] = uint8(clampInt(roundInt(iscale*(v-mn)), 0, nmax))
	}
	scale, bestMin := 1/iscale, mn
	best := errFor(scale, bestMin, L)
	var aux [32]uint8
	la := aux[:len(x)]
	for step := 0; step <= 20; step++ {
		is := (float32(nmax) - 1 + 0.1*float32(step)) / (mx - mn)
		var sl, sl2, sxl float64
		for i, v := range x {
			l := clampInt(roundInt(is*(v-mn)), 0, nmax)
			la[i] = uint8(l)
			wl := float64(w[i]) * float64(l)
			sl += wl
			sl2 += wl * float64(l)
			sxl += wl * float64(v)
		}
		D := sumW*sl2 - sl*sl
		if D <= 0 {
			continue
		}
		s := float32((sumW*sxl - sumX*sl) / D)
		m := float32((sl2*sumX - sl*sxl) / D)
		if m > 0 { // offset must not be positive: refit the scale alone
			m = 0
			s = float32(sxl / sl2)
		}
		if e := errFor(s, m, la); e < best {
			best, scale, bestMin = e, s, m
			copy(L, la)
		}
	}
	return scale, -bestMin
}

// quantKScaleMin quantizes a 256-weight super-block as eight 32-weight
// sub-blocks with 6-bit scales/mins and nmax-level weights (15 for Q4_K, 31
// for Q5_K). It writes d, dmin and the packed scales into hdr (16 bytes) and
// returns the final levels.
func quantKScaleMin(x []float32, nmax int, hdr []byte) (L [QK_K]uint8) {
	var scales, mins [8]float32
	var w [32]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		sub := x[32*j : 32*j+32]
		var s2 float32
		for _, v := range sub {
			s2 += v * v
		}
		av := float32(math.Sqrt(float64(s2 / 32)))
		for i, v := range sub {
			w[i] = av + abs32(v)
		}
		scales[j], mins[j] = fitScaleMin(sub, w[:], nmax, L[32*j:32*j+32])
		maxScale, maxMin = max(maxScale, scales[j]), max(maxMin, mins[j])
	}
	var invS, invM float32
	if maxScale > 0 {
		invS = 63 / maxScale
	}
	if maxMin > 0 {
		invM = 63 / maxMin
	}
	sc := hdr[4:16]
	for i := range sc {
		sc[i] = 0
	}
	for j := 0; j < 8; j++ {
		ls := uint8(clampInt(roundInt(invS*scales[j]), 0, 63))
		lm := uint8(clampInt(roundInt(invM*mins[j]), 0, 63))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	binary.LittleEndian.PutUint16(hdr, F32ToF16(maxScale/63))
	binary.LittleEndian.PutUint16(hdr[2:], F32ToF16(maxMin/63))
	// Requantize against the scales as they will be decoded, so the rounding
	// of the 6-bit and f16 steps is absorbed into the levels.
	d, dmin := f16At(hdr), f16At(hdr[2:])
	for j := 0; j < 8; j++ {
		s, m := scaleMinK4(j, sc)
		de := d * float32(s)
		if de == 0 {
			for i := 32 * j; i < 32*j+32; i++ {
				L[i] = 0
			}
			continue
		}
		dm := dmin * float32(m)
		for i := 32 * j; i < 32*j+32; i++ {
			L[i] = uint8(clampInt(roundInt((x[i]+dm)/de), 0, nmax))
		}
	}
	return L
}

func quantQ4K(x []float32, blk []byte) {
	L := quantKScaleMin(x, 15, blk[:16])
	qs := blk[16:144]
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			qs[32*c+l] = L[64*c+l] | L[64*c+32+l]<<4
		}
	}
}

func quantQ5K(x []float32, blk []byte) {
	L := quantKScaleMin(x, 31, blk[:16])
	qh := blk[16:48]
	qs := blk[48:176]
	for i := range qh {
		qh[i] = 0
	}
	for c := 0; c < 4; c++ {
		u1, u2 := uint8(1)<<(2*c), uint8(2)<<(2*c)
		for l := 0; l < 32; l++ {
			lo, hi := L[64*c+l], L[64*c+32+l]
			if lo > 15 {
				lo -= 16
				qh[l] |= u1
			}
			if hi > 15 {
				hi -= 16
				qh[l] |= u2
			}
			qs[32*c+l] = lo | hi<<4
		}
	}
}

// fitSymScale finds s so that x ≈ s·l with integer l in [−nmax, nmax−1],
// maximising the x²-weighted fit over a sweep of grid scales; it maps the
// extreme value to −nmax so that side gets the extra level.
func fitSymScale(x []float32, nmax int, L []int8) float32 {
	var amax, mx float32
	for _, v := range x {
		if abs32(v) > amax {
			amax, mx = abs32(v), v
		}
	}
	if amax < 1e-30 {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	try := func(is float32, out []int8) (sumlx, suml2 float64) {
		for i, v := range x {
			l := clampInt(roundInt(is*v), -nmax, nmax-1)
			out[i] = int8(l)
			w := float64(v) * float64(v)
			sumlx += w * float64(v) * float64(l)
			suml2 += w * float64(l) * float64(l)
		}
		return
	}
	sumlx, suml2 := try(-float32(nmax)/mx, L)
	if suml2 == 0 {
		return 0
	}
	scale := sumlx / suml2
	best := scale * sumlx
	var aux [16]int8
	la := aux[:len(x)]
	for step := -9; step <= 9; step++ {
		if step == 0 {
			continue
		}
		sx, s2 := try(-(float32(nmax)+0.1*float32(step))/mx, la)
		if s2 > 0 && sx*sx > best*s2 {
			scale = sx / s2
			best = scale * sx
			copy(L, la)
		}
	}
	return float32(scale)
}

func quantQ6K(x []float32, blk []byte) {
	var scales [16]float32
	var L [QK_K]int8
	var maxScale, maxAbs float32
	for ib := 0; ib < 16; ib++ {
		scales[ib] = fitSymScale(x[16*ib:16*ib+16], 32, L[16*ib:16*ib+16])
		if abs32(scales[ib]) > maxAbs {
			maxAbs, maxScale = abs32(scales[ib]), scales[ib]
		}
	}
	sc := blk[192:208]
	if maxAbs == 0 { // d = 0 decodes every level to zero
		clear(blk)
		return
	}
	iscale := -128 / maxScale
	binary.LittleEndian.PutUint16(blk[208:], F32ToF16(1/iscale))
	d := f16At(blk[208:])
	var lv [QK_K]uint8
	for ib := 0; ib < 16; ib++ {
		s := int8(clampInt(roundInt(iscale*scales[ib]), -128, 127))
		sc[ib] = byte(s)
		de := d * float32(s)
		for i := 16 * ib; i < 16*ib+16; i++ {
			if de == 0 {
				lv[i] = 32
				continue
			}
			lv[i] = uint8(clampInt(roundInt(x[i]/de), -32, 31) + 32)
		}
	}
	ql, qh := blk[0:128], blk[128:192]
	for h := 0; h < 2; h++ {
		for l := 0; l < 32; l++ {
			a, b, c, e := lv[128*h+l], lv[128*h+l+32], lv[128*h+l+64], lv[128*h+l+96]
			ql[64*h+l] = a&0xf | (c&0xf)<<4
			ql[64*h+l+32] = b&0xf | (e&0xf)<<4
			qh[32*h+l] = a>>4 | (b>>4)<<2 | (c>>4)<<4 | (e>>4)<<6
		}
	}
}
