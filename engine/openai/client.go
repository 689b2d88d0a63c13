// Package openai is an engine.Generator that talks to any server offering
// the OpenAI-compatible /v1/chat/completions API with streaming (llama.cpp's
// llama-server, vLLM, Ollama, Maopao's own `maopao engine serve`, ...).
package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maopao/maopao/engine"
)

// Client is an engine.Generator over HTTP. BaseURL is the server root
// (for example http://127.0.0.1:8081); a trailing /v1 is accepted too.
type Client struct {
	BaseURL string
	APIKey  string // sent as a bearer token when set
	Model   string // the "model" field; "" lets the server pick
	// Context is the context size to assume for prompt budgeting (default 4096).
	Context int
	HTTP    *http.Client

	// blind is set once the server refused pictures: it is not sent any
	// again; noEmbed once it had no embeddings.
	blind, noEmbed atomic.Bool
}

// SeesPictures is true until the server refuses a request for its
// pictures.
func (c *Client) SeesPictures() bool { return !c.blind.Load() }

// wireMessage is a chat message as the API takes it: content is a string,
// or text and image_url parts when the message carries pictures.
type wireMessage struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

type contentPart struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

func wireMessages(msgs []engine.ChatMessage) (out []wireMessage, pictures bool) {
	out = make([]wireMessage, len(msgs))
	for i, m := range msgs {
		out[i] = wireMessage{Role: m.Role, Content: m.Content}
		var parts []contentPart
		for _, p := range m.Pictures {
			if len(p.Data) == 0 {
				continue
			}
			parts = append(parts, contentPart{Type: "image_url", ImageURL: &imageURL{URL: "data:" + p.Type + ";base64," + base64.StdEncoding.EncodeToString(p.Data)}})
		}
		if len(parts) > 0 {
			pictures = true
			out[i].Content = append([]contentPart{{Type: "text", Text: m.Content}}, parts...)
		}
	}
	return out, pictures
}

// New returns a client for baseURL.
func New(baseURL string) *Client {
	return &Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: 0}}
}

func (c *Client) endpoint() string { return c.url("/v1/chat/completions") }

// url is path (under /v1) on the server; a base URL given with its /v1
// works too.
func (c *Client) url(path string) string {
	return strings.TrimSuffix(strings.TrimRight(c.BaseURL, "/"), "/v1") + path
}

// post sends a JSON body to u with the client's key and HTTP client.
func (c *Client) post(ctx context.Context, u string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("openai: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}

// Describe implements engine.Generator.
func (c *Client) Describe() string {
	m := c.Model
	if m == "" {
		m = "server default model"
	}
	return "OpenAI-compatible server at " + c.BaseURL + " (" + m + ")"
}

// ContextSize implements engine.Generator.
func (c *Client) ContextSize() int {
	if c.Context > 0 {
		return c.Context
	}
	return 4096
}

// CountTokens estimates: the remote tokenizer is not reachable through this
// API, and about four bytes a token holds for most BPE vocabularies;
// erring high keeps prompts inside the server's context.
func (c *Client) CountTokens(text string) int { return (len(text)+2)/3 + 1 }

type chatRequest struct {
	Model            string          `json:"model,omitempty"`
	Messages         []wireMessage   `json:"messages"`
	Stream           bool            `json:"stream"`
	MaxTokens        int             `json:"max_tokens,omitempty"`
	Temperature      *float32        `json:"temperature,omitempty"`
	TopP             float32         `json:"top_p,omitempty"`
	TopK             int             `json:"top_k,omitempty"`
	MinP             float32         `json:"min_p,omitempty"`
	PresencePenalty  float32         `json:"presence_penalty,omitempty"`
	FrequencyPenalty float32         `json:"frequency_penalty,omitempty"`
	RepeatPenalty    float32         `json:"repeat_penalty,omitempty"`
	Seed             *uint64         `json:"seed,omitempty"`
	Stop             []string        `json:"stop,omitempty"`
	StreamOptions    map[string]bool `json:"stream_options,omitempty"`
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// Generate implements engine.Generator with a streaming request.
func (c *Client) Generate(ctx context.Context, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	temp := req.Temperature
	msgs, pictures := wireMessages(req.Messages)
	body := chatRequest{
		Model: c.Model, Messages: msgs, Stream: true, MaxTokens: req.MaxTokens,
		Temperature: &temp, TopP: req.TopP, TopK: req.TopK, MinP: req.MinP,
		PresencePenalty: req.PresencePenalty, FrequencyPenalty: req.FrequencyPenalty,
		Stop: req.Stop, StreamOptions: map[string]bool{"include_usage": true},
	}
	if req.RepeatPenalty != 0 && req.RepeatPenalty != 1 {
		body.RepeatPenalty = req.RepeatPenalty
	}
	if req.Seed != 0 {
		seed := req.Seed
		body.Seed = &seed
	}
	b, _ := json.Marshal(body)
	resp, err := c.post(ctx, c.endpoint(), b, "text/event-stream")
	if err != nil {
		if ctx.Err() != nil {
			return engine.Result{FinishReason: "cancelled"}, ctx.Err()
		}
		return engine.Result{}, fmt.Errorf("openai: POST %s: %w: %w", c.endpoint(), engine.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		err := fmt.Errorf("openai: POST %s: %s: %s", c.endpoint(), resp.Status, strings.TrimSpace(string(msg)))
		low := bytes.ToLower(msg)
		switch {
		case pictures && resp.StatusCode/100 == 4 && refusesPictures(low):
			// Servers without a vision model say so in a 400 (llama-server:
			// "image input is not supported"; ours: "cannot see pictures").
			c.blind.Store(true)
			err = fmt.Errorf("%w: %v", engine.ErrNoVision, err)
		case resp.StatusCode == http.StatusBadRequest && bytes.Contains(low, []byte("context")):
			err = fmt.Errorf("%w: %v", engine.ErrPromptTooLong, err)
		case transientStatus(resp.StatusCode):
			err = fmt.Errorf("%w: %v", engine.ErrUnavailable, err)
		}
		return engine.Result{}, err
	}
	var res engine.Result
	var text strings.Builder
	// finished: the server said the reply is whole ([DONE] or a finish
	// reason). A stream that just ends is a server that went away.
	finished := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data:") {
			continue // comments, event names, blank separators
		}
		data := strings.TrimSpace(strings.TrimPrefix(line, "data:"))
		if data == "[DONE]" {
			finished = true
			break
		}
		var ch chunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return res, fmt.Errorf("openai: bad stream chunk %.80q: %w", data, err)
		}
		if ch.Error != nil {
			return res, fmt.Errorf("openai: server error: %s", ch.Error.Message)
		}
		if ch.Usage != nil {
			res.PromptTokens, res.CompletionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
		}
		for _, choice := range ch.Choices {
			if choice.Delta.Content != "" {
				text.WriteString(choice.Delta.Content)
				if err := onToken(engine.Token{ID: -1, Text: choice.Delta.Content}); err != nil {
					res.Text = text.String()
					return res, err
				}
			}
			if choice.FinishReason != nil && *choice.FinishReason != "" {
				res.FinishReason = *choice.FinishReason
				finished = true
			}
		}
	}
	res.Text = text.String()
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			res.FinishReason = "cancelled"
			return res, ctx.Err()
		}
		return res, fmt.Errorf("openai: read stream: %w: %w", engine.ErrUnavailable, err)
	}
	if ctx.Err() != nil {
		res.FinishReason = "cancelled"
		return res, ctx.Err()
	}
	if !finished {
		return res, fmt.Errorf("openai: read stream: %w: the stream ended before the reply was finished", engine.ErrUnavailable)
	}
	if res.FinishReason == "" {
		res.FinishReason = "stop"
	}
	return res, nil
}

