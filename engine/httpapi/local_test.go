package httpapi

import (
	"bufio"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/modelgen"
)

// TestWithLocalEngine serves a tiny random model and checks that the
// streamed deltas add up to the non-streamed answer for the same request.
func TestWithLocalEngine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.Write(path, modelgen.Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	e, err := local.Open(path, local.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(New(e, "tiny"))
	defer srv.Close()
	body := `{"messages":[{"role":"system","content":"You are a cat."},{"role":"user","content":"你好！"}],"max_tokens":12,"temperature":0}`

	resp := post(t, srv.URL, body)
	var full struct {
		Choices []struct {
			Message struct{ Content string }
		}
		Usage usage
	}
	if err := json.NewDecoder(resp.Body).Decode(&full); err != nil {
		t.Fatal(err)
	}
	if full.Usage.CompletionTokens == 0 || full.Usage.PromptTokens == 0 {
		t.Fatalf("usage %+v", full.Usage)
	}

	resp = post(t, srv.URL, strings.Replace(body, `{"messages"`, `{"stream":true,"messages"`, 1))
	sc := bufio.NewScanner(resp.Body)
	var streamed strings.Builder
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatal(err)
		}
		streamed.WriteString(c.Choices[0].Delta["content"])
	}
	if streamed.String() != full.Choices[0].Message.Content {
		t.Errorf("streamed %q, non-streamed %q", streamed.String(), full.Choices[0].Message.Content)
	}
}
