package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func runEngine(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "maopao", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newEngineCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"engine"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestEngineCommands(t *testing.T) {
	model := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := runEngine(t, "gen-model", "--shape", "tiny", "--arch", "llama", "--type", "Q8_0", "-o", model); err != nil {
		t.Fatalf("gen-model: %v", err)
	}
	ids1, err := runEngine(t, "generate", "--model", model, "--prompt", "Once upon a time", "-n", "12", "--temp", "0", "--ids", "-t", "1")
	if err != nil {
		t.Fatalf("generate --ids: %v", err)
	}
	out := ""
	for _, line := range strings.Split(ids1, "\n") {
		if after, ok := strings.CutPrefix(line, "output:"); ok {
			out = after
		}
	}
	fields := strings.Fields(out)
	if len(fields) == 0 || len(fields) > 12 {
		t.Fatalf("want 1 to 12 token ids, got %q", ids1)
	}
	for _, f := range fields {
		if !regexp.MustCompile(`^\d+$`).MatchString(f) {
			t.Fatalf("not a token id: %q in %q", f, ids1)
		}
	}
	ids2, _ := runEngine(t, "generate", "--model", model, "--prompt", "Once upon a time", "-n", "12", "--temp", "0", "--ids", "-t", "1")
	if ids1 != ids2 {
		t.Fatalf("greedy generation is not deterministic: %q vs %q", ids1, ids2)
	}
	text, err := runEngine(t, "generate", "--model", model, "--prompt", "Hello", "--chat", "-n", "8", "--temp", "0.7", "--seed", "3")
	if err != nil || strings.TrimSpace(text) == "" {
		t.Fatalf("generate --chat: %q, %v", text, err)
	}
	bench, err := runEngine(t, "bench", "--model", model, "-p", "32", "-n", "8", "-r", "1", "-t", "1")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	if !regexp.MustCompile(`(?s)pp32 .*[0-9.]+ tokens/s.*tg8 .*[0-9.]+ tokens/s`).MatchString(bench) {
		t.Fatalf("bench output lacks prompt and generation tokens/s:\n%s", bench)
	}
	if _, err := runEngine(t, "generate", "--model", filepath.Join(t.TempDir(), "missing.gguf"), "--prompt", "x"); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Fatalf("missing model: %v", err)
	}
}

// llama.cpp's cache type flags, in both spellings, reach the engine.
func TestEngineCacheTypeFlags(t *testing.T) {
	model := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := runEngine(t, "gen-model", "--shape", "tiny", "--arch", "llama", "-o", model); err != nil {
		t.Fatalf("gen-model: %v", err)
	}
	gen := func(extra ...string) (string, error) {
		args := append([]string{"generate", "--model", model, "--prompt", "Once upon a time", "-n", "6", "--ids", "-t", "1"}, extra...)
		return runEngine(t, llamaCppSpellings(args)...)
	}
	for _, flags := range [][]string{{"-ctk", "f32", "-ctv", "f32"}, {"-ctk=f16"}, {"--cache-type-k", "f16", "--cache-type-v", "f32"}} {
		if out, err := gen(flags...); err != nil || !strings.Contains(out, "output:") {
			t.Errorf("%v: %q, %v", flags, out, err)
		}
	}
	// The tiny model's heads are 16 wide: q8_0 rows need 32, and the
	// engine says so, which shows the flag got there.
	if _, err := gen("-ctv", "q8_0"); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
		t.Errorf("-ctv q8_0 on 16-wide heads: %v", err)
	}
	if _, err := gen("-ctk", "q4_0"); err == nil || !strings.Contains(err.Error(), "f32, f16, q8_0") {
		t.Errorf("-ctk q4_0: %v", err)
	}
	if got := llamaCppSpellings([]string{"-ctk", "f16", "--", "-ctv"}); strings.Join(got, " ") != "--cache-type-k f16 -- -ctv" {
		t.Errorf("llamaCppSpellings = %q", got)
	}
}
