//go:build amd64 && !noasm

package tensor

import (
	"os"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The quantized and 4-way float kernels are generated:
//go:generate sh -c "python3 gen_asmk.py 1 > asmk1_amd64.s && python3 gen_asmk.py 4 > asmk4_amd64.s"
//go:generate sh -c "python3 gen_dotf.py > dotf_amd64.s"
//go:generate sh -c "python3 gen_asmq8.py 1 > asmq81_amd64.s && python3 gen_asmq8.py 4 > asmq84_amd64.s"
//go:generate sh -c "python3 gen_asmf.py > asmf_amd64.s"
//go:generate sh -c "python3 gen_actf.py > actf_amd64.s"
//go:generate sh -c "python3 gen_avx2.py 1 > avx2_1_amd64.s && python3 gen_avx2.py 4 > avx2_4_amd64.s"

var (
	// hasAVX512 reports whether the AVX-512 kernels can run: they need F,
	// BW, VL and VNNI (plus FMA and F16C, which every such CPU has).
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL &&
		cpu.X86.HasAVX512VNNI && cpu.X86.HasFMA && cpu.X86.HasF16C
	hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
)

func init() {
	if !littleEndian {
		return
	}
	if hasAVX2 {
		kernelSets = append(kernelSets, kernelSet{"avx2", func() { install(avx2Set) }})
	}
	if hasAVX512 {
		kernelSets = append(kernelSets, kernelSet{"avx512-vnni", func() { install(avx512Set) }})
	}
	if os.Getenv("MAOPAO_NOASM") == "1" {
		return
	}
	// MAOPAO_KERNELS=avx2 (or go) picks a lesser set, for comparisons.
	want := os.Getenv("MAOPAO_KERNELS")
	for _, ks := range kernelSets {
		if ks.name == want {
			ks.use()
			return
		}
	}
	kernelSets[len(kernelSets)-1].use()
}

// Signatures of the generated kernels: nb K-quant blocks, or npairs pairs
// of Q8_0/Q4_0 blocks, of one weight row against one activation (the sum is
// returned, so nothing escapes through the indirect call) or four packed
// activations (sums stored in out).
type (
	kasm    = func(row *byte, qs *int8, d *float32, bs *int16, nb int) float32
	kasm4   = func(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)
	q32asm  = func(row *byte, qs *int8, d *float32, npairs int) float32
	q32asm4 = func(row *byte, qs *int8, d *float32, npairs int, out *float32)

	// nrows consecutive rows against one activation, sums stored in out
	kasmRows   = func(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32)
	q32asmRows = func(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32)

	// nrows consecutive rows against four packed activations; activation
	// j's sums go to out[j*ostride:]
	kasm4Rows   = func(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)
	q32asm4Rows = func(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32, ostride int)

	// npairs pairs of rows, stride bytes apart, against one packed group
	// (act.q8pack); activation j's sums go to out[j*ostride:]
	q8asmPairs = func(row *byte, stride int, g *byte, nblocks, npairs int, out *float32, ostride int)
)

type f1asm = func(w unsafe.Pointer, x *float32, n int) float32
type f4asm = func(w unsafe.Pointer, x *float32, stride, n int, out *float32)

// many-row float kernels: consecutive rows of n weights (a multiple of
// floatStep) against one activation, or four with strided sums
type (
	f1asmRows = func(w unsafe.Pointer, x *float32, n, nrows int, out *float32)
	f4asmRows = func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int)
)

// asmSet is one instruction-set level's kernels.
type asmSet struct {
	name      string
	floatStep int // the float kernels take a multiple of this many weights
	quantAct  func(x *float32, q *int8, d *float32, bs *int16, nb, blk int)
	vecFuncs  bool // softmax and SwiGLU helpers (actf_amd64.s)

	f32, f16, bf16       f1asm
	f32x4, f16x4, bf16x4 f4asm

	// nil where the set has none
	f32Rows, f16Rows, bf16Rows       f1asmRows
	f32x4Rows, f16x4Rows, bf16x4Rows f4asmRows
	// four activations in the single-row order (ggml_vec_dot's)
	f32x4Rows64, f16x4Rows64, bf16x4Rows64 f4asmRows

	q4k, q5k, q6k       kasm
	q4kx4, q5kx4, q6kx4 kasm4 // Q4_K in the batch order, see MatMul
	q4kx4Each           kasm4
	q4kx4Perm           bool // q4kx4 and q4kx4Rows read permuted activations (q4kBatchPerm)
	q8, q40             q32asm
	q8x4, q40x4         q32asm4

	// nil where the set has none
	q4kRows, q5kRows, q6kRows       kasmRows
	q40Rows                         q32asmRows
	q4kx4Rows, q5kx4Rows, q6kx4Rows kasm4Rows
	q4kx4RowsEach                   kasm4Rows
	q4kx8RowsEach                   kasm4Rows // eight activations
	q40x4Rows                       q32asm4Rows
	// two and three activations (index 2, 3), single-row order
	q4kTailRows, q5kTailRows, q6kTailRows [4]kasm4Rows
	q8Pairs                               [9]q8asmPairs // by group size, 1 to 8
}

