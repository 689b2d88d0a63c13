package tensor

import (
	"encoding/binary"
	"unsafe"
)

// littleEndian gates reinterpreting mapped bytes as float32/uint16 slices.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

func asF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

func asU16(b []byte) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

func dotF32Go(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	b = b[:len(a)]
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF16Go(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	if !littleEndian {
		for i := range x {
			s0 += f16Table[binary.LittleEndian.Uint16(row[2*i:])] * x[i]
		}
		return s0
	}
	h := asU16(row)[:len(x)]
	t := f16Table
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += t[h[i]] * x[i]
		s1 += t[h[i+1]] * x[i+1]
		s2 += t[h[i+2]] * x[i+2]
		s3 += t[h[i+3]] * x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += t[h[i]] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBF16Go(row []byte, x []float32) float32 {
	var s0, s1 float32
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += BF16ToF32(binary.LittleEndian.Uint16(row[2*i:])) * x[i]
		s1 += BF16ToF32(binary.LittleEndian.Uint16(row[2*i+2:])) * x[i+1]
	}
	for ; i < len(x); i++ {
		s0 += BF16ToF32(binary.LittleEndian.Uint16(row[2*i:])) * x[i]
	}
	return s0 + s1
}

// Quantized kernels: row is one weight row, qs/d/bs the matching slice of
// one prepared activation row.

// The 32-block kernels sum as ggml does (ggml_vec_dot_q8_0_q8_0 and
// llamafile's tinyBLAS_Q0_AVX agree): eight float lanes, lane j taking each
// block's int8 products 4j..4j+3 as one integer, scaled by the product of
// the two block scales with a fused multiply-add, block after block; then
// the lanes are added pairwise (hsum8). Every fast kernel reproduces this
// to the bit, and with it llama.cpp's results.

func dotQ8_0Go(row []byte, qs []int8, d []float32, _ []int16) float32 {
	var acc [8]float32
	nb := len(row) / 34
	for b := 0; b < nb; b++ {
		blk := row[34*b : 34*b+34]
		q := qs[32*b : 32*b+32]
		db := f16At(blk) * d[b]
		for j := 0; j < 8; j++ {
			var s int32
			for t := 4 * j; t < 4*j+4; t++ {
				s += int32(int8(blk[2+t])) * int32(q[t])
			}
			acc[j] = FMA32(db, float32(s), acc[j])
		}
	}
	return hsum8(&acc)
}

func dotQ4_0Go(row []byte, qs []int8, d []float32, _ []int16) float32 {
	var acc [8]float32
	nb := len(row) / 18
	for b := 0; b < nb; b++ {
		blk := row[18*b : 18*b+18]
		q := qs[32*b : 32*b+32]
		db := f16At(blk) * d[b]
		for j := 0; j < 8; j++ {
			var s int32
			for t := 4 * j; t < 4*j+4; t++ {
				w := int32(blk[2+t%16]&0xf) - 8
				if t >= 16 {
					w = int32(blk[2+t%16]>>4) - 8
				}
				s += w * int32(q[t])
			}
			acc[j] = FMA32(db, float32(s), acc[j])
		}
	}
	return hsum8(&acc)
}

// hsum8 adds eight lanes as ggml's hsum_float_8 does.
func hsum8(v *[8]float32) float32 {
	a0, a1, a2, a3 := v[0]+v[4], v[1]+v[5], v[2]+v[6], v[3]+v[7]
	return (a0 + a2) + (a1 + a3)
}

// The K-quant kernels sum as llama.cpp's CPU backend does on x86, so that
// the same model gives the same tokens (see roundScalesF16 for why the last
// bit matters). The integer work is exact in any order; what has to match is
// how it becomes float: which integer partial sums are converted, and the
// order and fusing of the float operations after that.

// dotQ4KGo follows the repacked Q4_K kernels (ggml_gemv/gemm_q4_K_8x8_q8_K),
// which llama.cpp uses for every Q4_K matrix on AVX2 CPUs: per super-block
// the whole scaled sum and the whole min sum are converted, and two float
// chains take them, sums·(d·dₐ) and mins·(dmin·dₐ), subtracted at the end.
// This is the gemv's order, for a row taken alone.
func dotQ4KGo(row []byte, qs []int8, d []float32, bs []int16) float32 {
	var acc, accMin float32
	nb := len(row) / 144
	for b := 0; b < nb; b++ {
		blk, q, g := row[144*b:144*b+144], qs[QK_K*b:QK_K*b+QK_K], bs[16*b:16*b+16]
		var sumi, summ int32
		for c := 0; c < 4; c++ {
			s, m := q4KChunk(blk, q, g, c)
			sumi += s
			summ += m
		}
		acc = FMA32(float32(sumi), f16At(blk)*d[b], acc)
		accMin = FMA32(float32(summ), f16At(blk[2:])*d[b], accMin)
	}
	return acc - accMin
}

// dotQ4KBatchGo is dotQ4KGo in the order of the repacked gemm, which
// llama.cpp runs for a matrix product's activations in groups of four (the
// last n mod 4 go through the gemv, see MatMul): the two float chains take
// one step per 64 weights instead of per super-block.
func dotQ4KBatchGo(row []byte, qs []int8, d []float32, bs []int16) float32 {
	var acc, accMin float32
	nb := len(row) / 144
	for b := 0; b < nb; b++ {
		blk, q, g := row[144*b:144*b+144], qs[QK_K*b:QK_K*b+QK_K], bs[16*b:16*b+16]
		sd, sm := f16At(blk)*d[b], f16At(blk[2:])*d[b]
		for c := 0; c < 4; c++ {
			s, m := q4KChunk(blk, q, g, c)
			acc = FMA32(float32(s), sd, acc)
			accMin = FMA32(float32(m), sm, accMin)
		}
	}
	return acc - accMin
}

// q4KChunk is Q4_K super-block blk's weights 64c..64c+63 against the
// activation int8s q: the two sub-blocks' dot products times their scales,
// and their mins times the activations' 16-wide partial sums g. Both are
// exact integers.
func q4KChunk(blk []byte, q []int8, g []int16, c int) (sum, mins int32) {
	sc1, m1 := scaleMinK4(2*c, blk[4:16])
	sc2, m2 := scaleMinK4(2*c+1, blk[4:16])
	w := blk[16+32*c : 48+32*c]
	lo, hi := q[64*c:64*c+32], q[64*c+32:64*c+64]
	var s1, s2 int32
	for l := 0; l < 32; l++ {
		s1 += int32(w[l]&0xf) * int32(lo[l])
		s2 += int32(w[l]>>4) * int32(hi[l])
	}
	return int32(sc1)*s1 + int32(sc2)*s2, int32(m1)*int32(g[4*c]+g[4*c+1]) + int32(m2)*int32(g[4*c+2]+g[4*c+3])
}

// dotQ5KGo follows ggml_vec_dot_q5_K_q8_K (AVX2): eight int32 lanes, lane m
// holding bytes 4m..4m+3 of every 32-weight sub-block times its scale, each
// lane converted per super-block into its own float FMA chain; the mins go
// through one scalar FMA chain, added after the lanes are summed.
func dotQ5KGo(row []byte, qs []int8, d []float32, bs []int16) float32 {
	var acc [8]float32
	var summs float32
	nb := len(row) / 176
	for b := 0; b < nb; b++ {
		blk := row[176*b : 176*b+176]
		q := qs[QK_K*b : QK_K*b+QK_K]
		g := bs[16*b : 16*b+16]
		qh := blk[16:48]
		var lanes [8]int32
		var summ int32
		for c := 0; c < 4; c++ {
			sc1, m1 := scaleMinK4(2*c, blk[4:16])
			sc2, m2 := scaleMinK4(2*c+1, blk[4:16])
			w := blk[48+32*c : 80+32*c]
			lo, hi := q[64*c:64*c+32], q[64*c+32:64*c+64]
			sh1, sh2 := uint(2*c), uint(2*c+1)
			for l := 0; l < 32; l++ {
				lanes[l>>2] += int32(sc1)*int32(w[l]&0xf|(qh[l]>>sh1&1)<<4)*int32(lo[l]) +
					int32(sc2)*int32(w[l]>>4|(qh[l]>>sh2&1)<<4)*int32(hi[l])
			}
			summ += int32(m1)*int32(g[4*c]+g[4*c+1]) + int32(m2)*int32(g[4*c+2]+g[4*c+3])
		}
		dd, dmin := d[b]*f16At(blk), d[b]*f16At(blk[2:])
		for m, v := range lanes {
			acc[m] = FMA32(dd, float32(v), acc[m])
		}
		summs = FMA32(float32(summ), -dmin, summs)
	}
	return hsum8(&acc) + summs
}

// dotQ6KGo follows ggml_vec_dot_q6_K_q8_K (AVX2): eight int32 lanes as for
// Q5_K, each starting from −32·(the lane's two 16-wide partial sums times
// their scales), which folds in the weights' offset of 32.
func dotQ6KGo(row []byte, qs []int8, d []float32, bs []int16) float32 {
	var acc [8]float32
	nb := len(row) / 210
	for b := 0; b < nb; b++ {
		blk := row[210*b : 210*b+210]
		q := qs[QK_K*b : QK_K*b+QK_K]
		g := bs[16*b : 16*b+16]
		sc := func(k int) int32 { return int32(int8(blk[192+k])) }
		var lanes [8]int32
		for m := range lanes {
			lanes[m] = -32 * (int32(g[2*m])*sc(2*m) + int32(g[2*m+1])*sc(2*m+1))
		}
		for h := 0; h < 2; h++ {
			ql, qh := blk[64*h:64*h+64], blk[128+32*h:160+32*h]
			qq := q[128*h : 128*h+128]
			for l := 0; l < 32; l++ {
				k := 8*h + l>>4
				lanes[l>>2] += sc(k)*int32(ql[l]&0xf|(qh[l]&3)<<4)*int32(qq[l]) +
					sc(k+2)*int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4)*int32(qq[l+32]) +
					sc(k+4)*int32(ql[l]>>4|(qh[l]>>4&3)<<4)*int32(qq[l+64]) +
					sc(k+6)*int32(ql[l+32]>>4|(qh[l]>>6&3)<<4)*int32(qq[l+96])
			}
		}
		dd := d[b] * f16At(blk[208:])
		for m, v := range lanes {
			acc[m] = FMA32(dd, float32(v), acc[m])
		}
	}
	return hsum8(&acc)
}
