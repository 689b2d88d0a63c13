package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/tensor"
)

var allValues = []struct {
	key string
	v   any
}{
	{"u8", uint8(200)}, {"i8", int8(-100)}, {"u16", uint16(60000)}, {"i16", int16(-30000)},
	{"u32", uint32(4000000000)}, {"i32", int32(-2000000000)}, {"f32", float32(1.5)},
	{"bool.t", true}, {"bool.f", false}, {"str", "héllo"}, {"str.empty", ""},
	{"u64", uint64(1 << 63)}, {"i64", int64(-1 << 62)}, {"f64", 2.25},
	{"a.u8", []uint8{1, 2, 255}}, {"a.i8", []int8{-1, 5}}, {"a.u16", []uint16{7}}, {"a.i16", []int16{-7, 8}},
	{"a.u32", []uint32{1, 2}}, {"a.i32", []int32{-3, 4}}, {"a.f32", []float32{0.5, -1}},
	{"a.bool", []bool{true, false, true}}, {"a.str", []string{"a", "", "b c"}},
	{"a.u64", []uint64{9}}, {"a.i64", []int64{-9}}, {"a.f64", []float64{3.5}},
	{"a.empty", []string{}},
	{"a.nested", []any{[]int32{1, 2}, []string{"x"}, []any{[]uint8{3}}}},
}

