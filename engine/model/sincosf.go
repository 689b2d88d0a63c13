package model

import "math"

// sincosf returns sin(x) and cos(x) with exactly the bits that glibc's
// sincosf(float) returns on x86_64 CPUs with FMA and AVX2 (the
// __sincosf_fma ifunc variant, as in glibc 2.36, which llama.cpp calls when
// computing rotary-embedding angles). The algorithm is glibc's (originally
// from Arm's optimized-routines): evaluation in float64 with a single-step
// reduction by pi/2 for |x| < 120, an exact 4/pi fixed-point reduction for
// larger |x|, and short polynomials for sin and cos. In the FMA build every
// a*b+c of the C source is compiled into a fused multiply-add, so each one
// is math.FMA here; the remaining products are plain float64 multiplies.
func sincosf(x float32) (sin, cos float32) {
	ix := math.Float32bits(x)
	top := (ix >> 20) & 0x7ff // abstop12 in glibc
	xd := float64(x)

	switch {
	case top < 0x3f4: // |x| < 0.75 (abstop12(pi/4f))
		if top < 0x398 { // |x| < 2^-12
			return x, 1
		}
		return sincosfPolyEval(xd, xd*xd, &sincosfTab[0], 0)

	case top < 0x42f: // |x| < 120: fast reduction
		// 2/pi is scaled by 2^24 so that truncation plus the rounding
		// constant yields round-to-nearest of x*2/pi in the top bits.
		r := xd * sincosfHpiInv
		n := (int32(r) + 0x800000) >> 24
		xr := math.FMA(-float64(n), sincosfHpi, xd)
		p := &sincosfTab[0]
		if n&2 != 0 {
			p = &sincosfTab[1]
		}
		return sincosfPolyEval(xr*sincosfSign[n&3], xr*xr, p, int(n))

	case top < 0x7f8: // finite |x| >= 120: reduction with 192 bits of 4/pi
		sign := int(ix >> 31)
		xr, n := sincosfReduceLarge(ix)
		q := n + sign
		p := &sincosfTab[0]
		if q&2 != 0 {
			p = &sincosfTab[1]
		}
		return sincosfPolyEval(xr*sincosfSign[q&3], xr*xr, p, n)

	default: // Inf or NaN
		nan := x - x
		return nan, nan
	}
}

// sincosfPoly holds the polynomial coefficients; the second table entry has
// the cosine polynomial negated.
type sincosfPoly struct {
	c0, c1, c2, c3, c4 float64
	s1, s2, s3         float64
}

const (
	sincosfHpiInv = 0x1.45f306dc9c883p+23 // 2/pi * 2^24
	sincosfHpi    = 0x1.921fb54442d18p+0  // pi/2
	sincosfPi63   = 0x1.921fb54442d18p-62 // 2*pi * 2^-64
)

var sincosfSign = [4]float64{1, -1, -1, 1}

var sincosfTab = [2]sincosfPoly{
	{
		c0: 0x1p0,
		c1: -0x1.ffffffd0c621cp-2,
		c2: 0x1.55553e1068f19p-5,
		c3: -0x1.6c087e89a359dp-10,
		c4: 0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3,
		s2: 0x1.1107605230bc4p-7,
		s3: -0x1.994eb3774cf24p-13,
	},
	{
		c0: -0x1p0,
		c1: 0x1.ffffffd0c621cp-2,
		c2: -0x1.55553e1068f19p-5,
		c3: 0x1.6c087e89a359dp-10,
		c4: -0x1.99343027bf8c3p-16,
		s1: -0x1.555545995a603p-3,
		s2: 0x1.1107605230bc4p-7,
		s3: -0x1.994eb3774cf24p-13,
	},
}

// sincosfInvPio4 is 4/pi to 192 bits, stored so that entry i holds bits
// 8*(i-3) .. 8*i+31 of the fraction; only 8 new bits per entry.
var sincosfInvPio4 = [24]uint32{
	0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e,
	0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
	0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
	0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
	0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
}

// sincosfPolyEval evaluates the sine and cosine polynomials at the reduced
// argument x (x2 = x*x) and swaps the results for odd quadrants n.
func sincosfPolyEval(x, x2 float64, p *sincosfPoly, n int) (sin, cos float32) {
	x3 := x2 * x
	x4 := x2 * x2
	x5 := x2 * x3
	x6 := x2 * x4
	c2 := math.FMA(x2, p.c4, p.c3)
	s1 := math.FMA(x2, p.s3, p.s2)
	c1 := math.FMA(x2, p.c1, p.c0)
	s := math.FMA(x3, p.s1, x)
	c := math.FMA(x4, p.c2, c1)
	sin = float32(math.FMA(s1, x5, s))
	cos = float32(math.FMA(c2, x6, c))
	if n&1 != 0 {
		sin, cos = cos, sin
	}
	return sin, cos
}

// sincosfReduceLarge reduces a finite float with bits ix, |x| >= 120, to
// the range [-pi/4, pi/4] using a 32x96-bit fixed-point multiply by 4/pi.
// It returns the reduced value (sign of x ignored) and the quadrant.
func sincosfReduceLarge(ix uint32) (float64, int) {
	arr := sincosfInvPio4[(ix>>26)&15:]
	shift := (ix >> 23) & 7
	m := ((ix & 0xffffff) | 0x800000) << shift

	res0 := uint64(m * arr[0]) // 32-bit product, high bits dropped
	res1 := uint64(m) * uint64(arr[4])
	res2 := uint64(m) * uint64(arr[8])
	res0 = (res2 >> 32) | (res0 << 32)
	res0 += res1

	n := (res0 + 1<<61) >> 62
	res0 -= n << 62
	return float64(int64(res0)) * sincosfPi63, int(n)
}
