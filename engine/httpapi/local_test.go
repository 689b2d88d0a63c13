package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/modelgen"
)

// TestWithLocalEngine serves a tiny random model and checks that the
// streamed deltas add up to the non-streamed answer for the same request.
func TestWithLocalEngine(t *testing.T) {
	e := openTiny(t)
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

// A full queue is answered 503 with Retry-After, and /metrics shows the
// queue, the running conversation and the prefix cache.
func TestOverloadedAndLoadMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.Write(path, modelgen.Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	e, err := local.Open(path, local.Options{Threads: 1, MaxConcurrent: 1, MaxQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(New(e, "tiny"))
	defer srv.Close()
	req := engine.Request{Messages: []engine.ChatMessage{{Role: "user", Content: "Hold the slot."}}, MaxTokens: 8}
	hold, running := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		n := 0
		_, _ = e.Generate(context.Background(), req, func(engine.Token) error {
			if n++; n == 1 {
				close(running)
				<-hold
			}
			return nil
		})
	}()
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	go func() {
		defer close(waiting)
		_, _ = e.Generate(ctx, req, nil)
	}()
	for e.Stats().WaitingRequests != 1 {
		time.Sleep(time.Millisecond)
	}

	resp := post(t, srv.URL, `{"messages":[{"role":"user","content":"One too many."}]}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a request past the queue bound: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	m, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(m.Body)
	m.Body.Close()
	for _, want := range []string{"maopao_engine_queue_length 1", "maopao_engine_active_sequences 1", "maopao_engine_slots 1",
		"maopao_engine_prefix_cache_lookups_total 1", "maopao_engine_kv_bytes "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	close(hold)
	<-done
	<-waiting
}

// openTiny opens the local engine on a tiny random model, closed when the
// test ends.
func openTiny(t *testing.T) *local.Engine {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.Write(path, modelgen.Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	e, err := local.Open(path, local.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}
