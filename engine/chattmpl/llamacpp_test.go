package chattmpl

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDetectLlamaCppTemplates runs Detect on the real chat templates that
// llama.cpp keeps in models/templates. The files are not part of this
// repository: set MAOPAO_LLAMA_TEMPLATES_DIR to run it.
func TestDetectLlamaCppTemplates(t *testing.T) {
	dir := os.Getenv("MAOPAO_LLAMA_TEMPLATES_DIR")
	if dir == "" {
		t.Skip("MAOPAO_LLAMA_TEMPLATES_DIR not set")
	}
	want := map[string]Family{
		"Qwen-Qwen3-0.6B.jinja":                      Qwen3,
		"Qwen-Qwen2.5-7B-Instruct.jinja":             ChatML,
		"meta-llama-Llama-3.1-8B-Instruct.jinja":     Llama3,
		"meta-llama-Llama-3.2-3B-Instruct.jinja":     Llama3,
		"meta-llama-Llama-3.3-70B-Instruct.jinja":    Llama3,
		"microsoft-Phi-3.5-mini-instruct.jinja":      Phi3,
		"mistralai-Mistral-Nemo-Instruct-2407.jinja": Mistral,
		"ibm-granite-granite-3.3-2B-Instruct.jinja":  Granite,
	}
	for file, f := range want {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if got := Detect(string(b)); got != f {
			t.Errorf("%s: Detect = %q, want %q", file, got, f)
		}
	}
}
