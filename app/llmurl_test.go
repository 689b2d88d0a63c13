package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
)

// capturingLLM is a minimal OpenAI-compatible server that streams a fixed
// reply and records every request it gets.
type capturingLLM struct {
	mu       sync.Mutex
	requests [][]engine.ChatMessage
}

func (l *capturingLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var req struct {
		Messages []engine.ChatMessage `json:"messages"`
		Stream   bool                 `json:"stream"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !req.Stream {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.requests = append(l.requests, req.Messages)
	n := len(l.requests)
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	for _, piece := range []string{"Welcome ", "back, ", fmt.Sprintf("friend #%d.", n)} {
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", piece)
		w.(http.Flusher).Flush()
	}
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

func (l *capturingLLM) all() [][]engine.ChatMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([][]engine.ChatMessage(nil), l.requests...)
}

func TestServeWithLLMURLSendsPersonaAndHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	// Counted requests are replies: no background memory work.
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL = hs.URL; c.ModelPath = ""; c.MemoryWorkAfter = -1 })
	defer srv.Close()

	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Mei Lin")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	if !strings.Contains(c.Welcome().Engine, hs.URL) {
		t.Errorf("engine description %q should name the LLM server", c.Welcome().Engine)
	}
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := chars[0]
	opened, err := c.OpenChat(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	var deltas int
	first, err := c.Say(ctx, opened.ConversationID, "Hi, I live in Hangzhou.", func(protocol.Delta) { deltas++ })
	if err != nil {
		t.Fatal(err)
	}
	if first.Message.Content != "Welcome back, friend #1." || deltas != 3 {
		t.Fatalf("first reply %q after %d deltas; want the server's 3 pieces", first.Message.Content, deltas)
	}
	if _, err := c.Say(ctx, opened.ConversationID, "What's my city?", nil); err != nil {
		t.Fatal(err)
	}
	reqs := llm.all()
	if len(reqs) != 2 {
		t.Fatalf("LLM server got %d requests, want 2", len(reqs))
	}
	second := reqs[1]
	if second[0].Role != "system" || !strings.Contains(second[0].Content, ch.Description) {
		t.Errorf("system message lacks the persona %q:\n%s", ch.Description, second[0].Content)
	}
	if !strings.Contains(second[0].Content, "Hangzhou") || !strings.Contains(second[0].Content, "Mei Lin") {
		t.Errorf("system message lacks what the character remembers about the player:\n%s", second[0].Content)
	}
	var convo []string
	for _, m := range second[1:] {
		convo = append(convo, m.Role+": "+m.Content)
	}
	got := strings.Join(convo, "\n")
	for _, want := range []string{"user: Hi, I live in Hangzhou.", "assistant: Welcome back, friend #1.", "user: What's my city?"} {
		if !strings.Contains(got, want) {
			t.Errorf("prompt history lacks %q; it was:\n%s", want, got)
		}
	}
}

func TestHealthzReportsADownLLMServer(t *testing.T) {
	hs := httptest.NewServer(&capturingLLM{})
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL = hs.URL; c.ModelPath = "" })
	defer srv.Close()
	get := func() int {
		resp, err := http.Get(srv.URL() + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("healthz with the LLM server up: %d", code)
	}
	hs.Close()
	if code := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the LLM server down: %d", code)
	}
}
