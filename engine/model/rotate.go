package model

import "math"

// Attention rotation for quantized caches, as llama.cpp does it (its
// attn_rot_k / attn_rot_v, on by default): when keys are stored quantized,
// queries and keys are multiplied by an orthonormal Walsh-Hadamard matrix
// before the keys are stored, which leaves every query·key product the same
// in exact arithmetic but spreads a head's outlier dimensions over the
// whole block, so the 8-bit rounding loses less. Quantized values are
// rotated before they are stored and the attention output is rotated back
// (the matrix is its own inverse). Computing it exactly as ggml does (a
// scaled fast transform) keeps greedy tokens equal to llama.cpp's with the
// same cache types.

// keyRotation is the size of the Hadamard blocks queries and keys are
// rotated in for a key cache of type t, or 0 for none: the largest power
// of two dividing the head size, for quantized keys and head sizes that are
// a multiple of 64.
func keyRotation(t CacheType, headDim int) int {
	if t != CacheQ8_0 || headDim%64 != 0 {
		return 0
	}
	n := 64
	for headDim%(2*n) == 0 {
		n *= 2
	}
	return n
}

// valueRotation is keyRotation for values: blocks of 64 (llama.cpp found
// the smallest rotation works best for values).
func valueRotation(t CacheType, headDim int) int {
	if t != CacheQ8_0 || headDim%64 != 0 {
		return 0
	}
	return 64
}

// hadamard rotates x in place in consecutive blocks of n (a power of two)
// by the orthonormal Walsh-Hadamard matrix: each block is scaled by
// 1/√n first, then transformed by butterflies of widths 1, 2, 4, …, n/2,
// the order ggml's fast transform (ggml_compute_forward_fwht) rounds in.
func hadamard(x []float32, n int) {
	if n == 0 {
		return
	}
	scale := 1 / float32(math.Sqrt(float64(n)))
	for b := 0; b+n <= len(x); b += n {
		blk := x[b : b+n]
		for j := range blk {
			blk[j] *= scale
		}
		for w := 1; w < n; w <<= 1 {
			for i := 0; i < n; i += 2 * w {
				for j := i; j < i+w; j++ {
					u, v := blk[j], blk[j+w]
					blk[j], blk[j+w] = u+v, u-v
				}
			}
		}
	}
}
