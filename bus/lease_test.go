package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestLeasesAreExclusiveLapseAndHandOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	open := func(owner string) *Leases {
		nc, err := Connect(emb.URL(), owner, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		l, err := OpenLeases(ctx, js, "test_leases", owner, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := open("a"), open("b")

	revA, ok, err := a.TryAcquire(ctx, "world-1")
	if err != nil || !ok {
		t.Fatalf("a acquire: %v %v", ok, err)
	}
	if _, ok, err := b.TryAcquire(ctx, "world-1"); err != nil || ok {
		t.Fatalf("b must not acquire a held lease: %v %v", ok, err)
	}
	if h, _ := b.Holder(ctx, "world-1"); h != "a" {
		t.Fatalf("holder %q, want a", h)
	}
	// Renewal keeps it past the TTL.
	keepCtx, stopKeep := context.WithCancel(ctx)
	kept := make(chan uint64, 1)
	go func() { r, _ := a.Keep(keepCtx, "world-1", revA); kept <- r }()
	time.Sleep(3 * time.Second)
	if _, ok, _ := b.TryAcquire(ctx, "world-1"); ok {
		t.Fatal("b took a lease that a kept renewing")
	}
	stopKeep()
	revA = <-kept

	// Graceful hand-over: b can take it at once.
	if err := a.Release(ctx, "world-1", revA); err != nil {
		t.Fatal(err)
	}
	revB, ok, err := b.TryAcquire(ctx, "world-1")
	if err != nil || !ok {
		t.Fatalf("b acquire after release: %v %v", ok, err)
	}
	// a's old revision is worthless now.
	if _, err := a.Renew(ctx, "world-1", revA); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("renew of a lost lease: %v", err)
	}

	// b dies (stops renewing): the lease lapses within about the TTL.
	_ = revB
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok, err := a.TryAcquire(ctx, "world-1"); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an abandoned lease did not lapse")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
