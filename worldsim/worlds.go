package worldsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim/world"
)

// WorldStore is what the world runner needs from storage.
type WorldStore interface {
	ListWorlds(ctx context.Context) ([]maopao.World, error)
	// GetWorld returns maopao.ErrNotFound (wrapped) when absent.
	GetWorld(ctx context.Context, id string) (maopao.World, error)
	GetCharacter(ctx context.Context, id string) (maopao.Character, error)
	// GetWorldSnapshot returns maopao.ErrNotFound (wrapped) when there is none.
	GetWorldSnapshot(ctx context.Context, worldID string) (maopao.WorldSnapshot, error)
	PutWorldSnapshot(ctx context.Context, s maopao.WorldSnapshot) error
	// PutMemoryRecord inserts or replaces a record by ID.
	PutMemoryRecord(ctx context.Context, r maopao.MemoryRecord) error
	// GetPicture reads a picture players showed (for engines that see).
	GetPicture(ctx context.Context, id string) (maopao.Picture, []byte, error)
	// DeleteMemoryRecord removes one (a player forgot it).
	DeleteMemoryRecord(ctx context.Context, worldID, characterID, id string) error
}

// WorldService runs the worlds this process owns. Ownership comes from
// leases in a JetStream key-value bucket: every process tries to claim
// worlds nobody holds, keeps renewing the ones it has, and hands them
// over on shutdown; when a process dies its leases lapse and another one
// takes its worlds, restoring each from its latest snapshot and the input
// log after it.
type WorldService struct {
	Store  WorldStore
	Engine engine.Generator
	Bus    bus.Bus
	Log    *slog.Logger
	// Owner names this process in leases (default: a fresh UUID).
	Owner string
	// Config tunes every world's simulation.
	Config world.Config
	// LeaseTTL: how long a dead owner keeps its worlds (default 10s).
	LeaseTTL time.Duration
	// TickEvery: real time between clock ticks (default 1s).
	TickEvery time.Duration
	// SnapshotEvery: how often a world's state is saved (default 30s).
	SnapshotEvery time.Duration
	// ClaimEvery: how often unowned worlds are looked for (default LeaseTTL/2).
	ClaimEvery time.Duration
	// MaxWorlds caps the worlds this process runs (default 1000).
	MaxWorlds int

	leases *bus.Leases
	mu     sync.Mutex
	actors map[string]*worldActor
	failed map[string]startFailure
	wg     sync.WaitGroup
}

// startFailure holds back a world that stopped with an error, so a world
// that cannot start (a missing resident, an unreadable log entry) is
// retried with growing pauses instead of at every claim.
type startFailure struct {
	wait  time.Duration // the pause after the last failure
	until time.Time     // no new claim before this
}

// maxStartBackoff caps the pause between tries of a failing world.
const maxStartBackoff = 5 * time.Minute

func (s *WorldService) defaults() {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.Owner == "" {
		s.Owner = "worldsim-" + newID()
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = 10 * time.Second
	}
	if s.TickEvery <= 0 {
		s.TickEvery = time.Second
	}
	if s.SnapshotEvery <= 0 {
		s.SnapshotEvery = 30 * time.Second
	}
	if s.ClaimEvery <= 0 {
		s.ClaimEvery = s.LeaseTTL / 2
	}
	if s.MaxWorlds <= 0 {
		s.MaxWorlds = 1000
	}
	if s.Config.ContextSize == 0 && s.Engine != nil {
		s.Config.ContextSize = s.Engine.ContextSize()
	}
}

