package worldsim

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim/world"
)

func newID() string { return uuid.NewString() }

// worldActor runs one world: it folds the world's input log into a
// world.State and performs the effects. Only the lease holder writes ticks
// and engine results into the log; everything else (player lines) comes
// from gateways.
type worldActor struct {
	svc    *WorldService
	def    maopao.World
	epoch  uint64 // this owner's lease revision
	cancel context.CancelFunc
	done   chan struct{}

	state    world.State
	seq      uint64 // last log entry folded into state
	curEpoch uint64 // the epoch whose owner entries count, as the log says
	live     bool   // replay is over: effects are performed
	queries  chan query
	results  chan struct{} // wakes the loop when generation finished
	genSem   chan struct{}
	memories chan memoryWrite
	// revisions holds the newest definition the store has shown; proposed
	// is the latest revision this owner logged, so it is logged once.
	revisions chan maopao.World
	proposed  int
	// cardCheck asks the loop to look for residents' cards edited since.
	cardCheck chan struct{}
	handOver  bool
	deleted   bool
	mu        sync.Mutex
}

type query struct {
	q     protocol.WorldQuery
	reply func(protocol.WorldView)
}

// offerRevision hands the world the definition the store holds now; the
// loop logs it as a WorldRevised when it is newer than the running one.
// Only the newest offer is kept.
func (a *worldActor) offerRevision(w maopao.World) {
	for {
		select {
		case a.revisions <- w:
			return
		default:
		}
		select {
		case old := <-a.revisions:
			if old.Revision > w.Revision {
				w = old
			}
		default:
		}
	}
}

// checkCards asks the loop to look for edited resident cards.
func (a *worldActor) checkCards() {
	select {
	case a.cardCheck <- struct{}{}:
	default:
	}
}

// refreshCards logs the cards of residents edited since the world took
// them (CardsUpdated), in entries that fit the log.
func (a *worldActor) refreshCards(ctx context.Context, log *slog.Logger) {
	if !a.live {
		return
	}
	var cards []maopao.Character
	for _, act := range a.state.Actors {
		if act.Gone {
			continue
		}
		c, err := a.svc.Store.GetCharacter(ctx, act.Card.ID)
		if err != nil {
			continue // gone from the store: the resident keeps the card it has
		}
		cards = append(cards, c)
	}
	if !a.appendCards(ctx, a.state.StaleCards(cards), func(b []maopao.Character) world.Input { return world.CardsUpdated{Cards: b} }) {
		log.Warn("log edited resident cards; the next edit tries again")
	}
}

// appendCards logs cards (without pictures) in entries of as many as fit
// half a log message, each made by entry; it reports whether all went in.
func (a *worldActor) appendCards(ctx context.Context, cards []maopao.Character, entry func([]maopao.Character) world.Input) bool {
	limit := int(a.svc.Bus.MaxPayload())/2 - 4<<10
	var batch []maopao.Character
	size := 0
	for i, c := range cards {
		c.Avatar, c.AvatarType, c.Assets = nil, "", nil
		b, _ := json.Marshal(c)
		batch, size = append(batch, c), size+len(b)
		if size > limit || i == len(cards)-1 {
			if !a.appendOwn(ctx, entry(batch)) {
				return false
			}
			batch, size = nil, 0
		}
	}
	return true
}

func (a *worldActor) stop(handOver bool) {
	a.mu.Lock()
	a.handOver = handOver
	a.mu.Unlock()
	a.cancel()
}

// stopDeleted stops a world whose definition is gone: no final snapshot
// (it would outlive the world), and the lease is released.
func (a *worldActor) stopDeleted() {
	a.mu.Lock()
	a.handOver, a.deleted = true, true
	a.mu.Unlock()
	a.cancel()
}

