// Package openaitest is an OpenAI-compatible chat completions server for
// tests: it streams "reply N" to the Nth request and records every prompt.
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
	var req struct {
		Messages []engine.ChatMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
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