// Run claims and runs worlds until ctx ends, then snapshots each and
// releases its lease so another process can take over at once.
func (s *WorldService) Run(ctx context.Context) error {
	s.defaults()
	var err error
	if err = bus.DeclareStreams(ctx, s.Bus, bus.WorldLog); err != nil {
		return err
	}
	if s.leases, err = bus.OpenLeases(ctx, s.Bus, protocol.WorldLeaseBucket, s.Owner, s.LeaseTTL); err != nil {
		return err
	}
	s.mu.Lock()
	s.actors = map[string]*worldActor{}
	s.failed = map[string]startFailure{}
	s.mu.Unlock()
	// A creator's edit reaches the running world at once; the claim loop
	// below would find it too, a little later, if this notice is missed.
	revised, err := s.Bus.Subscribe(protocol.WorldRevisedSubjects, func(m bus.Msg) {
		id := strings.TrimPrefix(m.Subject, strings.TrimSuffix(protocol.WorldRevisedSubjects, "*"))
		s.mu.Lock()
		a := s.actors[id]
		s.mu.Unlock()
		if a == nil {
			return
		}
		go func() {
			gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if w, err := s.Store.GetWorld(gctx, id); err == nil {
				a.offerRevision(w)
			}
		}()
	})
	if err != nil {
		return err
	}
	defer revised.Unsubscribe()
	// A character edited anywhere: the worlds it lives in take the new card.
	edited, err := s.Bus.Subscribe(protocol.CharactersChangedSubject, func(bus.Msg) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, a := range s.actors {
			a.checkCards()
		}
	})
	if err != nil {
		return err
	}
	defer edited.Unsubscribe()
	t := time.NewTicker(s.ClaimEvery)
	defer t.Stop()
	for {
		s.claim(ctx)
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for _, a := range s.actors {
				a.stop(true)
			}
			s.mu.Unlock()
			s.wg.Wait()
			return nil
		case <-t.C:
		}
	}
}

// Owned lists the IDs of the worlds this process runs now.
func (s *WorldService) Owned() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.actors {
		ids = append(ids, id)
	}
	return ids
}

func (s *WorldService) claim(ctx context.Context) {
	worlds, err := s.Store.ListWorlds(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("list worlds", "err", err)
		}
		return
	}
	// Worlds deleted by their creators stop here.
	listed := make(map[string]bool, len(worlds))
	for _, w := range worlds {
		listed[w.ID] = true
	}
	s.mu.Lock()
	for id, a := range s.actors {
		if !listed[id] {
			a.stopDeleted()
		}
	}
	for _, w := range worlds {
		if a := s.actors[w.ID]; a != nil {
			a.offerRevision(w)
		}
	}
	s.mu.Unlock()
	for _, w := range worlds {
		s.mu.Lock()
		_, running := s.actors[w.ID]
		full := len(s.actors) >= s.MaxWorlds
		held := time.Now().Before(s.failed[w.ID].until)
		s.mu.Unlock()
		if running || full || held || ctx.Err() != nil {
			continue
		}
		rev, ok, err := s.leases.TryAcquire(ctx, w.ID)
		if err != nil || !ok {
			continue
		}
		a := &worldActor{svc: s, def: w, epoch: rev, done: make(chan struct{}), revisions: make(chan maopao.World, 1), cardCheck: make(chan struct{}, 1)}
		actx, cancel := context.WithCancel(context.Background())
		a.cancel = cancel
		s.mu.Lock()
		s.actors[w.ID] = a
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			started := time.Now()
			err := a.run(actx)
			failed := err != nil && !errors.Is(err, context.Canceled)
			if failed {
				// Let another process try at once: the cause may be ours.
				dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if derr := s.leases.Drop(dctx, w.ID); derr != nil {
					s.Log.Warn("give up the lease of a failed world", "world", w.ID, "err", derr)
				}
				cancel()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.actors, w.ID)
			if !failed {
				delete(s.failed, w.ID)
				return
			}
			f := s.failed[w.ID]
			if time.Since(started) > maxStartBackoff {
				f.wait = 0 // it ran a good while: start the pauses over
			}
			f.wait = min(max(2*f.wait, s.ClaimEvery), maxStartBackoff)
			f.until = time.Now().Add(f.wait)
			s.failed[w.ID] = f
			s.Log.Error("world stopped", "world", w.ID, "err", err, "retry_in", f.wait)
		}()

		s.Log.Info("world claimed", "world", w.ID, "name", w.Name, "owner", s.Owner)
	}
}

// worldSeed derives a world's PRNG seed from its ID, so every owner
// rebuilding it from scratch starts from the same state.
func worldSeed(id string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}

func loadCharacters(ctx context.Context, st WorldStore, def maopao.World) ([]maopao.Character, error) {
	var out []maopao.Character
	for _, r := range def.Residents {
		c, err := st.GetCharacter(ctx, r.CharacterID)
		if err != nil {
			return nil, fmt.Errorf("world %s: resident %s: %w", def.ID, r.CharacterID, err)
		}
		c.Avatar = nil
		out = append(out, c)
	}
	return out, nil
}
