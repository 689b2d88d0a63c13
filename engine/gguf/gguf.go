// Package gguf owns reading and writing GGUF model files: the header,
// metadata key/values, tensor infos, and tensor data that aliases the
// (memory-mapped) file without copying.
package gguf

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/maopao/maopao/engine/tensor"
)

// ValueType is a GGUF metadata value type id.
type ValueType uint32

// Metadata value type ids (fixed by the GGUF format).
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(v))
}

// size is the encoded size of a scalar value type, or the minimum size of a
// string (its length prefix) or array (type + count).
func (v ValueType) size() int {
	switch v {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64, TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return 0
}

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment applies when general.alignment is absent.
const DefaultAlignment = 32

// MaxDims is the most dimensions a ggml tensor can have.
const MaxDims = 4

// TensorInfo describes one tensor; Data aliases the file and must not be
// modified.
type TensorInfo struct {
	Name   string
	Shape  []int64 // ne order: Shape[0] varies fastest
	Type   tensor.Type
	Offset uint64 // relative to the data section
	Data   []byte
}

// NumElements is the product of the shape.
func (t *TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Matrix views a 2-D tensor (Cols=Shape[0], Rows=Shape[1]) as a matrix
// without copying.
func (t *TensorInfo) Matrix() (tensor.Matrix, error) {
	if len(t.Shape) != 2 {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q has shape %v, want 2-D", t.Name, t.Shape)
	}
	if t.Shape[0] > math.MaxInt32 || t.Shape[1] > math.MaxInt32 {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q: shape %v too large", t.Name, t.Shape)
	}
	m := tensor.Matrix{Type: t.Type, Rows: int(t.Shape[1]), Cols: int(t.Shape[0]), Data: t.Data}
	if err := m.Check(); err != nil {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	return m, nil
}

// Slice3D returns the i-th matrix of a 3-D tensor {cols, rows, n} such as
// the stacked expert weights, without copying.
func (t *TensorInfo) Slice3D(i int) (tensor.Matrix, error) {
	if len(t.Shape) != 3 {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q has shape %v, want 3-D", t.Name, t.Shape)
	}
	if i < 0 || int64(i) >= t.Shape[2] {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q: index %d out of range [0,%d)", t.Name, i, t.Shape[2])
	}
	// Checked arithmetic: a hand-built TensorInfo may hold any shape.
	per, err := tensorBytes(t.Type, t.Shape[:2])
	if err != nil {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	hi, total := bits.Mul64(per, uint64(t.Shape[2]))
	if hi != 0 || total != uint64(len(t.Data)) || t.Shape[1] > math.MaxInt32 {
		return tensor.Matrix{}, fmt.Errorf("gguf: tensor %q: %d data bytes do not match shape %v of %v", t.Name, len(t.Data), t.Shape, t.Type)
	}
	lo, end := uint64(i)*per, uint64(i+1)*per
	return tensor.Matrix{Type: t.Type, Rows: int(t.Shape[1]), Cols: int(t.Shape[0]), Data: t.Data[lo:end:end]}, nil
}

// tensorBytes computes the data size of a tensor, rejecting shapes whose
// byte size overflows or whose rows do not fill whole blocks.
func tensorBytes(typ tensor.Type, shape []int64) (uint64, error) {
	if !typ.Valid() {
		return 0, fmt.Errorf("unsupported tensor type %v", typ)
	}
	if len(shape) == 0 || len(shape) > MaxDims {
		return 0, fmt.Errorf("%d dimensions (want 1..%d)", len(shape), MaxDims)
	}
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
	}
	if shape[0] > math.MaxInt32 {
		return 0, fmt.Errorf("row length %d too large", shape[0])
	}
	rb, err := tensor.RowBytes(typ, int(shape[0]))
	if err != nil {
		return 0, err
	}
	total := uint64(rb)
	for _, d := range shape[1:] {
		hi, lo := bits.Mul64(total, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		total = lo
	}
	return total, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
