package local

import (
	"context"
	"errors"
	"time"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/model"
)

// Continuous batching: every running Generate hands its next forward step
// (a prompt chunk or one decoded token) to a queue, and one scheduler
// goroutine runs everything queued as ONE forward pass, so concurrent
// conversations share each read of the weights. A sequence that is still
// sampling when a pass starts simply joins the next one.

// maxBatchTokens bounds the prompt tokens of one forward pass, so a long
// prompt delays the decode steps batched with it by a bounded amount.
const maxBatchTokens = 256

type step struct {
	seq, pos int
	tokens   []int
	done     chan stepResult
}

type stepResult struct {
	logits []float32
	err    error
}

// forward runs tokens of sequence seq from pos and returns the logits of the
// last one. It waits for the pass it joins even if the caller's context ends
// meanwhile (a pass is short); callers check their context between steps.
func (e *Engine) forward(seq, pos int, tokens []int) ([]float32, error) {
	s := &step{seq: seq, pos: pos, tokens: tokens, done: make(chan stepResult, 1)}
	e.qmu.Lock()
	if e.closed {
		e.qmu.Unlock()
		return nil, errClosed
	}
	e.queue = append(e.queue, s)
	e.qmu.Unlock()
	e.poke()
	r := <-s.done
	return r.logits, r.err
}

// poke wakes the scheduler (a step was queued, or a conversation ended).
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default: // already woken
	}
}

// schedule is the scheduler goroutine; it exits when Close closes stop.
func (e *Engine) schedule() {
	defer close(e.stopped)
	for {
		select {
		case <-e.stop:
			e.qmu.Lock()
			for _, s := range e.queue {
				s.done <- stepResult{err: errClosed}
			}
			e.queue = nil
			e.qmu.Unlock()
			return
		case <-e.wake:
		}
		for {
			e.qmu.Lock()
			batch := e.takeBatch()
			e.qmu.Unlock()
			if len(batch) == 0 {
				break
			}
			e.mu.Lock()
			e.runBatch(batch)
			e.mu.Unlock()
			e.gather()
		}
	}
}

// gatherWait bounds how long the scheduler waits, after a pass, for the
// conversations it carried to queue their next token.
const gatherWait = 2 * time.Millisecond

// gather waits until every conversation holding a slot has queued its next
// step (a decode step, or a prompt chunk), or gatherWait passes. Right after a pass the conversations
// are still sampling: a pass started at once would carry only the first
// few, and the rest would wait a whole pass for the next one, reading
// every expert's weights again for a handful of tokens. (llama-server's
// one loop samples every slot before the next decode, to the same end.)
// It also gives the CPU to the conversations the pass answered: on two
// cores a pass started at once keeps a new player's goroutine from
// sampling and sending its first token until that pass ends, and a new
// request finding its cached prefix (which needs the cache the pass just
// let go) would miss the next pass too. A conversation slow to come back
// (its client reads slowly) delays the others by gatherWait at most.
func (e *Engine) gather() {
	deadline := time.NewTimer(gatherWait)
	defer deadline.Stop()
	for {
		e.qmu.Lock()
		queued := len(e.queue)
		e.qmu.Unlock()
		if queued >= int(e.active.Load()) {
			return
		}
		select {
		case <-e.wake:
			// A step was queued or a conversation ended: count again.
		case <-deadline.C:
			return
		case <-e.stop:
			return
		}
	}
}

// shortPrompt is the most prompt tokens a pass of their own may carry
// ahead of the running conversations, and maxShortRun how many such passes
// may come in a row (see takeBatch).
const (
	shortPrompt = 64
	maxShortRun = 2
)

