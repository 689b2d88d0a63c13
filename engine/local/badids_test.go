package local

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/modelgen"
)

// A file that stores its padding and separator ids as 4294967295 (as a
// trained llama file in circulation does) loads, warns, and generates
// exactly what the same file without those keys generates, as llama.cpp
// ignores them.
func TestOutOfRangeSpecialIDsAreIgnored(t *testing.T) {
	dir := t.TempDir()
	spec := modelgen.Tiny("llama")
	clean, odd := filepath.Join(dir, "clean.gguf"), filepath.Join(dir, "odd.gguf")
	if err := modelgen.Write(clean, spec); err != nil {
		t.Fatal(err)
	}
	w, err := modelgen.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tokenizer.ggml.padding_token_id", "tokenizer.ggml.seperator_token_id"} {
		if err := w.SetKV(k, uint32(4294967295)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteFile(odd); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	greedy := func(path string) []int {
		e, err := Open(path, Options{Threads: 1, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("open %s: %v", filepath.Base(path), err)
		}
		defer e.Close()
		var got []int
		prompt := e.Tokenizer().Encode("The road goes", e.Tokenizer().AddBOS(), false)
		if _, err := e.GenerateTokens(context.Background(), prompt, engine.Request{MaxTokens: 16, IgnoreEOS: true}, func(tk engine.Token) error {
			if tk.ID >= 0 {
				got = append(got, tk.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := greedy(clean)
	if strings.Contains(logs.String(), "padding_token_id") {
		t.Fatalf("a clean file warned: %s", logs.String())
	}
	got := greedy(odd)
	if len(want) != 16 || !eqIDs(got, want) {
		t.Fatalf("greedy tokens %v, want those of the file without the keys %v", got, want)
	}
	if !strings.Contains(logs.String(), "padding_token_id = 4294967295") {
		t.Errorf("no warning names the ignored key: %s", logs.String())
	}
}

func eqIDs(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
