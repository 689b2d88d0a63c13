package tokenizer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/chattmpl"
)

// TestLlamaCppVocabularies compares Encode with the expected token ids that
// llama.cpp ships for its test vocabularies (models/ggml-vocab-*.gguf with
// .inp/.out files, tokenized without BOS and without special parsing). The
// files are not part of this repository: point MAOPAO_LLAMA_VOCAB_DIR at a
// llama.cpp checkout's models directory to run it.
func TestLlamaCppVocabularies(t *testing.T) {
	dir := os.Getenv("MAOPAO_LLAMA_VOCAB_DIR")
	if dir == "" {
		t.Skip("MAOPAO_LLAMA_VOCAB_DIR not set")
	}
	names := []string{"gpt-2", "llama-bpe", "qwen2", "qwen35", "llama-spm", "phi-3", "mpt", "starcoder", "refact", "command-r", "falcon"}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(dir, "ggml-vocab-"+name+".gguf")
			md, err := readGGUFMetadata(base)
			if err != nil {
				t.Skipf("%v", err)
			}
			tk, err := FromMetadata(md)
			if err != nil {
				t.Fatalf("FromMetadata: %v", err)
			}
			inp, err1 := os.ReadFile(base + ".inp")
			out, err2 := os.ReadFile(base + ".out")
			if err1 != nil || err2 != nil {
				t.Skipf("no test texts: %v %v", err1, err2)
			}
			texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
			if strings.HasSuffix(string(inp), "\n__ggml_vocab_test__\n") {
				texts = texts[:len(texts)-1] // llama.cpp's reader stops at the last separator
			}
			lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
			if len(texts) != len(lines) {
				t.Fatalf("%d inputs, %d outputs", len(texts), len(lines))
			}
			bad := 0
			for i, s := range texts {
				var want []int
				for _, f := range strings.Fields(lines[i]) {
					n, err := strconv.Atoi(f)
					if err != nil {
						t.Fatalf("line %d: %v", i, err)
					}
					want = append(want, n)
				}
				got := tk.Encode(s, false, false)
				if !eqInts(got, want) {
					bad++
					if bad <= 5 {
						t.Errorf("%q:\n got %v\nwant %v", s, got, want)
					}
				}
				if dec := tk.Decode(got); dec != s {
					t.Errorf("round trip %q -> %q", s, dec)
				}
			}
			t.Logf("%s: %d/%d texts match llama.cpp", name, len(texts)-bad, len(texts))
		})
	}
}

// TestLlamaCppVocabularySpecials checks special-token handling on the real
// vocabularies: ids, BOS defaults and end-of-generation tokens of the
// model families the engine runs.
func TestLlamaCppVocabularySpecials(t *testing.T) {
	dir := os.Getenv("MAOPAO_LLAMA_VOCAB_DIR")
	if dir == "" {
		t.Skip("MAOPAO_LLAMA_VOCAB_DIR not set")
	}
	cases := []struct {
		name, bos string
		addBOS    bool
		eog       []string
		chat      string // must encode to start and end with special tokens
	}{
		{"qwen2", "", false, []string{"<|im_end|>", "<|endoftext|>"}, "<|im_start|>user\nhi<|im_end|>"},
		{"llama-bpe", "<|begin_of_text|>", true, []string{"<|eot_id|>", "<|end_of_text|>"}, "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"},
		{"llama-spm", "<s>", true, []string{"</s>"}, "<s>[INST] hi [/INST]</s>"},
	}
	for _, c := range cases {
		md, err := readGGUFMetadata(filepath.Join(dir, "ggml-vocab-"+c.name+".gguf"))
		if err != nil {
			t.Skipf("%v", err)
		}
		tk, err := FromMetadata(md)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.bos != "" && tk.TokenText(tk.BOS()) != c.bos {
			t.Errorf("%s: BOS is %q", c.name, tk.TokenText(tk.BOS()))
		}
		if tk.AddBOS() != c.addBOS {
			t.Errorf("%s: AddBOS %v", c.name, tk.AddBOS())
		}
		for _, e := range c.eog {
			id, ok := tk.TokenID(e)
			if !ok || !tk.IsEOG(id) {
				t.Errorf("%s: %s should end generation", c.name, e)
			}
		}
		got := tk.Encode(c.chat, false, true)
		if len(got) < 3 || tk.TokenType(got[0]) != TypeControl || tk.TokenType(got[len(got)-1]) != TypeControl {
			t.Errorf("%s: %q -> %v: specials not parsed", c.name, c.chat, got)
		}
		if tk.DecodeSpecial(got) != c.chat {
			t.Errorf("%s: %q decodes to %q", c.name, c.chat, tk.DecodeSpecial(got))
		}
		for _, id := range tk.Encode(c.chat, false, false) {
			if tk.TokenType(id) == TypeControl {
				t.Errorf("%s: control token %d without special parsing", c.name, id)
			}
		}
	}
}

