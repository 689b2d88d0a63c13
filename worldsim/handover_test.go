package worldsim_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
	"github.com/maopao/maopao/worldsim/world"
)

// A graceful shutdown snapshots the world and releases its lease, so the
// next process takes it at once instead of waiting out the lease, and
// continues from where the first stopped.
func TestGracefulShutdownHandsTheWorldOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	chars := characters.Samples()
	for _, c := range chars {
		_ = st.PutCharacter(ctx, c)
	}
	w := testWorld(chars)
	w.SimMinutesPerSecond = 60 // an hour a second, so the clock visibly moves
	if err := st.PutWorld(ctx, w); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(&capturingOK{})
	defer hs.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(owner string) (*worldsim.WorldService, context.CancelFunc, chan error) {
		nc, err := bus.Connect(emb.URL(), owner, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		svc := &worldsim.WorldService{Store: st, Engine: openai.New(hs.URL), Bus: nc, Log: log, Owner: owner,
			LeaseTTL: 10 * time.Second, ClaimEvery: 200 * time.Millisecond, TickEvery: 100 * time.Millisecond, SnapshotEvery: time.Hour,
			Config: world.Config{ConversationPermille: -1}}
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(rctx) }()
		return svc, stop, done
	}
	a, stopA, doneA := start("A")
	for len(a.Owned()) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	// A world with nobody in it sleeps: someone joins, so the clock runs.
	gw, err := bus.Connect(emb.URL(), "gateway", log)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	gjs := gw
	appendInput(t, ctx, gjs, w.ID, "join-handover", world.PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "tea-house"})
	// Let the clock run half a second (30 sim minutes at 60/s), as the
	// log's ticks say.
	for ran := int64(0); ran < 500; {
		if ctx.Err() != nil {
			t.Fatalf("the world's clock ran %d ms only", ran)
		}
		time.Sleep(20 * time.Millisecond)
		ran = 0
		for _, tk := range ticks(t, ctx, gjs, w.ID) {
			ran += tk.RealMillis
		}
	}
	// The ticks are in the log; wait until the world has folded them (a
	// stop between the two would save the state before the last one).
	for {
		q, _ := json.Marshal(protocol.WorldQuery{PlayerID: "p1", LocationID: "tea-house"})
		msg, err := gw.Request(ctx, protocol.WorldQuerySubject(w.ID), q)
		var v protocol.WorldView
		if err == nil && json.Unmarshal(msg.Data, &v) == nil && v.SimMinute >= 30 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the world never reached minute 30: %+v %v", v, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	snap, err := st.GetWorldSnapshot(ctx, w.ID)
	if err != nil {
		t.Fatalf("no final snapshot after a graceful stop: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(snap.State))
	if err != nil {
		t.Fatalf("snapshot is not gzipped JSON: %v", err)
	}
	var saved world.State
	if err := json.NewDecoder(zr).Decode(&saved); err != nil {
		t.Fatal(err)
	}
	if saved.Clock < 30 {
		t.Fatalf("the saved clock is %d sim minutes after half a second at 60/s", saved.Clock)
	}

	stopped := time.Now()
	b, stopB, doneB := start("B")
	defer func() { stopB(); <-doneB }()
	for len(b.Owned()) == 0 {
		if time.Since(stopped) > 5*time.Second {
			t.Fatal("B waited for the lease to lapse: the world was not handed over")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// capturingOK answers every completion at once with a short line.
type capturingOK struct{}

func (capturingOK) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Fine weather.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}
