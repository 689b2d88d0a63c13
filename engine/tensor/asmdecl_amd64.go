//go:build amd64 && !noasm

package tensor

// Assembly entry points (asm_amd64.s, and the generated asm*_amd64.s and
// avx2_*_amd64.s). Pointers must address as much data as the counts say;
// the wrappers in asm_amd64.go check that with slice bounds first.

//go:noescape
func dotF32AVX512(a, b *float32, n int) float32

//go:noescape
func dotF16AVX512(a *uint16, b *float32, n int) float32

//go:noescape
func dotBF16AVX512(a *uint16, b *float32, n int) float32

//go:noescape
func quantActAVX512(x *float32, q *int8, d *float32, bs *int16, nb, blk int)

//go:noescape
func dotQ4KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ5KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ6KVNNI(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ4KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ4KVNNIx4b(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ5KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ6KVNNIx4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ8_0VNNI(row *byte, qs *int8, d *float32, npairs int) float32

//go:noescape
func dotQ4_0VNNI(row *byte, qs *int8, d *float32, npairs int) float32

//go:noescape
func dotQ4_0VNNIx4(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotF32x4AVX512(w *float32, x *float32, stride, n int, out *float32)

//go:noescape
func dotF16x4AVX512(w *uint16, x *float32, stride, n int, out *float32)

//go:noescape
func dotBF16x4AVX512(w *uint16, x *float32, stride, n int, out *float32)

//go:noescape
func dotQ4KAVX2(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ5KAVX2(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ6KAVX2(row *byte, qs *int8, d *float32, bs *int16, nb int) float32

//go:noescape
func dotQ8_0AVX2(row *byte, qs *int8, d *float32, npairs int) float32

//go:noescape
func dotQ4_0AVX2(row *byte, qs *int8, d *float32, npairs int) float32

//go:noescape
func dotF32AVX2x1(w *float32, x *float32, stride, n int) float32

//go:noescape
func dotF16AVX2x1(w *uint16, x *float32, stride, n int) float32

//go:noescape
func dotBF16AVX2x1(w *uint16, x *float32, stride, n int) float32

//go:noescape
func dotQ4KAVX2x4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ4KAVX2x4b(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ5KAVX2x4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ6KAVX2x4(row *byte, qs *int8, d *float32, bs *int16, nb int, out *float32)

//go:noescape
func dotQ8_0AVX2x4(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotQ4_0AVX2x4(row *byte, qs *int8, d *float32, npairs int, out *float32)

//go:noescape
func dotF32AVX2x4(w *float32, x *float32, stride, n int, out *float32)

//go:noescape
func dotF16AVX2x4(w *uint16, x *float32, stride, n int, out *float32)

//go:noescape
func dotBF16AVX2x4(w *uint16, x *float32, stride, n int, out *float32)

//go:noescape
func quantActAVX2(x *float32, q *int8, d *float32, bs *int16, nb, blk int)

//go:noescape
func dotQ4KVNNIrows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32)

//go:noescape
func dotQ5KVNNIrows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32)

//go:noescape
func dotQ6KVNNIrows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32)

//go:noescape
func dotQ8_0VNNIpairs1(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs2(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs3(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs4(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs5(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs6(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs7(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ8_0VNNIpairs8(row *byte, stride int, grp *byte, nblocks, npairs int, out *float32, ostride int)

//go:noescape
func dotQ4_0VNNIrows(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32)

//go:noescape
func dotQ4KVNNIx4rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ4KVNNIx4brows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ5KVNNIx4rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ6KVNNIx4rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ4KVNNIx2rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ5KVNNIx2rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ6KVNNIx2rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ4KVNNIx3rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ5KVNNIx3rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ6KVNNIx3rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ4KVNNIx8rows(row *byte, qs *int8, d *float32, bs *int16, nb, nrows int, out *float32, ostride int)

//go:noescape
func dotQ4_0VNNIx4rows(row *byte, qs *int8, d *float32, npairs, nrows int, out *float32, ostride int)

//go:noescape
func dotF32x4rowsAVX512(w *float32, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotF32rowsAVX512(w *float32, x *float32, n, nrows int, out *float32)

//go:noescape
func dotF16x4rowsAVX512(w *uint16, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotF16rowsAVX512(w *uint16, x *float32, n, nrows int, out *float32)

//go:noescape
func dotBF16x4rowsAVX512(w *uint16, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotBF16rowsAVX512(w *uint16, x *float32, n, nrows int, out *float32)

//go:noescape
func expSumAVX512(x *float32, n int, m float32) float64

//go:noescape
func maxAVX512(x *float32, n int) float32

//go:noescape
func swigluAVX512(gp, up *float32, n int)

//go:noescape
func dotF32x16AVX512(x, y *float32, n int) float32

//go:noescape
func dotF32x64AVX512(x, y *float32, n int) float32

//go:noescape
func dotF32x16AVX2(x, y *float32, n int) float32

//go:noescape
func dotF32x64AVX2(x, y *float32, n int) float32

//go:noescape
func roundF16AVX512(x, dst *float32, n int)

//go:noescape
func roundF16AVX2(x, dst *float32, n int)

//go:noescape
func dotF32x4rows64AVX512(w *float32, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotF16x4rows64AVX512(w *uint16, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotBF16x4rows64AVX512(w *uint16, x *float32, stride, n, nrows int, out *float32, ostride int)

//go:noescape
func dotF32x16rowsAVX512(x, rows *float32, n, nrows, stride int, out *float32)

//go:noescape
func dotF32x64rowsAVX512(x, rows *float32, n, nrows, stride int, out *float32)

//go:noescape
func dotF32x16rowsAVX2(x, rows *float32, n, nrows, stride int, out *float32)

//go:noescape
func dotF32x64rowsAVX2(x, rows *float32, n, nrows, stride int, out *float32)

//go:noescape
func f16sAVX512(src *byte, dst *float32, n int)

//go:noescape
func f16sAVX2(src *byte, dst *float32, n int)
