package modelgen

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/tensor"
	"github.com/maopao/maopao/engine/tokenizer"
)

func TestWriteLoads(t *testing.T) {
	specs := []Spec{Tiny("qwen3moe"), Tiny("qwen2moe"), Bundled()}
	for _, s := range specs {
		t.Run(s.Arch+"/"+s.Type.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			start := time.Now()
			if err := Write(path, s); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote in %v", time.Since(start))
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if u, _ := f.Metadata["maopao.untrained"].(bool); !u {
				t.Error("maopao.untrained is not true")
			}
			if tmpl, _ := f.Metadata["tokenizer.chat_template"].(string); !strings.Contains(tmpl, "<|im_start|>") {
				t.Errorf("chat template %q is not ChatML", tmpl)
			}
			tok, err := tokenizer.FromMetadata(f.Metadata)
			if err != nil {
				t.Fatal(err)
			}
			if tok.VocabSize() != s.Vocab {
				t.Errorf("vocabulary has %d tokens, want %d", tok.VocabSize(), s.Vocab)
			}
			emb, ok := f.Tensor("token_embd.weight")
			if !ok || emb.Shape[1] != int64(tok.VocabSize()) {
				t.Fatalf("token_embd.weight %v does not match the vocabulary", emb)
			}
			// The trained merges must compress text of both languages.
			for _, text := range []string{"The traveler walked to the tavern.", "你好，朋友，我们一起去看日出吧。"} {
				ids := tok.Encode(text, false, false)
				limit := len(text) * 2 / 3 // a few hundred merges
				if s.Vocab >= 1000 {
					limit = len(text) / 3
				}
				if len(ids) > limit {
					t.Errorf("%q takes %d tokens for %d bytes: merges missing", text, len(ids), len(text))
				}
				if got := tok.Decode(ids); got != text {
					t.Errorf("round trip %q -> %q", text, got)
				}
			}
			im, ok := tok.TokenID("<|im_end|>")
			if !ok || !tok.IsEOG(im) {
				t.Error("<|im_end|> is not an end-of-generation token")
			}
			up, _ := f.Tensor("blk.0.ffn_up_exps.weight")
			if up.Type != typeFor(s.Type, s.Hidden) {
				t.Errorf("expert weights are %v, want %v", up.Type, s.Type)
			}
			if r, _ := f.Tensor("blk.0.ffn_gate_inp.weight"); r.Type != tensor.F32 {
				t.Errorf("router is %v, want F32", r.Type)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.gguf"), filepath.Join(dir, "b.gguf")
	s := Tiny("olmoe")
	if err := Write(a, s); err != nil {
		t.Fatal(err)
	}
	if err := Write(b, s); err != nil {
		t.Fatal(err)
	}
	fa, _ := gguf.Open(a)
	fb, _ := gguf.Open(b)
	defer fa.Close()
	defer fb.Close()
	ta, _ := fa.Tensor("blk.1.attn_q.weight")
	tb, _ := fb.Tensor("blk.1.attn_q.weight")
	if string(ta.Data) != string(tb.Data) {
		t.Error("same seed produced different weights")
	}
	s.Seed++
	c := filepath.Join(dir, "c.gguf")
	if err := Write(c, s); err != nil {
		t.Fatal(err)
	}
	fc, _ := gguf.Open(c)
	defer fc.Close()
	tc, _ := fc.Tensor("blk.1.attn_q.weight")
	if string(ta.Data) == string(tc.Data) {
		t.Error("different seeds produced the same weights")
	}
}

func TestSpecErrors(t *testing.T) {
	bad := []Spec{{}, {Arch: "gpt9"}, func() Spec { s := Tiny("qwen3moe"); s.ExpertsUsed = 5; return s }(),
		func() Spec { s := Tiny("qwen3"); s.FF = 0; return s }(), func() Spec { s := Tiny("llama"); s.KVHeads = 3; return s }()}
	for _, s := range bad {
		if err := Write(filepath.Join(t.TempDir(), "x.gguf"), s); err == nil {
			t.Errorf("spec %+v accepted", s)
		}
	}
}

func TestEnsureBundled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "bundled.gguf")
	made, err := EnsureBundled(path)
	if err != nil || !made {
		t.Fatalf("first call: %v %v", made, err)
	}
	made, err = EnsureBundled(path)
	if err != nil || made {
		t.Fatalf("second call rewrote the model: %v %v", made, err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestParseType(t *testing.T) {
	for _, n := range []string{"Q8_0", "q4_k", "F16", "bf16"} {
		if _, err := ParseType(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseType("Q3_K"); err == nil || !strings.Contains(err.Error(), "Q8_0") {
		t.Errorf("unknown type error %v", err)
	}
}

// TestReadableOutput checks that partial-character byte tokens get a zero
// output row (so random models print words, not U+FFFD) and whole tokens
// do not.
func TestReadableOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := Write(path, Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := tokenizer.FromMetadata(f.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.Tensor("output.weight")
	m, err := out.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	rowNorm := func(id int) float64 {
		row := make([]float32, m.Cols)
		if err := tensor.Dequantize(m.Type, m.Row(id), row); err != nil {
			t.Fatal(err)
		}
		var s float64
		for _, v := range row {
			s += float64(v * v)
		}
		return s
	}
	var zero, nonzero int
	for id := 0; id < tok.VocabSize(); id++ {
		text := tok.Decode([]int{id})
		n := rowNorm(id)
		if strings.ContainsRune(text, '\uFFFD') || text == "" {
			if n != 0 && !tok.IsEOG(id) {
				t.Errorf("token %d %q has output row norm %g, want 0", id, text, n)
			}
			zero++
		} else if n == 0 {
			t.Errorf("token %d %q has a zero output row", id, text)
		} else {
			nonzero++
		}
	}
	if zero == 0 || nonzero == 0 {
		t.Errorf("%d zero rows, %d non-zero rows", zero, nonzero)
	}
}
