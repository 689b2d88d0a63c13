package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

type fakeGen struct {
	name    string
	started chan struct{}
	release chan struct{}
	closed  atomic.Bool
}

func (f *fakeGen) Generate(ctx context.Context, _ Request, _ func(Token) error) (Result, error) {
	if f.closed.Load() {
		return Result{}, errors.New("generate on a closed model")
	}
	if f.started != nil {
		close(f.started)
	}
	if f.release != nil {
		<-f.release
	}
	if f.closed.Load() {
		return Result{}, errors.New("closed under a running generation")
	}
	return Result{Text: f.name}, nil
}
func (f *fakeGen) CountTokens(string) int { return 1 }
func (f *fakeGen) ContextSize() int       { return len(f.name) }
func (f *fakeGen) Describe() string       { return f.name }

// A swap lets running generations finish on the old model, sends new ones
// to the new model, and closes the old one only afterwards.
func TestSwappable(t *testing.T) {
	var s Swappable
	if _, err := s.Generate(context.Background(), Request{}, nil); !errors.Is(err, ErrNoModel) {
		t.Fatalf("no model: %v", err)
	}
	a := &fakeGen{name: "a", started: make(chan struct{}), release: make(chan struct{})}
	s.Swap(a, func() error { a.closed.Store(true); return nil })
	done := make(chan Result, 1)
	go func() {
		r, err := s.Generate(context.Background(), Request{}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	<-a.started
	b := &fakeGen{name: "bb"}
	s.Swap(b, func() error { b.closed.Store(true); return nil })
	if r, err := s.Generate(context.Background(), Request{}, nil); err != nil || r.Text != "bb" || s.ContextSize() != 2 || s.Describe() != "bb" {
		t.Fatalf("after the swap: %v %v", r, err)
	}
	if a.closed.Load() {
		t.Fatal("the old model was closed under a running generation")
	}
	close(a.release)
	if r := <-done; r.Text != "a" {
		t.Fatalf("the running generation finished on %q", r.Text)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !a.closed.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !a.closed.Load() {
		t.Fatal("the old model was never closed")
	}
	if err := s.Close(); err != nil || !b.closed.Load() {
		t.Fatalf("close: %v", err)
	}
}
