package bus

import (
	"context"
	"testing"
	"time"
)

// forEachBus runs test against the NATS adapter (an embedded server of its
// own) and against Memory. connect gives a new client of the same bus, as
// a second process would have; for Memory that is the same value.
func forEachBus(t *testing.T, test func(t *testing.T, connect func(name string) Bus)) {
	t.Run("nats", func(t *testing.T) {
		t.Parallel()
		emb, err := StartEmbedded(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(emb.Shutdown)
		test(t, func(name string) Bus {
			n, err := Connect(emb.URL(), name, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(n.Close)
			return n
		})
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		m := NewMemory()
		test(t, func(string) Bus { return m })
	})
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// receive waits for the next message on ch, failing the test after a while.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		var zero T
		return zero
	}
}

// none fails if ch yields anything before the bus has delivered everything
// published so far (a round trip through a subscription of our own).
func none[T any](t *testing.T, b Bus, ch <-chan T, what string) {
	t.Helper()
	inbox := b.NewInbox()
	marker := make(chan Msg, 1)
	sub, err := b.Subscribe(inbox, func(m Msg) { marker <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := b.Flush(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(inbox, nil); err != nil {
		t.Fatal(err)
	}
	receive(t, marker, "marker")
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %v", what, v)
	default:
	}
}
