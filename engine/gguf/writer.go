package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/maopao/maopao/engine/tensor"
)

// Writer builds a GGUF version 3 file. Tensor data passed to AddTensor is
// kept by reference until WriteTo.
type Writer struct {
	alignment uint64
	alignSet  bool // general.alignment was added explicitly
	keys      []string
	values    map[string]any
	tensors   []*TensorInfo
	names     map[string]bool
}

// NewWriter returns a writer with the default alignment of 32.
func NewWriter() *Writer {
	return &Writer{alignment: DefaultAlignment, values: map[string]any{}, names: map[string]bool{}}
}

// SetAlignment sets the data alignment (a power of two); a value other than
// 32 is recorded as general.alignment when the file is written.
func (w *Writer) SetAlignment(n uint64) { w.alignment = n }

// AddKV adds a metadata key/value. value must be one of the Go types Parse
// produces: a sized integer, float32/64, bool, string, a slice of those, or
// []any whose elements are such slices (arrays of arrays).
func (w *Writer) AddKV(key string, value any) error {
	if w.values == nil {
		*w = *NewWriter()
	}
	if key == "" {
		return errors.New("gguf: empty metadata key")
	}
	if _, dup := w.values[key]; dup {
		return fmt.Errorf("gguf: metadata key %q added twice", key)
	}
	if _, err := valueTypeOf(value, 0); err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	if key == "general.alignment" {
		a, ok := value.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: metadata %q must be a uint32 power of two, got %v (%T)", key, value, value)
		}
		w.alignment, w.alignSet = uint64(a), true
	}
	w.keys = append(w.keys, key)
	w.values[key] = value
	return nil
}

// SetKV is AddKV, but replaces the value of a key already added (it keeps
// its place among the keys).
func (w *Writer) SetKV(key string, value any) error {
	if _, ok := w.values[key]; !ok {
		return w.AddKV(key, value)
	}
	if key == "general.alignment" {
		return fmt.Errorf("gguf: metadata %q cannot be replaced", key)
	}
	if _, err := valueTypeOf(value, 0); err != nil {
		return fmt.Errorf("gguf: metadata %q: %w", key, err)
	}
	w.values[key] = value
	return nil
}

// AddTensor adds a tensor; len(data) must equal the size of shape in typ.
func (w *Writer) AddTensor(name string, typ tensor.Type, shape []int64, data []byte) error {
	if w.values == nil {
		*w = *NewWriter()
	}
	if name == "" {
		return errors.New("gguf: empty tensor name")
	}
	if w.names[name] {
		return fmt.Errorf("gguf: tensor %q added twice", name)
	}
	size, err := tensorBytes(typ, shape)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, shape %v of %v needs %d", name, len(data), shape, typ, size)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, &TensorInfo{Name: name, Shape: append([]int64(nil), shape...), Type: typ, Data: data})
	return nil
}

func valueTypeOf(v any, depth int) (ValueType, error) {
	switch x := v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case bool:
		return TypeBool, nil
	case string:
		return TypeString, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64:
		return TypeArray, nil
	case []any:
		if depth+1 >= maxArrayDepth {
			return 0, fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
		}
		for i, e := range x {
			t, err := valueTypeOf(e, depth+1)
			if err != nil {
				return 0, fmt.Errorf("element %d: %w", i, err)
			}
			if t != TypeArray {
				return 0, fmt.Errorf("element %d is %T; []any may only hold arrays", i, e)
			}
		}
		return TypeArray, nil
	case int, uint:
		return 0, fmt.Errorf("value of Go type %T has no GGUF type; use a sized type such as uint32", v)
	}
	return 0, fmt.Errorf("value of Go type %T has no GGUF type", v)
}

// elemType is the GGUF element type of an array value.
func elemType(v any) ValueType {
	switch v.(type) {
	case []uint8:
		return TypeUint8
	case []int8:
		return TypeInt8
	case []uint16:
		return TypeUint16
	case []int16:
		return TypeInt16
	case []uint32:
		return TypeUint32
	case []int32:
		return TypeInt32
	case []float32:
		return TypeFloat32
	case []bool:
		return TypeBool
	case []string:
		return TypeString
	case []uint64:
		return TypeUint64
	case []int64:
		return TypeInt64
	case []float64:
		return TypeFloat64
	}
	return TypeArray
}

type encoder struct {
	w   *bufio.Writer
	n   int64
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	n, _ := e.w.Write(b) // bufio keeps the first error; checked at Flush
	e.n += int64(n)
}
func (e *encoder) u8(v uint8) { e.buf[0] = v; e.bytes(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bytes(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bytes(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bytes(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	n, _ := e.w.WriteString(s)
	e.n += int64(n)
}
func (e *encoder) pad(align uint64) {
	var zero [64]byte
	for p := int(alignUp(uint64(e.n), align) - uint64(e.n)); p > 0; p -= min(p, len(zero)) {
		e.bytes(zero[:min(p, len(zero))])
	}
}

func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.array(v)
	}
}

func eachOf[T any](e *encoder, s []T) {
	e.u64(uint64(len(s)))
	for _, v := range s {
		e.value(v)
	}
}

func (e *encoder) array(v any) {
	e.u32(uint32(elemType(v)))
	switch x := v.(type) {
	case []uint8:
		e.u64(uint64(len(x)))
		e.bytes(x)
	case []int8:
		eachOf(e, x)
	case []uint16:
		eachOf(e, x)
	case []int16:
		eachOf(e, x)
	case []uint32:
		eachOf(e, x)
	case []int32:
		eachOf(e, x)
	case []float32:
		eachOf(e, x)
	case []bool:
		eachOf(e, x)
	case []string:
		eachOf(e, x)
	case []uint64:
		eachOf(e, x)
	case []int64:
		eachOf(e, x)
	case []float64:
		eachOf(e, x)
	case []any:
		eachOf(e, x)
	}
}

// WriteTo writes the file: header, metadata in the order added, tensor
// infos, then each tensor's data at an aligned offset.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if w.values == nil {
		*w = *NewWriter()
	}
	a := w.alignment
	if a == 0 || a&(a-1) != 0 || a > math.MaxUint32 {
		return 0, fmt.Errorf("gguf: alignment %d is not a 32-bit power of two", a)
	}
	keys, values := w.keys, w.values
	if !w.alignSet && a != DefaultAlignment {
		keys = append(keys[:len(keys):len(keys)], "general.alignment")
		values = map[string]any{"general.alignment": uint32(a)}
		for k, v := range w.values {
			values[k] = v
		}
	} else if w.alignSet && uint64(w.values["general.alignment"].(uint32)) != a {
		return 0, fmt.Errorf("gguf: SetAlignment(%d) conflicts with general.alignment = %d", a, w.values["general.alignment"])
	}
	e := &encoder{w: bufio.NewWriterSize(out, 1<<20)}
	e.bytes([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(keys)))
	for _, k := range keys {
		v := values[k]
		t, _ := valueTypeOf(v, 0)
		e.str(k)
		e.u32(uint32(t))
		e.value(v)
	}
	var off uint64
	for _, t := range w.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(off)
		off = alignUp(off+uint64(len(t.Data)), a)
	}
	e.pad(a)
	for _, t := range w.tensors {
		e.bytes(t.Data)
		e.pad(a)
	}
	if err := e.w.Flush(); err != nil {
		return e.n, fmt.Errorf("gguf: write: %w", err)
	}
	return e.n, nil
}

// WriteFile writes the file to a temporary name beside path and renames it
// into place, so a crash never leaves a partial file at path.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}
