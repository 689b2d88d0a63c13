// Package httpapi serves any engine.Generator over an OpenAI-compatible HTTP
// API: POST /v1/chat/completions (streaming as server-sent events or one
// JSON response) and GET /v1/models. Errors are application/problem+json
// documents that also carry an OpenAI-style "error" member, so both kinds
// of client can read them.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maopao/maopao/engine"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 4 << 20

// MaxTokensLimit bounds max_tokens of one request.
const MaxTokensLimit = 1 << 16

// Server is an http.Handler over a Generator.
type Server struct {
	// MetricsPublic serves /metrics to every address, not only this
	// machine.
	MetricsPublic bool

	gen    engine.Generator
	model  string
	mux    *http.ServeMux
	seq    atomic.Uint64
	now    func() time.Time
	probes *probes
}

// New returns a handler that serves g under the model name modelName.
func New(g engine.Generator, modelName string) *Server {
	if modelName == "" {
		modelName = "maopao-local"
	}
	s := &Server{gen: g, model: modelName, mux: http.NewServeMux(), now: time.Now, probes: newProbes(g)}
	s.registerProbes()
	s.mux.HandleFunc("/v1/chat/completions", s.chat)
	s.mux.HandleFunc("/v1/models", s.models)
	s.mux.HandleFunc("/v1/embeddings", s.embeddings)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "not_found", "Not found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, typ, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://maopao.dev/problems/" + typ,
		"title":  title,
		"status": status,
		"detail": detail,
		"error":  map[string]any{"message": detail, "type": typ, "code": typ},
	})
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID            string `json:"id"`
	Object        string `json:"object"`
	Created       int64  `json:"created"`
	OwnedBy       string `json:"owned_by"`
	Description   string `json:"description,omitempty"`
	ContextLength int    `json:"context_length,omitempty"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed", "use GET")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(modelList{Object: "list", Data: []modelInfo{{
		ID: s.model, Object: "model", Created: 0, OwnedBy: "maopao",
		Description: s.gen.Describe(), ContextLength: s.gen.ContextSize(),
	}}})
}

// ChatRequest is the accepted subset of OpenAI's chat completion request,
// plus the llama.cpp extensions top_k, min_p, repeat_penalty and
// ignore_eos (for benchmarks: the reply runs to max_tokens).
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []ChatMessage   `json:"messages"`
	Stream              bool            `json:"stream"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float64        `json:"min_p"`
	RepeatPenalty       *float64        `json:"repeat_penalty"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	N                   *int            `json:"n"`
	IgnoreEOS           bool            `json:"ignore_eos"`
}

// ChatMessage accepts content as a string or as an array of text parts.
type ChatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// ParseChatRequest decodes and validates a request body into an
// engine.Request, saying what is wrong and where.
func ParseChatRequest(body []byte) (ChatRequest, engine.Request, error) {
	var cr ChatRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&cr); err != nil {
		return cr, engine.Request{}, fmt.Errorf("request body is not a valid chat completion request: %v", err)
	}
	if dec.More() {
		return cr, engine.Request{}, errors.New("request body has data after the JSON object")
	}
	req := engine.Request{}
	if len(cr.Messages) == 0 {
		return cr, req, errors.New("messages: at least one message is required")
	}
	for i, m := range cr.Messages {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			return cr, req, fmt.Errorf("messages[%d].role: %q is not one of system, user, assistant", i, m.Role)
		}
		text, err := contentText(m.Content)
		if err != nil {
			return cr, req, fmt.Errorf("messages[%d].content: %v", i, err)
		}
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		req.Messages = append(req.Messages, engine.ChatMessage{Role: role, Content: text})
	}
	if cr.N != nil && *cr.N != 1 {
		return cr, req, fmt.Errorf("n: only 1 choice is supported, got %d", *cr.N)
	}
	mt := cr.MaxTokens
	if cr.MaxCompletionTokens != nil {
		mt = cr.MaxCompletionTokens
	}
	if mt != nil {
		if *mt < 1 || *mt > MaxTokensLimit {
			return cr, req, fmt.Errorf("max_tokens: %d is outside 1..%d", *mt, MaxTokensLimit)
		}
		req.MaxTokens = *mt
	}
	f32 := func(name string, p *float64, lo, hi float64, dst *float32) error {
		if p == nil {
			return nil
		}
		if math.IsNaN(*p) || *p < lo || *p > hi {
			return fmt.Errorf("%s: %v is outside %v..%v", name, *p, lo, hi)
		}
		*dst = float32(*p)
		return nil
	}
	for _, c := range []error{
		f32("temperature", cr.Temperature, 0, 2, &req.Temperature),
		f32("top_p", cr.TopP, 0, 1, &req.TopP),
		f32("min_p", cr.MinP, 0, 1, &req.MinP),
		f32("repeat_penalty", cr.RepeatPenalty, 0, 10, &req.RepeatPenalty),
		f32("presence_penalty", cr.PresencePenalty, -2, 2, &req.PresencePenalty),
		f32("frequency_penalty", cr.FrequencyPenalty, -2, 2, &req.FrequencyPenalty),
	} {
		if c != nil {
			return cr, req, c
		}
	}
	if cr.TopK != nil {
		if *cr.TopK < 0 {
			return cr, req, fmt.Errorf("top_k: %d is negative", *cr.TopK)
		}
		req.TopK = *cr.TopK
	}
	if cr.Seed != nil {
		req.Seed = uint64(*cr.Seed)
	}
	stops, err := stopList(cr.Stop)
	if err != nil {
		return cr, req, fmt.Errorf("stop: %v", err)
	}
	req.Stop = stops
	req.IgnoreEOS = cr.IgnoreEOS
	return cr, req, nil
}

func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of text parts")
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part %d has type %q: this engine cannot see pictures; only text parts are supported", i, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func stopList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("must be a string or an array of strings")
	}
	if len(many) > 16 {
		return nil, fmt.Errorf("%d stop strings; at most 16", len(many))
	}
	return many, nil
}

type chunkChoice struct {
	Index        int               `json:"index"`
	Delta        map[string]string `json:"delta"`
	FinishReason *string           `json:"finish_reason"`
}

type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usage        `json:"usage,omitempty"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int                `json:"index"`
		Message      engine.ChatMessage `json:"message"`
		FinishReason string             `json:"finish_reason"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		problem(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed", "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, "body_too_large", "Request body too large", fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes))
			return
		}
		problem(w, http.StatusBadRequest, "bad_request", "Unreadable body", err.Error())
		return
	}
	cr, req, err := ParseChatRequest(body)
	if err != nil {
		problem(w, http.StatusBadRequest, "invalid_request_error", "Invalid request", err.Error())
		return
	}
	s.probes.inFlight.Inc()
	defer s.probes.inFlight.Dec()
	id := fmt.Sprintf("chatcmpl-%d-%d", s.now().UnixNano(), s.seq.Add(1))
	created := s.now().Unix()
	model := s.model
	if cr.Model != "" {
		model = cr.Model
	}
	if cr.Stream {
		s.stream(w, r.Context(), req, id, created, model)
		return
	}
	res, err := s.gen.Generate(r.Context(), req, nil)
	s.probes.count(r.Context(), res, err)
	if err != nil {
		writeGenError(w, r.Context(), err)
		return
	}
	var out completion
	out.ID, out.Object, out.Created, out.Model = id, "chat.completion", created, model
	out.Choices = make([]struct {
		Index        int                `json:"index"`
		Message      engine.ChatMessage `json:"message"`
		FinishReason string             `json:"finish_reason"`
	}, 1)
	out.Choices[0].Message = engine.ChatMessage{Role: "assistant", Content: res.Text}
	out.Choices[0].FinishReason = res.FinishReason
	out.Usage = usage{res.PromptTokens, res.CompletionTokens, res.PromptTokens + res.CompletionTokens}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func writeGenError(w http.ResponseWriter, ctx context.Context, err error) {
	switch {
	case errors.Is(err, engine.ErrPromptTooLong):
		problem(w, http.StatusBadRequest, "context_length_exceeded", "Prompt too long", err.Error())
	case errors.Is(err, engine.ErrOverloaded):
		// As llama-server and OpenAI answer a full queue: try again soon.
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "overloaded", "Too many requests are waiting", err.Error())
	case ctx.Err() != nil:
		// The client is gone; nobody reads a response.
	default:
		problem(w, http.StatusInternalServerError, "engine_error", "Generation failed", err.Error())
	}
}

func (s *Server) stream(w http.ResponseWriter, ctx context.Context, req engine.Request, id string, created int64, model string) {
	flusher, _ := w.(http.Flusher)
	started := false
	send := func(v any) error {
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	mk := func(delta map[string]string, finish *string) chunk {
		return chunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []chunkChoice{{Delta: delta, FinishReason: finish}}}
	}
	first := true
	res, err := s.gen.Generate(ctx, req, func(t engine.Token) error {
		if first {
			first = false
			if err := send(mk(map[string]string{"role": "assistant", "content": ""}, nil)); err != nil {
				return err
			}
		}
		return send(mk(map[string]string{"content": t.Text}, nil))
	})
	s.probes.count(ctx, res, err)
	if err != nil {
		if !started {
			writeGenError(w, ctx, err)
			return
		}
		if ctx.Err() == nil {
			send(map[string]any{"error": map[string]any{"message": err.Error(), "type": "engine_error"}})
		}
		return
	}
	if first {
		send(mk(map[string]string{"role": "assistant", "content": ""}, nil))
	}
	fr := res.FinishReason
	end := mk(map[string]string{}, &fr)
	end.Usage = &usage{res.PromptTokens, res.CompletionTokens, res.PromptTokens + res.CompletionTokens}
	send(end)
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}
