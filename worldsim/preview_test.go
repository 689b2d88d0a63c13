package worldsim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
)

// scriptedGen answers every request with the same pieces, remembering the
// prompts; with hold set it waits for hold (or cancellation) first.
type scriptedGen struct {
	pieces []string
	hold   chan struct{}

	mu      sync.Mutex
	prompts [][]engine.ChatMessage
	started chan struct{}
	stopped chan error // what a held Generate returned
}

func (g *scriptedGen) Generate(ctx context.Context, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	g.mu.Lock()
	g.prompts = append(g.prompts, req.Messages)
	g.mu.Unlock()
	if g.hold != nil {
		if g.started != nil {
			g.started <- struct{}{}
		}
		select {
		case <-g.hold:
		case <-ctx.Done():
			if g.stopped != nil {
				g.stopped <- ctx.Err()
			}
			return engine.Result{}, ctx.Err()
		}
	}
	for _, p := range g.pieces {
		if err := onToken(engine.Token{ID: -1, Text: p}); err != nil {
			return engine.Result{}, err
		}
	}
	return engine.Result{Text: strings.Join(g.pieces, ""), FinishReason: "stop"}, nil
}
func (g *scriptedGen) CountTokens(s string) int { return len(s)/4 + 1 }
func (g *scriptedGen) ContextSize() int         { return 4096 }
func (g *scriptedGen) Describe() string         { return "scripted test generator" }

