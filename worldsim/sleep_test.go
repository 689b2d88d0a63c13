package worldsim_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
	"github.com/maopao/maopao/worldsim/world"
)

// ticks reads a world's log and returns its Tick inputs.
func ticks(t *testing.T, ctx context.Context, b bus.Streams, worldID string) []world.Tick {
	t.Helper()
	// The test's one world is all the log holds: read what is there now.
	n, err := b.Len(ctx, protocol.WorldLogStream)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	entries, err := b.Read(rctx, protocol.WorldLogStream, protocol.WorldInputSubject(worldID), 1)
	if err != nil {
		t.Fatal(err)
	}
	var out []world.Tick
	for range n {
		m, ok := <-entries
		if !ok {
			t.Fatalf("the log holds %d entries, but reading it ended early", n)
		}
		var e protocol.WorldLogEntry
		if json.Unmarshal(m.Data, &e) != nil || e.Input == nil {
			continue
		}
		if in, err := world.DecodeInput(e.Input); err == nil {
			if tk, ok := in.(world.Tick); ok {
				out = append(out, tk)
			}
		}
	}
	return out
}

// A world nobody is in sleeps: no ticks, no engine work. The first tick
// after a player arrives carries the time slept.
func TestEmptyWorldSleeps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	_, w := seedWorld(ctx, t, st)
	eng := heldEngine{release: make(chan struct{})}
	close(eng.release)
	js, rec := runWorlds(ctx, t, emb, &worldsim.WorldService{Store: st, Engine: eng, Owner: "A",
		LeaseTTL: 5 * time.Second, TickEvery: 20 * time.Millisecond, SnapshotEvery: time.Hour})
	waitLive(ctx, t, rec)
	for rec.count("world asleep") < 30 { // some 30 tick intervals
		if ctx.Err() != nil {
			t.Fatal("the world's clock stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(ticks(t, ctx, js, w.ID)); n != 0 {
		t.Fatalf("an empty world wrote %d ticks", n)
	}
	appendInput(t, ctx, js, w.ID, "join-1", world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if tk := ticks(t, ctx, js, w.ID); len(tk) > 0 {
			if tk[0].RealMillis < 500 {
				t.Fatalf("the first tick after waking carries %d ms; the world slept longer", tk[0].RealMillis)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the world did not wake when a player joined")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
