package local

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/engine"
)

// TestLlamaServerTemplates renders the chat templates llama.cpp keeps for
// its own tests (models/templates) with our engine and with llama-server's
// /apply-template, on the same tiny model, and compares the prompts.
// A template our interpreter cannot run fails the test too (the engine
// would fall back to a hand-written family for it). Set MAOPAO_LLAMA_CPP_BIN
// (llama-server's directory) and MAOPAO_LLAMA_TEMPLATES_DIR to run it.
func TestLlamaServerTemplates(t *testing.T) {
	bin, dir := os.Getenv("MAOPAO_LLAMA_CPP_BIN"), os.Getenv("MAOPAO_LLAMA_TEMPLATES_DIR")
	if bin == "" || dir == "" {
		t.Skip("set MAOPAO_LLAMA_CPP_BIN and MAOPAO_LLAMA_TEMPLATES_DIR")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in %s: %v", dir, err)
	}
	msgs := []engine.ChatMessage{
		{Role: "system", Content: "You are Mira, a lighthouse keeper."},
		{Role: "user", Content: "Hello!"},
		{Role: "assistant", Content: "Welcome to the light."},
		{Role: "user", Content: "What do you see tonight?"},
	}
	var same, differ, oursOnly []string
	for _, file := range files {
		name := filepath.Base(file)
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		model := writeWithTemplate(t, string(src))
		e, err := Open(model, Options{Threads: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if e.jinja == nil {
			oursOnly = append(oursOnly, name)
			t.Errorf("%s: our interpreter cannot compile it", name)
			continue
		}
		if _, _, err := e.jinja.Render(msgs, true, templateTokens(e.tok)); err != nil {
			oursOnly = append(oursOnly, name)
			t.Errorf("%s: %v", name, err)
			continue
		}
		ours, _ := e.PromptText(msgs)
		theirs, err := llamaServerPrompt(filepath.Join(bin, "llama-server"), model, file, msgs)
		if err != nil {
			t.Logf("%s: llama-server: %v", name, err)
			continue
		}
		if ours == theirs {
			same = append(same, name)
		} else {
			differ = append(differ, name)
			t.Errorf("%s:\n ours   %q\n theirs %q", name, ours, theirs)
		}
	}
	t.Logf("%d templates give llama-server's prompt, %d differ, %d do not run in our interpreter (family fallback): %s",
		len(same), len(differ), len(oursOnly), strings.Join(oursOnly, ", "))
}

// llamaServerPrompt starts llama-server with the template and asks it for
// the prompt it would run.
func llamaServerPrompt(server, model, template string, msgs []engine.ChatMessage) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var logs bytes.Buffer
	cmd := exec.Command(server, "-m", model, "--jinja", "--chat-template-file", template,
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "-t", "1", "-c", "512", "--no-warmup")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("did not start: %s", tailString(logs.String(), 600))
		}
		time.Sleep(100 * time.Millisecond)
	}
	body, _ := json.Marshal(map[string]any{
		"messages":             msgs,
		"chat_template_kwargs": map[string]any{"enable_thinking": false},
	})
	resp, err := http.Post(base+"/apply-template", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Prompt string `json:"prompt"`
	}
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return "", fmt.Errorf("apply-template: %s: %s", resp.Status, tailString(b.String(), 300))
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Prompt, nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
