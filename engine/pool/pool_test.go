package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/engine"
)

// stub is an engine for the pool's routing logic: it answers with its own
// name, or fails as told, and can hold requests until released.
type stub struct {
	name string
	mu   sync.Mutex
	// failBefore fails before any text; failAfter after one piece.
	failBefore, failAfter bool
	hold                  chan struct{}
	calls                 int
}

func (s *stub) Generate(ctx context.Context, req engine.Request, on func(engine.Token) error) (engine.Result, error) {
	s.mu.Lock()
	s.calls++
	before, after, hold := s.failBefore, s.failAfter, s.hold
	s.mu.Unlock()
	if before {
		return engine.Result{}, fmt.Errorf("%s: %w: connection refused", s.name, engine.ErrUnavailable)
	}
	if on != nil {
		if err := on(engine.Token{ID: 1, Text: s.name}); err != nil {
			return engine.Result{}, err
		}
	}
	if after {
		return engine.Result{}, fmt.Errorf("%s: %w: stream cut", s.name, engine.ErrUnavailable)
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return engine.Result{}, ctx.Err()
		}
	}
	return engine.Result{Text: s.name, FinishReason: "stop"}, nil
}
func (s *stub) CountTokens(t string) int { return len(t) }
func (s *stub) ContextSize() int         { return 4096 }
func (s *stub) Describe() string         { return "stub " + s.name }

func newPool(t *testing.T, n int) (*Pool, []*stub) {
	t.Helper()
	var ms []Member
	var stubs []*stub
	for i := 0; i < n; i++ {
		s := &stub{name: fmt.Sprintf("e%d", i)}
		stubs = append(stubs, s)
		ms = append(ms, Member{Name: s.name, Gen: s})
	}
	p, err := New(ms...)
	if err != nil {
		t.Fatal(err)
	}
	return p, stubs
}

func persona(i int) engine.Request {
	return engine.Request{Messages: []engine.ChatMessage{
		{Role: "system", Content: fmt.Sprintf("You are character %d.", i)}, {Role: "user", Content: "Hello"}}}
}

// Every turn of a character goes to one engine, whatever else the
// conversation says, and characters spread over the engines.
func TestAffinityAndSpread(t *testing.T) {
	p, _ := newPool(t, 3)
	count := map[string]int{}
	for i := 0; i < 300; i++ {
		req := persona(i)
		first, err := p.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Messages = append(req.Messages, engine.ChatMessage{Role: "assistant", Content: "Hi"}, engine.ChatMessage{Role: "user", Content: "Again"})
		again, err := p.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if first.Text != again.Text {
			t.Fatalf("character %d went to %s, then %s", i, first.Text, again.Text)
		}
		count[first.Text]++
	}
	for name, n := range count {
		if n < 60 {
			t.Errorf("engine %s got %d of 300 characters; want a fair share", name, n)
		}
	}
	if len(count) != 3 {
		t.Errorf("characters went to %d engines of 3: %v", len(count), count)
	}
}

// An engine that refuses is taken out: the request goes to the next at
// once, and later requests skip it until its backoff ends.
func TestFailoverBeforeText(t *testing.T) {
	p, stubs := newPool(t, 2)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }
	req := persona(7)
	preferred := p.Member(req)
	var dead, alive *stub
	for _, s := range stubs {
		if s.name == preferred {
			dead = s
		} else {
			alive = s
		}
	}
	dead.failBefore = true
	res, err := p.Generate(context.Background(), req, nil)
	if err != nil || res.Text != alive.name {
		t.Fatalf("with the preferred engine down: %+v %v, want %s's answer", res, err, alive.name)
	}
	callsBefore := dead.calls
	if res, err := p.Generate(context.Background(), req, nil); err != nil || res.Text != alive.name || dead.calls != callsBefore {
		t.Fatalf("during the backoff: %+v %v; dead engine asked %d more times", res, err, dead.calls-callsBefore)
	}
	// Back after its backoff, and preferred again once it answers.
	dead.failBefore = false
	now = now.Add(p.Backoff + time.Millisecond)
	if res, err := p.Generate(context.Background(), req, nil); err != nil || res.Text != dead.name {
		t.Fatalf("after the backoff: %+v %v, want the preferred %s", res, err, dead.name)
	}
	// All down: the error says so and is transient.
	for _, s := range stubs {
		s.failBefore = true
	}
	_, err = p.Generate(context.Background(), req, nil)
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("every engine down: %v, want ErrUnavailable", err)
	}
}

