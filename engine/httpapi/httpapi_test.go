package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/maopao/maopao/engine"
)

// fake streams the words of the last message back, one token each.
type fake struct {
	mu   sync.Mutex
	last engine.Request
	// block, when set, makes Generate wait for cancellation after one token.
	block bool
}

func (f *fake) Generate(ctx context.Context, req engine.Request, on func(engine.Token) error) (engine.Result, error) {
	f.mu.Lock()
	f.last = req
	f.mu.Unlock()
	text := req.Messages[len(req.Messages)-1].Content
	if text == "TOO LONG" {
		return engine.Result{}, fmt.Errorf("fake: %w: 9000 > 512", engine.ErrPromptTooLong)
	}
	res := engine.Result{PromptTokens: len(req.Messages), FinishReason: "stop"}
	for i, w := range strings.Fields(text) {
		if i > 0 {
			w = " " + w
		}
		if on != nil {
			if err := on(engine.Token{ID: i, Text: w}); err != nil {
				return res, err
			}
		}
		res.Text += w
		res.CompletionTokens++
		if f.block {
			<-ctx.Done()
			res.FinishReason = "cancelled"
			return res, ctx.Err()
		}
	}
	return res, nil
}
func (f *fake) CountTokens(s string) int { return len(strings.Fields(s)) }
func (f *fake) ContextSize() int         { return 512 }
func (f *fake) Describe() string         { return "fake engine" }

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestNonStreaming(t *testing.T) {
	f := &fake{}
	srv := httptest.NewServer(New(f, "tiny"))
	defer srv.Close()
	resp := post(t, srv.URL, `{"model":"m","messages":[{"role":"system","content":"be nice"},{"role":"user","content":[{"type":"text","text":"hello there"},{"type":"text","text":" friend"}]}],"max_tokens":7,"temperature":0.5,"top_k":3,"stop":"x","seed":9,"ignore_eos":true}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out struct {
		Object  string
		Model   string
		Choices []struct {
			Message      engine.ChatMessage
			FinishReason string `json:"finish_reason"`
		}
		Usage usage
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "chat.completion" || out.Model != "m" || len(out.Choices) != 1 ||
		out.Choices[0].Message.Content != "hello there friend" || out.Choices[0].Message.Role != "assistant" ||
		out.Choices[0].FinishReason != "stop" || out.Usage.CompletionTokens != 3 || out.Usage.TotalTokens != 5 {
		t.Errorf("response %+v", out)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.last.MaxTokens != 7 || f.last.Temperature != 0.5 || f.last.TopK != 3 || f.last.Seed != 9 || !f.last.IgnoreEOS ||
		len(f.last.Stop) != 1 || f.last.Stop[0] != "x" || f.last.Messages[0].Role != "system" {
		t.Errorf("engine got %+v", f.last)
	}
}

func TestStreaming(t *testing.T) {
	srv := httptest.NewServer(New(&fake{}, "tiny"))
	defer srv.Close()
	resp := post(t, srv.URL, `{"stream":true,"messages":[{"role":"user","content":"one two three"}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var text strings.Builder
	var events []string
	finish := ""
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "data: ") {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		data := strings.TrimPrefix(line, "data: ")
		events = append(events, data)
		if data == "[DONE]" {
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		if c.Object != "chat.completion.chunk" || c.Model != "tiny" {
			t.Errorf("chunk %+v", c)
		}
		text.WriteString(c.Choices[0].Delta["content"])
		if c.Choices[0].FinishReason != nil {
			finish = *c.Choices[0].FinishReason
		}
	}
	if text.String() != "one two three" || finish != "stop" || events[len(events)-1] != "[DONE]" {
		t.Errorf("text %q finish %q events %v", text.String(), finish, events)
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(New(&fake{}, ""))
	defer srv.Close()
	cases := []struct {
		body   string
		status int
		detail string
	}{
		{`{`, 400, "not a valid"},
		{`{"messages":[]}`, 400, "messages"},
		{`{"messages":[{"role":"wizard","content":"x"}]}`, 400, "messages[0].role"},
		{`{"messages":[{"role":"user","content":5}]}`, 400, "messages[0].content"},
		{`{"messages":[{"role":"user","content":"x"}],"temperature":9}`, 400, "temperature"},
		{`{"messages":[{"role":"user","content":"x"}],"max_tokens":0}`, 400, "max_tokens"},
		{`{"messages":[{"role":"user","content":"x"}],"stop":[1]}`, 400, "stop"},
		{`{"messages":[{"role":"user","content":"x"}],"n":2}`, 400, "n:"},
		{`{"messages":[{"role":"user","content":"TOO LONG"}]}`, 400, "9000"},
		{`{"messages":[{"role":"user","content":"TOO LONG"}],"stream":true}`, 400, "9000"},
	}
	for _, c := range cases {
		resp := post(t, srv.URL, c.body)
		var p struct {
			Status int
			Detail string
			Error  struct{ Message string }
		}
		if resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: content type %q", c.body, resp.Header.Get("Content-Type"))
		}
		json.NewDecoder(resp.Body).Decode(&p)
		if resp.StatusCode != c.status || p.Status != c.status || !strings.Contains(p.Detail, c.detail) || p.Error.Message != p.Detail {
			t.Errorf("%s: status %d problem %+v, want %d mentioning %q", c.body, resp.StatusCode, p, c.status, c.detail)
		}
	}
	resp, err := http.Get(srv.URL + "/v1/chat/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET chat: %d", resp.StatusCode)
	}
	resp = post(t, srv.URL, `{"messages":[{"role":"user","content":"`+strings.Repeat("a", MaxBodyBytes)+`"}]}`)
	if resp.StatusCode != 413 {
		t.Errorf("huge body: %d", resp.StatusCode)
	}
}

func TestModels(t *testing.T) {
	srv := httptest.NewServer(New(&fake{}, "tiny"))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l modelList
	json.NewDecoder(resp.Body).Decode(&l)
	if l.Object != "list" || len(l.Data) != 1 || l.Data[0].ID != "tiny" || l.Data[0].Description != "fake engine" || l.Data[0].ContextLength != 512 {
		t.Errorf("models %+v", l)
	}
}

func TestClientDisconnectCancels(t *testing.T) {
	f := &fake{block: true}
	done := make(chan error, 1)
	h := New(f, "tiny")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		done <- r.Context().Err()
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"stream":true,"messages":[{"role":"user","content":"a b c"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	// Read the first content chunk, then hang up like a player leaving.
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && !strings.Contains(sc.Text(), `"content":"a"`) {
	}
	resp.Body.Close()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("handler finished with %v, want the request context cancelled", err)
	}
}

func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}],"stop":["a","b"],"max_tokens":5}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"temperature":1.5}`))
	f.Add([]byte(`{"messages":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, req, err := ParseChatRequest(body)
		if err == nil && len(req.Messages) == 0 {
			t.Fatal("accepted a request without messages")
		}
		if err == nil && (req.MaxTokens < 0 || req.MaxTokens > MaxTokensLimit) {
			t.Fatalf("accepted max_tokens %d", req.MaxTokens)
		}
	})
}
