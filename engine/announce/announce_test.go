package announce

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
)

func natsKV(t *testing.T) bus.KV {
	t.Helper()
	emb, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := bus.Connect(emb.URL(), "announce-test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := Open(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// An engine's entry is there while it runs, carries what info says at each
// renewal, and goes when it stops; Follow sees both.
func TestRunAndFollow(t *testing.T) {
	kv := natsKV(t)
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan []protocol.EngineAnnouncement, 64)
	go Follow(ctx, kv, 20*time.Millisecond, func(l []protocol.EngineAnnouncement) { seen <- l }, log)

	runs := map[string]context.CancelFunc{}
	stopped := map[string]chan struct{}{}
	for _, id := range []string{"e1", "e2"} {
		rctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		runs[id], stopped[id] = stop, done
		active := 0
		go func() {
			defer close(done)
			Run(rctx, kv, 20*time.Millisecond, func() protocol.EngineAnnouncement {
				active++
				return protocol.EngineAnnouncement{ID: id, URL: "http://" + id, Model: "m", Slots: 4, Active: active % 4}
			}, log)
		}()
	}
	waitList := func(want ...string) []protocol.EngineAnnouncement {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l := <-seen:
				if len(l) == len(want) {
					ok := true
					for i := range l {
						ok = ok && l[i].ID == want[i]
					}
					if ok {
						return l
					}
				}
			case <-deadline:
				t.Fatalf("Follow never saw engines %v", want)
			}
		}
	}
	l := waitList("e1", "e2")
	if l[0].URL != "http://e1" || l[0].Slots != 4 {
		t.Errorf("entry %+v", l[0])
	}
	runs["e1"]()
	<-stopped["e1"]
	waitList("e2")
	if got, err := List(context.Background(), kv); err != nil || len(got) != 1 || got[0].ID != "e2" {
		t.Errorf("List after e1 stopped: %+v %v", got, err)
	}
}
