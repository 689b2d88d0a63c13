package engine

import (
	"context"
	"sync"
)

// Swappable is a Generator whose model can be replaced while it serves:
// generations already running finish on the model they started with, new
// ones use the new model, and the old model is closed once its last
// generation ends. Its zero value has no model; Swap gives it one.
type Swappable struct {
	mu  sync.Mutex
	cur *inUse
}

type inUse struct {
	g     Generator
	close func() error
	wg    sync.WaitGroup
}

// Swap makes g the model of every new generation. close, if not nil,
// is called for the model g replaces once nothing runs on it any more.
func (s *Swappable) Swap(g Generator, close func() error) {
	s.mu.Lock()
	old := s.cur
	s.cur = &inUse{g: g, close: close}
	s.mu.Unlock()
	if old != nil && old.close != nil {
		go func() {
			old.wg.Wait()
			_ = old.close()
		}()
	}
}

// Close closes the current model after its running generations.
func (s *Swappable) Close() error {
	s.mu.Lock()
	cur := s.cur
	s.cur = nil
	s.mu.Unlock()
	if cur == nil || cur.close == nil {
		return nil
	}
	cur.wg.Wait()
	return cur.close()
}

func (s *Swappable) acquire() *inUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.wg.Add(1)
	}
	return s.cur
}

func (s *Swappable) current() Generator {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	return s.cur.g
}

// Generate runs on the model current when it starts.
func (s *Swappable) Generate(ctx context.Context, req Request, onToken func(Token) error) (Result, error) {
	u := s.acquire()
	if u == nil {
		return Result{}, ErrNoModel
	}
	defer u.wg.Done()
	return u.g.Generate(ctx, req, onToken)
}

// CountTokens counts with the current model's tokenizer.
func (s *Swappable) CountTokens(text string) int {
	if g := s.current(); g != nil {
		return g.CountTokens(text)
	}
	return len(text)/4 + 1
}

// ContextSize is the current model's.
func (s *Swappable) ContextSize() int {
	if g := s.current(); g != nil {
		return g.ContextSize()
	}
	return 0
}

// Embed is the current engine's, when it embeds.
func (s *Swappable) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if g := s.current(); g != nil {
		if e, ok := EmbedderOf(g); ok {
			return e.Embed(ctx, texts)
		}
	}
	return nil, ErrNoEmbeddings
}

// SeesPictures is the current engine's.
func (s *Swappable) SeesPictures() bool {
	if g := s.current(); g != nil {
		return SeesPictures(g)
	}
	return false
}

// Describe says what the current model is.
func (s *Swappable) Describe() string {
	if g := s.current(); g != nil {
		return g.Describe()
	}
	return "no model loaded"
}

// Current returns the model new generations use (nil for none).
func (s *Swappable) Current() Generator { return s.current() }

// Load is the current model's, when it reports one.
func (s *Swappable) Load() Load {
	if lr, ok := s.current().(LoadReporter); ok {
		return lr.Load()
	}
	return Load{}
}
