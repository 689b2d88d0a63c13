package local

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/sample"
	"github.com/maopao/maopao/engine/tokenizer"
)

// Generate runs one chat completion; see engine.Generator. With
// Temperature > 0, Seed 0 draws a fresh random seed; any other seed makes
// the completion reproducible.
func (e *Engine) Generate(ctx context.Context, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	prompt := e.Prompt(req.Messages)
	return e.GenerateTokens(ctx, prompt, req, onToken)
}

// GenerateTokens is Generate for an already tokenized prompt (req.Messages
// is ignored).
func (e *Engine) GenerateTokens(ctx context.Context, prompt []int, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	res := engine.Result{PromptTokens: len(prompt)}
	maxTokens, err := e.check(prompt, req)
	if err != nil {
		return res, err
	}
	seq, err := e.acquireSlot(ctx)
	if err != nil {
		if ctx.Err() != nil {
			res.FinishReason = "cancelled"
		}
		return res, err
	}
	defer func() { e.slotsFree <- seq }()
	// From here to the end, the scheduler waits after each pass for this
	// conversation's next step (Engine.gather).
	e.active.Add(1)
	defer func() {
		e.active.Add(-1)
		e.poke()
	}()

	logits, err := e.prefill(ctx, seq, prompt, &res)
	if err != nil {
		return res, err
	}
	d := e.newDecoding(prompt, req, maxTokens)
	return d.run(ctx, e, seq, logits, res, onToken)
}