func buildFile(t testing.TB, align uint64) ([]byte, map[string][]byte) {
	t.Helper()
	w := NewWriter()
	if align != 0 {
		w.SetAlignment(align)
	}
	if err := w.AddKV("general.architecture", "qwen3moe"); err != nil {
		t.Fatal(err)
	}
	for _, kv := range allValues {
		if err := w.AddKV(kv.key, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	data := map[string][]byte{}
	f32, _ := tensor.Quantize(tensor.F32, []float32{1, 2, 3, 4, 5, 6})
	q4k, _ := tensor.Quantize(tensor.Q4_K, make([]float32, 256*2*3))
	f16, _ := tensor.Quantize(tensor.F16, []float32{1, -1, 0.5})
	add := func(name string, typ tensor.Type, shape []int64, b []byte) {
		if err := w.AddTensor(name, typ, shape, b); err != nil {
			t.Fatal(err)
		}
		data[name] = b
	}
	add("m", tensor.F32, []int64{3, 2}, f32)
	add("experts", tensor.Q4_K, []int64{256, 2, 3}, q4k)
	add("v", tensor.F16, []int64{3}, f16)
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes(), data
}

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint64{0, 32, 64} {
		raw, data := buildFile(t, align)
		f, err := Parse(raw)
		if err != nil {
			t.Fatalf("align %d: %v", align, err)
		}
		want := max(align, 32)
		if f.Alignment != want || f.DataOffset%int64(want) != 0 {
			t.Errorf("alignment %d, data offset %d; want alignment %d", f.Alignment, f.DataOffset, want)
		}
		if f.Version != 3 {
			t.Errorf("version %d", f.Version)
		}
		for _, kv := range allValues {
			if got := f.Metadata[kv.key]; !reflect.DeepEqual(got, kv.v) {
				t.Errorf("%q: got %#v want %#v", kv.key, got, kv.v)
			}
		}
		if f.Keys[0] != "general.architecture" || f.Keys[1] != "u8" {
			t.Errorf("keys out of order: %v", f.Keys[:2])
		}
		if align == 64 && f.Keys[len(f.Keys)-1] != "general.alignment" {
			t.Errorf("general.alignment not recorded: %v", f.Keys)
		}
		for name, b := range data {
			ti, ok := f.Tensor(name)
			if !ok {
				t.Fatalf("tensor %q missing", name)
			}
			if !bytes.Equal(ti.Data, b) || ti.Offset%want != 0 {
				t.Errorf("tensor %q data or offset %d wrong", name, ti.Offset)
			}
			if &ti.Data[0] != &raw[f.DataOffset+int64(ti.Offset)] {
				t.Errorf("tensor %q data was copied", name)
			}
		}
		m, _ := f.Tensor("m")
		mat, err := m.Matrix()
		if err != nil || mat.Rows != 2 || mat.Cols != 3 || m.NumElements() != 6 {
			t.Errorf("matrix %+v %v", mat, err)
		}
		y := make([]float32, 2)
		tensor.MatVecRef(mat, []float32{1, 0, 1}, y)
		if y[0] != 4 || y[1] != 10 {
			t.Errorf("matrix rows wrong: %v", y)
		}
		e, _ := f.Tensor("experts")
		s, err := e.Slice3D(2)
		if err != nil || s.Rows != 2 || s.Cols != 256 || &s.Data[0] != &e.Data[2*2*144] {
			t.Errorf("Slice3D: %+v %v", s.Type, err)
		}
		if _, err := e.Slice3D(3); err == nil {
			t.Error("Slice3D(3) of 3 experts accepted")
		}
		if _, err := e.Matrix(); err == nil || !strings.Contains(err.Error(), "experts") {
			t.Errorf("3-D Matrix error %v should name the tensor", err)
		}
		if _, err := m.Slice3D(0); err == nil {
			t.Error("Slice3D of 2-D accepted")
		}
		v, _ := f.Tensor("v")
		if _, err := v.Matrix(); err == nil || !strings.Contains(err.Error(), `"v"`) {
			t.Errorf("1-D Matrix error %v should name the tensor", err)
		}
	}
}

func TestGetters(t *testing.T) {
	raw, _ := buildFile(t, 0)
	f, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := f.Architecture(); a != "qwen3moe" || err != nil {
		t.Errorf("Architecture %q %v", a, err)
	}
	if v, err := f.Uint32("u16"); v != 60000 || err != nil {
		t.Errorf("Uint32(u16) %v %v", v, err)
	}
	if _, err := f.Uint32("i8"); err == nil {
		t.Error("negative into Uint32 accepted")
	}
	if v, err := f.Int("i64"); v != -1<<62 || err != nil {
		t.Errorf("Int %v %v", v, err)
	}
	if _, err := f.Int("u64"); err == nil {
		t.Error("1<<63 into Int accepted")
	}
	if v, err := f.Float32("f64"); v != 2.25 || err != nil {
		t.Errorf("Float32 %v %v", v, err)
	}
	if v, err := f.Bool("bool.t"); !v || err != nil {
		t.Errorf("Bool %v %v", v, err)
	}
	if v, err := f.Strings("a.str"); len(v) != 3 || err != nil {
		t.Errorf("Strings %v %v", v, err)
	}
	if v, err := f.Float32s("a.f64"); len(v) != 1 || v[0] != 3.5 || err != nil {
		t.Errorf("Float32s %v %v", v, err)
	}
	if v, err := f.Int32s("a.u16"); len(v) != 1 || v[0] != 7 || err != nil {
		t.Errorf("Int32s %v %v", v, err)
	}
	if _, err := f.Int32s("a.u64"); err != nil {
		t.Errorf("Int32s of small u64: %v", err)
	}
	_, err = f.String("u32")
	if err == nil || !strings.Contains(err.Error(), `"u32"`) || !strings.Contains(err.Error(), "uint32") || !strings.Contains(err.Error(), "want string") {
		t.Errorf("type error should name key and types: %v", err)
	}
	if _, err := f.Int("nope"); !errors.Is(err, ErrKeyNotFound) || !f.Has("u8") || f.Has("nope") {
		t.Errorf("missing key: %v", err)
	}
}

func TestOpenFile(t *testing.T) {
	raw, data := buildFile(t, 64)
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := NewWriter()
	w.SetAlignment(64)
	f0, _ := Parse(raw)
	for _, k := range f0.Keys {
		if k == "general.alignment" {
			continue
		}
		if err := w.AddKV(k, f0.Metadata[k]); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f0.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Shape, ti.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	disk, _ := os.ReadFile(path)
	if !bytes.Equal(disk, raw) {
		t.Error("rewritten file differs from the original bytes")
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("v")
	if !bytes.Equal(ti.Data, data["v"]) {
		t.Error("mapped tensor data differs")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); err == nil {
		t.Error("missing file opened")
	}
	os.WriteFile(path, []byte("GGUF"), 0o644)
	if _, err := Open(path); err == nil {
		t.Error("4-byte file opened")
	}
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter()
	if err := w.AddKV("k", 3); err == nil || !strings.Contains(err.Error(), "sized") {
		t.Errorf("int accepted: %v", err)
	}
	if err := w.AddKV("k", []any{"x"}); err == nil {
		t.Error("[]any of string accepted")
	}
	w.AddKV("k", uint8(1))
	if err := w.AddKV("k", uint8(2)); err == nil {
		t.Error("duplicate key accepted")
	}
	if err := w.AddKV("general.alignment", uint32(48)); err == nil {
		t.Error("alignment 48 accepted")
	}
	if err := w.AddTensor("t", tensor.Q4_K, []int64{100}, make([]byte, 100)); err == nil {
		t.Error("Q4_K row of 100 accepted")
	}
	if err := w.AddTensor("t", tensor.F32, []int64{4}, make([]byte, 12)); err == nil || !strings.Contains(err.Error(), `"t"`) {
		t.Errorf("short data accepted or unnamed: %v", err)
	}
	if err := w.AddTensor("t", tensor.Type(3), []int64{32}, make([]byte, 20)); err == nil {
		t.Error("unsupported type accepted")
	}
	w.AddTensor("t", tensor.F32, []int64{1}, make([]byte, 4))
	if err := w.AddTensor("t", tensor.F32, []int64{1}, make([]byte, 4)); err == nil {
		t.Error("duplicate tensor accepted")
	}
	w.SetAlignment(3)
	if _, err := w.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("alignment 3 written")
	}
	var zero Writer
	if _, err := zero.WriteTo(&bytes.Buffer{}); err != nil {
		t.Errorf("zero Writer: %v", err)
	}
}

// header writes a GGUF header by hand for malformed-input tests.
func header(version uint32, nt, nkv uint64) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, version)
	b = binary.LittleEndian.AppendUint64(b, nt)
	return binary.LittleEndian.AppendUint64(b, nkv)
}