var avx512Set = asmSet{
	name: "avx512-vnni", floatStep: 16, quantAct: quantActAVX512, vecFuncs: true,
	f32:  func(w unsafe.Pointer, x *float32, n int) float32 { return dotF32AVX512((*float32)(w), x, n) },
	f16:  func(w unsafe.Pointer, x *float32, n int) float32 { return dotF16AVX512((*uint16)(w), x, n) },
	bf16: func(w unsafe.Pointer, x *float32, n int) float32 { return dotBF16AVX512((*uint16)(w), x, n) },
	f32x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF32x4AVX512((*float32)(w), x, stride, n, out)
	},
	f16x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF16x4AVX512((*uint16)(w), x, stride, n, out)
	},
	bf16x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotBF16x4AVX512((*uint16)(w), x, stride, n, out)
	},
	f32Rows: func(w unsafe.Pointer, x *float32, n, nrows int, out *float32) {
		dotF32rowsAVX512((*float32)(w), x, n, nrows, out)
	},
	f16Rows: func(w unsafe.Pointer, x *float32, n, nrows int, out *float32) {
		dotF16rowsAVX512((*uint16)(w), x, n, nrows, out)
	},
	bf16Rows: func(w unsafe.Pointer, x *float32, n, nrows int, out *float32) {
		dotBF16rowsAVX512((*uint16)(w), x, n, nrows, out)
	},
	f32x4Rows: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotF32x4rowsAVX512((*float32)(w), x, stride, n, nrows, out, ostride)
	},
	f16x4Rows: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotF16x4rowsAVX512((*uint16)(w), x, stride, n, nrows, out, ostride)
	},
	bf16x4Rows: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotBF16x4rowsAVX512((*uint16)(w), x, stride, n, nrows, out, ostride)
	},
	f32x4Rows64: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotF32x4rows64AVX512((*float32)(w), x, stride, n, nrows, out, ostride)
	},
	f16x4Rows64: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotF16x4rows64AVX512((*uint16)(w), x, stride, n, nrows, out, ostride)
	},
	bf16x4Rows64: func(w unsafe.Pointer, x *float32, stride, n, nrows int, out *float32, ostride int) {
		dotBF16x4rows64AVX512((*uint16)(w), x, stride, n, nrows, out, ostride)
	},
	q4k: dotQ4KVNNI, q5k: dotQ5KVNNI, q6k: dotQ6KVNNI,
	q4kx4: dotQ4KVNNIx4b, q5kx4: dotQ5KVNNIx4, q6kx4: dotQ6KVNNIx4, q4kx4Each: dotQ4KVNNIx4, q4kx4Perm: true,
	q8: dotQ8_0VNNI, q40: dotQ4_0VNNI, q40x4: dotQ4_0VNNIx4,
	q4kRows: dotQ4KVNNIrows, q5kRows: dotQ5KVNNIrows, q6kRows: dotQ6KVNNIrows,
	q40Rows:   dotQ4_0VNNIrows,
	q4kx4Rows: dotQ4KVNNIx4brows, q5kx4Rows: dotQ5KVNNIx4rows, q6kx4Rows: dotQ6KVNNIx4rows,
	q4kx4RowsEach: dotQ4KVNNIx4rows,
	q4kx8RowsEach: dotQ4KVNNIx8rows,
	q40x4Rows:     dotQ4_0VNNIx4rows,
	q4kTailRows:   [4]kasm4Rows{2: dotQ4KVNNIx2rows, 3: dotQ4KVNNIx3rows},
	q5kTailRows:   [4]kasm4Rows{2: dotQ5KVNNIx2rows, 3: dotQ5KVNNIx3rows},
	q6kTailRows:   [4]kasm4Rows{2: dotQ6KVNNIx2rows, 3: dotQ6KVNNIx3rows},
	q8Pairs: [9]q8asmPairs{1: dotQ8_0VNNIpairs1, 2: dotQ8_0VNNIpairs2, 3: dotQ8_0VNNIpairs3, 4: dotQ8_0VNNIpairs4,
		5: dotQ8_0VNNIpairs5, 6: dotQ8_0VNNIpairs6, 7: dotQ8_0VNNIpairs7, 8: dotQ8_0VNNIpairs8},
}

