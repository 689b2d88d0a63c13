package worldsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/storage/bolt"
)

// mindLLM is an OpenAI-compatible server that answers the keeper's three
// kinds of request and records them; onRate runs before a rating answer
// (a player editing the memory meanwhile).
type mindLLM struct {
	mu       sync.Mutex
	requests map[string][]string // kind → user prompts
	onRate   func(prompt string)
}

func (l *mindLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []engine.ChatMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) < 2 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	prompt := req.Messages[len(req.Messages)-1].Content
	kind, answer := "other", "…"
	switch {
	case strings.Contains(prompt, "how significant is this memory"):
		kind, answer = "rate", "9"
		if l.onRate != nil {
			l.onRate(prompt)
		}
	case strings.Contains(prompt, "high-level insights"):
		kind, answer = "reflect", "1. Ada misses her sister Lin (because of 1, 2)\n2. Ada dreams of the sea (because of 3)\n3. garbage line with no citation"
	case strings.Contains(prompt, "Write the summary of this conversation"):
		kind, answer = "summary", "SUMMARY-V"+fmt.Sprint(len(l.requests["summary"])+1)+": Ada told Mira about her sister Lin and the sea."
	}
	l.mu.Lock()
	if l.requests == nil {
		l.requests = map[string][]string{}
	}
	l.requests[kind] = append(l.requests[kind], prompt)
	l.mu.Unlock()
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", answer)
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

func (l *mindLLM) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.requests[kind])
}

