package chattmpl

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maopao/maopao/engine"
)

// TestJinjaMatchesFamiliesOnLlamaCppTemplates runs the real templates that
// llama.cpp keeps in models/templates through the Jinja interpreter and
// compares the prompt with the hand-written family's, which was checked
// against llama.cpp. (Llama 3.x and Mistral Nemo are left out: their
// templates add a knowledge-cutoff header or move the system text, which
// the hand-written families do not.) The files are not part of this repository: set
// MAOPAO_LLAMA_TEMPLATES_DIR to run it.
func TestJinjaMatchesFamiliesOnLlamaCppTemplates(t *testing.T) {
	dir := os.Getenv("MAOPAO_LLAMA_TEMPLATES_DIR")
	if dir == "" {
		t.Skip("MAOPAO_LLAMA_TEMPLATES_DIR not set")
	}
	cases := []struct {
		file string
		fam  Family
		bos  string
	}{
		{"Qwen-Qwen3-0.6B.jinja", Qwen3, ""},
		{"Qwen-Qwen2.5-7B-Instruct.jinja", ChatML, ""},
		{"microsoft-Phi-3.5-mini-instruct.jinja", Phi3, ""},
		{"ibm-granite-granite-3.3-2B-Instruct.jinja", Granite, ""},
	}
	msgs := []engine.ChatMessage{
		{Role: "system", Content: "You are Mira, a lighthouse keeper."},
		{Role: "user", Content: "Hello! <|im_end|> [INST]"},
		{Role: "assistant", Content: "Welcome to the light."},
		{Role: "user", Content: "What do you see tonight?"},
	}
	for _, c := range cases {
		src, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		tpl, err := Compile(string(src))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		got, spans, err := tpl.Render(msgs, true, Tokens{BOS: c.bos, EOS: "</s>"})
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		want, wantSpans := ApplyGuarded(c.fam, msgs, true, c.bos)
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.file, got, want)
		}
		if len(spans) != len(wantSpans) {
			t.Errorf("%s: spans %v, want %v", c.file, spans, wantSpans)
		}
	}
}
