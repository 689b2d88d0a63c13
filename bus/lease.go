package bus

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Leases hands out exclusive, expiring ownership of named things (worlds)
// through a key-value bucket whose entries expire TTL after their
// last write. An owner keeps its lease by renewing it well within the TTL;
// when it dies, its leases lapse and another process can take them.
type Leases struct {
	kv    KV
	owner string
	ttl   time.Duration
}

// ErrLeaseLost is returned when a lease was taken over or lapsed.
var ErrLeaseLost = errors.New("lease lost")

// OpenLeases opens (creating if needed) the lease bucket. owner names this
// process in the leases it holds.
func OpenLeases(ctx context.Context, kvs KVStore, bucket, owner string, ttl time.Duration) (*Leases, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("bus: lease TTL %v is below one second", ttl)
	}
	kv, err := kvs.OpenKV(ctx, bucket, ttl)
	if err != nil {
		return nil, fmt.Errorf("bus: open lease bucket %s: %w", bucket, err)
	}
	return &Leases{kv: kv, owner: owner, ttl: ttl}, nil
}

// TTL is how long a lease lives without renewal.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Owner is the name this process holds leases under.
func (l *Leases) Owner() string { return l.owner }

// TryAcquire takes the lease on key if nobody holds it. ok is false (with no
// error) when someone else does.
func (l *Leases) TryAcquire(ctx context.Context, key string) (rev uint64, ok bool, err error) {
	rev, _, ok, err = l.Take(ctx, key)
	return rev, ok, err
}

// Take is TryAcquire that also says whether the lease was already held
// under this process's name: a process with a stable name that restarted
// after a crash takes its leases back at once instead of waiting for them
// to lapse, and reclaimed tells it that its earlier life may have left
// work in flight.
func (l *Leases) Take(ctx context.Context, key string) (rev uint64, reclaimed, ok bool, err error) {
	rev, err = l.kv.Create(ctx, key, []byte(l.owner))
	switch {
	case err == nil:
		return rev, false, true, nil
	case errors.Is(err, ErrKeyExists):
		holder, cur, gerr := l.kv.Get(ctx, key)
		if gerr != nil || string(holder) != l.owner {
			return 0, false, false, nil
		}
		if next, uerr := l.kv.Update(ctx, key, []byte(l.owner), cur); uerr == nil {
			return next, true, true, nil
		}
		return 0, false, false, nil
	default:
		return 0, false, false, fmt.Errorf("bus: acquire lease %s: %w", key, err)
	}
}

// Renew extends a held lease; it fails with ErrLeaseLost if the lease
// changed hands (or lapsed) since revision rev.
func (l *Leases) Renew(ctx context.Context, key string, rev uint64) (uint64, error) {
	next, err := l.kv.Update(ctx, key, []byte(l.owner), rev)
	if err != nil {
		if errors.Is(err, ErrWrongRevision) || errors.Is(err, ErrKeyNotFound) {
			return 0, fmt.Errorf("bus: renew lease %s: %w", key, ErrLeaseLost)
		}
		return 0, fmt.Errorf("bus: renew lease %s: %w", key, err)
	}
	return next, nil
}

// Release gives a held lease up at once (graceful hand-over), so another
// process need not wait for it to lapse.
func (l *Leases) Release(ctx context.Context, key string, rev uint64) error {
	if err := l.kv.Delete(ctx, key, rev); err != nil {
		return fmt.Errorf("bus: release lease %s: %w", key, err)
	}
	return nil
}

// Drop gives up key if this process holds it, whatever the revision: for a
// holder that stopped without knowing its last renewal (a failed start).
func (l *Leases) Drop(ctx context.Context, key string) error {
	holder, rev, err := l.kv.Get(ctx, key)
	if errors.Is(err, ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bus: read lease %s: %w", key, err)
	}
	if string(holder) != l.owner {
		return nil
	}
	return l.Release(ctx, key, rev)
}

// Held lists the keys somebody holds now.
func (l *Leases) Held(ctx context.Context) ([]string, error) {
	keys, err := l.kv.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: list leases: %w", err)
	}
	return keys, nil
}

// Holder returns who holds key, or "" when nobody does.
func (l *Leases) Holder(ctx context.Context, key string) (string, error) {
	holder, _, err := l.kv.Get(ctx, key)
	if errors.Is(err, ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("bus: read lease %s: %w", key, err)
	}
	return string(holder), nil
}

// Keep renews a held lease every TTL/3 until ctx ends or the lease is lost;
// it returns the last revision and why it stopped (ctx.Err() or ErrLeaseLost).
// A renewal that fails for a transient reason is retried until the lease
// would have lapsed.
func (l *Leases) Keep(ctx context.Context, key string, rev uint64) (uint64, error) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return rev, ctx.Err()
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.ttl/3)
		next, err := l.Renew(rctx, key, rev)
		cancel()
		switch {
		case err == nil:
			rev, lastOK = next, time.Now()
		case errors.Is(err, ErrLeaseLost):
			return rev, err
		case time.Since(lastOK) > l.ttl-l.ttl/6:
			return rev, fmt.Errorf("bus: lease %s: could not renew in time (%v): %w", key, err, ErrLeaseLost)
		}
	}
}