// An engine that dies mid-reply is taken out and the error returned: the
// pool does not start the reply over on its own.
func TestFailureAfterText(t *testing.T) {
	p, stubs := newPool(t, 2)
	req := persona(3)
	preferred := p.Member(req)
	for _, s := range stubs {
		if s.name == preferred {
			s.failAfter = true
		}
	}
	var got []string
	_, err := p.Generate(context.Background(), req, func(t engine.Token) error { got = append(got, t.Text); return nil })
	if !engine.Transient(err) || len(got) != 1 || got[0] != preferred {
		t.Fatalf("mid-reply failure: %v, pieces %v", err, got)
	}
	res, err := p.Generate(context.Background(), req, nil)
	if err != nil || res.Text == preferred {
		t.Errorf("the retry went to %q (%v), want the other engine", res.Text, err)
	}
}

// A character whose engine is busy past its share spills over to the next
// engine in its ranking instead of queueing there.
func TestBoundedLoad(t *testing.T) {
	p, stubs := newPool(t, 2)
	for _, s := range stubs {
		s.hold = make(chan struct{})
	}
	req := persona(11)
	preferred := p.Member(req)
	var wg sync.WaitGroup
	results := make([]string, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := p.Generate(context.Background(), req, nil)
			results[i] = r.Text
		}()
	}
	// Wait until all eight are in flight.
	for {
		p.mu.Lock()
		n := 0
		for _, m := range p.members {
			n += m.inFlight
		}
		p.mu.Unlock()
		if n == 8 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for _, s := range stubs {
		close(s.hold)
	}
	wg.Wait()
	on := map[string]int{}
	for _, r := range results {
		on[r]++
	}
	if on[preferred] == 8 || on[preferred] < 4 {
		t.Errorf("8 requests of one character at once: %v; want most on %s and some spilled over", on, preferred)
	}
}

// Members come and go: an empty pool answers ErrUnavailable, a member that
// joins serves, one that leaves gets nothing more, and those that stay
// keep their state (a member taken out stays out).
func TestSetMembers(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(context.Background(), persona(1), nil); !errors.Is(err, engine.ErrUnavailable) {
		t.Errorf("an empty pool: %v, want ErrUnavailable", err)
	}
	if p.ContextSize() <= 0 || p.CountTokens("hello") <= 0 || p.Describe() == "" {
		t.Error("an empty pool should still describe itself and budget prompts")
	}
	a, b := &stub{name: "a"}, &stub{name: "b"}
	if err := p.SetMembers([]Member{{Name: "a", Gen: a}}); err != nil {
		t.Fatal(err)
	}
	if r, err := p.Generate(context.Background(), persona(1), nil); err != nil || r.Text != "a" {
		t.Fatalf("one member: %+v %v", r, err)
	}
	a.failBefore = true
	if _, err := p.Generate(context.Background(), persona(1), nil); err == nil {
		t.Fatal("the only member failing should fail the request")
	}
	if err := p.SetMembers([]Member{{Name: "a", Gen: a}, {Name: "b", Gen: b}}); err != nil {
		t.Fatal(err)
	}
	calls := a.calls
	for i := 0; i < 10; i++ {
		if r, err := p.Generate(context.Background(), persona(i), nil); err != nil || r.Text != "b" {
			t.Fatalf("with a taken out: %+v %v", r, err)
		}
	}
	if a.calls != calls {
		t.Errorf("a member taken out was asked %d times after SetMembers kept it", a.calls-calls)
	}
	if err := p.SetMembers([]Member{{Name: "a", Gen: a}}); err != nil {
		t.Fatal(err)
	}
	if names := p.Names(); len(names) != 1 || names[0] != "a" {
		t.Errorf("names after b left: %v", names)
	}
	if err := p.SetMembers([]Member{{Name: "x", Gen: a}, {Name: "x", Gen: b}}); err == nil {
		t.Error("two members of one name were accepted")
	}
}