// run is the world's life with this owner: restore the state, announce
// the takeover in the log, keep the lease, then fold the log and tick the
// clock until the world stops here.
func (a *worldActor) run(ctx context.Context) error {
	svc := a.svc
	log := svc.Log.With("world", a.def.ID)
	defer close(a.done)
	if err := a.restore(ctx); err != nil {
		return err
	}
	// Announce the takeover in the log: from that entry on, only this
	// owner's ticks and engine results count.
	takeoverSeq, err := a.append(ctx, protocol.WorldLogEntry{Owner: svc.Owner, Epoch: a.epoch, Takeover: true}, "")
	if err != nil {
		return err
	}
	a.queries = make(chan query, 64)
	a.results = make(chan struct{}, 1)
	inFlight := svc.Config.MaxInFlight
	if inFlight <= 0 {
		inFlight = 2
	}
	a.genSem = make(chan struct{}, inFlight)
	a.memories = make(chan memoryWrite, 4096)

	lease := a.keepLease(ctx, log)
	defer lease.stop()
	sub, err := a.serveQueries()
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	var memWG sync.WaitGroup
	memWG.Add(1)
	go func() { defer memWG.Done(); a.writeMemories(ctx) }()
	defer func() { close(a.memories); memWG.Wait() }()

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	entries, err := svc.Bus.Read(readCtx, protocol.WorldLogStream, protocol.WorldInputSubject(a.def.ID), a.seq+1)
	if err != nil {
		return fmt.Errorf("world %s: read log: %w", a.def.ID, err)
	}

	tick := time.NewTicker(svc.TickEvery)
	defer tick.Stop()
	snapT := time.NewTicker(svc.SnapshotEvery)
	defer snapT.Stop()
	lastTick := time.Now()
	var genWG sync.WaitGroup
	genCtx, stopGen := context.WithCancel(context.Background())
	defer func() { stopGen(); genWG.Wait() }()

	for {
		select {
		case <-ctx.Done():
			stopGen()
			genWG.Wait()
			a.stopping(lease, log)
			return ctx.Err()
		case m, ok := <-entries:
			if !ok {
				return fmt.Errorf("world %s: log reader stopped", a.def.ID)
			}
			revision := a.state.World.Revision
			wentLive, err := a.apply(genCtx, &genWG, m, takeoverSeq)
			if err != nil {
				// Skipping an entry would make this state differ from any
				// replay of the log: stop, and let the operator look.
				return err
			}
			if wentLive {
				lastTick = time.Now()
				log.Info("world live", "seq", a.seq, "clock", a.state.Clock)
				// The store may hold a revision newer than the snapshot,
				// and cards edited since.
				a.offerRevision(a.def)
				a.checkCards()
			}
			if a.live && a.state.World.Revision != revision {
				log.Info("world revision applied", "revision", a.state.World.Revision)
				// A snapshot now, so a restart never rebuilds this world
				// from a definition older than the one it runs.
				if err := a.snapshot(ctx); err != nil && ctx.Err() == nil {
					log.Warn("snapshot after revision", "err", err)
				}
			}
		case w := <-a.revisions:
			a.revise(ctx, w, log)
		case <-a.cardCheck:
			a.refreshCards(ctx, log)
		case <-tick.C:
			if !a.live || len(a.state.People) == 0 {
				// Nobody is here: the world sleeps, costing nothing. The
				// first tick after someone arrives carries all the time
				// slept, so the clock catches up in one step, as the log
				// records it.
				if a.live {
					log.Debug("world asleep: nobody is here")
				}
				continue
			}
			now := time.Now()
			ms := now.Sub(lastTick).Milliseconds()
			lastTick = now
			a.appendOwn(ctx, world.Tick{RealMillis: ms})
		case q := <-a.queries:
			q.reply(a.view(q.q))
		case <-snapT.C:
			if a.live {
				if err := a.snapshot(ctx); err != nil && ctx.Err() == nil {
					log.Warn("snapshot", "err", err)
				}
			}
		}
	}
}

