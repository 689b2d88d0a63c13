package gguf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/maopao/maopao/engine/tensor"
)

// TestGGUFPyInterop checks our writer and dequantizers against llama.cpp's
// own Python GGUF reader and reference quantizers. It runs when
// MAOPAO_GGUF_PY names a gguf-py directory (from llama.cpp's source) and
// python3 (or MAOPAO_PYTHON) has numpy.
func TestGGUFPyInterop(t *testing.T) {
	dir := os.Getenv("MAOPAO_GGUF_PY")
	if dir == "" {
		t.Skip("MAOPAO_GGUF_PY not set")
	}
	py := os.Getenv("MAOPAO_PYTHON")
	if py == "" {
		py = "python3"
	}
	r := rand.New(rand.NewPCG(21, 22))
	w := NewWriter()
	w.SetAlignment(64)
	kvs := map[string]any{}
	for _, kv := range allValues {
		if _, nested := kv.v.([]any); nested {
			continue // gguf-py does not read arrays of arrays
		}
		kvs[kv.key] = kv.v
		if err := w.AddKV(kv.key, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	deq := map[string][]byte{}
	types := []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q4_0, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K}
	for _, typ := range types {
		// Quantized blocks of real data plus blocks of random bytes (every
		// bit pattern) with sane scales.
		x := make([]float32, 512)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		q, err := tensor.Quantize(typ, x)
		if err != nil {
			t.Fatal(err)
		}
		q = append(q, randomBlocks(r, typ, 512/typ.BlockSize())...)
		name := "deq." + typ.String()
		deq[name] = q
		if err := w.AddTensor(name, typ, []int64{512, 2}, q); err != nil {
			t.Fatal(err)
		}
	}
	src := map[string][]float32{}
	for _, typ := range []tensor.Type{tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0} {
		x := make([]float32, 1024)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Exp(r.NormFloat64()))
		}
		// Exact ties for the Q8_0 rounding: amax 127 makes the scale 1.
		x[0], x[1], x[2] = 127, 2.5, -3.5
		name := "src." + typ.String()
		src[name] = x
		b, _ := tensor.Quantize(tensor.F32, x)
		if err := w.AddTensor(name, tensor.F32, []int64{1024}, b); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	path := filepath.Join(tmp, "interop.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "testdata/ggufpy_check.py", dir, path, tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gguf-py: %v\n%s", err, out)
	}

	raw, err := os.ReadFile(filepath.Join(tmp, "fields.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var fields map[string]struct {
		Types []int
		Value any
	}
	if err := dec.Decode(&fields); err != nil {
		t.Fatal(err)
	}
	for key, v := range kvs {
		f, ok := fields[key]
		if !ok {
			t.Errorf("gguf-py did not see %q", key)
			continue
		}
		vt, _ := valueTypeOf(v, 0)
		if vt == TypeArray {
			if reflect.ValueOf(v).Len() == 0 && len(f.Types) == 1 && ValueType(f.Types[0]) == TypeArray {
				// gguf-py leaves out the element type of empty arrays
			} else if len(f.Types) != 2 || ValueType(f.Types[0]) != TypeArray || ValueType(f.Types[1]) != elemType(v) {
				t.Errorf("%q: gguf-py types %v, want array of %v", key, f.Types, elemType(v))
			}
		} else if len(f.Types) != 1 || ValueType(f.Types[0]) != vt {
			t.Errorf("%q: gguf-py types %v, want %v", key, f.Types, vt)
		}
		if got, want := canon(f.Value), canon(v); got != want {
			t.Errorf("%q: gguf-py read %s, we wrote %s", key, got, want)
		}
	}

	for name, q := range deq {
		pyVals := readF32(t, filepath.Join(tmp, name+".f32"))
		typ := tensorTypeByName(name[len("deq."):])
		ours := make([]float32, len(pyVals))
		if err := tensor.Dequantize(typ, q, ours); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i := range ours {
			if d := math.Abs(float64(ours[i] - pyVals[i])); d > 1e-6*math.Max(1, math.Abs(float64(pyVals[i]))) {
				if bad < 3 {
					t.Errorf("%s[%d]: ours %v, gguf-py %v", name, i, ours[i], pyVals[i])
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d values differ", name, bad, len(ours))
		}
	}
	for name, x := range src {
		pyQ, err := os.ReadFile(filepath.Join(tmp, name+".q"))
		if err != nil {
			t.Fatal(err)
		}
		ours, _ := tensor.Quantize(tensorTypeByName(name[len("src."):]), x)
		if !bytes.Equal(ours, pyQ) {
			diff := 0
			for i := range ours {
				if i < len(pyQ) && ours[i] != pyQ[i] {
					diff++
				}
			}
			t.Errorf("%s: our quantization differs from gguf-py's in %d of %d bytes", name, diff, len(ours))
		}
	}
}

// TestGGUFPyWrittenFile reads a file written by gguf-py's GGUFWriter.
func TestGGUFPyWrittenFile(t *testing.T) {
	dir := os.Getenv("MAOPAO_GGUF_PY")
	if dir == "" {
		t.Skip("MAOPAO_GGUF_PY not set")
	}
	py := os.Getenv("MAOPAO_PYTHON")
	if py == "" {
		py = "python3"
	}
	path := filepath.Join(t.TempDir(), "py.gguf")
	if out, err := exec.Command(py, "testdata/ggufpy_write.py", dir, path).CombinedOutput(); err != nil {
		t.Fatalf("gguf-py: %v\n%s", err, out)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]any{
		"general.architecture": "llama", "t.u8": uint8(200), "t.i8": int8(-7), "t.u32": uint32(7),
		"t.i32": int32(-5), "t.f32": float32(0.25), "t.bool": true, "t.str": "h\u00e9llo",
		"t.u64": uint64(1 << 40), "t.f64": -2.5, "t.strs": []string{"a", "bc", ""},
		"t.ints": []int32{1, -2, 3}, "t.floats": []float32{0.5, 1.5},
	}
	for k, v := range want {
		if got := f.Metadata[k]; !reflect.DeepEqual(got, v) {
			t.Errorf("%q = %#v, want %#v", k, got, v)
		}
	}
	m32, _ := f.Tensor("w.f32")
	mat, err := m32.Matrix()
	if err != nil || mat.Rows != 2 || mat.Cols != 3 {
		t.Fatalf("w.f32: %+v %v", m32.Shape, err)
	}
	row := make([]float32, 3)
	tensor.Dequantize(tensor.F32, mat.Row(1), row)
	if row[0] != 3 || row[2] != 5 {
		t.Errorf("w.f32 row 1 = %v", row)
	}
	h, _ := f.Tensor("w.f16")
	hv := make([]float32, 4)
	if err := tensor.Dequantize(h.Type, h.Data, hv); err != nil || hv[1] != -2 || hv[3] != 4 {
		t.Errorf("w.f16 = %v %v", hv, err)
	}
	q, _ := f.Tensor("w.q8")
	qm, err := q.Matrix()
	if err != nil || q.Type != tensor.Q8_0 || qm.Rows != 2 || qm.Cols != 64 {
		t.Fatalf("w.q8: %v %v %v", q.Type, q.Shape, err)
	}
	qv := make([]float32, 128)
	tensor.Dequantize(q.Type, q.Data, qv)
	for i, v := range qv {
		if x := -1 + 2*float64(i)/127; math.Abs(float64(v)-x) > 0.005 {
			t.Fatalf("w.q8[%d] = %v, want about %v", i, v, x)
		}
	}
}

func tensorTypeByName(s string) tensor.Type {
	for i := 0; i < 64; i++ {
		if tensor.Type(i).String() == s {
			return tensor.Type(i)
		}
	}
	panic("no type " + s)
}

func readF32(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// canon renders a metadata value the same way whether it came from our Go
// types or from gguf-py's JSON (numbers as shortest float64/int text).
func canon(v any) string {
	if n, ok := v.(json.Number); ok {
		if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return string(n)
		}
		if _, err := strconv.ParseUint(string(n), 10, 64); err == nil {
			return string(n)
		}
		f, _ := strconv.ParseFloat(string(n), 64)
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice:
		s := "["
		for i := 0; i < rv.Len(); i++ {
			s += canon(rv.Index(i).Interface()) + ","
		}
		return s + "]"
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.String:
		return strconv.Quote(rv.String())
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	}
	return fmt.Sprintf("%T?", v)
}

// randomBlocks returns n blocks of random bytes with finite, moderate
// scales, so every bit pattern of the quants is decoded.
func randomBlocks(r *rand.Rand, typ tensor.Type, n int) []byte {
	bb := typ.BlockBytes()
	b := make([]byte, n*bb)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	f16 := func(p []byte) { binary.LittleEndian.PutUint16(p, tensor.F32ToF16(float32(r.NormFloat64()))) }
	for k := 0; k < n; k++ {
		blk := b[k*bb:]
		switch typ {
		case tensor.F32:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(r.NormFloat64())))
		case tensor.F16:
			f16(blk)
		case tensor.BF16:
			binary.LittleEndian.PutUint16(blk, tensor.F32ToBF16(float32(r.NormFloat64())))
		case tensor.Q4_0, tensor.Q8_0:
			f16(blk)
		case tensor.Q4_K, tensor.Q5_K:
			f16(blk)
			f16(blk[2:])
		case tensor.Q6_K:
			f16(blk[208:])
		}
	}
	return b
}
