// Package openaitest is an OpenAI-compatible chat completions server for
// tests: it streams "reply N" to the Nth request and records every prompt;
// like a server without a vision model, it refuses pictures.
// A prompt whose last message contains SLOW streams words until the
// client goes away; one containing FAIL gets a 500 the first time.
package openaitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/maopao/maopao/engine"
)

// Server is a running stand-in; URL is what --llm-url takes.
type Server struct {
	*httptest.Server
	// Prefix starts every reply (default "reply "): the Nth says Prefix+N.
	Prefix string

	mu       sync.Mutex
	requests [][]engine.ChatMessage
	failed   map[string]bool
}

// Start runs a stand-in until the test ends.
func Start(t interface{ Cleanup(func()) }) *Server {
	s := &Server{Prefix: "reply ", failed: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var wire struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&wire); err != nil || len(wire.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	// Like llama-server without a multimodal projector, it takes text and
	// refuses pictures.
	var req struct{ Messages []engine.ChatMessage }
	for _, m := range wire.Messages {
		var text string
		if json.Unmarshal(m.Content, &text) != nil {
			http.Error(w, `{"error":{"code":400,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		req.Messages = append(req.Messages, engine.ChatMessage{Role: m.Role, Content: text})
	}
	last := req.Messages[len(req.Messages)-1].Content
	s.mu.Lock()
	s.requests = append(s.requests, req.Messages)
	n := len(s.requests)
	fail := strings.Contains(last, "FAIL") && !s.failed[last]
	if fail {
		s.failed[last] = true
	}
	prefix := s.Prefix
	s.mu.Unlock()
	if fail {
		http.Error(w, "the model server is down", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	piece := func(text string) {
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", text)
		w.(http.Flusher).Flush()
	}
	if strings.Contains(last, "SLOW") {
		for i := 0; ; i++ {
			piece(fmt.Sprintf("word%d ", i))
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	piece(prefix)
	piece(fmt.Sprint(n))
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

// Last is the last prompt, one "role: content" line per message.
func (s *Server) Last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return ""
	}
	var b strings.Builder
	for _, m := range s.requests[len(s.requests)-1] {
		b.WriteString(m.Role + ": " + m.Content + "\n")
	}
	return b.String()
}