var avx2Set = asmSet{
	name: "avx2", floatStep: 8, quantAct: quantActAVX2,
	f32:  func(w unsafe.Pointer, x *float32, n int) float32 { return dotF32AVX2x1((*float32)(w), x, 0, n) },
	f16:  func(w unsafe.Pointer, x *float32, n int) float32 { return dotF16AVX2x1((*uint16)(w), x, 0, n) },
	bf16: func(w unsafe.Pointer, x *float32, n int) float32 { return dotBF16AVX2x1((*uint16)(w), x, 0, n) },
	f32x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF32AVX2x4((*float32)(w), x, stride, n, out)
	},
	f16x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotF16AVX2x4((*uint16)(w), x, stride, n, out)
	},
	bf16x4: func(w unsafe.Pointer, x *float32, stride, n int, out *float32) {
		dotBF16AVX2x4((*uint16)(w), x, stride, n, out)
	},
	q4k: dotQ4KAVX2, q5k: dotQ5KAVX2, q6k: dotQ6KAVX2,
	q4kx4: dotQ4KAVX2x4b, q5kx4: dotQ5KAVX2x4, q6kx4: dotQ6KAVX2x4, q4kx4Each: dotQ4KAVX2x4,
	q8: dotQ8_0AVX2, q40: dotQ4_0AVX2, q8x4: dotQ8_0AVX2x4, q40x4: dotQ4_0AVX2x4,
}

// roundF16With wraps an assembly F16 rounding loop that takes multiples of
// step elements; the Go loop does the rest.
func roundF16With(f func(x, dst *float32, n int), step int) func(x, dst []float32) {
	return func(x, dst []float32) {
		dst = dst[:len(x)]
		n := len(x) - len(x)%step
		if n > 0 {
			f(&x[0], &dst[0], n)
		}
		roundF16Go(x[n:], dst[n:])
	}
}

// f16sWith wraps an assembly float16 conversion loop that takes multiples
// of step values; the Go loop does the rest.
func f16sWith(f func(src *byte, dst *float32, n int), step int) func(src []byte, dst []float32) {
	return func(src []byte, dst []float32) {
		src = src[:2*len(dst)]
		n := len(dst) - len(dst)%step
		if n > 0 {
			f(&src[0], &dst[0], n)
		}
		f16sGo(src[2*n:], dst[n:])
	}
}

