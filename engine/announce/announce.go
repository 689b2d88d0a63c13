// Package announce lets inference engines find the platform and the
// platform find them, over the message bus: an engine keeps an entry in
// protocol.EnginesBucket while it serves (Run), and a world simulation
// started with `--llm-url nats` follows the bucket (Follow) to keep its
// pool of engines (engine/pool) equal to the engines that announce
// themselves. An engine that stops renewing its entry (it died, or lost
// the bus) leaves within protocol.EngineTTL; one that shuts down cleanly
// removes its entry at once.
package announce

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
)

// Open opens the engines bucket.
func Open(ctx context.Context, kvs bus.KVStore) (bus.KV, error) {
	return kvs.OpenKV(ctx, protocol.EnginesBucket, protocol.EngineTTL)
}

// Run keeps the engine's entry (info(), read at each renewal) in kv until
// ctx ends, then deletes it. Failed writes are logged and tried again at
// the next renewal; the entry may lapse meanwhile, which is what should
// happen to an engine the bus cannot reach.
func Run(ctx context.Context, kv bus.KV, every time.Duration, info func() protocol.EngineAnnouncement, log *slog.Logger) {
	var rev uint64
	put := func(ctx context.Context, a protocol.EngineAnnouncement) error {
		b, _ := json.Marshal(a)
		if rev != 0 {
			r, err := kv.Update(ctx, a.ID, b, rev)
			if err == nil {
				rev = r
				return nil
			}
		}
		// First write, or the entry lapsed or was changed: start it again.
		r, err := kv.Create(ctx, a.ID, b)
		if errors.Is(err, bus.ErrKeyExists) {
			var cur uint64
			if _, cur, err = kv.Get(ctx, a.ID); err == nil {
				r, err = kv.Update(ctx, a.ID, b, cur)
			}
		}
		rev = r
		return err
	}
	write := func() {
		a := info()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
		defer cancel()
		if err := put(wctx, a); err != nil {
			rev = 0
			log.Warn("announce engine", "id", a.ID, "err", err)
		}
	}
	write()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if rev != 0 {
				dctx, cancel := context.WithTimeout(context.Background(), every)
				_ = kv.Delete(dctx, info().ID, rev)
				cancel()
			}
			return
		case <-t.C:
			write()
		}
	}
}

// List reads every engine's entry now, ordered by ID.
func List(ctx context.Context, kv bus.KV) ([]protocol.EngineAnnouncement, error) {
	keys, err := kv.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var out []protocol.EngineAnnouncement
	for _, k := range keys {
		b, _, err := kv.Get(ctx, k)
		if errors.Is(err, bus.ErrKeyNotFound) {
			continue // expired between Keys and Get
		}
		if err != nil {
			return nil, err
		}
		var a protocol.EngineAnnouncement
		if json.Unmarshal(b, &a) != nil || a.URL == "" {
			continue
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Follow calls apply with the engines in kv every period until ctx ends,
// first at once. A failed read keeps the last list (the engines did not
// go away because the bus hiccuped).
func Follow(ctx context.Context, kv bus.KV, every time.Duration, apply func([]protocol.EngineAnnouncement), log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		lctx, cancel := context.WithTimeout(ctx, every)
		list, err := List(lctx, kv)
		cancel()
		if err == nil {
			apply(list)
		} else if ctx.Err() == nil {
			log.Warn("list engines", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