// TestMistralPromptTokenization checks that the Mistral chat format,
// tokenized as one text, gives Mistral's reference token layout: BOS, then
// each of "[INST]", the message, "[/INST]", the answer tokenized on its own,
// EOS after each answer.
func TestMistralPromptTokenization(t *testing.T) {
	dir := os.Getenv("MAOPAO_LLAMA_VOCAB_DIR")
	if dir == "" {
		t.Skip("MAOPAO_LLAMA_VOCAB_DIR not set")
	}
	md, err := readGGUFMetadata(filepath.Join(dir, "ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Skip(err)
	}
	tk := mustTok(t, md)
	msgs := []engine.ChatMessage{
		{Role: "system", Content: "You are Mao."},
		{Role: "user", Content: "Hi!"},
		{Role: "assistant", Content: "Hello there."},
		{Role: "user", Content: "Who are you?"},
	}
	got := tk.Encode(chattmpl.Apply(chattmpl.Mistral, msgs, true, ""), true, true)
	enc := func(s string) []int { return tk.Encode(s, false, false) }
	want := []int{tk.BOS()}
	for _, part := range [][]int{enc("[INST]"), enc("You are Mao.\n\nHi!"), enc("[/INST]"), enc("Hello there."), {tk.EOS()},
		enc("[INST]"), enc("Who are you?"), enc("[/INST]")} {
		want = append(want, part...)
	}
	if !eqInts(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

// readGGUFMetadata reads only the key/value section of a GGUF file, into the
// Go types FromMetadata expects. It is a test helper, not a GGUF reader.
func readGGUFMetadata(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	le := binary.LittleEndian
	var hdr struct {
		Magic   [4]byte
		Version uint32
		NTensor uint64
		NKV     uint64
	}
	if err := binary.Read(r, le, &hdr); err != nil {
		return nil, err
	}
	if string(hdr.Magic[:]) != "GGUF" {
		return nil, fmt.Errorf("%s: not GGUF", path)
	}
	str := func() (string, error) {
		var n uint64
		if err := binary.Read(r, le, &n); err != nil {
			return "", err
		}
		if n > 1<<24 {
			return "", fmt.Errorf("string of %d bytes", n)
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	var scalar func(typ uint32) (any, error)
	scalar = func(typ uint32) (any, error) {
		var v any
		switch typ {
		case 0:
			v = new(uint8)
		case 1:
			v = new(int8)
		case 2:
			v = new(uint16)
		case 3:
			v = new(int16)
		case 4:
			v = new(uint32)
		case 5:
			v = new(int32)
		case 6:
			v = new(float32)
		case 7:
			v = new(bool)
		case 8:
			return str()
		case 10:
			v = new(uint64)
		case 11:
			v = new(int64)
		case 12:
			v = new(float64)
		default:
			return nil, fmt.Errorf("value type %d", typ)
		}
		if err := binary.Read(r, le, v); err != nil {
			return nil, err
		}
		switch p := v.(type) {
		case *uint8:
			return *p, nil
		case *int8:
			return *p, nil
		case *uint16:
			return *p, nil
		case *int16:
			return *p, nil
		case *uint32:
			return *p, nil
		case *int32:
			return *p, nil
		case *float32:
			return *p, nil
		case *bool:
			return *p, nil
		case *uint64:
			return *p, nil
		case *int64:
			return *p, nil
		case *float64:
			return *p, nil
		}
		return nil, fmt.Errorf("unreachable")
	}
	md := map[string]any{}
	for i := uint64(0); i < hdr.NKV; i++ {
		key, err := str()
		if err != nil {
			return nil, err
		}
		var typ uint32
		if err := binary.Read(r, le, &typ); err != nil {
			return nil, err
		}
		if typ != 9 {
			if md[key], err = scalar(typ); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			continue
		}
		var et uint32
		var n uint64
		if err := binary.Read(r, le, &et); err != nil {
			return nil, err
		}
		if err := binary.Read(r, le, &n); err != nil {
			return nil, err
		}
		if n > 1<<24 {
			return nil, fmt.Errorf("%s: array of %d", key, n)
		}
		switch et {
		case 8:
			a := make([]string, n)
			for j := range a {
				if a[j], err = str(); err != nil {
					return nil, err
				}
			}
			md[key] = a
		case 5:
			a := make([]int32, n)
			err = binary.Read(r, le, a)
			md[key] = a
		case 4:
			a := make([]uint32, n)
			err = binary.Read(r, le, a)
			md[key] = a
		case 6:
			a := make([]float32, n)
			err = binary.Read(r, le, a)
			md[key] = a
		default:
			a := make([]any, n)
			for j := range a {
				if a[j], err = scalar(et); err != nil {
					break
				}
			}
			md[key] = a
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return md, nil
}

func BenchmarkLlamaCppVocab(b *testing.B) {
	dir := os.Getenv("MAOPAO_LLAMA_VOCAB_DIR")
	if dir == "" {
		b.Skip("MAOPAO_LLAMA_VOCAB_DIR not set")
	}
	for _, name := range []string{"qwen2", "llama-bpe", "llama-spm"} {
		md, err := readGGUFMetadata(filepath.Join(dir, "ggml-vocab-"+name+".gguf"))
		if err != nil {
			b.Skip(err)
		}
		b.Run(name+"/load", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := FromMetadata(md); err != nil {
					b.Fatal(err)
				}
			}
		})
		tk, _ := FromMetadata(md)
		text := strings.Repeat(trainCorpus+"\n", 8)
		b.Run(name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for i := 0; i < b.N; i++ {
				tk.Encode(text, false, true)
			}
		})
	}
}
