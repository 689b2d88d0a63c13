// Package local is Maopao's in-process inference engine: it opens a GGUF
// model, builds the tokenizer and chat template from its metadata, and
// implements engine.Generator with the engine/model forward pass. Concurrent
// requests run in their own KV-cache sequences of one shared block cache;
// a new request reuses the cached prefix of the most similar earlier
// conversation, so a long shared persona prompt is computed once.
package local

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/chattmpl"
	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/tokenizer"
)

// Options tunes an Engine; the zero value picks sensible defaults.
type Options struct {
	Threads     int // goroutines for the matrix kernels; 0 = runtime.NumCPU()
	ContextSize int // tokens per conversation; 0 = the model's, capped at DefaultMaxContext
	// ChatTemplate names a hand-written chat format (chattmpl.Parse) to use
	// instead of the model file's own Jinja template; "" runs the file's
	// template, falling back to the family detected from it.
	ChatTemplate  string
	MaxConcurrent int // conversations held in the KV cache at once; 0 = 4
	// PrefixCacheBytes is the KV memory kept, beyond the running
	// conversations', for prompts of conversations that ended (a
	// character's persona, a chat's history), evicted least recently used
	// first: llama.cpp's --cache-ram. 0 = as much as the running
	// conversations take, at most DefaultPrefixCacheMiB; negative = none.
	PrefixCacheBytes int64
	// MaxQueue bounds the requests waiting for a free conversation slot;
	// past it Generate fails at once with engine.ErrOverloaded instead of
	// holding memory for a wait nobody can afford. 0 = 16 per slot.
	MaxQueue int
	// CacheTypeK and CacheTypeV are how the KV cache stores keys and
	// values; the zero value is float16, as llama.cpp's default.
	CacheTypeK, CacheTypeV model.CacheType
	// Log gets the warnings about the model file that loading passes over
	// (as llama.cpp does); nil logs to slog.Default.
	Log *slog.Logger
}

// DefaultMaxContext caps the context when Options.ContextSize is 0, so a
// model trained for 128k positions does not reserve a huge KV cache.
const DefaultMaxContext = 4096

// DefaultPrefixCacheMiB caps the default prefix cache (llama.cpp's
// --cache-ram default).
const DefaultPrefixCacheMiB = 8192

// DefaultMaxTokens is the completion length when a request sets none.
const DefaultMaxTokens = 256

// promptChunk is how many prompt tokens go through one forward pass: big
// enough to batch the matrix work, small enough to bound scratch memory and
// to notice cancellation during a long prompt.
const promptChunk = maxBatchTokens

// Engine is a loaded local model. It implements engine.Generator and is
// safe for concurrent use.
type Engine struct {
	need      MemoryNeed
	embedMu   sync.Mutex // one embedding pass at a time
	file      *gguf.File
	model     *model.Model
	tok       *tokenizer.Tokenizer
	family    chattmpl.Family
	jinja     *chattmpl.Template // the file's own template; nil = family
	stops     []string
	ctxSize   int
	untrained bool
	desc      string

	slotsFree chan int // ids of free sequence slots
	maxQueue  int64
	waiting   atomic.Int64 // requests waiting for a slot
	active    atomic.Int32 // conversations that hold a slot and will queue a step (see gather)

	mu     sync.Mutex // guards kv, prefix, slots and the counters; held for each forward pass
	kv     *model.KVCache
	prefix *prefixCache // nil when Options.PrefixCacheBytes < 0
	slots  []slot
	stats  Stats

	qmu   sync.Mutex // guards queue, shortRun and closed
	queue []*step
	// shortRun counts the passes in a row that carried short prompts alone
	// (takeBatch).
	shortRun int
	closed   bool
	wake     chan struct{} // a step was queued
	stop     chan struct{} // closed by Close
	stopped  chan struct{} // closed when the scheduler has exited
}

// slot remembers what a KV-cache sequence holds (exactly its cached
// tokens, kept up to date after every forward pass), for prefix reuse.
type slot struct {
	tokens []int
	// While the slot computes its prompt: the prompt, and a channel closed
	// when it is done, for conversations that want to borrow its prefix.
	pending []int
	ready   chan struct{}
}

// Stats counts the engine's work since Open.
type Stats struct {
	ForwardPasses      int // model forward passes
	SequenceSteps      int // prompt chunks and decode steps they carried; > ForwardPasses when conversations were batched
	PromptTokens       int // prompt tokens requested
	CachedPromptTokens int // of those, found in the KV cache and not recomputed
	PrefixHits         int // requests that found part of their prompt cached
	Requests           int // requests that reached the model
	// The KV cache now: blocks of model.BlockSize positions in use, of
	// its capacity; those the prefix cache holds; and how many it gave
	// back under memory pressure so far.
	KVBlocksInUse, KVBlocks      int
	PrefixBlocks, PrefixEvicted  int
	KVBlockBytes                 int64
	ActiveSequences, QueuedSteps int
	WaitingRequests              int // for a conversation slot
}

