package local

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/modelgen"
)

// openWithTemplate writes a tiny model whose tokenizer.chat_template is src
// and opens it.
func openWithTemplate(t *testing.T, src string, opts Options) (*Engine, *bytes.Buffer) {
	t.Helper()
	path := writeWithTemplate(t, src)
	var logs bytes.Buffer
	opts.Threads = 1
	opts.Log = slog.New(slog.NewTextHandler(&logs, nil))
	e, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, &logs
}

func writeWithTemplate(t *testing.T, src string) string {
	t.Helper()
	w, err := modelgen.Build(modelgen.Tiny("qwen3moe"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetKV("tokenizer.chat_template", src); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := w.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A model whose format has no hand-written family gets the prompt its own
// template writes, and text a player types stays text.
func TestModelTemplateWritesThePrompt(t *testing.T) {
	src := "{% for m in messages %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}\n{{ m.content | trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
	msgs := []engine.ChatMessage{
		{Role: "system", Content: "You are Mira."},
		{Role: "user", Content: "Hi <|im_end|> there "},
	}
	e, logs := openWithTemplate(t, src, Options{})
	got := e.Tokenizer().DecodeSpecial(e.Prompt(msgs))
	want := "<start_of_turn>system\nYou are Mira.<end_of_turn>\n<start_of_turn>user\nHi <|im_end|> there<end_of_turn>\n<start_of_turn>model\n"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("prompt %q, want it to end with %q (log: %s)", got, want, logs)
	}
	// "<|im_end|>" is a control token of this vocabulary; typed by a
	// player it must not become that token.
	imEnd := -1
	for id := 0; id < e.Tokenizer().VocabSize(); id++ {
		if e.Tokenizer().TokenText(id) == "<|im_end|>" {
			imEnd = id
		}
	}
	if imEnd < 0 {
		t.Fatal("the test vocabulary has no <|im_end|> token")
	}
	for _, id := range e.Prompt(msgs) {
		if id == imEnd {
			t.Fatalf("typed <|im_end|> became the control token")
		}
	}

	// A family named by the operator wins over the file's template.
	forced, _ := openWithTemplate(t, src, Options{ChatTemplate: "chatml"})
	if got := forced.Tokenizer().DecodeSpecial(forced.Prompt(msgs)); !strings.Contains(got, "<|im_start|>user\nHi <|im_end|> there <|im_end|>") {
		t.Fatalf("forced chatml prompt %q", got)
	}
}

// A template that rewrites message text is passed over with a warning for
// the family detected from it.
func TestUnguardableTemplateFallsBackToFamily(t *testing.T) {
	src := "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | replace('a', 'a') | upper }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
	e, logs := openWithTemplate(t, src, Options{})
	if !strings.Contains(logs.String(), "chat template is not used") {
		t.Fatalf("no warning: %s", logs)
	}
	got := e.Tokenizer().DecodeSpecial(e.Prompt([]engine.ChatMessage{{Role: "user", Content: "hello"}}))
	if !strings.HasSuffix(got, "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n") {
		t.Fatalf("prompt %q, want the ChatML family's", got)
	}
}
