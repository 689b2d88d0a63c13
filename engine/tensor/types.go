// Package tensor owns the numeric side of the local engine: ggml tensor type
// ids and block layouts, float16/bfloat16 conversion, reference
// quantizers/dequantizers, the matrix-vector / matrix-matrix kernels the
// model runs on (a plain reference path beside each fast path), and the
// goroutine fan-out they use (ParallelFor).
//
// The fast path quantizes activations to int8 once per MatMul (32-wide
// blocks for Q4_0/Q8_0, 256-wide with 16-wide sums for the K-quants, as
// llama.cpp does) and runs integer dot products, decoding each weight block
// once for four activations when a call has several. The AVX-512 kernels
// take a whole tile of consecutive rows per call (decode rows are only a
// few hundred bytes) and prefetch far ahead along them. Softmax and SwiGLU
// (vector exp) live here too. On amd64 the kernels are AVX-512 VNNI or
// AVX2 assembly picked at start-up (see Kernels);
// MAOPAO_NOASM=1 or the noasm build tag selects the pure-Go kernels, which
// are also used on other architectures.
//
// Every kernel set sums in the orders of llama.cpp's CPU backend (its
// AVX-512 build), to the bit: which partial sums become float, and the
// order and fusing of the float operations after that (see the Go kernels,
// MatMul and MatMulEach, DotF32x16, DotF32x64 and LibmExpf). The same GGUF
// file therefore gives the same logits in both engines, and the results do
// not depend on the CPU; tests check each set against the Go kernels.
package tensor

import "fmt"

// Type is a ggml tensor type id as stored in GGUF tensor infos.
type Type uint32

// Supported ggml type ids (values fixed by the GGUF format).
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q8_0 Type = 8
	Q4_K Type = 12
	Q5_K Type = 13
	Q6_K Type = 14
	BF16 Type = 30
)

// QK_K is the super-block size of the K-quants.
const QK_K = 256

type typeInfo struct {
	name       string
	blockSize  int
	blockBytes int
}

var types = [...]typeInfo{
	F32:  {"F32", 1, 4},
	F16:  {"F16", 1, 2},
	BF16: {"BF16", 1, 2},
	Q4_0: {"Q4_0", 32, 18},
	Q8_0: {"Q8_0", 32, 34},
	Q4_K: {"Q4_K", QK_K, 144},
	Q5_K: {"Q5_K", QK_K, 176},
	Q6_K: {"Q6_K", QK_K, 210},
}

// ggml names for ids we do not support, so errors can say what a file holds.
var otherNames = map[Type]string{
	3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
	15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
	20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16",
	26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
}

// String returns the ggml name of t, or "type(N)" when t is unknown.
func (t Type) info() (typeInfo, bool) {
	if int(t) < len(types) && types[t].blockSize != 0 {
		return types[t], true
	}
	return typeInfo{}, false
}

func (t Type) String() string {
	if ti, ok := t.info(); ok {
		return ti.name
	}
	if n, ok := otherNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Valid reports whether t is a type this package can decode.
func (t Type) Valid() bool {
	_, ok := t.info()
	return ok
}

// BlockSize is the number of weights per block (0 for unsupported types).
func (t Type) BlockSize() int {
	ti, _ := t.info()
	return ti.blockSize
}

// BlockBytes is the number of bytes per block (0 for unsupported types).
func (t Type) BlockBytes() int {
	ti, _ := t.info()
	return ti.blockBytes
}

// RowBytes returns the number of bytes n weights of type t take.
func RowBytes(t Type, n int) (int, error) {
	ti, ok := t.info()
	if !ok {
		return 0, fmt.Errorf("tensor: unsupported type %v", t)
	}
	if n < 0 {
		return 0, fmt.Errorf("tensor: negative element count %d", n)
	}
	if n%ti.blockSize != 0 {
		return 0, fmt.Errorf("tensor: %d weights is not a multiple of the %v block size %d", n, t, ti.blockSize)
	}
	return n / ti.blockSize * ti.blockBytes, nil
}