func appendStr(b []byte, s string) []byte {
	return append(binary.LittleEndian.AppendUint64(b, uint64(len(s))), s...)
}

func tensorInfo(b []byte, name string, shape []uint64, typ uint32, off uint64) []byte {
	b = appendStr(b, name)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(shape)))
	for _, d := range shape {
		b = binary.LittleEndian.AppendUint64(b, d)
	}
	b = binary.LittleEndian.AppendUint32(b, typ)
	return binary.LittleEndian.AppendUint64(b, off)
}

func withData(b []byte, n int) []byte {
	for len(b)%32 != 0 {
		b = append(b, 0)
	}
	return append(b, make([]byte, n)...)
}

func TestParseErrors(t *testing.T) {
	good, _ := buildFile(t, 0)
	kv := func(key string, vt uint32, val []byte) []byte {
		b := appendStr(header(3, 0, 1), key)
		b = binary.LittleEndian.AppendUint32(b, vt)
		return append(b, val...)
	}
	arr := func(et uint32, n uint64) []byte {
		b := binary.LittleEndian.AppendUint32(nil, et)
		return binary.LittleEndian.AppendUint64(b, n)
	}
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "end of file", nil},
		{"magic", "bad magic", []byte("GGML\x03\x00\x00\x00")},
		{"version1", "unsupported version 1", header(1, 0, 0)},
		{"bigendian", "big-endian", []byte("GGUF\x00\x00\x00\x03")},
		{"truncated header", "end of file", header(3, 0, 0)[:20]},
		{"huge kv count", "metadata count", header(3, 0, 1<<60)},
		{"huge tensor count", "tensor count", header(3, 1<<40, 0)},
		{"string too long", "string length", kv("k", 8, binary.LittleEndian.AppendUint64(nil, 1<<62))},
		{"bad value type", `"k": unknown value type 13`, kv("k", 13, nil)},
		{"bad bool", `"k": bool byte 2`, kv("k", 7, []byte{2})},
		{"huge array", `"k": array (uint32) count`, kv("k", 9, arr(4, 1<<61))},
		{"huge string array", `"k": array (string) count`, kv("k", 9, arr(8, 1<<40))},
		{"array unknown elem", "array of unknown value type 42", kv("k", 9, arr(42, 1))},
		{"truncated value", `"k"`, kv("k", 10, []byte{1, 2})},
		{"alignment type", `"general.alignment": found uint64, want uint32`, kv("general.alignment", 10, make([]byte, 8))},
		{"alignment value", "not a power of two", kv("general.alignment", 4, []byte{48, 0, 0, 0})},
		{"unknown tensor type", `tensor "w": unsupported tensor type Q4_1`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{32}, 3, 0), 64)},
		{"tensor type 99", `tensor "w": unsupported tensor type type(99)`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{32}, 99, 0), 64)},
		{"out of bounds", `tensor "w": data`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{8, 8}, 0, 0), 255)},
		{"offset out of bounds", `tensor "w": data`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{1}, 0, 1<<62), 4)},
		{"misaligned", `tensor "w": offset 4 is not a multiple`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{1}, 0, 4), 64)},
		{"bad block row", `tensor "w": tensor: 100 weights`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{100}, 12, 0), 1024)},
		{"too many dims", `tensor "w": 5 dimensions`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{1, 1, 1, 1, 1}, 0, 0), 64)},
		{"negative dim", `tensor "w": negative`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{1 << 63}, 0, 0), 64)},
		{"overflow", `tensor "w": shape`, withData(tensorInfo(header(3, 1, 0), "w", []uint64{1 << 30, 1 << 40, 1 << 40}, 0, 0), 64)},
		{"duplicate tensor", `tensor "w" appears twice`, withData(tensorInfo(tensorInfo(header(3, 2, 0), "w", []uint64{1}, 0, 0), "w", []uint64{1}, 0, 32), 64)},
		{"truncated data", `tensor "experts"`, good[:len(good)-40]},
	}
	dupKV := kv("k", 0, []byte{1})
	dupKV[16] = 2 // two KVs
	dupKV = appendStr(dupKV, "k")
	dupKV = append(binary.LittleEndian.AppendUint32(dupKV, 0), 1)
	cases = append(cases, struct {
		name, want string
		data       []byte
	}{"duplicate key", `"k" appears twice`, dupKV})
	for _, c := range cases {
		_, err := Parse(c.data)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not contain %q", c.name, err, c.want)
		}
	}
	// Version 2 files have the same layout and are accepted.
	v2 := append([]byte(nil), good...)
	v2[4] = 2
	if f, err := Parse(v2); err != nil || f.Version != 2 {
		t.Errorf("version 2: %v", err)
	}
	// Every truncation of a valid file that cuts into tensor data fails
	// cleanly (the writer's trailing padding is optional).
	f, _ := Parse(good)
	end := 0
	for _, ti := range f.Tensors {
		end = max(end, int(f.DataOffset)+int(ti.Offset)+len(ti.Data))
	}
	if _, err := Parse(good[:end]); err != nil {
		t.Errorf("file without trailing padding: %v", err)
	}
	for n := 0; n < end; n++ {
		if _, err := Parse(good[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes accepted", n, len(good))
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, a := range []uint64{0, 64} {
		raw, _ := buildFile(f, a)
		f.Add(raw)
	}
	w := NewWriter()
	w.AddKV("general.architecture", "llama")
	w.AddKV("tokenizer.ggml.tokens", []string{"a", "b"})
	var b bytes.Buffer
	w.WriteTo(&b)
	f.Add(b.Bytes())
	f.Add(header(3, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		for _, ti := range file.Tensors {
			if ti.Data == nil && ti.NumElements() != 0 {
				t.Fatalf("tensor %q has no data", ti.Name)
			}
			if len(ti.Shape) == 2 {
				if m, err := ti.Matrix(); err == nil && m.Rows > 0 {
					_ = m.Row(m.Rows - 1)
				}
			}
			if len(ti.Shape) == 3 && ti.Shape[2] > 0 {
				ti.Slice3D(int(ti.Shape[2] - 1))
			}
		}
		for _, k := range file.Keys {
			file.Int(k)
			file.Float32(k)
			file.Int32s(k)
			file.Float32s(k)
		}
	})
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter()
	w.SetAlignment(12) // not a power of two: WriteTo fails after the temp file exists
	path := filepath.Join(dir, "bad.gguf")
	if err := w.WriteFile(path); err == nil {
		t.Fatal("bad alignment written")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
	if err := NewWriter().WriteFile(filepath.Join(dir, "no", "such", "dir.gguf")); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// A string array one byte short fails at its last element, key named.
func TestShortStringArray(t *testing.T) {
	b := appendStr(header(3, 0, 1), "tokenizer.ggml.tokens")
	b = binary.LittleEndian.AppendUint32(b, uint32(TypeArray))
	b = binary.LittleEndian.AppendUint32(b, uint32(TypeString))
	b = binary.LittleEndian.AppendUint64(b, 1<<20)
	b = append(b, make([]byte, 8<<20)...) // 1<<20 string lengths, all 0…
	b[len(b)-8] = 1                       // …except the last, whose byte is missing
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "tokenizer.ggml.tokens") || !strings.Contains(err.Error(), "element 1048575") {
		t.Fatalf("err = %v", err)
	}
}

func TestHandBuiltTensorInfo(t *testing.T) {
	bad := []*TensorInfo{
		{Name: "huge", Type: tensor.F32, Shape: []int64{1 << 30, 1 << 40, 1 << 30}, Data: make([]byte, 64)},
		{Name: "short", Type: tensor.Q4_K, Shape: []int64{256, 2, 2}, Data: make([]byte, 144*3)},
		{Name: "blocks", Type: tensor.Q4_K, Shape: []int64{100, 2, 2}, Data: make([]byte, 64)},
	}
	for _, ti := range bad {
		if _, err := ti.Slice3D(0); err == nil || !strings.Contains(err.Error(), ti.Name) {
			t.Errorf("%s: Slice3D err = %v", ti.Name, err)
		}
	}
	m2 := &TensorInfo{Name: "m", Type: tensor.F32, Shape: []int64{4, 2}, Data: make([]byte, 31)}
	if _, err := m2.Matrix(); err == nil || !strings.Contains(err.Error(), `"m"`) {
		t.Errorf("short 2-D Matrix err = %v", err)
	}
}

func TestSetKVReplaces(t *testing.T) {
	w := NewWriter()
	for _, kv := range []struct {
		k string
		v any
	}{{"a", uint32(1)}, {"b", "x"}} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetKV("a", uint32(4294967295)); err != nil {
		t.Fatal(err)
	}
	if err := w.SetKV("c", true); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["a"] != uint32(4294967295) || f.Metadata["b"] != "x" || f.Metadata["c"] != true {
		t.Fatalf("metadata %v", f.Metadata)
	}
}