// revise logs a newer definition as a WorldRevised, with the cards of
// the residents the world has never had (staged in entries of their own
// when they would not fit in one with it). Nothing is logged that the
// state would refuse: a revision that cannot apply is reported and left.
func (a *worldActor) revise(ctx context.Context, def maopao.World, log *slog.Logger) {
	if !a.live || def.Revision <= a.state.World.Revision || def.Revision <= a.proposed {
		return // not live yet (offered again when it is), or not newer
	}
	rev := world.WorldRevised{World: def}
	for _, id := range a.state.NewResidents(def) {
		c, err := a.svc.Store.GetCharacter(ctx, id)
		if err != nil {
			log.Warn("world revision: load a new resident; trying again later", "revision", def.Revision, "character", id, "err", err)
			return
		}
		c.Avatar, c.AvatarType, c.Assets = nil, "", nil
		rev.Cards = append(rev.Cards, c)
	}
	if err := a.state.CheckRevision(rev); err != nil {
		log.Error("world revision refused", "revision", def.Revision, "err", err)
		a.proposed = def.Revision
		return
	}
	limit := int(a.svc.Bus.MaxPayload()) - 4<<10 // room for the log entry's envelope
	raw, err := world.EncodeInput(rev)
	if err != nil {
		log.Error("encode world revision", "err", err)
		return
	}
	if len(raw) > limit {
		// The cards go ahead in entries of their own.
		if !a.appendCards(ctx, rev.Cards, func(b []maopao.Character) world.Input { return world.CardsStaged{Cards: b} }) {
			return
		}
		rev.Cards = nil
	}
	if a.appendOwn(ctx, rev) {
		a.proposed = def.Revision
	}
}

// restore rebuilds the state from the latest snapshot, or from the
// world's definition when there is none.
func (a *worldActor) restore(ctx context.Context) error {
	svc := a.svc
	chars, err := loadCharacters(ctx, svc.Store, a.def)
	if err != nil {
		return err
	}
	snap, err := svc.Store.GetWorldSnapshot(ctx, a.def.ID)
	switch {
	case err == nil:
		if err := decodeState(snap.State, &a.state); err != nil {
			return fmt.Errorf("world %s: decode snapshot at seq %d: %w", a.def.ID, snap.Seq, err)
		}
		a.seq, a.curEpoch = snap.Seq, snap.Epoch
	case errors.Is(err, maopao.ErrNotFound):
		if a.state, err = world.New(svc.Config, a.def, chars, worldSeed(a.def.ID)); err != nil {
			return fmt.Errorf("world %s: %w", a.def.ID, err)
		}
	default:
		return fmt.Errorf("world %s: load snapshot: %w", a.def.ID, err)
	}
	if svc.Engine != nil {
		// Prompts fit the context as the model's tokenizer counts them.
		a.state.CountTokens = svc.Engine.CountTokens
	}
	return nil
}

// heldLease is the renewal of this owner's lease, running beside the loop.
type heldLease struct {
	stop    context.CancelFunc
	lost    chan struct{} // closed when another owner took the world
	lastRev chan uint64   // the last revision, once renewal stopped
}

// keepLease renews the lease until the world stops; losing it stops the
// world here at once.
func (a *worldActor) keepLease(ctx context.Context, log *slog.Logger) heldLease {
	leaseCtx, stop := context.WithCancel(ctx)
	l := heldLease{stop: stop, lost: make(chan struct{}), lastRev: make(chan uint64, 1)}
	go func() {
		rev, err := a.svc.leases.Keep(leaseCtx, a.def.ID, a.epoch)
		l.lastRev <- rev
		if errors.Is(err, bus.ErrLeaseLost) {
			log.Warn("world lease lost; stopping", "err", err)
			close(l.lost)
			a.cancel()
		}
	}()
	return l
}

