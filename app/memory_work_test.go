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

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine"
)

// thinkingLLM answers chat replies, and the memory keeper's ratings,
// reflections and summaries, as a model would; it keeps the reply prompts.
type thinkingLLM struct {
	mu      sync.Mutex
	replies [][]engine.ChatMessage
	kinds   map[string]int
}

func (l *thinkingLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []engine.ChatMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	last := req.Messages[len(req.Messages)-1].Content
	kind, answer := "reply", "Aye."
	switch {
	case strings.Contains(last, "how significant is this memory"):
		kind, answer = "rate", "8"
	case strings.Contains(last, "high-level insights"):
		kind, answer = "reflect", "1. Ada is drawn to the sea (because of 1, 2)"
	case strings.Contains(last, "Write the summary of this conversation"):
		kind, answer = "summary", "ENGINE-SUMMARY: Ada told of the sea, the lighthouse and her sister."
	}
	l.mu.Lock()
	if l.kinds == nil {
		l.kinds = map[string]int{}
	}
	l.kinds[kind]++
	if kind == "reply" {
		l.replies = append(l.replies, req.Messages)
	}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", answer)
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

// The engine's memory work through the platform: while the player talks
// nothing else is asked of the engine; once the chat is quiet, new memories
// are rated, a reflection and a summary written (the memory manager shows
// them), and the next reply's prompt carries the summary.
func TestChatMemoryWork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &thinkingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL, c.ModelPath = hs.URL, ""
		c.LinesPerSecond, c.LineBurst = 1000, 1000
		c.MemoryWorkAfter = 300 * time.Millisecond
	})
	defer srv.Close()
	g := openGuestChat(t, ctx, srv, "Ada")
	token, c, chars, op := g.token, g.c, g.chars, g.op
	for i := 0; i < 26; i++ {
		if _, err := c.Say(ctx, op.ConversationID, fmt.Sprintf("Line %d: I keep thinking about the sea and my sister.", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	llm.mu.Lock()
	busy := llm.kinds["rate"] + llm.kinds["reflect"] + llm.kinds["summary"]
	llm.mu.Unlock()
	if busy > 1 {
		t.Errorf("%d memory calls while the player was talking", busy)
	}

	api := memoryAPI{t: t, base: srv.URL(), token: token}
	var summary, reflection, rated bool
	for deadline := time.Now().Add(time.Minute); !(summary && reflection && rated); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute of quiet: summary %v, reflection %v, rated %v", summary, reflection, rated)
		}
		for _, m := range api.list(chars[0].ID) {
			summary = summary || (m.Kind == maopao.ChatMemorySummary && strings.HasPrefix(m.Text, "ENGINE-SUMMARY"))
			reflection = reflection || (m.Kind == maopao.ChatMemoryReflection && len(m.Evidence) > 0)
			rated = rated || (m.Kind == maopao.ChatMemorySaid && m.Rated && m.Importance == 8)
		}
	}
	if _, err := c.Say(ctx, op.ConversationID, "Where were we?", nil); err != nil {
		t.Fatal(err)
	}
	llm.mu.Lock()
	prompt := llm.replies[len(llm.replies)-1][0].Content
	llm.mu.Unlock()
	if !strings.Contains(prompt, "ENGINE-SUMMARY: Ada told of the sea") {
		t.Fatalf("the reply's prompt lacks the engine's summary:\n%s", prompt)
	}
}

// With the local engine (it makes embeddings), a quiet chat's memories get
// embeddings in the store, for recall by meaning; the memory manager does
// not show them.
func TestChatMemoriesGetEmbeddings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LinesPerSecond, c.LineBurst, c.MemoryWorkAfter = 1000, 1000, 200*time.Millisecond
	})
	defer srv.Close()
	g := openGuestChat(t, ctx, srv, "Ada")
	token, player, c, chars, op := g.token, g.player, g.c, g.chars, g.op
	if _, err := c.Say(ctx, op.ConversationID, "My brother Tom plays the violin.", nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		mems, err := srv.Store().ChatMemories(ctx, player, chars[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(mems) > 0 && len(mems[0].Embedding) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no embedding after a quiet minute: %+v", mems)
		}
	}
	api := memoryAPI{t: t, base: srv.URL(), token: token}
	for _, m := range api.list(chars[0].ID) {
		if len(m.Embedding) > 0 {
			t.Fatal("the memory manager shows the store's embedding")
		}
	}
	// The next line is recalled with its embedding (and answered).
	if _, err := c.Say(ctx, op.ConversationID, "How is your sibling's music?", nil); err != nil {
		t.Fatal(err)
	}
}