func startPreview(t *testing.T, gen engine.Generator, mod func(*worldsim.PreviewService)) bus.Bus {
	t.Helper()
	emb, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := bus.Connect(emb.URL(), "preview-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc := &worldsim.PreviewService{Bus: nc, Engine: gen, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxTokens: 50}
	if mod != nil {
		mod(svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the preview service did not stop")
		}
	})
	// Wait until the queue subscription is in place.
	deadline := time.Now().Add(5 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := nc.Request(rctx, protocol.StudioPreviewSubject, []byte("{"))
		cancel()
		if err == nil {
			return nc
		}
		if time.Now().After(deadline) {
			t.Fatalf("the preview service never subscribed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// preview sends data as a preview request and returns its events up to and
// including complete or error.
func preview(t *testing.T, nc bus.Bus, data []byte) []protocol.PreviewEvent {
	t.Helper()
	ch := make(chan bus.Msg, 256)
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox, func(m bus.Msg) { ch <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(protocol.StudioPreviewSubject, inbox, data); err != nil {
		t.Fatal(err)
	}
	var evs []protocol.PreviewEvent
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-ch:
			var ev protocol.PreviewEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Fatalf("event %q: %v", m.Data, err)
			}
			evs = append(evs, ev)
			if ev.Kind == protocol.PreviewComplete || ev.Kind == protocol.PreviewError {
				return evs
			}
		case <-timeout:
			t.Fatalf("no complete or error event; got %+v", evs)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func draftWithLore() maopao.Character {
	return maopao.Character{
		Name: "Ember", Description: "A keeper of old stories.", FirstMes: "Welcome, {{user}}.",
		CharacterBook: &maopao.Lorebook{Entries: []maopao.LoreEntry{
			{Name: "castle", Keys: []string{"castle"}, Content: "The castle fell in the third winter.", Enabled: true, InsertionOrder: 1},
			{Name: "dragon lore", Keys: []string{"dragon", "wyrm"}, Content: "Kaldra the dragon sleeps under the lake.", Enabled: true, InsertionOrder: 2},
			{Name: "always", Content: "Ember never lies.", Enabled: true, Constant: ptr(true), InsertionOrder: 3},
			{Name: "off", Keys: []string{"dragon"}, Content: "DISABLED ENTRY", Enabled: false},
		}},
	}
}

func TestPreviewStreamsLoreThenReply(t *testing.T) {
	gen := &scriptedGen{pieces: []string{" Kaldra", " sleeps", " below."}}
	nc := startPreview(t, gen, nil)
	evs := preview(t, nc, mustJSON(t, protocol.PreviewRequest{
		ID: "p1", Character: draftWithLore(), UserName: "Ada",
		Messages: []protocol.PreviewMessage{{Role: "user", Content: "Tell me about the DRAGON, please."}},
	}))
	for i, ev := range evs {
		if ev.Seq != i {
			t.Fatalf("event %d has seq %d: %+v", i, ev.Seq, evs)
		}
	}
	if evs[0].Kind != protocol.PreviewLore || evs[0].Lore == nil {
		t.Fatalf("first event is %+v, want lore", evs[0])
	}
	fired := map[int]protocol.PreviewLoreEntry{}
	for _, e := range evs[0].Lore.Entries {
		fired[e.Index] = e
	}
	if len(fired) != 2 {
		t.Errorf("fired entries %+v, want the dragon entry and the constant one", evs[0].Lore.Entries)
	}
	d, ok := fired[1]
	if !ok || d.Name != "dragon lore" || !strings.Contains(strings.ToLower(d.Reason), "dragon") || len(d.Keys) != 2 || d.Position == "" {
		t.Errorf("dragon entry reported as %+v (ok=%v)", d, ok)
	}
	if c, ok := fired[2]; !ok || !strings.Contains(c.Reason, "constant") {
		t.Errorf("constant entry reported as %+v (ok=%v)", c, ok)
	}
	var streamed strings.Builder
	for _, ev := range evs[1 : len(evs)-1] {
		if ev.Kind != protocol.PreviewDelta {
			t.Fatalf("want deltas between lore and complete, got %+v", ev)
		}
		streamed.WriteString(ev.Text)
	}
	last := evs[len(evs)-1]
	if last.Kind != protocol.PreviewComplete || last.Text != "Kaldra sleeps below." || last.FinishReason != "stop" || streamed.String() != " Kaldra sleeps below." {
		t.Errorf("complete %+v after streaming %q", last, streamed.String())
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	if len(gen.prompts) != 1 {
		t.Fatalf("%d generations, want 1", len(gen.prompts))
	}
	var prompt strings.Builder
	for _, m := range gen.prompts[0] {
		prompt.WriteString(m.Role + ": " + m.Content + "\n")
	}
	p := prompt.String()
	for _, want := range []string{"Kaldra the dragon sleeps under the lake.", "Ember never lies.", "Welcome, Ada.", "user: Tell me about the DRAGON"} {
		if !strings.Contains(p, want) {
			t.Errorf("prompt lacks %q:\n%s", want, p)
		}
	}
	for _, unwanted := range []string{"The castle fell", "DISABLED ENTRY"} {
		if strings.Contains(p, unwanted) {
			t.Errorf("prompt has %q, whose entry did not fire:\n%s", unwanted, p)
		}
	}
}

func TestPreviewRefusesBadRequests(t *testing.T) {
	gen := &scriptedGen{pieces: []string{"x"}}
	nc := startPreview(t, gen, nil)
	ok := protocol.PreviewRequest{ID: "p2", Character: draftWithLore(), Messages: []protocol.PreviewMessage{{Role: "user", Content: "hi"}}}
	cases := []struct {
		name, code, says string
		data             []byte
	}{
		{"not JSON", protocol.CodeBadJSON, "not valid JSON", []byte(`{"id":`)},
		{"no messages", protocol.CodeInvalid, "empty", mustJSON(t, func() any { r := ok; r.Messages = nil; return r }())},
		{"ends with the character", protocol.CodeInvalid, "last line", mustJSON(t, func() any {
			r := ok
			r.Messages = []protocol.PreviewMessage{{Role: "user", Content: "hi"}, {Role: "character", Content: "hello"}}
			return r
		}())},
		{"unknown role", protocol.CodeInvalid, "messages[0].role", mustJSON(t, func() any {
			r := ok
			r.Messages = []protocol.PreviewMessage{{Role: "system", Content: "obey"}}
			return r
		}())},
		{"id with a wildcard", protocol.CodeInvalid, "subject token", mustJSON(t, func() any { r := ok; r.ID = "a.>"; return r }())},
	}
	for _, c := range cases {
		evs := preview(t, nc, c.data)
		if len(evs) != 1 || evs[0].Kind != protocol.PreviewError || evs[0].Error == nil ||
			evs[0].Error.Code != c.code || !strings.Contains(evs[0].Error.Message, c.says) {
			t.Errorf("%s: events %+v, want one error %s saying %q", c.name, evs, c.code, c.says)
		}
	}
	gen.mu.Lock()
	defer gen.mu.Unlock()
	if len(gen.prompts) != 0 {
		t.Errorf("the engine ran for refused requests: %d times", len(gen.prompts))
	}
}

func TestPreviewStopsOnCancelDeadlineAndWhenBusy(t *testing.T) {
	gen := &scriptedGen{pieces: []string{"late"}, hold: make(chan struct{}), started: make(chan struct{}, 4), stopped: make(chan error, 4)}
	nc := startPreview(t, gen, func(s *worldsim.PreviewService) { s.MaxConcurrent = 1 })
	req := protocol.PreviewRequest{ID: "p3", Character: draftWithLore(), Messages: []protocol.PreviewMessage{{Role: "user", Content: "hi"}}}

	// Cancel: the gateway says the browser left.
	got := make(chan []protocol.PreviewEvent, 1)
	go func() { got <- preview(t, nc, mustJSON(t, req)) }()
	<-gen.started
	// While one preview runs, a second is refused at once.
	busy := req
	busy.ID = "p4"
	if evs := preview(t, nc, mustJSON(t, busy)); evs[0].Kind != protocol.PreviewError || evs[0].Error.Code != protocol.CodeRateLimited {
		t.Errorf("second preview while busy: %+v, want rate_limited", evs)
	}
	if err := nc.Publish(protocol.StudioPreviewCancelSubject("p3"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-gen.stopped:
		if err != context.Canceled {
			t.Errorf("generation stopped with %v, want cancellation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the generation")
	}
	evs := <-got
	if last := evs[len(evs)-1]; last.Kind != protocol.PreviewError || last.Error.Code != protocol.CodeUnavailable {
		t.Errorf("cancelled preview ended with %+v", last)
	}

	// Deadline: the request's own deadline stops it.
	late := req
	late.ID = "p5"
	late.Deadline = time.Now().Add(300 * time.Millisecond)
	evs = preview(t, nc, mustJSON(t, late))
	<-gen.started
	if last := evs[len(evs)-1]; last.Kind != protocol.PreviewError || last.Error.Code != protocol.CodeEngine || !strings.Contains(last.Error.Message, "longer than") {
		t.Errorf("preview past its deadline ended with %+v", last)
	}
}
