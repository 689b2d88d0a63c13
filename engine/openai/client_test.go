package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/engine"
)

func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return New(hs.URL + "/v1")
}

func collect(c *Client, ctx context.Context) (engine.Result, []string, error) {
	var pieces []string
	res, err := c.Generate(ctx, engine.Request{Messages: []engine.ChatMessage{{Role: "user", Content: "hi"}}, MaxTokens: 8},
		func(t engine.Token) error { pieces = append(pieces, t.Text); return nil })
	return res, pieces, err
}

func TestStreamWithCommentsUsageAndDone(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			t.Errorf("path %s", r.URL.Path)
		}
		fmt.Fprint(w, ": keep-alive\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"你好\"}}]}\n\n")
		fmt.Fprint(w, "data:{\"choices\":[{\"delta\":{\"content\":\" world\"},\"finish_reason\":\"length\"}]}\n\n")
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":2}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	res, pieces, err := collect(c, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "|") != "你好| world" || res.Text != "你好 world" || res.FinishReason != "length" || res.PromptTokens != 7 || res.CompletionTokens != 2 {
		t.Fatalf("got %+v pieces %q", res, pieces)
	}
}

func TestErrorsSayWhat(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":{"message":"the request exceeds the available context size"}}`, http.StatusBadRequest)
	})
	if _, _, err := collect(c, context.Background()); !errors.Is(err, engine.ErrPromptTooLong) || !strings.Contains(err.Error(), "400") {
		t.Fatalf("context overflow: %v", err)
	}
	c = serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "model not loaded", http.StatusServiceUnavailable)
	})
	if _, _, err := collect(c, context.Background()); err == nil || !strings.Contains(err.Error(), "model not loaded") {
		t.Fatalf("503: %v", err)
	}
	c = serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: {\"error\":{\"message\":\"out of memory\"}}\n\n")
	})
	if _, _, err := collect(c, context.Background()); err == nil || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("error chunk: %v", err)
	}
	// A server that goes away mid-reply: the stream just ends.
	c = serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"half a\"}}]}\n\n")
	})
	if res, _, err := collect(c, context.Background()); !errors.Is(err, engine.ErrUnavailable) || res.Text != "half a" {
		t.Fatalf("a stream that ends unfinished: %+v %v, want ErrUnavailable", res, err)
	}
	c = serve(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "data: {not json\n\n") })
	if _, _, err := collect(c, context.Background()); err == nil || !strings.Contains(err.Error(), "bad stream chunk") {
		t.Fatalf("bad chunk: %v", err)
	}
}

func TestCancellationStopsTheStream(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	var pieces []string
	_, err := c.Generate(ctx, engine.Request{}, func(t engine.Token) error {
		pieces = append(pieces, t.Text)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second || len(pieces) != 1 {
		t.Fatalf("cancel: %v after %v, pieces %q", err, time.Since(start), pieces)
	}
}