// The keeper rates new memories with the engine (never over a player's
// edit), reflects once the memories weigh enough (insights citing their
// evidence), summarizes the lines that left the window, and does nothing
// again until there is something new; the chat's prompt then carries the
// summary in place of the clipped transcript.
func TestMemoryKeeper(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	llm := &mindLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	k := newKeeper(st, openai.New(hs.URL), slog.New(slog.NewTextHandler(io.Discard, nil)), 0)

	conv, err := st.OpenConversation(ctx, "p1", "mira")
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	const window = 8
	for i := 0; i < 20; i++ {
		role, text := maopao.RoleUser, fmt.Sprintf("Ada line %d about the sea and my sister Lin.", i)
		if i%2 == 1 {
			role, text = maopao.RoleCharacter, fmt.Sprintf("Mira answer %d.", i)
		}
		m := maopao.Message{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ConversationID: conv.ID, Role: role, Content: text, CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if _, _, err := st.AppendMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 12; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		m := maopao.ChatMemory{ID: fmt.Sprintf("m%02d", i), PlayerID: "p1", CharacterID: "mira", Kind: maopao.ChatMemorySaid,
			Text: fmt.Sprintf("Ada said: thing %d about the sea.", i), Importance: 6, CreatedAt: at, UpdatedAt: at}
		if err := st.PutChatMemory(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// The player rewrites m10 while the engine rates it.
	llm.onRate = func(prompt string) {
		if strings.Contains(prompt, "thing 10 ") {
			m, _ := st.GetChatMemory(ctx, "m10")
			m.Kind, m.Text = maopao.ChatMemoryNote, "Ada has two sisters."
			_ = st.PutChatMemory(ctx, m)
		}
	}
	job := keeperJob{PlayerID: "p1", CharacterID: "mira", ConversationID: conv.ID, PlayerName: "Ada", CharacterName: "Mira", Window: window}
	if err := k.work(ctx, job); err != nil {
		t.Fatal(err)
	}

	mems, err := st.ChatMemories(ctx, "p1", "mira")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]maopao.ChatMemory{}
	var reflections []maopao.ChatMemory
	for _, m := range mems {
		byID[m.ID] = m
		if m.Kind == maopao.ChatMemoryReflection {
			reflections = append(reflections, m)
		}
	}
	if llm.count("rate") != ratePerJob {
		t.Fatalf("%d ratings asked, want %d (the newest unrated)", llm.count("rate"), ratePerJob)
	}
	for _, id := range []string{"m11", "m09", "m08"} {
		if m := byID[id]; !m.Rated || m.Importance != 9 {
			t.Errorf("%s after rating: %+v", id, m)
		}
	}
	if m := byID["m10"]; m.Rated || m.Text != "Ada has two sisters." || m.Importance != 6 {
		t.Errorf("the rating overwrote the player's edit: %+v", m)
	}
	if m := byID["m00"]; m.Rated {
		t.Errorf("an old memory beyond this job's ratings was rated: %+v", m)
	}
	if len(reflections) != 2 {
		t.Fatalf("reflections %+v, want the two cited insights", reflections)
	}
	for _, r := range reflections {
		if len(r.Evidence) == 0 || !strings.HasPrefix(r.Evidence[0], "m") {
			t.Errorf("reflection without evidence: %+v", r)
		}
	}
	if !strings.Contains(llm.requests["reflect"][0], "1. Ada said: thing 0 about the sea.") {
		t.Errorf("the reflection prompt does not number the oldest memory first:\n%s", llm.requests["reflect"][0])
	}
	sum := byID[SummaryMemoryID(conv.ID)]
	if sum.Kind != maopao.ChatMemorySummary || !strings.HasPrefix(sum.Text, "SUMMARY-V1") || sum.Covers != 12 || sum.Source != conv.ID {
		t.Fatalf("summary %+v, want one covering the 12 lines before the window", sum)
	}
	if p := llm.requests["summary"][0]; !strings.Contains(p, "Ada: Ada line 0 about") || !strings.Contains(p, "Mira: Mira answer 11.") || strings.Contains(p, "line 12 ") {
		t.Errorf("the summary prompt does not hold exactly the lines that left the window:\n%s", p)
	}

	// Nothing new: no more engine calls.
	ratedBefore := llm.count("rate")
	if err := k.work(ctx, job); err != nil {
		t.Fatal(err)
	}
	// The remaining unrated memories are rated, but nothing else is asked.
	if n := llm.count("reflect") + llm.count("summary"); n != 2 {
		t.Errorf("reflection or summary asked again with nothing new: %d", n)
	}
	if llm.count("rate")-ratedBefore > ratePerJob {
		t.Errorf("more than one job's ratings on the second run")
	}

	// Six more lines leave the window: the summary is written anew from
	// the old one.
	for i := 20; i < 26; i++ {
		m := maopao.Message{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ConversationID: conv.ID, Role: maopao.RoleUser, Content: fmt.Sprintf("later line %d", i), CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if _, _, err := st.AppendMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.work(ctx, job); err != nil {
		t.Fatal(err)
	}
	again, err := st.GetChatMemory(ctx, SummaryMemoryID(conv.ID))
	if err != nil || !strings.HasPrefix(again.Text, "SUMMARY-V2") || again.Covers != 18 {
		t.Fatalf("rewritten summary %+v %v", again, err)
	}
	if p := llm.requests["summary"][1]; !strings.Contains(p, "The summary so far:\nSUMMARY-V1") || strings.Contains(p, "Ada line 0") {
		t.Errorf("the second summary prompt should build on the first, with only the new lines:\n%s", p)
	}

	// The chat's prompt carries the engine's summary, not the clipped
	// transcript.
	s := ChatState{Config: ChatConfig{ContextSize: 4096, MaxTokens: 64}, Conversation: conv, Character: maopao.Character{ID: "mira", Name: "Mira"},
		PlayerName: "Ada", Memory: maopao.Memory{Summary: "CLIPPED TRANSCRIPT"}}
	all, _ := st.ChatMemories(ctx, "p1", "mira")
	g := generate(s, "", "r1", "", all, nil)
	system := g.Request.Messages[0].Content
	if !strings.Contains(system, "SUMMARY-V2") || strings.Contains(system, "CLIPPED TRANSCRIPT") {
		t.Fatalf("the prompt's summary:\n%s", system)
	}
	if !strings.Contains(system, "Ada misses her sister Lin") {
		t.Errorf("the reflection is not recalled:\n%s", system)
	}
}