// install points the kernel table at s, wrapping each assembly routine so
// that slice bounds are checked before any pointer is handed over and
// lengths the assembly does not take (float tails, odd Q8_0/Q4_0 blocks)
// go to the Go kernels.
func install(s asmSet) {
	useGo()
	kernelName = s.name
	// Callers guarantee the lengths (see DotF32x16, DotF32x64).
	if s.floatStep == 16 {
		dotF32x16 = func(x, y []float32) float32 { return dotF32x16AVX512(&x[0], &y[0], len(x)) }
		dotF32x64 = func(x, y []float32) float32 { return dotF32x64AVX512(&x[0], &y[0], len(x)) }
		roundF16 = roundF16With(roundF16AVX512, 16)
		f16s = f16sWith(f16sAVX512, 16)
		dotF32x16Rows = func(x, rows []float32, stride int, out []float32) {
			dotF32x16rowsAVX512(&x[0], &rows[0], len(x), len(out), stride, &out[0])
		}
		dotF32x64Rows = func(x, rows []float32, stride int, out []float32) {
			dotF32x64rowsAVX512(&x[0], &rows[0], len(x), len(out), stride, &out[0])
		}
	} else {
		dotF32x16 = func(x, y []float32) float32 { return dotF32x16AVX2(&x[0], &y[0], len(x)) }
		dotF32x64 = func(x, y []float32) float32 { return dotF32x64AVX2(&x[0], &y[0], len(x)) }
		roundF16 = roundF16With(roundF16AVX2, 8)
		f16s = f16sWith(f16sAVX2, 8)
		dotF32x16Rows = func(x, rows []float32, stride int, out []float32) {
			dotF32x16rowsAVX2(&x[0], &rows[0], len(x), len(out), stride, &out[0])
		}
		dotF32x64Rows = func(x, rows []float32, stride int, out []float32) {
			dotF32x64rowsAVX2(&x[0], &rows[0], len(x), len(out), stride, &out[0])
		}
	}
	quantActRows = func(x []float32, q []int8, d []float32, bs16 []int16, blk int) {
		nb := len(x) / blk
		if nb == 0 {
			return
		}
		_, _, _ = q[nb*blk-1], d[nb-1], bs16[nb*blk/16-1]
		s.quantAct(&x[0], &q[0], &d[0], &bs16[0], nb, blk)
	}
	if s.vecFuncs {
		expSum = func(x []float32, m float32) float64 {
			if len(x) == 0 {
				return 0
			}
			return expSumAVX512(&x[0], len(x), m)
		}
		maxF32 = func(x []float32) float32 { return maxAVX512(&x[0], len(x)) }
		swiglu = func(g, u []float32) {
			if len(g) == 0 {
				return
			}
			_ = u[len(g)-1]
			swigluAVX512(&g[0], &u[0], len(g))
		}
	}
	step := s.floatStep
	f1 := func(esize int, f f1asm, tail func(row []byte, x []float32) float32) func(row []byte, x []float32) float32 {
		return func(row []byte, x []float32) float32 {
			n := len(x) - len(x)%step
			_ = row[:len(x)*esize]
			var r float32
			if n > 0 {
				r = f(unsafe.Pointer(&row[0]), &x[0], n)
			}
			if n < len(x) {
				r += tail(row[n*esize:], x[n:])
			}
			return r
		}
	}
	f32tail := func(row []byte, x []float32) float32 { return dotF32Go(asF32(row), x) }
	f32 := f1(4, s.f32, f32tail)
	dotF32 = func(a, b []float32) float32 {
		return f32(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), 4*len(a)), b[:len(a)])
	}
	dotF16 = f1(2, s.f16, dotF16Go)
	dotBF16 = f1(2, s.bf16, dotBF16Go)
	f4 := func(esize int, f f4asm, tail func(row []byte, x []float32) float32) floatKernel4 {
		return func(row []byte, x []float32, stride int, out *[4]float32) {
			cols := len(row) / esize
			n := cols - cols%step
			_ = x[:3*stride+cols]
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
	fr := func(esize int, f f1asmRows, one func(row []byte, x []float32) float32) floatKernelRows {
		if f == nil {
			return nil
		}
		return func(rows []byte, x []float32, out []float32) {
			cols := len(x)
			if cols%64 != 0 || cols == 0 || len(out) == 0 { // the kernels step 64 weights
				rb := cols * esize
				for r := range out {
					out[r] = one(rows[r*rb:(r+1)*rb], x)
				}
				return
			}
			_ = rows[len(out)*cols*esize-1]
			f(unsafe.Pointer(&rows[0]), &x[0], cols, len(out), &out[0])
		}
	}
	dotF32Rows = fr(4, s.f32Rows, func(row []byte, x []float32) float32 { return dotF32(asF32(row), x) })
	dotF16Rows = fr(2, s.f16Rows, func(row []byte, x []float32) float32 { return dotF16(row, x) })
	dotBF16Rows = fr(2, s.bf16Rows, func(row []byte, x []float32) float32 { return dotBF16(row, x) })
	f4r := func(esize int, f f4asmRows, one func(row []byte, x []float32, stride int, out *[4]float32)) floatKernel4Rows {
		if f == nil {
			return nil
		}
		return func(rows []byte, x []float32, nrows int, out []float32, ostride int) {
			if nrows == 0 {
				return
			}
			cols := len(x) / 4
			if cols%step != 0 || cols == 0 {
				rb := cols * esize
				var o [4]float32
				for r := 0; r < nrows; r++ {
					one(rows[r*rb:(r+1)*rb], x, cols, &o)
					for j, v := range o {
						out[j*ostride+r] = v
					}
				}
				return
			}
			_, _, _ = rows[nrows*cols*esize-1], x[4*cols-1], out[3*ostride+nrows-1]
			f(unsafe.Pointer(&rows[0]), &x[0], cols, cols, nrows, &out[0], ostride)
		}
	}
	dotF32x4 = f4(4, s.f32x4, f32tail)
	dotF16x4 = f4(2, s.f16x4, dotF16Go)
	dotBF16x4 = f4(2, s.bf16x4, dotBF16Go)
	dotF32x4Rows = f4r(4, s.f32x4Rows, dotF32x4)
	dotF16x4Rows = f4r(2, s.f16x4Rows, dotF16x4)
	dotBF16x4Rows = f4r(2, s.bf16x4Rows, dotBF16x4)
	// Callers guarantee Cols a multiple of 64 (see planFloat).
	f4r64 := func(esize int, f f4asmRows) floatKernel4Rows {
		if f == nil {
			return nil
		}
		return func(rows []byte, x []float32, nrows int, out []float32, ostride int) {
			cols := len(x) / 4
			if nrows == 0 || cols == 0 {
				return
			}
			_, _, _ = rows[nrows*cols*esize-1], x[4*cols-1], out[3*ostride+nrows-1]
			f(unsafe.Pointer(&rows[0]), &x[0], cols, cols, nrows, &out[0], ostride)
		}
	}
	dotF32x4Rows64 = f4r64(4, s.f32x4Rows64)
	dotF16x4Rows64 = f4r64(2, s.f16x4Rows64)
	dotBF16x4Rows64 = f4r64(2, s.bf16x4Rows64)
	q32 := func(bb int, f q32asm, tail qkernel) qkernel {
		return func(row []byte, qs []int8, d []float32, bs []int16) float32 {
			nb := len(row) / bb
			if nb%2 == 1 || nb == 0 {
				// The kernels take pairs of blocks; an odd block at the end
				// would be summed apart from the lanes (see dotQ8_0Go).
				return tail(row, qs, d, bs)
			}
			_, _ = qs[32*nb-1], d[nb-1]
			return f(&row[0], &qs[0], &d[0], nb/2)
		}
	}
	dotQ8_0 = q32(34, s.q8, dotQ8_0Go)
	dotQ4_0 = q32(18, s.q40, dotQ4_0Go)
	q32x4 := func(bb int, f q32asm4) qkernel4 {
		if f == nil {
			return nil
		}
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
	dotQ8_0x4 = q32x4(34, s.q8x4)
	dotQ4_0x4 = q32x4(18, s.q40x4)
	k := func(bb int, f kasm) qkernel {
		return func(row []byte, qs []int8, d []float32, bs []int16) float32 {
			if len(row) == 0 {
				return 0
			}
			nb := len(row) / bb
			_, _, _ = qs[QK_K*nb-1], d[nb-1], bs[16*nb-1]
			return f(&row[0], &qs[0], &d[0], &bs[0], nb)
		}
	}
	dotQ4K = k(144, s.q4k)
	dotQ5K = k(176, s.q5k)
	dotQ6K = k(210, s.q6k)
	k4 := func(bb int, f kasm4) qkernel4 {
		return func(row []byte, qs []int8, d []float32, bs []int16, out *[4]float32) {
			if len(row) == 0 {
				*out = [4]float32{}
				return
			}
			nb := len(row) / bb
			_, _, _ = qs[4*QK_K*nb-1], d[4*nb-1], bs[4*16*nb-1]
			f(&row[0], &qs[0], &d[0], &bs[0], nb, &out[0])
		}
	}
	dotQ4Kx4 = k4(144, s.q4kx4)
	q4kBatchPerm = s.q4kx4Perm
	dotQ5Kx4 = k4(176, s.q5kx4)
	dotQ6Kx4 = k4(210, s.q6kx4)
	dotQ4Kx4Each = k4(144, s.q4kx4Each)
	// oneByOne is the rows kernel for shapes the assembly does not take.
	oneByOne := func(rows []byte, a *act, i int, out []float32, one qkernel) {
		rb := len(rows) / len(out)
		qs, d, bs := a.row(i)
		for r := range out {
			out[r] = one(rows[r*rb:(r+1)*rb], qs, d, bs)
		}
	}
	if s.q40Rows != nil {
		dotQ4_0Rows = func(rows []byte, a *act, i int, out []float32) {
			if len(out) == 0 {
				return
			}
			nb := len(rows) / len(out) / 18
			if nb%2 == 1 || nb == 0 {
				oneByOne(rows, a, i, out, dotQ4_0)
				return
			}
			qs, d, _ := a.row(i)
			_, _, _ = rows[len(out)*nb*18-1], qs[32*nb-1], d[nb-1]
			s.q40Rows(&rows[0], &qs[0], &d[0], nb/2, len(out), &out[0])
		}
	}
	kr := func(bb int, f kasmRows) qkernelRows {
		if f == nil {
			return nil
		}
		return func(rows []byte, a *act, i int, out []float32) {
			if len(out) == 0 || len(rows) == 0 {
				clear(out)
				return
			}
			nb := len(rows) / len(out) / bb
			qs, d, bs := a.row(i)
			_, _, _, _ = rows[len(out)*nb*bb-1], qs[QK_K*nb-1], d[nb-1], bs[16*nb-1]
			f(&rows[0], &qs[0], &d[0], &bs[0], nb, len(out), &out[0])
		}
	}
	// out must hold (J-1)*ostride+nrows sums for J activations
	checkOutJ := func(out []float32, nrows, ostride, J int) {
		_ = out[(J-1)*ostride+nrows-1]
	}
	checkOut := func(out []float32, nrows, ostride int) { checkOutJ(out, nrows, ostride, 4) }
	q32x4r := func(bb int, f q32asm4Rows) qkernel4Rows {
		if f == nil {
			return nil
		}
		return func(rows []byte, qs []int8, d []float32, _ []int16, nrows int, out []float32, ostride int) {
			np := len(rows) / nrows / bb / 2 // cols is a multiple of 64 here
			if nrows == 0 || np == 0 {
				for j := 0; j < 4; j++ {
					clear(out[j*ostride : j*ostride+nrows])
				}
				return
			}
			checkOut(out, nrows, ostride)
			_, _, _ = rows[nrows*np*2*bb-1], qs[4*64*np-1], d[4*2*np-1]
			f(&rows[0], &qs[0], &d[0], np, nrows, &out[0], ostride)
		}
	}
	if s.q8Pairs[1] != nil {
		dotQ8_0Pairs = func(rows []byte, rb int, g []byte, size, nrows int, out []float32, ostride int) {
			f := s.q8Pairs[size]
			nb := rb / 34
			if nrows == 0 || nb == 0 {
				for j := 0; j < size; j++ {
					clear(out[j*ostride : j*ostride+nrows])
				}
				return
			}
			_, _, _ = rows[nrows*rb-1], g[size*nb*68-1], out[(size-1)*ostride+nrows-1]
			if nrows >= 2 {
				f(&rows[0], rb, &g[0], nb, nrows/2, &out[0], ostride)
			}
			if nrows%2 == 1 {
				// The last row alone: read twice, one copy's sums kept.
				var two [2 * 8]float32
				f(&rows[(nrows-1)*rb], 0, &g[0], nb, 1, &two[0], 2)
				for j := 0; j < size; j++ {
					out[j*ostride+nrows-1] = two[2*j]
				}
			}
		}
	}
	dotQ4_0x4Rows = q32x4r(18, s.q40x4Rows)
	// kjr wraps a kernel over J packed activations (4, or a tail of 2 or 3).
	kjr := func(bb, J int, f kasm4Rows) qkernel4Rows {
		if f == nil {
			return nil
		}
		return func(rows []byte, qs []int8, d []float32, bs []int16, nrows int, out []float32, ostride int) {
			nb := 0
			if nrows > 0 {
				nb = len(rows) / nrows / bb
			}
			if nb == 0 {
				for j := 0; j < J; j++ {
					clear(out[j*ostride : j*ostride+nrows])
				}
				return
			}
			checkOutJ(out, nrows, ostride, J)
			_, _, _, _ = rows[nrows*nb*bb-1], qs[J*QK_K*nb-1], d[J*nb-1], bs[J*16*nb-1]
			f(&rows[0], &qs[0], &d[0], &bs[0], nb, nrows, &out[0], ostride)
		}
	}
	k4r := func(bb int, f kasm4Rows) qkernel4Rows { return kjr(bb, 4, f) }
	dotQ4Kx4Rows = k4r(144, s.q4kx4Rows)
	dotQ5Kx4Rows = k4r(176, s.q5kx4Rows)
	dotQ6Kx4Rows = k4r(210, s.q6kx4Rows)
	dotQ4Kx4RowsEach = k4r(144, s.q4kx4RowsEach)
	dotQ4Kx8RowsEach = kjr(144, 8, s.q4kx8RowsEach)
	for J := 2; J <= 3; J++ {
		dotQ4KTailRows[J] = kjr(144, J, s.q4kTailRows[J])
		dotQ5KTailRows[J] = kjr(176, J, s.q5kTailRows[J])
		dotQ6KTailRows[J] = kjr(210, J, s.q6kTailRows[J])
	}
	dotQ4KRows = kr(144, s.q4kRows)
	dotQ5KRows = kr(176, s.q5kRows)
	dotQ6KRows = kr(210, s.q6kRows)
}