// takeBatch picks the next pass: every queued decode step (one token each,
// so running conversations never wait behind a long prompt), plus prompt
// chunks in arrival order up to maxBatchTokens prompt tokens (at least one).
//
// Short prompt chunks (a new player's question after a cached persona, the
// end of a long prompt) first get a pass of their own, ahead of the decode
// steps, at most maxShortRun passes in a row: their first token then waits
// for a pass of a few tokens rather than one carrying every running
// conversation, which lose a short pass or two for it. (With one short pass
// between decode passes, a new player arriving just after another had to
// wait for a whole decode pass carrying its prompt too.)
// e.qmu is held.
func (e *Engine) takeBatch() []*step {
	if e.shortRun < maxShortRun {
		var short []*step
		rest := e.queue[:0:0]
		n := 0
		for _, s := range e.queue {
			if len(s.tokens) > 1 && n+len(s.tokens) <= shortPrompt {
				short = append(short, s)
				n += len(s.tokens)
			} else {
				rest = append(rest, s)
			}
		}
		if len(short) > 0 && len(rest) > 0 {
			e.queue = rest
			e.shortRun++
			return short
		}
	}
	e.shortRun = 0
	var batch []*step
	rest := e.queue[:0:0]
	promptTokens := 0
	for _, s := range e.queue {
		switch {
		case len(s.tokens) == 1:
			batch = append(batch, s)
		case promptTokens == 0 || promptTokens+len(s.tokens) <= maxBatchTokens:
			batch = append(batch, s)
			promptTokens += len(s.tokens)
		default:
			rest = append(rest, s)
		}
	}
	e.queue = rest
	return batch
}

// runBatch runs steps as one forward pass; e.mu is held.
func (e *Engine) runBatch(steps []*step) {
	e.stats.ForwardPasses++
	e.stats.SequenceSteps += len(steps)
	var b model.Batch
	last := make([]int, len(steps))
	for k, s := range steps {
		for i, t := range s.tokens {
			b.Tokens = append(b.Tokens, t)
			b.Pos = append(b.Pos, s.pos+i)
			b.Seq = append(b.Seq, s.seq)
			b.Logits = append(b.Logits, i == len(s.tokens)-1)
		}
		last[k] = len(b.Tokens) - 1
	}
	out, err := e.model.Forward(context.Background(), b, e.kv)
	if err != nil && len(steps) > 1 {
		// Isolate the failing step so the others still run.
		for _, s := range steps {
			e.runBatch([]*step{s})
		}
		return
	}
	for k, s := range steps {
		if err != nil {
			s.done <- stepResult{err: err}
			continue
		}
		sl := &e.slots[s.seq]
		sl.tokens = append(sl.tokens[:s.pos], s.tokens...)
		s.done <- stepResult{logits: out[last[k]]}
	}
}

// Stats reports the work done so far.
func (e *Engine) Stats() Stats {
	e.qmu.Lock()
	queued := len(e.queue)
	e.qmu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stats
	st.KVBlocksInUse, st.KVBlocks, st.KVBlockBytes = e.kv.BlocksInUse(), e.kv.Capacity(), e.kv.BlockBytes()
	if e.prefix != nil {
		st.PrefixBlocks, st.PrefixEvicted = e.prefix.nodes, e.prefix.evicted
	}
	st.ActiveSequences = len(e.slots) - len(e.slotsFree)
	st.QueuedSteps = queued
	st.WaitingRequests = int(e.waiting.Load())
	return st
}

var errClosed = errors.New("local: engine closed")

// Load reports the engine's load and cache use (engine.LoadReporter).
func (e *Engine) Load() engine.Load {
	st := e.Stats()
	bb := st.KVBlockBytes
	return engine.Load{
		Active: st.ActiveSequences, Slots: len(e.slots), Waiting: st.WaitingRequests,
		PromptTokens: int64(st.PromptTokens), CachedPromptTokens: int64(st.CachedPromptTokens),
		Requests: int64(st.Requests), PrefixHits: int64(st.PrefixHits),
		KVBytes: int64(st.KVBlocksInUse) * bb, KVCapacity: int64(st.KVBlocks) * bb,
		PrefixCacheBytes: int64(st.PrefixBlocks) * bb, PrefixEvictedBytes: int64(st.PrefixEvicted) * bb,
	}
}
