package bus

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestKV(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		ctx := testContext(t)
		kv, err := connect("one").OpenKV(ctx, "t_kv", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("get of a missing key: %v", err)
		}
		r1, err := kv.Create(ctx, "k", []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Create(ctx, "k", []byte("b")); !errors.Is(err, ErrKeyExists) {
			t.Fatalf("second create: %v", err)
		}
		r2, err := kv.Update(ctx, "k", []byte("b"), r1)
		if err != nil || r2 <= r1 {
			t.Fatalf("update: rev %d after %d, %v", r2, r1, err)
		}
		if _, err := kv.Update(ctx, "k", []byte("c"), r1); !errors.Is(err, ErrWrongRevision) {
			t.Fatalf("update at a stale revision: %v", err)
		}
		if v, rev, err := kv.Get(ctx, "k"); err != nil || string(v) != "b" || rev != r2 {
			t.Fatalf("get: %q rev %d, %v", v, rev, err)
		}
		if err := kv.Delete(ctx, "k", r1); !errors.Is(err, ErrWrongRevision) {
			t.Fatalf("delete at a stale revision: %v", err)
		}
		if err := kv.Delete(ctx, "k", r2); err != nil {
			t.Fatal(err)
		}
		if _, _, err := kv.Get(ctx, "k"); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("get after delete: %v", err)
		}
		if _, err := kv.Create(ctx, "k", []byte("again")); err != nil {
			t.Fatalf("create after delete: %v", err)
		}
		if _, err := kv.Create(ctx, "other", []byte("x")); err != nil {
			t.Fatal(err)
		}
		keys, err := kv.Keys(ctx)
		slices.Sort(keys)
		if err != nil || !slices.Equal(keys, []string{"k", "other"}) {
			t.Fatalf("keys %v (%v), want k and other", keys, err)
		}
		empty, _ := connect("one").OpenKV(ctx, "t_kv_empty", time.Minute)
		if keys, err := empty.Keys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("keys of an empty bucket: %v %v", keys, err)
		}
	})
}

func TestLeasesAreExclusiveLapseAndHandOver(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		ctx := testContext(t)
		open := func(owner string) *Leases {
			l, err := OpenLeases(ctx, connect(owner), "test_leases", owner, 2*time.Second)
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
		if _, ok, err := b.TryAcquire(ctx, "world-1"); err != nil || !ok {
			t.Fatalf("b acquire after release: %v %v", ok, err)
		}
		// a's old revision is worthless now.
		if _, err := a.Renew(ctx, "world-1", revA); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("renew of a lost lease: %v", err)
		}
		// Drop by someone who does not hold it changes nothing.
		if err := a.Drop(ctx, "world-1"); err != nil {
			t.Fatal(err)
		}
		if h, _ := a.Holder(ctx, "world-1"); h != "b" {
			t.Fatalf("holder after a's drop %q, want b", h)
		}

		// A process that restarts under the same name takes its lease
		// back at once (b again, after a crash).
		bAgain := open("b")
		if _, ok, err := bAgain.TryAcquire(ctx, "world-1"); err != nil || !ok {
			t.Fatalf("a restarted b could not take its own lease back: %v %v", ok, err)
		}

		// b dies (stops renewing): the lease lapses within about the TTL.
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
	})
}
