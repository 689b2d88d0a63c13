package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
)

// memoryAPI calls the memory manager's REST endpoints as one player.
type memoryAPI struct {
	t     *testing.T
	base  string
	token string
}

func (m memoryAPI) do(method, path string, body any, dst any) int {
	m.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, m.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+m.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if dst != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
			m.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// list reads every page of the player's memories of a character.
func (m memoryAPI) list(charID string) []maopao.ChatMemory {
	m.t.Helper()
	var all []maopao.ChatMemory
	for offset := 0; ; {
		var out struct {
			Memories []maopao.ChatMemory `json:"memories"`
			Next     *int                `json:"next"`
		}
		if code := m.do("GET", fmt.Sprintf("/api/v1/memories?limit=200&offset=%d&character=%s", offset, charID), nil, &out); code != 200 {
			m.t.Fatalf("list memories: %d", code)
		}
		all = append(all, out.Memories...)
		if out.Next == nil {
			return all
		}
		offset = *out.Next
	}
}

// Long-term memory through the real platform, prompts checked at a
// recording OpenAI-compatible server: a fact told 200 lines ago is recalled
// when it fits; a pinned memory is in every prompt; a forgotten one in
// none again; and nothing of one player's memories reaches another's.
func TestChatMemoriesRecallPinForgetAndIsolation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL, c.ModelPath = hs.URL, ""
		c.LinesPerSecond, c.LineBurst = 1000, 1000
		c.MemoryWorkAfter = -1 // the checks read the reply prompts; keeper_test.go and TestChatMemoryWork test the rest
	})
	defer srv.Close()

	ada, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, ada)
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := chars[0]
	op, err := c.OpenChat(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	lastPrompt := func() string {
		reqs := llm.all()
		var b strings.Builder
		for _, m := range reqs[len(reqs)-1] {
			b.WriteString(m.Role + ": " + m.Content + "\n")
		}
		return b.String()
	}
	say := func(text string) string {
		t.Helper()
		if _, err := c.Say(ctx, op.ConversationID, text, nil); err != nil {
			t.Fatalf("say %q: %v", text, err)
		}
		return lastPrompt()
	}

	say("My sister Lin works as a nurse at the river hospital.")
	say("I live in Hangzhou.")
	for i := 0; i < 200; i++ {
		say(fmt.Sprintf("Line %d: the weather is mild and the tea is warm.", i))
	}
	prompt := say("How is my sister doing these days?")
	if !strings.Contains(prompt, "nurse at the river hospital") {
		t.Fatalf("a fact told 200 lines ago is not recalled when it fits:\n%.3000s", prompt)
	}
	if strings.Count(prompt, "My sister Lin works") != 1 {
		t.Errorf("the recalled line appears %d times", strings.Count(prompt, "My sister Lin works"))
	}

	api := memoryAPI{t: t, base: srv.URL(), token: ada}
	mems := api.list(ch.ID)
	var sister, hangzhou []string
	for _, m := range mems {
		if strings.Contains(m.Text, "sister Lin") {
			sister = append(sister, m.ID)
		}
		if strings.Contains(m.Text, "Hangzhou") {
			hangzhou = append(hangzhou, m.ID)
		}
	}
	if len(sister) == 0 || len(hangzhou) < 2 {
		t.Fatalf("memories listed: %d; the sister line %v, Hangzhou (said + fact) %v", len(mems), sister, hangzhou)
	}

	// A note, pinned: in every prompt from now on, whatever is said.
	var note maopao.ChatMemory
	if code := api.do("POST", "/api/v1/memories?character="+ch.ID, map[string]any{"text": "Ada is allergic to peanuts.", "pinned": true}, &note); code != 201 {
		t.Fatalf("add a pinned note: %d", code)
	}
	for _, line := range []string{"What should we cook tonight?", "Tell me a story about dragons.", "Line about nothing at all."} {
		if p := say(line); !strings.Contains(p, "allergic to peanuts") {
			t.Errorf("the pinned note is missing from the prompt for %q", line)
		}
	}

	// Forget the sister (the line and anything about it) and Hangzhou:
	// never in a prompt again, even when asked about.
	for _, id := range append(sister, hangzhou...) {
		if code := api.do("DELETE", "/api/v1/memories/"+id, nil, nil); code != 204 {
			t.Fatalf("forget %s: %d", id, code)
		}
	}
	for i := 0; i < 45; i++ { // push the lines themselves out of the history window
		say(fmt.Sprintf("Filler %d about the garden.", i))
	}
	for _, q := range []string{"How is my sister doing these days?", "Where do I live? Hangzhou, remember?"} {
		p := say(q)
		for _, gone := range []string{"nurse at the river hospital", "They live in Hangzhou", "I live in Hangzhou"} {
			if strings.Contains(p, gone) {
				t.Errorf("forgotten %q is in the prompt for %q", gone, q)
			}
		}
	}
	// Unpinned, the note is no longer forced in, and another player's
	// memory cannot be touched.
	if code := api.do("PATCH", "/api/v1/memories/"+note.ID, map[string]any{"pinned": false}, nil); code != 200 {
		t.Errorf("unpin: %d", code)
	}

	// Another player of the same character: none of Ada's memories in
	// their prompts, none in their list, and hers are not theirs to change.
	bo, _, err := chatclient.NewSession(ctx, srv.URL(), "Bo")
	if err != nil {
		t.Fatal(err)
	}
	c2 := dial(t, ctx, srv, bo)
	op2, err := c2.OpenChat(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"Do you know anyone allergic to peanuts?", "Tell me about the weather and the tea."} {
		if _, err := c2.Say(ctx, op2.ConversationID, line, nil); err != nil {
			t.Fatal(err)
		}
		p := lastPrompt()
		for _, ada := range []string{"allergic to peanuts.", "Ada", "mild and the tea"} {
			if strings.Contains(p, ada) && !strings.Contains(line, ada) {
				t.Errorf("Bo's prompt holds Ada's %q", ada)
			}
		}
	}
	bob := memoryAPI{t: t, base: srv.URL(), token: bo}
	for _, m := range bob.list(ch.ID) {
		if m.PlayerID != "" && (strings.Contains(m.Text, "Ada") || strings.Contains(m.Text, "Ada is allergic") || strings.Contains(m.Text, "sister")) {
			t.Errorf("Bo's memory list holds Ada's %q", m.Text)
		}
	}
	if code := bob.do("DELETE", "/api/v1/memories/"+note.ID, nil, nil); code != 404 {
		t.Errorf("another player forgetting Ada's memory: %d, want 404", code)
	}
	if code := bob.do("PATCH", "/api/v1/memories/"+note.ID, map[string]any{"text": "hacked"}, nil); code != 404 {
		t.Errorf("another player editing Ada's memory: %d, want 404", code)
	}
}