// serveQueries answers gateways asking what is at a place; the answers
// come from the loop, which owns the state.
func (a *worldActor) serveQueries() (bus.Subscription, error) {
	b := a.svc.Bus
	sub, err := b.Subscribe(protocol.WorldQuerySubject(a.def.ID), func(m bus.Msg) {
		var q protocol.WorldQuery
		if err := json.Unmarshal(m.Data, &q); err != nil {
			return
		}
		select {
		case a.queries <- query{q: q, reply: func(v protocol.WorldView) { data, _ := json.Marshal(v); _ = b.Publish(m.Reply, data) }}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("world %s: serve queries: %w", a.def.ID, err)
	}
	return sub, nil
}

// stopping ends the world here: a final snapshot, and the lease handed
// over when asked to, unless another owner has the world already.
func (a *worldActor) stopping(lease heldLease, log *slog.Logger) {
	a.mu.Lock()
	handOver, deleted := a.handOver, a.deleted
	a.mu.Unlock()
	select {
	case <-lease.lost:
		return // another owner has it; do not write
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !deleted {
		if err := a.snapshot(ctx); err != nil {
			log.Warn("final snapshot", "err", err)
		}
	}
	if handOver {
		lease.stop()
		if err := a.svc.leases.Release(ctx, a.def.ID, <-lease.lastRev); err != nil {
			log.Warn("hand over lease", "err", err)
		}
	}
}

// apply folds one log entry and performs its effects once the world is
// live; wentLive reports the entry that ended the replay.
func (a *worldActor) apply(genCtx context.Context, genWG *sync.WaitGroup, m bus.Entry, takeoverSeq uint64) (wentLive bool, err error) {
	effs, err := a.fold(m.Seq, m.Data)
	if err != nil {
		return false, err
	}
	for _, e := range effs {
		if a.live {
			a.perform(genCtx, genWG, e)
		}
	}
	if !a.live && m.Seq >= takeoverSeq {
		// Caught up with our own takeover: redo the engine calls that
		// were running when the last owner stopped.
		a.live = true
		for _, e := range a.state.Resume() {
			a.perform(genCtx, genWG, e)
		}
		return true, nil
	}
	return false, nil
}

// fold applies one log entry to the state and returns the effects. An
// entry that cannot be read is an error: the log is the world's history,
// and every owner must fold exactly the same entries.
func (a *worldActor) fold(seq uint64, data []byte) ([]world.Effect, error) {
	var e protocol.WorldLogEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("world %s: log entry %d is not a log entry: %w", a.def.ID, seq, err)
	}
	if e.Takeover {
		a.seq, a.curEpoch = seq, e.Epoch
		return nil, nil
	}
	if e.Epoch != 0 && e.Epoch != a.curEpoch {
		a.seq = seq
		return nil, nil // written by an owner that has since lost the world
	}
	in, err := world.DecodeInput(e.Input)
	if err != nil {
		return nil, fmt.Errorf("world %s: log entry %d holds no input this version knows: %w", a.def.ID, seq, err)
	}
	a.seq = seq
	return a.state.Step(in), nil
}

func (a *worldActor) append(ctx context.Context, e protocol.WorldLogEntry, msgID string) (uint64, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	seq, err := a.svc.Bus.Append(pctx, protocol.WorldInputSubject(a.def.ID), msgID, b)
	if err != nil {
		return 0, fmt.Errorf("world %s: append to log: %w", a.def.ID, err)
	}
	return seq, nil
}

// appendOwn logs one of the owner's own inputs under its epoch and
// reports whether it is in the log.
func (a *worldActor) appendOwn(ctx context.Context, in world.Input) bool {
	raw, err := world.EncodeInput(in)
	if err != nil {
		a.svc.Log.Error("encode world input", "err", err)
		return false
	}
	msgID := ""
	if g, ok := in.(world.Generated); ok {
		msgID = fmt.Sprintf("%s/%d/%s", a.def.ID, a.epoch, g.WorkID)
	}
	if _, err := a.append(ctx, protocol.WorldLogEntry{Owner: a.svc.Owner, Epoch: a.epoch, Input: raw}, msgID); err != nil {
		if ctx.Err() == nil {
			a.svc.Log.Warn("append own input", "world", a.def.ID, "err", err)
		}
		return false
	}
	return true
}

func (a *worldActor) snapshot(ctx context.Context) error {
	b, err := encodeState(&a.state)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	snap := maopao.WorldSnapshot{WorldID: a.def.ID, Seq: a.seq, Epoch: a.curEpoch, State: b, SavedAt: time.Now().UTC()}
	if err := a.svc.Store.PutWorldSnapshot(ctx, snap); err != nil {
		return err
	}
	// What the snapshot covers is no longer needed in the log.
	if err := a.svc.Bus.Purge(ctx, protocol.WorldLogStream, protocol.WorldInputSubject(a.def.ID), a.seq+1); err != nil {
		return fmt.Errorf("purge log below %d: %w", a.seq+1, err)
	}
	return nil
}

// writeMemories stores the records the world hands it, in order. A store
// error is retried with backoff; a record is given up only when the world
// is stopping and the store still refuses it (it stays in the world state
// and its snapshots either way).
func (a *worldActor) writeMemories(ctx context.Context) {
	for w := range a.memories {
		r := w.rec
		wait := 100 * time.Millisecond
		for attempt := 1; ; attempt++ {
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var err error
			if w.remove {
				err = a.svc.Store.DeleteMemoryRecord(wctx, a.def.ID, r.CharacterID, r.ID)
				if errors.Is(err, maopao.ErrNotFound) {
					err = nil // gone already (the gateway deletes it too)
				}
			} else {
				err = a.svc.Store.PutMemoryRecord(wctx, r)
			}
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil && attempt >= 3 {
				a.svc.Log.Error("store memory record: giving up while stopping", "world", a.def.ID, "record", r.ID, "err", err)
				break
			}
			a.svc.Log.Warn("store memory record; retrying", "world", a.def.ID, "record", r.ID, "attempt", attempt, "err", err)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
}

// memoryWrite is a memory record to store, or (remove) to delete, in order.
type memoryWrite struct {
	rec    maopao.MemoryRecord
	remove bool
}

// perform carries out one effect of a live world.
func (a *worldActor) perform(genCtx context.Context, wg *sync.WaitGroup, e world.Effect) {
	switch e := e.(type) {
	case world.Broadcast:
		a.publish(protocol.WorldRoomSubject(a.def.ID, e.LocationID), a.event(e.Event, e.LocationID, ""))
	case world.SendPrivate:
		with := ""
		if e.Event.FromKind == world.KindCharacter {
			with = e.Event.From
		}
		a.publish(protocol.WorldPlayerSubject(a.def.ID, e.PlayerID), a.event(e.Event, e.Event.LocationID, with))
	case world.MemoryAdded:
		// A full queue holds the world back until the store catches up,
		// rather than losing the record. The writer always drains (it
		// gives up on a record only after retries while stopping), so
		// this cannot wait forever.
		a.memories <- memoryWrite{rec: e.Record}
	case world.MemoryRemoved:
		a.memories <- memoryWrite{rec: maopao.MemoryRecord{ID: e.ID, CharacterID: e.CharacterID}, remove: true}
	case world.Generate:
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.generate(genCtx, e)
		}()
	case world.Ack:
		// Player lines are in the log already; nothing to do.
	}
}

func (a *worldActor) generate(ctx context.Context, g world.Generate) {
	select {
	case a.genSem <- struct{}{}:
		defer func() { <-a.genSem }()
	case <-ctx.Done():
		return
	}
	name := g.CharacterName
	if name == "" {
		name = g.CharacterID // work started by a version that did not carry the name
	}
	actor := protocol.Actor{Kind: "character", ID: g.CharacterID, Name: name}
	subject := ""
	private := ""
	switch {
	case g.Audience.PlayerID != "":
		subject = protocol.WorldPlayerSubject(a.def.ID, g.Audience.PlayerID)
		private = g.CharacterID
	case g.Audience.LocationID != "":
		subject = protocol.WorldRoomSubject(a.def.ID, g.Audience.LocationID)
	}
	seq := 0
	blind := !engine.SeesPictures(a.svc.Engine)
	if g.Kind == world.WorkCaption && blind {
		a.appendOwn(ctx, world.Generated{WorkID: g.WorkID, Code: world.CodeNoVision})
		return
	}
	log := a.svc.Log.With("world", a.def.ID)
	req, _ := attachPictures(ctx, a.svc.Store, log, g.Request, blind)
	onToken := func(t engine.Token) error {
		if subject == "" || t.Text == "" {
			return nil
		}
		a.publish(subject, protocol.WorldEvent{Kind: protocol.WorldDelta, WorldID: a.def.ID, LocationID: g.Audience.LocationID, PrivateWith: private,
			MessageID: g.LineID, ReplyTo: g.ReplyTo, Actor: actor, Text: t.Text, Seq: seq})
		seq++
		return nil
	}
	res, err := a.svc.Engine.Generate(ctx, req, onToken)
	if errors.Is(err, engine.ErrNoVision) && seq == 0 {
		if g.Kind == world.WorkCaption {
			a.appendOwn(ctx, world.Generated{WorkID: g.WorkID, Code: world.CodeNoVision})
			return
		}
		// Found out now: the same request, the pictures in words.
		req, _ = attachPictures(ctx, a.svc.Store, log, g.Request, true)
		res, err = a.svc.Engine.Generate(ctx, req, onToken)
	}
	if ctx.Err() != nil {
		return // stopping: the next owner resumes this work
	}
	out := world.Generated{WorkID: g.WorkID, Text: res.Text}
	if err != nil {
		out.Code = protocol.CodeEngine
		a.svc.Log.Warn("world generation failed", "world", a.def.ID, "work", g.WorkID, "err", err)
	}
	a.appendOwn(ctx, out)
}

func (a *worldActor) publish(subject string, ev protocol.WorldEvent) {
	b, _ := json.Marshal(ev)
	if err := a.svc.Bus.Publish(subject, b); err != nil {
		a.svc.Log.Warn("publish world event", "subject", subject, "err", err)
	}
}

func (a *worldActor) event(e world.Event, loc, private string) protocol.WorldEvent {
	kind := e.Kind
	if kind == world.EventSaid {
		kind = protocol.WorldSaid
	}
	if loc == "" {
		loc = e.LocationID
	}
	return protocol.WorldEvent{
		Kind: kind, WorldID: a.def.ID, LocationID: loc, PrivateWith: private, MessageID: e.ID, ReplyTo: e.ReplyTo,
		Actor: protocol.Actor{Kind: e.FromKind, ID: e.From, Name: e.FromName}, Text: e.Text, SimMinute: e.SimMinute, Code: e.Code,
		Pictures: e.Pictures,
	}
}

// view answers what a player sees at a location.
func (a *worldActor) view(q protocol.WorldQuery) protocol.WorldView {
	loc := q.LocationID
	v := protocol.WorldView{LocationID: loc, SimMinute: a.state.Clock, Present: []protocol.Actor{}, Recent: []protocol.WorldEvent{}}
	for _, act := range a.state.Actors {
		if act.Location == loc {
			v.Present = append(v.Present, protocol.Actor{Kind: "character", ID: act.Card.ID, Name: act.Card.Name})
		}
	}
	for _, p := range a.state.People {
		if p.Location == loc {
			v.Present = append(v.Present, protocol.Actor{Kind: "player", ID: p.ID, Name: p.Name})
		}
	}
	for _, th := range a.state.Thread {
		if th.PlayerID != q.PlayerID {
			continue
		}
		for _, l := range th.Lines {
			v.Recent = append(v.Recent, protocol.WorldEvent{Kind: protocol.WorldSaid, WorldID: a.def.ID, PrivateWith: th.CharacterID, MessageID: l.ID, ReplyTo: l.ReplyTo,
				Actor: protocol.Actor{Kind: l.FromKind, ID: l.From, Name: l.FromName}, Text: l.Text, SimMinute: l.SimMinute})
		}
	}
	for _, r := range a.state.Rooms {
		if r.LocationID != loc {
			continue
		}
		for _, l := range r.Lines {
			kind := protocol.WorldSaid
			if l.FromKind == world.KindEvent {
				kind = protocol.WorldHappened
			}
			v.Recent = append(v.Recent, protocol.WorldEvent{Kind: kind, WorldID: a.def.ID, LocationID: loc, MessageID: l.ID, ReplyTo: l.ReplyTo,
				Actor: protocol.Actor{Kind: l.FromKind, ID: l.From, Name: l.FromName}, Text: l.Text, SimMinute: l.SimMinute, Pictures: l.Pictures})
		}
	}
	return v
}

// encodeState is a snapshot's bytes: the state's JSON, gzipped. Memory
// streams make big worlds' JSON large (tens of MB at 10,000 characters),
// and it compresses about tenfold, which keeps snapshots within MongoDB's
// 16 MB document limit far longer.
func encodeState(s *world.State) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(s); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeState reads a snapshot, gzipped or (as older snapshots are) plain JSON.
func decodeState(b []byte, s *world.State) error {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		defer zr.Close()
		return json.NewDecoder(zr).Decode(s)
	}
	return json.Unmarshal(b, s)
}
