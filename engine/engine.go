// Package engine is the boundary between the platform and whatever produces
// dialogue. It owns the request/response types and the Generator interface;
// implementations live in sub-packages: engine/local (Maopao's in-process
// Mixture-of-Experts engine over GGUF files) and engine/openai (a client for
// any OpenAI-compatible /v1/chat/completions server).
package engine

import (
	"context"
	"errors"
	"fmt"
)

// ChatMessage is one message of a chat prompt, in the roles chat templates use.
type ChatMessage struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
	// Pictures shown with the message, for engines that see (a user's
	// message only). Prompts carry their IDs; the caller loads the bytes
	// just before the call.
	Pictures []Picture `json:"pictures,omitempty"`
}

// Picture is a picture in a chat message.
type Picture struct {
	ID   string `json:"id"`
	Type string `json:"type,omitempty"` // image/png or image/jpeg, with Data
	Data []byte `json:"-"`
}

// Embedder turns texts into vectors whose cosine says how alike they
// are (relevance beside BM25 in memory recall).
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// ErrNoEmbeddings is returned (wrapped) by an engine that cannot embed.
var ErrNoEmbeddings = errors.New("the engine cannot make embeddings")

// EmbedderOf is gen as an Embedder, when it is one.
func EmbedderOf(gen Generator) (Embedder, bool) {
	e, ok := gen.(Embedder)
	return e, ok
}

// ErrNoVision is returned (wrapped) by an engine that cannot take
// pictures: the same request without them may be answered.
var ErrNoVision = errors.New("the engine cannot see pictures")

// SeesPictures says whether pictures may be sent to gen: engines that know
// they cannot see say so (a SeesPictures method returning false); others
// are sent pictures and answer ErrNoVision if they cannot.
func SeesPictures(gen Generator) bool {
	if s, ok := gen.(interface{ SeesPictures() bool }); ok {
		return s.SeesPictures()
	}
	return true
}

// Request asks for one completion of a chat.
type Request struct {
	Messages  []ChatMessage
	MaxTokens int // <= 0 means the implementation's default

	// Sampling. The zero value means greedy decoding.
	Temperature      float32
	TopK             int
	TopP             float32
	MinP             float32
	RepeatPenalty    float32 // 1 or 0 = off
	PresencePenalty  float32
	FrequencyPenalty float32
	Seed             uint64
	Stop             []string
	// IgnoreEOS keeps end-of-generation tokens from being sampled and drops
	// the chat template's own stop strings (Stop still applies), so the
	// completion runs to MaxTokens as llama.cpp's --ignore-eos does; for
	// benchmarks and comparisons, not for chat.
	IgnoreEOS bool `json:",omitempty"`
}

// Token is one streamed piece of a completion.
type Token struct {
	ID   int    // model token id; -1 when the implementation does not know it
	Text string // decoded text of this piece (may be empty for a partial UTF-8 sequence)
}

// Result summarises a finished completion.
type Result struct {
	Text             string
	PromptTokens     int
	CompletionTokens int
	// FinishReason is "stop" (EOS or a stop string), "length" or "cancelled".
	FinishReason string
}

// Generator produces completions. Implementations must be safe for
// concurrent use; Generate must return promptly with ctx.Err() when ctx is
// cancelled (for example when the player leaves).
type Generator interface {
	// Generate runs the request and calls onToken for each piece as it is
	// produced. If onToken returns an error, generation stops and Generate
	// returns that error.
	Generate(ctx context.Context, req Request, onToken func(Token) error) (Result, error)
	// CountTokens counts how many tokens text takes in the model's
	// tokenizer, so callers can fit prompts into ContextSize.
	CountTokens(text string) int
	// ContextSize is the model's context window in tokens.
	ContextSize() int
	// Describe says in one line what is producing the text (shown to users,
	// for example "local MoE engine: qwen3moe, untrained random weights").
	Describe() string
}

// ErrPromptTooLong is returned (wrapped) when a prompt does not fit the context.
var ErrPromptTooLong = errors.New("prompt exceeds the model's context")

// ErrNoModel is returned by a Swappable that has no model yet.
var ErrNoModel = errors.New("no model is loaded")

// ErrUnavailable is returned (wrapped) when the engine cannot be reached
// or is overloaded for now (a refused connection, HTTP 429, 502, 503 or
// 504): the
// same request may well succeed in a moment.
var ErrUnavailable = errors.New("the engine is unavailable for now")

// ErrOverloaded is returned (wrapped) when an engine's queue of waiting
// requests is full; it is an ErrUnavailable, and servers answer it with
// 503 and Retry-After.
var ErrOverloaded = fmt.Errorf("%w: too many requests are waiting", ErrUnavailable)

// Transient reports whether err is worth trying again after a pause.
func Transient(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoModel)
}

// Load is what an engine is doing now and what it holds, for metrics and
// for choosing among engines.
type Load struct {
	// Running conversations, of Slots that may run at once, and requests
	// waiting for one.
	Active, Slots, Waiting int
	// Prompt tokens requested since start, and those found in the KV
	// cache (not recomputed); Requests and PrefixHits count requests and
	// those that found part of their prompt cached.
	PromptTokens, CachedPromptTokens int64
	Requests, PrefixHits             int64
	// KV cache memory in use of its capacity, and the part the prefix
	// cache holds for conversations no longer running.
	KVBytes, KVCapacity, PrefixCacheBytes int64
	PrefixEvictedBytes                    int64
}

// LoadReporter is a Generator that says its Load.
type LoadReporter interface {
	Load() Load
}