// Ping checks that the server answers (GET /v1/models), for /healthz.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u := c.url("/v1/models")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("llm server %s: %w", c.BaseURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return errors.New("llm server " + c.BaseURL + ": " + resp.Status)
	}
	return nil
}

// transientStatus: the server is overloaded or not there for now. A 500
// is not among them: it is as likely to come again for the same request.
func transientStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// refusesPictures says whether an error body (lower case) is about the
// pictures a request carried.
func refusesPictures(low []byte) bool {
	for _, w := range []string{"image", "picture", "vision", "multimodal", "mmproj"} {
		if bytes.Contains(low, []byte(w)) {
			return true
		}
	}
	return false
}

// Embed asks the server's /v1/embeddings for the texts' vectors. A server
// without embeddings (404, 400, 501) answers engine.ErrNoEmbeddings, and
// is not asked again.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if c.noEmbed.Load() {
		return nil, engine.ErrNoEmbeddings
	}
	body, _ := json.Marshal(map[string]any{"model": c.Model, "input": texts})
	u := c.url("/v1/embeddings")
	resp, err := c.post(ctx, u, body, "application/json")
	if err != nil {
		return nil, fmt.Errorf("openai: POST %s: %w: %w", u, engine.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("openai: POST %s: %w: %w", u, engine.ErrUnavailable, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNotImplemented || resp.StatusCode == http.StatusBadRequest:
		c.noEmbed.Store(true)
		return nil, fmt.Errorf("openai: POST %s: %s: %w", u, resp.Status, engine.ErrNoEmbeddings)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("openai: POST %s: %s: %w", u, resp.Status, engine.ErrUnavailable)
	}
	var out struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Data) != len(texts) {
		return nil, fmt.Errorf("openai: POST %s: unreadable embeddings (%v, %d for %d texts)", u, err, len(out.Data), len(texts))
	}
	vecs := make([][]float32, len(texts))
	for _, d := range out.Data {
		if d.Index < 0 || d.Index >= len(texts) || len(d.Embedding) == 0 {
			return nil, fmt.Errorf("openai: POST %s: embedding index %d out of range", u, d.Index)
		}
		vecs[d.Index] = d.Embedding
	}
	for i, v := range vecs {
		if v == nil {
			return nil, fmt.Errorf("openai: POST %s: no embedding for text %d", u, i)
		}
	}
	return vecs, nil
}