// acquireSlot waits for a free conversation slot, within the queue bound.
func (e *Engine) acquireSlot(ctx context.Context) (int, error) {
	select {
	case seq := <-e.slotsFree:
		return seq, nil
	default:
	}
	if n := e.waiting.Add(1); n > e.maxQueue {
		e.waiting.Add(-1)
		return 0, fmt.Errorf("local: %w: %d requests wait for one of %d conversation slots", engine.ErrOverloaded, n-1, len(e.slots))
	}
	defer e.waiting.Add(-1)
	select {
	case seq := <-e.slotsFree:
		return seq, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// check refuses a prompt the model cannot take and returns how many tokens
// may be generated after it.
func (e *Engine) check(prompt []int, req engine.Request) (int, error) {
	if len(prompt) == 0 {
		return 0, fmt.Errorf("local: empty prompt")
	}
	if len(prompt)+1 > e.ctxSize {
		return 0, fmt.Errorf("local: %w: %d prompt tokens + 1 to generate > context of %d", engine.ErrPromptTooLong, len(prompt), e.ctxSize)
	}
	for i, t := range prompt {
		if t < 0 || t >= e.model.Config.Vocab {
			return 0, fmt.Errorf("local: prompt token %d at index %d is outside the vocabulary of %d", t, i, e.model.Config.Vocab)
		}
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = DefaultMaxTokens
	}
	return min(maxTokens, e.ctxSize-len(prompt)), nil
}

// prefill runs the prompt through the model in sequence seq and returns the
// logits after its last token, reusing whatever prefix of it the cache
// already holds. When another conversation is computing a longer common
// prefix right now (players opening chats with the same character at
// once), it waits for it and borrows it instead of computing the same
// tokens twice.
func (e *Engine) prefill(ctx context.Context, seq int, prompt []int, res *engine.Result) ([]float32, error) {
	var pos int
	for {
		p, wait, err := e.startSequence(seq, prompt)
		if err != nil {
			return nil, err
		}
		if wait == nil {
			pos = p
			break
		}
		// Waiting on another conversation's prefix, this one has nothing
		// for the scheduler to wait for (Engine.gather).
		e.active.Add(-1)
		select {
		case <-wait:
		case <-ctx.Done():
			e.active.Add(1)
			res.FinishReason = "cancelled"
			return nil, ctx.Err()
		}
		e.active.Add(1)
	}
	defer e.promptDone(seq)
	var logits []float32
	for pos < len(prompt) {
		if err := ctx.Err(); err != nil {
			res.FinishReason = "cancelled"
			e.finishSequence(seq, prompt[:pos])
			return nil, err
		}
		end := min(pos+promptChunk, len(prompt))
		out, err := e.forward(seq, pos, prompt[pos:end])
		if err != nil {
			e.finishSequence(seq, prompt[:pos])
			return nil, e.ctxErr(ctx, res, err)
		}
		logits = out
		pos = end
	}
	return logits, nil
}

// decoding is the state of one reply being sampled token by token.
type decoding struct {
	smp       *sample.Sampler
	st        *stopper
	stopIDs   map[int]bool
	dec       *tokenizer.StreamDecoder
	banned    []int // end-of-generation tokens, when the request ignores them
	history   []int // prompt and reply so far
	maxTokens int
}

func (e *Engine) newDecoding(prompt []int, req engine.Request, maxTokens int) *decoding {
	sp := sample.Params{
		Temperature: req.Temperature, TopK: req.TopK, TopP: req.TopP, MinP: req.MinP,
		RepeatPenalty: req.RepeatPenalty, PresencePenalty: req.PresencePenalty,
		FrequencyPenalty: req.FrequencyPenalty, Seed: req.Seed,
	}
	if sp.Seed == 0 && sp.Temperature > 0 {
		// Seed 0 asks for variety: "regenerate" should not repeat itself.
		sp.Seed = rand.Uint64() | 1
	}
	stops := append([]string(nil), req.Stop...)
	if !req.IgnoreEOS {
		stops = append(stops, e.stops...)
	}
	d := &decoding{smp: sample.New(sp), st: newStopper(stops), stopIDs: stopTokenIDs(e.tok, stops),
		dec: e.tok.NewContinuationDecoder(), maxTokens: maxTokens,
		history: append(make([]int, 0, len(prompt)+maxTokens), prompt...)}
	if req.IgnoreEOS {
		for id := range e.tok.VocabSize() {
			if e.tok.IsEOG(id) {
				d.banned = append(d.banned, id)
			}
		}
	}
	return d
}

// run samples until a stop, the length limit, an error or ctx ends.
// Every sampled token is reported, with empty text while its bytes are an
// incomplete UTF-8 sequence or could start a stop string; text held back
// until the end is reported with ID -1.
func (d *decoding) run(ctx context.Context, e *Engine, seq int, logits []float32, res engine.Result, onToken func(engine.Token) error) (engine.Result, error) {
	emit := func(id int, text string) error {
		if onToken == nil || (id < 0 && text == "") {
			return nil
		}
		return onToken(engine.Token{ID: id, Text: text})
	}
	finish := func(reason string) {
		res.FinishReason = reason
		res.Text = d.st.final()
		e.finishSequence(seq, d.history)
	}
	for {
		if err := ctx.Err(); err != nil {
			finish("cancelled")
			return res, err
		}
		for _, id := range d.banned {
			logits[id] = float32(math.Inf(-1))
		}
		id := d.smp.Sample(logits, d.history)
		if e.tok.IsEOG(id) || d.stopIDs[id] {
			err := emit(-1, d.st.push(d.dec.Flush(), true))
			finish("stop")
			return res, err
		}
		res.CompletionTokens++
		d.history = append(d.history, id)
		piece, stopped := d.st.add(d.dec.Push(id))
		last := !stopped && res.CompletionTokens >= d.maxTokens
		if last {
			piece += d.st.push(d.dec.Flush(), true)
		}
		if err := emit(id, piece); err != nil {
			finish("stop")
			return res, err
		}
		if stopped {
			finish("stop")
			return res, nil
		}
		if last {
			finish("length")
			return res, nil
		}
		out, err := e.forward(seq, len(d.history)-1, d.history[len(d.history)-1:])
		if err != nil {
			// The last token never reached the cache.
			d.history = d.history[:len(d.history)-1]
			finish("cancelled")
			return res, e.ctxErr(ctx, &res, err)
		}
		logits = out
	}
}

func (e *Engine) ctxErr(ctx context.Context, res *engine.Result, err error) error {
	if ctx.Err() != nil {
		res.FinishReason = "cancelled"
		return ctx.Err()
	}
	return fmt.Errorf("local: %w", err)
}

// startSequence prepares slot seq for prompt and returns how many of its
// tokens are already in the cache. It keeps the slot's own common prefix,
// or borrows a longer one from another slot's blocks, even from a
// conversation still running (its blocks are shared copy-on-write). If a
// longer prefix is being computed right now it changes nothing and returns
// a channel to wait on before trying again.
func (e *Engine) startSequence(seq int, prompt []int) (int, <-chan struct{}, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if wait := e.prefixInFlight(seq, prompt); wait != nil {
		return 0, wait, nil
	}
	s := &e.slots[seq]
	keep := commonPrefix(s.tokens, prompt)
	from := seq
	for i := range e.slots {
		if i == seq {
			continue
		}
		// Only whole blocks are worth borrowing.
		if n := commonPrefix(e.slots[i].tokens, prompt); n >= keep+model.BlockSize {
			keep, from = n, i
		}
	}
	// At least one prompt token must run to produce logits.
	keep = min(keep, len(prompt)-1)
	// The prefix cache remembers conversations that no slot holds anymore.
	var cached []int
	if e.prefix != nil {
		if blocks := e.prefix.match(prompt[:len(prompt)-1]); len(blocks)*model.BlockSize > keep {
			cached, keep = blocks, len(blocks)*model.BlockSize
		}
	}
	switch {
	case cached != nil:
		e.kv.Adopt(seq, cached, keep)
		s.tokens = append(s.tokens[:0], prompt[:keep]...)
	case from != seq:
		if err := e.kv.Fork(from, seq, keep); err != nil {
			return 0, nil, err
		}
		s.tokens = append(s.tokens[:0], e.slots[from].tokens[:keep]...)
	default:
		e.kv.Truncate(seq, keep)
		s.tokens = s.tokens[:keep]
	}
	if keep > 0 {
		e.stats.PrefixHits++
	}
	e.stats.Requests++
	e.stats.PromptTokens += len(prompt)
	e.stats.CachedPromptTokens += keep
	s.pending, s.ready = prompt, make(chan struct{})
	return keep, nil, nil
}

// prefixInFlight returns a channel to wait on when another slot is still
// computing a prompt that shares at least a block more with prompt than
// anything already cached; nil when there is nothing worth waiting for.
// e.mu is held.
func (e *Engine) prefixInFlight(seq int, prompt []int) <-chan struct{} {
	have := 0
	for i := range e.slots {
		have = max(have, commonPrefix(e.slots[i].tokens, prompt))
	}
	for i := range e.slots {
		sl := &e.slots[i]
		if i == seq || sl.ready == nil {
			continue
		}
		if n := min(commonPrefix(sl.pending, prompt), len(prompt)-1); n >= have+model.BlockSize {
			return sl.ready
		}
	}
	return nil
}

// promptDone marks the end of seq's prompt phase (idempotent), waking
// conversations waiting to borrow its prefix.
func (e *Engine) promptDone(seq int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sl := &e.slots[seq]
	if sl.ready != nil {
		// The prompt's blocks are worth keeping at once: players who open
		// a chat with the same character while this one still runs share
		// them, and they stay after it ends.
		if e.prefix != nil {
			n := min(len(sl.pending), e.kv.SeqLen(seq))
			e.prefix.insert(sl.pending[:n], e.kv.Blocks(seq))
		}
		close(sl.ready)
		sl.ready, sl.pending = nil, nil
	}
}

// finishSequence records what slot seq's cache holds now.
func (e *Engine) finishSequence(seq int, tokens []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := min(len(tokens), e.kv.SeqLen(seq))
	e.kv.Truncate(seq, n)
	e.slots[seq].tokens = append(e.slots[seq].tokens[:0], tokens[:n]...)
	if e.prefix != nil {
		// The conversation so far: its next turn starts with all of it.
		e.prefix.insert(tokens[:n], e.kv.Blocks(seq))
	}
}

// stopTokenIDs maps the stop strings that are control tokens to their ids.
// Control tokens decode to no text, so a stop string such as ChatML's
// <|im_start|> (the model opening another turn) must be caught by id.
func stopTokenIDs(tok *tokenizer.Tokenizer, stops []string) map[int]bool {
	ids := map[int]bool{}
	for _, x := range stops {
		if id, ok := tok.TokenID(x); ok && tok.TokenType(id) == tokenizer.TypeControl {
			ids[id] = true
		}
	}
	return ids
}

func commonPrefix(a, b []int) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// stopper holds back generated text that could be the start of a stop
// string, so a stop string never reaches the client even in part.
type stopper struct {
	stops   []string
	maxLen  int
	text    strings.Builder
	emitted int // bytes of text already handed out
	cut     int // final length once a stop string is found; -1 while none
}

func newStopper(stops []string) *stopper {
	s := &stopper{cut: -1}
	for _, x := range stops {
		if x != "" {
			s.stops = append(s.stops, x)
			s.maxLen = max(s.maxLen, len(x))
		}
	}
	return s
}

// add appends a decoded piece and returns the text now safe to emit and
// whether a stop string was reached.
func (s *stopper) add(piece string) (string, bool) {
	if s.cut >= 0 {
		return "", true
	}
	s.text.WriteString(piece)
	all := s.text.String()
	from := max(0, s.emitted-s.maxLen)
	best := -1
	for _, x := range s.stops {
		if i := strings.Index(all[from:], x); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	if best >= 0 {
		s.cut = best
		out := ""
		if best > s.emitted {
			out = all[s.emitted:best]
			s.emitted = best
		}
		return out, true
	}
	safe := len(all) - s.held(all)
	if safe <= s.emitted {
		return "", false
	}
	out := all[s.emitted:safe]
	s.emitted = safe
	return out, false
}

// push appends a final piece (flush) and, at the end, releases held text.
func (s *stopper) push(piece string, end bool) string {
	out, stopped := s.add(piece)
	if stopped || !end {
		return out
	}
	all := s.text.String()
	out += all[s.emitted:]
	s.emitted = len(all)
	return out
}

// held is the length of the longest suffix of all that is a proper prefix
// of a stop string.
func (s *stopper) held(all string) int {
	h := 0
	for _, x := range s.stops {
		for n := min(len(x)-1, len(all)); n > h; n-- {
			if strings.HasSuffix(all, x[:n]) {
				h = n
				break
			}
		}
	}
	return h
}

func (s *stopper) final() string {
	all := s.text.String()
	if s.cut >= 0 {
		return all[:s.cut]
	}
	return all
}
