package worldsim_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
	"github.com/maopao/maopao/worldsim/world"
)

// logRecorder keeps every log record's message and attributes as text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// An entry in a world's log that cannot be read stops the world (skipping
// it would make this state differ from every replay of the log), and the
// world is then retried with growing pauses, not at every claim.
func TestUnreadableLogEntryStopsTheWorldAndRetriesBackOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	_, w := seedWorld(ctx, t, st)
	js, rec := runWorlds(ctx, t, emb, &worldsim.WorldService{Store: st, Engine: heldEngine{release: make(chan struct{})}, Owner: "A",
		LeaseTTL: 10 * time.Second, ClaimEvery: 50 * time.Millisecond, TickEvery: time.Hour, SnapshotEvery: time.Hour,
		Config: world.Config{ConversationPermille: -1}})
	waitLive(ctx, t, rec)

	if _, err := js.Append(ctx, protocol.WorldInputSubject(w.ID), "", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	appendInput(t, ctx, js, w.ID, "join-after-bad", world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"})
	for rec.count("world stopped") == 0 {
		if ctx.Err() != nil {
			t.Fatal("the world went on past an unreadable log entry")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec.count("is not a log entry") == 0 {
		t.Fatalf("the error does not say what is wrong: %q", rec.lines)
	}

	// Claims come every 50ms; a failing world must not be retried at
	// that rate (1.5s would give some 20 tries without back-off).
	time.Sleep(1500 * time.Millisecond)
	if n := rec.count("world claimed"); n > 7 {
		t.Fatalf("a failing world was claimed %d times in 1.5s: no back-off", n)
	}
	if n := rec.count("world claimed"); n < 2 {
		t.Fatalf("a failing world was claimed %d times: never retried", n)
	}
}
