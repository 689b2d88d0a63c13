package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/maopao/maopao/engine/tensor"
)

// File is a parsed GGUF file. Tensor data aliases the mapped file, so it is
// valid only until Close.
type File struct {
	Version    uint32
	Metadata   map[string]any
	Keys       []string // metadata keys in file order
	Tensors    []*TensorInfo
	Alignment  uint64
	DataOffset int64 // start of the data section in the file

	byName map[string]*TensorInfo
	unmap  func() error
	drop   func([]byte) // see Release; nil when the data is not a file mapping
}

// maxArrayDepth bounds arrays of arrays; real files use none.
const maxArrayDepth = 8

type decoder struct {
	data []byte
	pos  int
}

var errShort = errors.New("unexpected end of file")

func (d *decoder) remaining() int { return len(d.data) - d.pos }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("at offset %d: need %d bytes, %d left: %w", d.pos, n, d.remaining(), errShort)
	}
	b := d.data[d.pos : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u16() (uint16, error) {
	b, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

func (d *decoder) str() (string, error) {
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", fmt.Errorf("at offset %d: string length %d exceeds the %d bytes left: %w", d.pos-8, n, d.remaining(), errShort)
	}
	b, _ := d.take(int(n))
	return string(b), nil
}

// count reads a u64 element count and rejects counts the rest of the input
// could not hold at minSize bytes each, so hostile counts never drive
// allocations.
func (d *decoder) count(what string, minSize int) (int, error) {
	n, err := d.u64()
	if err != nil {
		return 0, err
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(d.remaining()/minSize) {
		return 0, fmt.Errorf("%s count %d cannot fit in the %d bytes left", what, n, d.remaining())
	}
	return int(n), nil
}

// Parse decodes a GGUF file held in memory. Tensor Data slices alias data.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

func parse(data []byte) (*File, error) {
	d := &decoder{data: data}
	magic, err := d.take(4)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if string(magic) != Magic {
		return nil, fmt.Errorf("bad magic %q: not a GGUF file", magic)
	}
	f := &File{Metadata: map[string]any{}, byName: map[string]*TensorInfo{}, Alignment: DefaultAlignment}
	if f.Version, err = d.u32(); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if f.Version != 2 && f.Version != 3 {
		if f.Version&0xffff == 0 && f.Version != 0 {
			return nil, fmt.Errorf("unsupported version %#x (a big-endian file?); want 2 or 3", f.Version)
		}
		return nil, fmt.Errorf("unsupported version %d; want 2 or 3", f.Version)
	}
	nt, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	nkv, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	// A key/value needs at least 13 bytes and a tensor info 24.
	if nkv > uint64(d.remaining()/13) {
		return nil, fmt.Errorf("metadata count %d cannot fit in a %d-byte file", nkv, len(data))
	}
	if nt > uint64(d.remaining()/24) {
		return nil, fmt.Errorf("tensor count %d cannot fit in a %d-byte file", nt, len(data))
	}
	// Counts only bound capacity hints: slices grow with what is actually
	// decoded, so a lying header cannot reserve memory up front.
	f.Keys = make([]string, 0, min(nkv, 1<<12))
	for i := uint64(0); i < nkv; i++ {
		key, err := d.str()
		if err != nil {
			return nil, fmt.Errorf("metadata key %d: %w", i, err)
		}
		if _, dup := f.Metadata[key]; dup {
			return nil, fmt.Errorf("metadata key %q appears twice", key)
		}
		vt, err := d.u32()
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		v, err := d.value(ValueType(vt), 0)
		if err != nil {
			return nil, fmt.Errorf("metadata %q: %w", key, err)
		}
		f.Metadata[key] = v
		f.Keys = append(f.Keys, key)
	}
	if v, ok := f.Metadata["general.alignment"]; ok {
		a, ok := v.(uint32)
		if !ok {
			return nil, fmt.Errorf("metadata %q: found %s, want uint32", "general.alignment", goTypeName(v))
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("metadata %q: %d is not a power of two", "general.alignment", a)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]*TensorInfo, 0, min(nt, 1<<12))
	sizes := make([]uint64, 0, min(nt, 1<<12))
	for i := uint64(0); i < nt; i++ {
		t, size, err := d.tensorInfo(f.Alignment)
		if err != nil {
			if t != nil && t.Name != "" {
				return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			return nil, fmt.Errorf("tensor info %d: %w", i, err)
		}
		if _, dup := f.byName[t.Name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice", t.Name)
		}
		f.byName[t.Name] = t
		f.Tensors = append(f.Tensors, t)
		sizes = append(sizes, size)
	}
	start := alignUp(uint64(d.pos), f.Alignment)
	f.DataOffset = int64(start)
	var avail uint64
	if start <= uint64(len(data)) {
		avail = uint64(len(data)) - start
	}
	for i, t := range f.Tensors {
		if t.Offset > avail || sizes[i] > avail-t.Offset {
			return nil, fmt.Errorf("tensor %q: data [%d, +%d) runs past the end of the %d-byte data section (truncated file?)",
				t.Name, t.Offset, sizes[i], avail)
		}
		lo := start + t.Offset
		t.Data = data[lo : lo+sizes[i] : lo+sizes[i]]
	}
	return f, nil
}

func (d *decoder) tensorInfo(align uint64) (*TensorInfo, uint64, error) {
	name, err := d.str()
	if err != nil {
		return nil, 0, err
	}
	t := &TensorInfo{Name: name}
	if name == "" {
		return t, 0, errors.New("empty tensor name")
	}
	nd, err := d.u32()
	if err != nil {
		return t, 0, err
	}
	if nd == 0 || nd > MaxDims {
		return t, 0, fmt.Errorf("%d dimensions (want 1..%d)", nd, MaxDims)
	}
	t.Shape = make([]int64, nd)
	for j := range t.Shape {
		v, err := d.u64()
		if err != nil {
			return t, 0, err
		}
		t.Shape[j] = int64(v)
	}
	typ, err := d.u32()
	if err != nil {
		return t, 0, err
	}
	t.Type = tensor.Type(typ)
	if t.Offset, err = d.u64(); err != nil {
		return t, 0, err
	}
	if t.Offset%align != 0 {
		return t, 0, fmt.Errorf("offset %d is not a multiple of the alignment %d", t.Offset, align)
	}
	size, err := tensorBytes(t.Type, t.Shape)
	if err != nil {
		return t, 0, err
	}
	return t, size, nil
}

func (d *decoder) value(vt ValueType, depth int) (any, error) {
	switch vt {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		v, err := d.u8()
		return int8(v), err
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		v, err := d.u16()
		return int16(v), err
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		v, err := d.u32()
		return int32(v), err
	case TypeFloat32:
		v, err := d.u32()
		return math.Float32frombits(v), err
	case TypeBool:
		v, err := d.u8()
		if err == nil && v > 1 {
			return nil, fmt.Errorf("bool byte %d at offset %d is neither 0 nor 1", v, d.pos-1)
		}
		return v == 1, err
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		v, err := d.u64()
		return int64(v), err
	case TypeFloat64:
		v, err := d.u64()
		return math.Float64frombits(v), err
	case TypeArray:
		if depth >= maxArrayDepth {
			return nil, fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
		}
		return d.array(depth)
	}
	return nil, fmt.Errorf("unknown value type %d at offset %d", uint32(vt), d.pos-4)
}

func (d *decoder) array(depth int) (any, error) {
	et, err := d.u32()
	if err != nil {
		return nil, err
	}
	vt := ValueType(et)
	if vt.size() == 0 {
		return nil, fmt.Errorf("array of unknown value type %d", et)
	}
	n, err := d.count("array ("+vt.String()+")", vt.size())
	if err != nil {
		return nil, err
	}
	// Fixed-size element types are decoded straight from the bytes.
	if vt != TypeString && vt != TypeArray && vt != TypeBool {
		raw, err := d.take(n * vt.size())
		if err != nil {
			return nil, err
		}
		return decodeFixed(vt, raw, n), nil
	}
	switch vt {
	case TypeBool:
		out := make([]bool, n)
		for i := range out {
			v, err := d.value(TypeBool, depth)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v.(bool)
		}
		return out, nil
	case TypeString:
		// A string header is larger than its minimum encoding, so grow as
		// strings are decoded instead of trusting n.
		out := make([]string, 0, min(n, 1<<16))
		for i := 0; i < n; i++ {
			s, err := d.str()
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out = append(out, s)
		}
		return out, nil
	}
	out := make([]any, 0, min(n, 1<<10))
	for i := 0; i < n; i++ {
		v, err := d.value(TypeArray, depth+1)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func decodeFixed(vt ValueType, raw []byte, n int) any {
	le := binary.LittleEndian
	switch vt {
	case TypeUint8:
		return append([]uint8(nil), raw...)
	case TypeInt8:
		out := make([]int8, n)
		for i := range out {
			out[i] = int8(raw[i])
		}
		return out
	case TypeUint16:
		out := make([]uint16, n)
		for i := range out {
			out[i] = le.Uint16(raw[2*i:])
		}
		return out
	case TypeInt16:
		out := make([]int16, n)
		for i := range out {
			out[i] = int16(le.Uint16(raw[2*i:]))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = le.Uint32(raw[4*i:])
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	case TypeUint64:
		out := make([]uint64, n)
		for i := range out {
			out[i] = le.Uint64(raw[8*i:])
		}
		return out
	case TypeInt64:
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
		return out
	case TypeFloat64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out
	}
	panic("gguf: decodeFixed of " + vt.String())
}

// Tensor looks a tensor up by name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	t, ok := f.byName[name]
	return t, ok
}

// Release tells the OS that the caller has copied b, a part of the file's
// tensor data, and does not need its pages mapped: for a memory-mapped
// file the whole pages inside b leave the process's resident set (the page
// cache keeps them, and reading b again maps them back). Otherwise it does
// nothing.
func (f *File) Release(b []byte) {
	if f.drop != nil && len(b) > 0 {
		f.drop(b)
	}
}

// Close releases the file mapping; tensor Data must not be used afterwards.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	return err
}

// Architecture returns general.architecture.
func (f *File) Architecture() (string, error) {
	a, err := f.String("general.architecture")
	if err == nil && strings.TrimSpace(a) == "" {
		return "", errors.New(`gguf: key "general.architecture" is empty`)
	}
	return a, err
}
