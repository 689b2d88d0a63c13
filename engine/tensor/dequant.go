package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Dequantize decodes len(dst) weights of type t from src, which must hold
// exactly that many weights.
func Dequantize(t Type, src []byte, dst []float32) error {
	want, err := RowBytes(t, len(dst))
	if err != nil {
		return err
	}
	if len(src) != want {
		return fmt.Errorf("tensor: dequantize %d %v weights: have %d bytes, want %d", len(dst), t, len(src), want)
	}
	dequantize(t, src, dst)
	return nil
}

// dequantize assumes the sizes were checked.
func dequantize(t Type, src []byte, dst []float32) {
	switch t {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = f16Table[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q4_0:
		for b := 0; b < len(dst)/32; b++ {
			dequantQ4_0(src[b*18:b*18+18], dst[b*32:b*32+32])
		}
	case Q8_0:
		for b := 0; b < len(dst)/32; b++ {
			dequantQ8_0(src[b*34:b*34+34], dst[b*32:b*32+32])
		}
	case Q4_K:
		for b := 0; b < len(dst)/QK_K; b++ {
			dequantQ4K(src[b*144:b*144+144], dst[b*QK_K:b*QK_K+QK_K])
		}
	case Q5_K:
		for b := 0; b < len(dst)/QK_K; b++ {
			dequantQ5K(src[b*176:b*176+176], dst[b*QK_K:b*QK_K+QK_K])
		}
	case Q6_K:
		for b := 0; b < len(dst)/QK_K; b++ {
			dequantQ6K(src[b*210:b*210+210], dst[b*QK_K:b*QK_K+QK_K])
		}
	default:
		panic("tensor: dequantize of unchecked type " + t.String())
	}
}

func f16At(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

func dequantQ4_0(blk []byte, y []float32) {
	d := f16At(blk)
	qs := blk[2:18]
	for j := 0; j < 16; j++ {
		y[j] = d * float32(int(qs[j]&0xf)-8)
		y[j+16] = d * float32(int(qs[j]>>4)-8)
	}
}

func dequantQ8_0(blk []byte, y []float32) {
	d := f16At(blk)
	for j := 0; j < 32; j++ {
		y[j] = d * float32(int8(blk[2+j]))
	}
}

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j from the
// 12-byte K-quant scales array: sub-blocks 0-3 keep both in the low 6 bits
// of bytes j and j+4; sub-blocks 4-7 keep their low 4 bits in byte j+4 and
// their top 2 bits in the top bits of bytes j-4 (scale) and j (min).
func scaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

func dequantQ4K(blk []byte, y []float32) {
	d := f16At(blk)
	dmin := f16At(blk[2:])
	scales := blk[4:16]
	qs := blk[16:144]
	for c := 0; c < 4; c++ { // 64-weight chunks share 32 bytes of nibbles
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, mm1 := d*float32(sc1), dmin*float32(m1)
		d2, mm2 := d*float32(sc2), dmin*float32(m2)
		q := qs[32*c : 32*c+32]
		out := y[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			out[l] = d1*float32(q[l]&0xf) - mm1
			out[l+32] = d2*float32(q[l]>>4) - mm2
		}
	}
}

func dequantQ5K(blk []byte, y []float32) {
	d := f16At(blk)
	dmin := f16At(blk[2:])
	scales := blk[4:16]
	qh := blk[16:48]
	qs := blk[48:176]
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, scales)
		sc2, m2 := scaleMinK4(2*c+1, scales)
		d1, mm1 := d*float32(sc1), dmin*float32(m1)
		d2, mm2 := d*float32(sc2), dmin*float32(m2)
		u1, u2 := uint8(1)<<(2*c), uint8(2)<<(2*c)
		q := qs[32*c : 32*c+32]
		out := y[64*c : 64*c+64]
		for l := 0; l < 32; l++ {
			lo, hi := q[l]&0xf, q[l]>>4
			if qh[l]&u1 != 0 {
				lo += 16
			}
			if qh[l]&u2 != 0 {
				hi += 16
			}
			out[l] = d1*float32(lo) - mm1
			out[l+32] = d2*float32(hi) - mm2
		}
	}
}

func dequantQ6K(blk []byte, y []float32) {
	ql := blk[0:128]
	qh := blk[128:192]
	sc := blk[192:208]
	d := f16At(blk[208:])
	for h := 0; h < 2; h++ { // two halves of 128 weights
		l0, h0, s0 := ql[64*h:], qh[32*h:], sc[8*h:]
		out := y[128*h:]
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int(l0[l]&0xf|(h0[l]>>0&3)<<4) - 32
			q2 := int(l0[l+32]&0xf|(h0[l]>>2&3)<<4) - 32
			q3 := int(l0[l]>>4|(h0[l]>>4&3)<<4) - 32
			q4 := int(l0[l+32]>>4|(h0[l]>>6&3)<<4) - 32
			out[l] = d * float32(int8(s0[is])) * float32(q1)
			out[l+32] = d * float32(int8(s0[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(s0[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(s0[is+6])) * float32(q4)
		}
	}
}
