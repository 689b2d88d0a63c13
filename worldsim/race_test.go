package worldsim_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
	"github.com/maopao/maopao/worldsim/world"
)

// heldEngine answers every request with one line once released. It is an
// in-process engine on purpose: a socket would order the goroutines for
// the race detector (Go counts every read and write syscall as
// synchronisation), and nothing here may order the generating goroutine's
// reads before the world loop's writes.
type heldEngine struct{ release chan struct{} }

func (e heldEngine) Generate(ctx context.Context, _ engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	select {
	case <-e.release:
	case <-ctx.Done():
		return engine.Result{}, ctx.Err()
	}
	if err := onToken(engine.Token{Text: "Oolong."}); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{Text: "Oolong."}, nil
}
func (heldEngine) CountTokens(text string) int { return len(text)/4 + 1 }
func (heldEngine) ContextSize() int            { return 4096 }
func (heldEngine) Describe() string            { return "held test engine" }

// TestWorldStateIsNotReadWhileGenerating changes a world's characters (a
// second player arrives and speaks, which adds to every listener's memory)
// while a reply is being generated. Under -race this fails if the
// generating goroutine reads the world state the loop is stepping.
func TestWorldStateIsNotReadWhileGenerating(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	chars, w := seedWorld(ctx, t, st)
	eng := heldEngine{release: make(chan struct{})}
	_, rec := runWorlds(ctx, t, emb, &worldsim.WorldService{Store: st, Engine: eng, Owner: "A",
		LeaseTTL: 5 * time.Second, TickEvery: 20 * time.Millisecond, SnapshotEvery: time.Hour,
		Config: world.Config{ConversationPermille: -1}})
	log := slog.New(rec)

	gw, err := bus.Connect(emb.URL(), "gateway", log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gjs := gw
	said := make(chan protocol.WorldEvent, 16)
	speaking := make(chan struct{}, 16)
	sub, err := gw.Subscribe(protocol.WorldRoomSubject(w.ID, "tea-house"), func(m bus.Msg) {
		var ev protocol.WorldEvent
		_ = json.Unmarshal(m.Data, &ev)
		switch {
		case ev.Kind == protocol.WorldSaid && ev.Actor.Kind == "character":
			said <- ev
		case ev.Kind == protocol.WorldSpeaking:
			speaking <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	// Lines folded while the world replays its log are answered without a
	// "speaking" event: start once it is live.
	waitLive(ctx, t, rec)
	appendInput(t, ctx, gjs, w.ID, "join-1", world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"})
	const first = "7f000000-0000-4000-8000-00000000a001"
	appendInput(t, ctx, gjs, w.ID, first, world.PlayerSaid{MessageID: first, PlayerID: "p1", Text: "Xiaoyu, what tea do you recommend?", AddressedTo: chars[0].ID})
	select {
	case <-speaking:
	case <-ctx.Done():
		t.Fatal("Xiaoyu never started answering")
	}
	// The reply is being generated: now the world's characters change.
	appendInput(t, ctx, gjs, w.ID, "join-2", world.PlayerJoined{PlayerID: "p2", Name: "Bo", LocationID: "tea-house"})
	const second = "7f000000-0000-4000-8000-00000000a002"
	appendInput(t, ctx, gjs, w.ID, second, world.PlayerSaid{MessageID: second, PlayerID: "p2", Text: "Good evening, everyone.", AddressedTo: chars[0].ID})
	// Wait until the world has stepped past the second line, so the loop's
	// writes happen while the first generation is still held.
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs, err := st.MemoryRecords(ctx, w.ID, chars[0].ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		heard := false
		for _, r := range recs {
			if strings.Contains(r.Text, "Good evening") {
				heard = true
			}
		}
		if heard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the world never heard the second line")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(eng.release)
	select {
	case ev := <-said:
		if ev.ReplyTo != first || ev.Actor.Name != chars[0].Name {
			t.Fatalf("reply %+v: want Xiaoyu answering the first line", ev)
		}
	case <-ctx.Done():
		t.Fatal("the first line was never answered")
	}
}
