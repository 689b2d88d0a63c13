package tensor

// Float32 dot products that sum in the orders of llama.cpp's CPU kernels
// (as built for AVX-512), for attention, where the model wants llama.cpp's
// bits: a last-bit difference in a score moves a value across an int8
// rounding boundary in the next quantized projection, and random or
// quantized models turn that into different tokens.

// Kernel table entries; assembly init code may replace them.
var (
	dotF32x16 = dotF32x16Go
	dotF32x64 = dotF32x64Go

	// out[r] = dot(x, rows[r*stride:]) for r < len(out); nil without assembly
	dotF32x16Rows, dotF32x64Rows func(x, rows []float32, stride int, out []float32)
)

// DotF32x16Rows sets out[r] = DotF32x16(x, rows[r*stride:r*stride+len(x)])
// for every r < len(out): attention's many short dot products in one call.
func DotF32x16Rows(x, rows []float32, stride int, out []float32) {
	if len(out) == 0 {
		return
	}
	if len(x)%16 != 0 {
		panic("tensor: DotF32x16Rows length not a multiple of 16")
	}
	_ = rows[(len(out)-1)*stride+len(x)-1]
	if dotF32x16Rows != nil && len(x) > 0 {
		dotF32x16Rows(x, rows, stride, out)
		return
	}
	for r := range out {
		out[r] = DotF32x16(x, rows[r*stride:r*stride+len(x)])
	}
}

// DotF32x64Rows sets out[r] = DotF32x64(x, rows[r*stride:r*stride+len(x)])
// for every r < len(out).
func DotF32x64Rows(x, rows []float32, stride int, out []float32) {
	if len(out) == 0 {
		return
	}
	_ = rows[(len(out)-1)*stride+len(x)-1]
	if dotF32x64Rows != nil && len(x) > 0 && len(x)%64 == 0 {
		dotF32x64Rows(x, rows, stride, out)
		return
	}
	for r := range out {
		out[r] = DotF32x64(x, rows[r*stride:r*stride+len(x)])
	}
}

// DotF32x16 is one output of llamafile's tinyBLAS F32 kernel, which
// llama.cpp uses for a matrix product with two or more right-hand columns:
// lane l of one 16-lane accumulator takes elements l, l+16, ... by fused
// multiply-adds, then the lanes are reduced as _mm512_reduce_add_ps does.
// len(x) must be a multiple of 16 and len(y) at least len(x).
func DotF32x16(x, y []float32) float32 {
	if len(x)%16 != 0 {
		panic("tensor: DotF32x16 length not a multiple of 16")
	}
	if len(x) == 0 {
		return 0
	}
	return dotF32x16(x, y[:len(x)])
}

// DotF32x64 is ggml_vec_dot_f32, which llama.cpp uses for a single
// right-hand column: four 16-lane accumulators over 64-element steps,
// added pairwise and reduced like DotF32x16, then the elements past the
// last whole step (a head of 16 or 80, say) as GCC compiled ggml's scalar
// loop for them: the products of whole runs of 16, then of 8, rounded and
// added one by one, and the last few fused into the sum.
func DotF32x64(x, y []float32) float32 {
	y = y[:len(x)]
	np := len(x) &^ 63
	var s float32
	if np > 0 {
		s = dotF32x64(x[:np], y[:np])
	}
	i := np
	for ; len(x)-i >= 16; i += 16 {
		for k := i; k < i+16; k++ {
			s += float32(x[k] * y[k]) // rounded product: no fusing
		}
	}
	if len(x)-i >= 8 {
		for k := i; k < i+8; k++ {
			s += float32(x[k] * y[k]) // rounded product: no fusing
		}
		i += 8
	}
	for ; i < len(x); i++ {
		s = FMA32(x[i], y[i], s)
	}
	return s
}

func dotF32x16Go(x, y []float32) float32 {
	var acc [16]float32
	for i := 0; i < len(x); i += 16 {
		for l := range acc {
			acc[l] = FMA32(x[i+l], y[i+l], acc[l])
		}
	}
	return reduce16(&acc)
}

func dotF32x64Go(x, y []float32) float32 {
	var acc [4][16]float32
	for i := 0; i < len(x); i += 64 {
		for j := range acc {
			for l := range acc[j] {
				k := i + 16*j + l
				acc[j][l] = FMA32(x[k], y[k], acc[j][l])
			}
		}
	}
	for l := range acc[0] {
		acc[0][l] += acc[2][l]
		acc[1][l] += acc[3][l]
	}
	for l := range acc[0] {
		acc[0][l] += acc[1][l]
	}
	return reduce16(&acc[0])
}
