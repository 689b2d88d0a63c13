package worldsim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
	"github.com/maopao/maopao/worldsim/world"
)

func testWorld(chars []maopao.Character) maopao.World {
	return maopao.World{
		ID: "9d1c6a52-1111-4222-8333-444455556666", Name: "Misty Harbour", Description: "a small harbour town",
		Locations: []maopao.Location{
			{ID: "tea-house", Name: "Tea house", Connections: []string{"pier"}},
			{ID: "pier", Name: "Pier", Connections: []string{"tea-house"}},
		},
		Residents: []maopao.Resident{
			{CharacterID: chars[0].ID, LocationID: "tea-house", Talkativeness: 0.5},
			{CharacterID: chars[1].ID, LocationID: "pier", Talkativeness: 0.5},
		},
		SimMinutesPerSecond: 1, Visibility: maopao.VisibilityPublic,
	}
}

// appendInput is what a gateway does: put a player's input into the log.
func appendInput(t *testing.T, ctx context.Context, b bus.Streams, worldID, msgID string, in world.Input) {
	t.Helper()
	raw, err := world.EncodeInput(in)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(protocol.WorldLogEntry{Input: raw})
	if _, err := b.Append(ctx, protocol.WorldInputSubject(worldID), msgID, data); err != nil {
		t.Fatal(err)
	}
}

func TestWorldMovesToAnotherProcessAndAnswersOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, st := testBed(t)
	chars, w := seedWorld(ctx, t, st)
	llm := &stallingLLM{release: make(chan struct{})}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	start := func(owner string) (*worldsim.WorldService, *bus.NATS, context.CancelFunc, chan error) {
		nc, err := bus.Connect(emb.URL(), owner, log)
		if err != nil {
			t.Fatal(err)
		}
		svc := &worldsim.WorldService{Store: st, Engine: openai.New(hs.URL), Bus: nc, Log: log, Owner: owner,
			LeaseTTL: 2 * time.Second, TickEvery: 200 * time.Millisecond, SnapshotEvery: 500 * time.Millisecond,
			Config: world.Config{ConversationPermille: -1}}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(rctx) }()
		return svc, nc, stop, done
	}
	waitOwned := func(svc *worldsim.WorldService, what string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for len(svc.Owned()) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s never took the world", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	svcA, ncA, stopA, doneA := start("A")
	waitOwned(svcA, "A")

	// The player's side: watch the tea house, join, speak to Xiaoyu.
	gw, err := bus.Connect(emb.URL(), "gateway", log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gjs := gw
	var mu sync.Mutex
	var events []protocol.WorldEvent
	delta := make(chan struct{}, 100)
	said := make(chan protocol.WorldEvent, 100)
	sub, err := gw.Subscribe(protocol.WorldRoomSubject(w.ID, "tea-house"), func(m bus.Msg) {
		var ev protocol.WorldEvent
		_ = json.Unmarshal(m.Data, &ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		switch {
		case ev.Kind == protocol.WorldDelta:
			delta <- struct{}{}
		case ev.Kind == protocol.WorldSaid && ev.Actor.Kind == "character":
			said <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	appendInput(t, ctx, gjs, w.ID, "join-1", world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"})
	const lineID = "7f000000-0000-4000-8000-000000000001"
	appendInput(t, ctx, gjs, w.ID, lineID, world.PlayerSaid{MessageID: lineID, PlayerID: "p1", Text: "Xiaoyu, what tea do you recommend?", AddressedTo: chars[0].ID})
	select {
	case <-delta:
	case <-ctx.Done():
		t.Fatal("A never started answering")
	}

	// A crashes: its connection drops and it stops without handing over.
	ncA.Close()
	stopA()
	<-doneA

	svcB, _, stopB, doneB := start("B")
	defer func() { stopB(); <-doneB }()
	waitOwned(svcB, "B")
	close(llm.release)

	var reply protocol.WorldEvent
	select {
	case reply = <-said:
	case <-time.After(30 * time.Second):
		t.Fatal("B never answered the pending line")
	}
	if reply.ReplyTo != lineID || reply.Actor.ID != chars[0].ID || reply.Text == "" {
		t.Fatalf("reply %+v", reply)
	}
	time.Sleep(time.Second)
	mu.Lock()
	n := 0
	for _, ev := range events {
		if ev.Kind == protocol.WorldSaid && ev.ReplyTo == lineID && ev.Actor.Kind == "character" {
			n++
		}
	}
	mu.Unlock()
	if n != 1 {
		t.Fatalf("the line was answered %d times, want exactly once", n)
	}
	// What Xiaoyu heard and said is in her memory stream in storage.
	recs, err := st.MemoryRecords(ctx, w.ID, chars[0].ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	heard := false
	for _, r := range recs {
		if r.LocationID == "tea-house" && strings.Contains(r.Text, "what tea do you recommend") {
			heard = true
		}
	}
	if !heard {
		t.Fatalf("Xiaoyu's memory lacks the player's line: %+v", recs)
	}
	// Ren was at the pier: he knows nothing of it.
	renRecs, _ := st.MemoryRecords(ctx, w.ID, chars[1].ID, 0)
	for _, r := range renRecs {
		if strings.Contains(r.Text, "what tea") {
			t.Fatalf("a character elsewhere remembers the tea-house talk: %+v", r)
		}
	}
}
