//go:build amd64 && !noasm

package tensor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The quantized and 4-way float kernels are generated:
//go:generate sh -c "python3 gen_asmk.py 1 > asmk1_amd64.s && python3 gen_asmk.py 4 > asmk4_amd64.s"
//go:generate sh -c "python3 gen_asmq8.py 1 > asmq81_amd64.s && python3 gen_asmq8.py 4 > asmq84_amd64.s"
//go:generate sh -c "python3 gen_asmf.py > asmf_amd64.s"

//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

//go:noescape
func dotF16AVX512(a *uint16, b *float32, n int) float32

//go:noescape
func dotBF16AVX512(a *uint16, b *float32, n int) float32

//go:noescape
func quantActAVX512(x *float32, q *int8, d *float32, bs *int16, nb, blk int)

// hasAVX512 reports whether the AVX-512 kernels can run here: they need
// F, BW, VL and VNNI (plus FMA and F16C, which every such CPU has).
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
	cpu.X86.HasAVX512VNNI && cpu.X86.HasFMA && cpu.X86.HasF16C

func init() {
	if os.Getenv("MAOPAO_NOASM") == "1" || !hasAVX512 || !littleEndian {
		return
	}
	useAVX512()
}

func useAVX512() {
	quantActRows = func(x []float32, q []int8, d []float32, bs16 []int16, blk int) {
		nb := len(x) / blk
		if nb == 0 {
			return
		}
		_, _, _ = q[nb*blk-1], d[nb-1], bs16[nb*blk/16-1]
		quantActAVX512(&x[0], &q[0], &d[0], &bs16[0], nb, blk)
	}
	dotF32 = func(a, b []float32) float32 {
		n := len(a) &^ 15
		var s float32
		if n > 0 {
			s = dotF32AVX512(&a[0], &b[0], n)
		}
		if n < len(a) {
			s += dotF32Go(a[n:], b[n:len(a)])
		}
		return s
	}
	dotF16 = func(row []byte, x []float32) float32 {
		n := len(x) &^ 15
		var s float32
		if n > 0 {
			s = dotF16AVX512(&asU16(row)[0], &x[0], n)
		}
		if n < len(x) {
			s += dotF16Go(row[2*n:], x[n:])
		}
		return s
	}
	dotBF16 = func(row []byte, x []float32) float32 {
		n := len(x) &^ 15
		var s float32
		if n > 0 {
			s = dotBF16AVX512(&asU16(row)[0], &x[0], n)
		}
		if n < len(x) {
			s += dotBF16Go(row[2*n:], x[n:])
		}
		return s
	}
	f4 := func(esize int, f func(w unsafe.Pointer, x *float32, stride, n int, out *float32), tail func(row []byte, x []float32) float32) floatKernel4 {
		return func(row []byte, x []float32, stride int, out *[4]float32) {
			cols := len(row) / esize
			n := cols &^ 15
			_ = x[3*stride+cols-1]
			if n > 0 {
				f(unsafe.Pointer(&row[0]), &x[0], stride, n, &out[0])
			} else {
				*out = [4]float32{}
			}
			if n < cols {
				for j := range out {
					out[j] += tail(row[n*esize:], x[j*stride+n:j*stride+cols])
				}
			}
		}
	}
	dotF32x4 = f4(4, func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF32x4AVX512((*float32)(w), x, stride, n, out)
	}, func(row []byte, x []float32) float32 { return dotF32Go(asF32(row), x) })
	dotF16x4 = f4(2, func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF16x4AVX512((*uint16)(w), x, stride, n, out)
	}, dotF16Go)
	dotBF16x4 = f4(2, func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotBF16x4AVX512((*uint16)(w), x, stride, n, out)
	}, dotBF16Go)
	// Q8_0/Q4_0 kernels take pairs of blocks; an odd last block goes to Go.
	q32 := func(bb int, f q32asm, tail qkernel) qkernel {
		return func(row []byte, qs []int8, d []float32, bs []int16) float32 {
			nb := len(row) / bb
			np := nb / 2
			var s float32
			if np > 0 {
				_, _ = qs[64*np-1], d[2*np-1]
				f(&row[0], &qs[0], &d[0], np, &s)
			}
			if nb%2 == 1 {
				s += tail(row[(nb-1)*bb:], qs[(nb-1)*32:], d[nb-1:], bs[nb-1:])
			}
			return s
		}
	}
	dotQ8_0 = q32(34, dotQ8_0VNNI, dotQ8_0Go)
	dotQ4_0 = q32(18, dotQ4_0VNNI, dotQ4_0Go)
	q32x4 := func(bb int, f q32asm) qkernel4 {
		return func(row []byte, qs []int8, d []float32, _ []int16, out *[4]float32) {
			np := len(row) / bb / 2 // cols is a multiple of 64 here
			if np == 0 {
				*out = [4]float32{}
				return
			}
			_, _ = qs[4*64*np-1], d[4*2*np-1]
			f(&row[0], &qs[0], &d[0], np, &out[0])
		}
	}
	dotQ8_0x4 = q32x4(34, dotQ8_0VNNIx4)
	dotQ4_0x4 = q32x4(18, dotQ4_0VNNIx4)
	k := func(bb int, f kasm) qkernel {
		return func(row []byte, qs []int8, d []float32, bs []int16) float32 {
			if len(row) == 0 {
				return 0
			}
			nb := len(row) / bb
			_ = qs[QK_K*nb-1] // bounds checks the assembly relies on
			_ = d[nb-1]
			_ = bs[16*nb-1]
			var out float32
			f(&row[0], &qs[0], &d[0], &bs[0], nb, &out)
			return out
		}
	}
	dotQ4K = k(144, dotQ4KVNNI)
	dotQ5K = k(176, dotQ5KVNNI)
	dotQ6K = k(210, dotQ6KVNNI)
	k4 := func(bb int, f kasm) qkernel4 {
		return func(row []byte, qs []int8, d []float32, bs []int16, out *[4]float32) {
			if len(row) == 0 {
				*out = [4]float32{}
				return
			}
			nb := len(row) / bb
			_ = qs[4*QK_K*nb-1]
			_ = d[4*nb-1]
			_ = bs[4*16*nb-1]
			f(&row[0], &qs[0], &d[0], &bs[0], nb, &out[0])
		}
	}
	dotQ4Kx4 = k4(144, dotQ4KVNNIx4)
	dotQ5Kx4 = k4(176, dotQ5KVNNIx4)
	dotQ6Kx4 = k4(210, dotQ6KVNNIx4)
}

// kasm is the signature of the generated K-quant kernels: nb blocks of one
// weight row against 1 or 4 packed activations, results in out.
type kasm = func(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ4KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ5KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ6KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ4KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ5KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ6KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

// q32asm is the signature of the generated Q8_0/Q4_0 kernels: npairs
// pairs of blocks of one weight row against 1 or 4 activations.
type q32asm = func(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotQ8_0VNNI(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotQ4_0VNNI(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotQ8_0VNNIx4(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotQ4_0VNNIx4(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotF32x4AVX512(w *float32, x *float32, stride, n int, out *float32)

//go:noescape
func dotF16x4AVX512(w *uint16, x *float32, stride, n int, out *float32)

//go:noescape
func dotBF16x4AVX512(w *uint16, x *float32, stride, n int, out *float32)