var _ engine.Generator = (*Engine)(nil)

// Open loads the GGUF model at path.
func Open(path string, opts Options) (*Engine, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	e, err := New(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local: %s: %w", path, err)
	}
	return e, nil
}

// New builds an engine over an already opened file; Close closes it.
func New(f *gguf.File, opts Options) (*Engine, error) {
	m, err := model.Load(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromMetadata(f.Metadata)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	for _, w := range tok.Warnings() {
		log.Warn("model file: " + w)
	}
	if tok.VocabSize() > m.Config.Vocab {
		return nil, fmt.Errorf("tokenizer has %d tokens but the model only %d embeddings", tok.VocabSize(), m.Config.Vocab)
	}
	fam, err := pickTemplate(f, opts.ChatTemplate)
	if err != nil {
		return nil, err
	}
	var jinja *chattmpl.Template
	if opts.ChatTemplate == "" {
		jinja = loadJinja(f, tok, fam, log)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	m.Threads = threads
	ctxSize := opts.ContextSize
	if ctxSize <= 0 {
		ctxSize = min(m.Config.ContextLength, DefaultMaxContext)
	}
	if ctxSize > m.Config.ContextLength {
		return nil, fmt.Errorf("context size %d exceeds the model's %d", ctxSize, m.Config.ContextLength)
	}
	conc := opts.MaxConcurrent
	if conc <= 0 {
		conc = 4
	}
	need := needs(f, m, conc, ctxSize, opts.CacheTypeK, opts.CacheTypeV)
	need.PrefixCache = prefixCacheBytes(opts.PrefixCacheBytes, need)
	perPos := need.KVPerConversation / int64(ctxSize)
	// The running conversations always have their room: the prefix cache
	// lives in what is beyond it, and gives blocks back when they need it.
	kv, err := model.NewKVCacheOf(m, conc*ctxSize+int(need.PrefixCache/perPos), ctxSize, opts.CacheTypeK, opts.CacheTypeV)
	if err != nil {
		return nil, err
	}
	if err := checkFits(need); err != nil {
		return nil, err
	}
	log.Info("model memory", "needs", need.String())
	untrained, _ := f.Metadata["maopao.untrained"].(bool)
	e := &Engine{
		file: f, model: m, tok: tok, family: fam, jinja: jinja, stops: chattmpl.StopStrings(fam),
		ctxSize: ctxSize, untrained: untrained,
		slotsFree: make(chan int, conc),
		kv:        kv,
		slots:     make([]slot, conc),
	}
	if opts.PrefixCacheBytes >= 0 {
		e.prefix = newPrefixCache(kv)
	}
	e.maxQueue = int64(opts.MaxQueue)
	if e.maxQueue <= 0 {
		e.maxQueue = 16 * int64(conc)
	}
	for i := 0; i < conc; i++ {
		e.slotsFree <- i
	}
	e.wake = make(chan struct{}, 1)
	e.stop = make(chan struct{})
	e.stopped = make(chan struct{})
	go e.schedule()
	e.desc = describe(m, untrained)
	e.need = need
	return e, nil
}

// prefixCacheBytes is the prefix cache's size for the option's value.
func prefixCacheBytes(opt int64, need MemoryNeed) int64 {
	switch {
	case opt < 0:
		return 0
	case opt > 0:
		return opt
	}
	return min(int64(need.Conversations)*need.KVPerConversation, DefaultPrefixCacheMiB<<20)
}

// Needs says what the engine takes in memory.
func (e *Engine) Needs() MemoryNeed { return e.need }

func pickTemplate(f *gguf.File, name string) (chattmpl.Family, error) {
	if name != "" {
		return chattmpl.Parse(name)
	}
	src, _ := f.Metadata["tokenizer.chat_template"].(string)
	return chattmpl.Detect(src), nil
}

// loadJinja compiles the file's chat template and tries it on a
// conversation like the ones characters have. A template that cannot run
// or cannot keep message text apart from control tokens is passed over
// with a warning, for the family detected from it.
func loadJinja(f *gguf.File, tok *tokenizer.Tokenizer, fam chattmpl.Family, log *slog.Logger) *chattmpl.Template {
	src, _ := f.Metadata["tokenizer.chat_template"].(string)
	if strings.TrimSpace(src) == "" {
		return nil
	}
	t, err := chattmpl.Compile(src)
	if err == nil {
		probe := []engine.ChatMessage{
			{Role: "system", Content: "You are a character."},
			{Role: "user", Content: "Hello."},
			{Role: "assistant", Content: "Hello to you."},
			{Role: "user", Content: "How are you?"},
		}
		_, _, err = t.Render(probe, true, templateTokens(tok))
	}
	if err != nil {
		log.Warn(fmt.Sprintf("model file: its chat template is not used (%v); prompts use the hand-written %s format", err, fam))
		return nil
	}
	return t
}

func templateTokens(tok *tokenizer.Tokenizer) chattmpl.Tokens {
	var t chattmpl.Tokens
	if tok.BOS() >= 0 {
		t.BOS = tok.TokenText(tok.BOS())
	}
	if tok.EOS() >= 0 {
		t.EOS = tok.TokenText(tok.EOS())
	}
	return t
}

func describe(m *model.Model, untrained bool) string {
	c := m.Config
	var b strings.Builder
	if c.MoE() {
		fmt.Fprintf(&b, "local MoE engine: %s %d layers, %d experts top-%d, %v", c.Arch, c.Layers, c.Experts, c.ExpertsUsed, m.WeightType())
	} else {
		fmt.Fprintf(&b, "local engine: %s %d layers, dense, %v", c.Arch, c.Layers, m.WeightType())
	}
	if untrained {
		b.WriteString(" (untrained random weights)")
	}
	return b.String()
}

// Close stops the scheduler and releases the model file. Generate calls
// still running fail; later calls fail at once.
func (e *Engine) Close() error {
	e.qmu.Lock()
	if e.closed {
		e.qmu.Unlock()
		return nil
	}
	e.closed = true
	e.qmu.Unlock()
	close(e.stop)
	<-e.stopped
	return e.file.Close()
}

// Untrained reports whether the file says its weights are random
// (metadata maopao.untrained), so the platform can tell users.
func (e *Engine) Untrained() bool { return e.untrained }

// Model exposes the loaded network (for benchmarks and tools).
func (e *Engine) Model() *model.Model { return e.model }

// Tokenizer exposes the model's tokenizer.
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// Describe says in one line what produces the text.
func (e *Engine) Describe() string { return e.desc }

// ContextSize is the number of tokens one conversation may hold.
func (e *Engine) ContextSize() int { return e.ctxSize }

// maxEmbedTokens bounds one text's embedding pass.
const maxEmbedTokens = 512

// Embed returns each text's embedding: the model's final hidden states,
// mean-pooled and scaled to unit length. Texts longer than 512 tokens are
// cut. One text at a time, beside the generation batches.
func (e *Engine) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		toks := e.tok.Encode(t, true, false)
		if len(toks) == 0 {
			toks = e.tok.Encode(" ", true, false)
		}
		if len(toks) > maxEmbedTokens {
			toks = toks[:maxEmbedTokens]
		}
		e.embedMu.Lock()
		v, err := e.model.EmbedText(ctx, toks)
		e.embedMu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("local: embed text %d: %w", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// SeesPictures: the local engine runs text models only (reading a
// multimodal projector is not done yet).
func (e *Engine) SeesPictures() bool { return false }

// CountTokens counts the tokens of text as it would appear inside a prompt.
func (e *Engine) CountTokens(text string) int { return len(e.tok.Encode(text, false, false)) }

// Prompt renders messages through the chat template and tokenizes them the
// way Generate does.
func (e *Engine) Prompt(msgs []engine.ChatMessage) []int {
	text, plain := e.PromptText(msgs)
	return e.tok.EncodeGuarded(text, e.tok.AddBOS(), plain)
}

// PromptText is the text of Prompt before tokenizing, with where each
// message's text lies in it (the rest is template and control tokens).
func (e *Engine) PromptText(msgs []engine.ChatMessage) (string, [][2]int) {
	if e.jinja != nil {
		tt := templateTokens(e.tok)
		if text, plain, err := e.jinja.Render(msgs, true, tt); err == nil {
			// As llama.cpp does: the tokenizer adds BOS, so a template's own
			// BOS text goes.
			if bos := tt.BOS; e.tok.AddBOS() && bos != "" && strings.HasPrefix(text, bos) {
				text = text[len(bos):]
				for i := range plain {
					plain[i][0] -= len(bos)
					plain[i][1] -= len(bos)
				}
			}
			return text, plain
		}
		// These messages are ones the template refuses; the family
		// detected from it still writes a prompt the model knows.
	}
	bos := ""
	if e.tok.BOS() >= 0 && !e.tok.AddBOS() {
		bos = e.tok.TokenText(e.tok.BOS())
	}
	// Message texts come from players and creators: special-token text
	// inside them (a typed "<|im_end|>") stays text, so nobody can close
	// their turn and write a system message of their own.
	return chattmpl.ApplyGuarded(e.family, msgs, true, bos)
}
