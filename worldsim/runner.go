package worldsim

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

// ChatService consumes player lines from JetStream and runs one actor per
// active conversation. Its zero value is not usable; fill the fields and
// call Run.
type ChatService struct {
	Store  storage.Store
	Engine engine.Generator
	Bus    bus.Bus
	Log    *slog.Logger
	Config ChatConfig
	// AckWait is how long the stream waits before it hands an unacked line
	// to another process (default 6s): the lines this process holds are
	// kept alive every AckWait/3, so it is also how soon the lines of a
	// process that died are answered by another.
	AckWait   time.Duration
	IdleAfter time.Duration // an actor with nothing to do passivates after this (default 5m)
	// EngineRetryFor is how long a reply is retried while the engine is
	// unavailable before it fails (default 2m).
	EngineRetryFor time.Duration
	// MemoryWorkAfter is how long a chat is quiet before the engine rates
	// its new memories, reflects and summarizes (keeper.go; default 10s,
	// negative: never).
	MemoryWorkAfter time.Duration
	// Owner names this process in the partition leases (default: a fresh
	// UUID); LeaseTTL is how long a dead process keeps its partitions
	// (default 10s, longer than AckWait so that its unacknowledged lines
	// come back before anything newer); ClaimEvery is how often the
	// partitions are balanced (default LeaseTTL/4).
	Owner      string
	LeaseTTL   time.Duration
	ClaimEvery time.Duration

	leases            *bus.Leases
	members           *bus.Leases
	parts             map[int]*chatPartition
	lastHeld          int // partitions held at the last balance, for the log
	partsWG           sync.WaitGroup
	mu                sync.Mutex
	actors            map[string]*chatActor
	heldMu            sync.Mutex
	held              map[*heldLine]struct{}
	wg                sync.WaitGroup
	contextFromEngine bool
	keeper            *memoryKeeper
}

// Run consumes until ctx is cancelled, then stops every actor; lines being
// answered go back to the stream for the next process to take.
func (s *ChatService) Run(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.AckWait <= 0 {
		s.AckWait = 6 * time.Second
	}
	if s.IdleAfter <= 0 {
		s.IdleAfter = 5 * time.Minute
	}
	if s.EngineRetryFor <= 0 {
		s.EngineRetryFor = 2 * time.Minute
	}
	if s.Owner == "" {
		s.Owner = "worldsim-" + newID()
	}
	if s.LeaseTTL <= 0 {
		s.LeaseTTL = max(10*time.Second, 2*s.AckWait)
	}
	if s.ClaimEvery <= 0 {
		s.ClaimEvery = s.LeaseTTL / 4
	}
	if s.Config.ContextSize == 0 {
		// The engine's model may change while we run (a model installed
		// from the page): each line then reads the context size anew.
		s.contextFromEngine = true
		s.Config.ContextSize = s.Engine.ContextSize()
	}
	if s.Config.CountTokens == nil {
		s.Config.CountTokens = s.Engine.CountTokens
	}
	s.mu.Lock()
	s.actors = map[string]*chatActor{}
	s.parts = map[int]*chatPartition{}
	if s.MemoryWorkAfter == 0 {
		s.MemoryWorkAfter = 10 * time.Second
	}
	s.keeper = newKeeper(s.Store, s.Engine, s.Log, s.MemoryWorkAfter)
	s.mu.Unlock()
	if s.MemoryWorkAfter > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.keeper.run(ctx) }()
	}
	s.heldMu.Lock()
	s.held = map[*heldLine]struct{}{}
	s.heldMu.Unlock()
	if err := bus.DeclareStreams(ctx, s.Bus, bus.InputStream); err != nil {
		return err
	}
	var err error
	if s.leases, err = bus.OpenLeases(ctx, s.Bus, protocol.ChatPartitionBucket, s.Owner, s.LeaseTTL); err != nil {
		return err
	}
	if s.members, err = bus.OpenLeases(ctx, s.Bus, protocol.ChatMembersBucket, s.Owner, s.LeaseTTL); err != nil {
		return err
	}
	memberCtx, leaveMembers := context.WithCancel(context.Background())
	defer leaveMembers()
	if err := s.joinMembers(memberCtx, s.Log); err != nil {
		return err
	}
	// Lines from before chats were partitioned: anyone drains them.
	legacy := newChatPartition(-1)
	legacyDone, err := s.Bus.Consume(legacy.ctx, protocol.InputStream, bus.LegacyChatConsumer(s.AckWait), func(d bus.Delivery) { s.route(legacy, d) })
	if err != nil {
		return fmt.Errorf("worldsim: consume %s: %w", protocol.ChatWorkerConsumer, err)
	}
	// Stop requests skip the input queue: the line being answered is
	// what they are about.
	ctl, err := s.Bus.Subscribe(protocol.ChatControlWildcard, func(m bus.Msg) {
		var c protocol.ChatControl
		if json.Unmarshal(m.Data, &c) != nil || c.Op != "stop" {
			return
		}
		convID := m.Subject[len(protocol.ChatControlSubject("")):]
		s.mu.Lock()
		a := s.actors[convID]
		s.mu.Unlock()
		if a != nil {
			a.stopGeneration()
		}
	})
	if err != nil {
		legacy.stop(false)
		return fmt.Errorf("worldsim: subscribe %s: %w", protocol.ChatControlWildcard, err)
	}
	go s.keepAlive(ctx)
	s.balanceUntil(ctx)

	// Stopping: every partition is handed over (its lines go back in
	// order, its lease is released), and this process leaves the members
	// so the others take its share at once.
	_ = ctl.Unsubscribe()
	s.mu.Lock()
	for _, p := range s.parts {
		p.stop(true)
	}
	s.mu.Unlock()
	legacy.stop(false)
	s.drainPartition(legacy, legacyDone)
	s.partsWG.Wait()
	s.wg.Wait()
	leaveMembers()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.members.Drop(dctx, s.Owner); err != nil {
		s.Log.Warn("leave chat members", "err", err)
	}
	return nil
}

// balanceUntil balances the partitions now and every ClaimEvery until ctx
// ends.
func (s *ChatService) balanceUntil(ctx context.Context) {
	t := time.NewTicker(s.ClaimEvery)
	defer t.Stop()
	for {
		s.balance(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Partitions lists the chat partitions this process runs now.
func (s *ChatService) Partitions() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, 0, len(s.parts))
	for p := range s.parts {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// heldLine is a line this process holds (waiting in an actor's mailbox,
// queued behind a reply, or being answered) until it acks, naks or drops it.
type heldLine struct {
	bus.Delivery
	svc *ChatService
}

func (s *ChatService) hold(d bus.Delivery) *heldLine {
	h := &heldLine{Delivery: d, svc: s}
	s.heldMu.Lock()
	s.held[h] = struct{}{}
	s.heldMu.Unlock()
	return h
}

// forget stops keeping the line alive without answering the stream.
func (h *heldLine) forget() {
	h.svc.heldMu.Lock()
	delete(h.svc.held, h)
	h.svc.heldMu.Unlock()
}

func (h *heldLine) Ack(ctx context.Context) error { h.forget(); return h.Delivery.Ack(ctx) }
func (h *heldLine) Nak(delay time.Duration) error { h.forget(); return h.Delivery.Nak(delay) }
func (h *heldLine) Term() error                   { h.forget(); return h.Delivery.Term() }

// keepAlive tells the stream every AckWait/3 that each held line is in
// hand, until ctx ends: a line queued behind a long reply is not handed to
// another process meanwhile, and one this process stops holding (because
// it died) comes back within AckWait.
func (s *ChatService) keepAlive(ctx context.Context) {
	t := time.NewTicker(s.AckWait / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.heldMu.Lock()
		lines := make([]*heldLine, 0, len(s.held))
		for h := range s.held {
			lines = append(lines, h)
		}
		s.heldMu.Unlock()
		for _, h := range lines {
			_ = h.InProgress()
		}
	}
}

// errStopped is why a generation the player stopped ended.
var errStopped = errors.New("stopped by the player")

func (s *ChatService) route(part *chatPartition, msg bus.Delivery) {
	ctx := part.ctx
	var line protocol.PlayerLine
	if err := json.Unmarshal(msg.Data(), &line); err != nil || line.MessageID == "" || line.ConversationID == "" {
		s.Log.Error("dropping malformed player line", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	// Under s.mu, which an actor takes to leave s.actors when its
	// partition stops: a line either reaches a live actor (which hands it
	// back with the rest) or waits with the partition's late lines.
	s.mu.Lock()
	if !part.admit(msg) {
		s.mu.Unlock()
		return // the partition is stopping; handed back after its actors' lines
	}
	a := s.actors[line.ConversationID]
	if a != nil && line.Op != "" && a.generating() {
		s.mu.Unlock()
		// The actor is inside a generation and reads its mailbox only
		// when it ends: tell the player now instead of holding the request.
		a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: line.ConversationID, ReplyTo: line.MessageID,
			Code: protocol.CodeBusy, Text: "a reply is still being written; stop it or wait, then try again"})
		_ = msg.Ack(ctx)
		return
	}
	if a == nil {
		a = &chatActor{svc: s, part: part, convID: line.ConversationID, mailbox: make(chan bus.Delivery, 1024), deliveries: map[string]bus.Delivery{}}
		s.actors[line.ConversationID] = a
		s.wg.Add(1)
		part.actors.Add(1)
		go a.run(ctx)
	}
	if wait := time.Until(time.Unix(0, a.pausedUntil.Load())); wait > 0 {
		s.mu.Unlock()
		_ = msg.Nak(wait)
		return
	}
	held := s.hold(msg)
	select {
	case a.mailbox <- held:
	default:
		held.forget()
		// The actor is far behind; let JetStream hold the line for now.
		_ = msg.Nak(time.Second)
	}
	s.mu.Unlock()
}

// chatActor is the runner of one conversation: it owns a ChatState and
// performs the effects Step asks for, one input at a time.
type chatActor struct {
	svc        *ChatService
	part       *chatPartition // the partition it runs in
	convID     string
	mailbox    chan bus.Delivery
	deliveries map[string]bus.Delivery // latest delivery per line, for acks
	state      ChatState
	loaded     bool

	genMu  sync.Mutex
	genCut context.CancelCauseFunc // ends the generation running now, if any
	// pausedUntil (Unix ns) holds new lines back while handed-back ones
	// wait to come again.
	pausedUntil atomic.Int64
}

// generating reports whether a generation is running now.
func (a *chatActor) generating() bool {
	a.genMu.Lock()
	defer a.genMu.Unlock()
	return a.genCut != nil
}

// stopGeneration ends the reply being generated, keeping what was written.
func (a *chatActor) stopGeneration() {
	a.genMu.Lock()
	defer a.genMu.Unlock()
	if a.genCut != nil {
		a.genCut(errStopped)
	}
}

func (a *chatActor) run(ctx context.Context) {
	defer a.svc.wg.Done()
	defer a.part.actors.Done()
	idle := time.NewTimer(a.svc.IdleAfter)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			// Out of s.actors first, so route puts nothing more into
			// the mailbox, then everything held goes back in order.
			a.remove()
			a.letGo()
			return
		case msg := <-a.mailbox:
			for _, m := range a.inOrder(ctx, msg) {
				a.handle(ctx, m)
			}
			idle.Reset(a.svc.IdleAfter)
		case <-idle.C:
			a.svc.mu.Lock()
			if len(a.mailbox) == 0 && a.state.InFlight == "" && len(a.state.Queue) == 0 {
				delete(a.svc.actors, a.convID)
				a.svc.mu.Unlock()
				return
			}
			a.svc.mu.Unlock()
			idle.Reset(a.svc.IdleAfter)
		}
	}
}

// settleFor is how long an actor gathers lines that come again before
// answering them: a stream hands lines that come back (their process died
// or gave the conversation up) out in one burst, but not always in order.
const settleFor = 200 * time.Millisecond

// inOrder returns msg alone, or, when it came again, it and whatever else
// arrives within settleFor, sorted by their place in the stream: the
// conversation's lines are answered in the order they were accepted.
func (a *chatActor) inOrder(ctx context.Context, msg bus.Delivery) []bus.Delivery {
	if !msg.Redelivered() {
		return []bus.Delivery{msg}
	}
	batch := []bus.Delivery{msg}
	t := time.NewTimer(settleFor)
	defer t.Stop()
gather:
	for {
		select {
		case m := <-a.mailbox:
			batch = append(batch, m)
		case <-t.C:
			break gather
		case <-ctx.Done():
			break gather
		}
	}
	slices.SortStableFunc(batch, func(x, y bus.Delivery) int { return cmp.Compare(x.Seq(), y.Seq()) })
	return batch
}

func (a *chatActor) remove() {
	a.svc.mu.Lock()
	if a.svc.actors[a.convID] == a {
		delete(a.svc.actors, a.convID)
	}
	a.svc.mu.Unlock()
}

// letGo stops keeping alive every line the actor holds, without a word to
// the stream: each comes back once its AckWait is over. The stream hands
// lines that came back that way out in the order it took them, which naks
// do not promise, so whoever takes the conversation next answers them in
// order (its partition's lease is released only after AckWait).
func (a *chatActor) letGo() {
	for id, m := range a.deliveries {
		a.part.letGo(m)
		delete(a.deliveries, id)
	}
	for {
		select {
		case m := <-a.mailbox:
			a.part.letGo(m)
		default:
			return
		}
	}
}

// handBackAll naks the lines named in order, then any other line the actor
// holds, then its mailbox, all with the same delay. Until the delay is
// over, lines that arrive for the conversation go back too (route), so
// they stay behind the ones handed back.
func (a *chatActor) handBackAll(order []string, delay time.Duration) {
	for _, id := range order {
		if m := a.deliveries[id]; m != nil {
			_ = m.Nak(delay)
			delete(a.deliveries, id)
		}
	}
	for id, m := range a.deliveries {
		_ = m.Nak(delay)
		delete(a.deliveries, id)
	}
	for {
		select {
		case m := <-a.mailbox:
			_ = m.Nak(delay)
		default:
			a.pausedUntil.Store(time.Now().Add(delay).UnixNano())
			return
		}
	}
}

func (a *chatActor) handle(ctx context.Context, msg bus.Delivery) {
	var line protocol.PlayerLine
	_ = json.Unmarshal(msg.Data(), &line) // validated in route
	if !a.loaded {
		if err := a.load(ctx, line); err != nil {
			if ctx.Err() != nil {
				a.stopping(line, msg)
				return
			}
			a.svc.Log.Error("activate conversation", "conversation", a.convID, "err", err)
			if errors.Is(err, maopao.ErrNotFound) {
				a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: a.convID, ReplyTo: line.MessageID, Code: protocol.CodeUnknownChat, Text: err.Error()})
				_ = msg.Term()
				return
			}
			_ = msg.Nak(2 * time.Second)
			return
		}
	}
	if err := a.refresh(ctx); err != nil {
		if ctx.Err() != nil {
			a.stopping(line, msg)
			return
		}
		a.svc.Log.Error("refresh conversation", "conversation", a.convID, "err", err)
		if errors.Is(err, maopao.ErrNotFound) {
			// The chat was deleted: nothing more can happen in it.
			a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: a.convID, ReplyTo: line.MessageID, Code: protocol.CodeUnknownChat, Text: "this chat was deleted"})
			_ = msg.Term()
			return
		}
		_ = msg.Nak(2 * time.Second)
		return
	}
	if old, ok := a.deliveries[line.MessageID].(*heldLine); ok && old != msg {
		old.forget() // the same line delivered again: the newer delivery counts
	}
	a.deliveries[line.MessageID] = msg
	a.step(ctx, LineReceived{Line: line})
}

// stopping keeps a line the actor could not take in because it is
// stopping, for letGo (a delayed nak would let the next owner answer
// later lines first).
func (a *chatActor) stopping(line protocol.PlayerLine, msg bus.Delivery) {
	if old, ok := a.deliveries[line.MessageID].(*heldLine); ok && old != msg {
		old.forget()
	}
	a.deliveries[line.MessageID] = msg
}

// refresh reads what may have changed outside the actor since the last
// line: the chat's persona and title, the player's default persona.
func (a *chatActor) refresh(ctx context.Context) error {
	st := a.svc.Store
	conv, err := st.GetConversation(ctx, a.convID)
	if err != nil {
		return fmt.Errorf("load conversation %s: %w", a.convID, err)
	}
	a.state.Conversation = conv
	if a.svc.contextFromEngine {
		a.state.Config.ContextSize = a.svc.Engine.ContextSize()
	}
	a.state.PlayerName, a.state.PlayerDescription = "Traveler", ""
	if p, err := st.GetPlayer(ctx, conv.PlayerID); err == nil {
		if p.Name != "" {
			a.state.PlayerName = p.Name
		}
		a.state.PlayerDescription = p.Description
	}
	if conv.Persona != nil {
		if conv.Persona.Name != "" {
			a.state.PlayerName = conv.Persona.Name
		}
		a.state.PlayerDescription = conv.Persona.Description
	}
	return nil
}

// recentInChat reads the chat's latest window of messages still in the chat.
func (a *chatActor) recentInChat(ctx context.Context, window int) ([]maopao.Message, error) {
	// Deleted messages are read too, so read more than the window.
	msgs, err := a.svc.Store.RecentMessages(ctx, a.convID, 2*window)
	if err != nil {
		return nil, err
	}
	return lastN(inChatHistory(msgs), window), nil
}

// load activates the actor: the conversation, its character, the player's
// persona, what the character remembers and the recent history.
func (a *chatActor) load(ctx context.Context, line protocol.PlayerLine) error {
	st := a.svc.Store
	conv, err := st.GetConversation(ctx, a.convID)
	if err != nil {
		return fmt.Errorf("load conversation %s: %w", a.convID, err)
	}
	char, err := st.GetCharacter(ctx, conv.CharacterID)
	if err != nil {
		return fmt.Errorf("load character %s: %w", conv.CharacterID, err)
	}
	mem, err := st.GetMemory(ctx, conv.PlayerID, conv.CharacterID)
	if err != nil {
		return fmt.Errorf("load memory: %w", err)
	}
	window := a.svc.Config.HistoryWindow
	if window <= 0 {
		window = 40
	}
	recent, err := a.recentInChat(ctx, window)
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	a.state = ChatState{Config: a.svc.Config, Conversation: conv, Character: char, Memory: mem, History: recent}
	a.state.Config.HistoryWindow = window
	a.loaded = true
	return nil
}

// step feeds one input to Step and performs the effects; effects that
// produce an input feed it back right away, so a line runs to completion.
func (a *chatActor) step(ctx context.Context, in Input) {
	pending := []Input{in}
	for len(pending) > 0 {
		in := pending[0]
		pending = pending[1:]
		var effs []Effect
		a.state, effs = Step(a.state, in)
		for _, e := range effs {
			if next := a.perform(ctx, e); next != nil {
				pending = append(pending, next)
			}
		}
	}
}

func (a *chatActor) perform(ctx context.Context, e Effect) Input {
	st := a.svc.Store
	switch e := e.(type) {
	case StoreMessage:
		m := e.Message
		for attempt := 0; ; attempt++ {
			stored, created, err := st.AppendMessage(ctx, m)
			if err == nil {
				if stored.Role == maopao.RoleCharacter && stored.Status != maopao.StatusFailed && a.svc.MemoryWorkAfter > 0 {
					// A reply is out: the pair's memory work may follow.
					a.svc.keeper.enqueue(keeperJob{PlayerID: a.state.Conversation.PlayerID, CharacterID: a.state.Character.ID,
						ConversationID: a.convID, PlayerName: a.state.PlayerName, CharacterName: a.state.Character.Name, Window: a.state.Config.HistoryWindow})
				}
				return MessageStored{Message: stored, Created: created}
			}
			if ctx.Err() != nil || attempt == 4 {
				a.svc.Log.Error("store message", "conversation", a.convID, "message", m.ID, "err", err)
				// Not stored: the line goes back to the stream.
				return HandBack{}
			}
			time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
		}
	case LookupReply:
		m, err := st.GetMessage(ctx, e.ReplyID)
		if err != nil {
			if !errors.Is(err, maopao.ErrNotFound) {
				a.svc.Log.Error("look up reply", "message", e.ReplyID, "err", err)
				return HandBack{}
			}
			return ReplyLookedUp{ReplyTo: e.ReplyTo}
		}
		return ReplyLookedUp{ReplyTo: e.ReplyTo, Reply: &m}
	case UpdateMessage:
		m, err := st.UpdateMessage(ctx, e.Message)
		if err != nil {
			return a.storeFailed(ctx, "update message", e.Message.ID, err)
		}
		return MessageUpdated{Message: m}
	case LoadMessage:
		m, err := st.GetMessage(ctx, e.ID)
		if errors.Is(err, maopao.ErrNotFound) {
			return MessageLoaded{}
		}
		if err != nil {
			return a.storeFailed(ctx, "load message", e.ID, err)
		}
		return MessageLoaded{Message: &m}
	case LoadHistory:
		h, err := a.recentInChat(ctx, window(a.state))
		if err != nil {
			return a.storeFailed(ctx, "load history", a.convID, err)
		}
		return HistoryLoaded{Messages: h}
	case Rewind:
		return a.rewind(ctx, e)
	case Fork:
		return a.fork(ctx, e)
	case Generate:
		return a.generate(ctx, e)
	case Publish:
		a.publish(ctx, e.Event)
	case SaveMemory:
		if err := st.PutMemory(ctx, e.Memory); err != nil {
			a.svc.Log.Error("save memory", "conversation", a.convID, "err", err)
		}
	case Recall:
		mems, err := st.ChatMemories(ctx, e.PlayerID, e.CharacterID)
		if err != nil {
			return a.storeFailed(ctx, "recall memories", a.convID, err)
		}
		return Recalled{Memories: mems, Query: a.embedQuery(ctx, e.Query, mems)}
	case Remember:
		// Unless stored already: the player may have edited or pinned it.
		_, err := st.GetChatMemory(ctx, e.Memory.ID)
		if errors.Is(err, maopao.ErrNotFound) {
			err = st.PutChatMemory(ctx, e.Memory)
		}
		if err != nil {
			a.svc.Log.Error("remember", "conversation", a.convID, "memory", e.Memory.ID, "err", err)
		}
	case Forget:
		if err := st.DeleteChatMemory(ctx, e.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
			a.svc.Log.Error("forget", "conversation", a.convID, "memory", e.ID, "err", err)
		}
	case Ack:
		if m := a.deliveries[e.MessageID]; m != nil {
			if err := m.Ack(ctx); err != nil {
				a.svc.Log.Warn("ack player line", "message", e.MessageID, "err", err)
			}
			delete(a.deliveries, e.MessageID)
		}
	case Nak:
		// Everything this actor holds goes back, in order, or a line
		// behind the one handed back would be answered before it. A
		// store that failed gets a moment; a stopping process none.
		if ctx.Err() != nil {
			a.letGo() // stopping: see letGo
			return nil
		}
		a.handBackAll(e.MessageIDs, time.Second)
	}
	return nil
}

// storeFailed turns a store error while carrying out a request into the
// request going back to the stream (the store may be back soon), or, when
// stopping, into nothing.
func (a *chatActor) storeFailed(ctx context.Context, what, id string, err error) Input {
	a.svc.Log.Error(what, "conversation", a.convID, "id", id, "err", err)
	if errors.Is(err, maopao.ErrInvalid) {
		return EffectFailed{Code: protocol.CodeInvalid, Text: "the chat cannot be changed that way: " + err.Error()}
	}
	return HandBack{}
}

// rewind takes every message after e.After out of the chat, one by one:
// a crash in between leaves some taken out, and the request, redelivered,
// takes out the rest.
func (a *chatActor) rewind(ctx context.Context, e Rewind) Input {
	st := a.svc.Store
	after, err := st.MessagesAfter(ctx, a.convID, e.After.Seq, 0)
	if err != nil {
		return a.storeFailed(ctx, "rewind", e.After.ID, err)
	}
	for _, m := range after {
		if m.Role == maopao.RoleUser {
			// Lines taken out of the chat are not remembered as said (as
			// when deleted), even on a redelivery after a crash here.
			if err := st.DeleteChatMemory(ctx, SaidMemoryID(m.ID)); err != nil && !errors.Is(err, maopao.ErrNotFound) {
				return a.storeFailed(ctx, "rewind", m.ID, err)
			}
		}
		if m.Deleted {
			continue
		}
		m.Deleted = true
		if _, err := st.UpdateMessage(ctx, m); err != nil {
			return a.storeFailed(ctx, "rewind", m.ID, err)
		}
	}
	h, err := a.recentInChat(ctx, window(a.state))
	if err != nil {
		return a.storeFailed(ctx, "rewind", a.convID, err)
	}
	return HistoryLoaded{Messages: h}
}

// fork creates the branch, then copies the chat into it. Copies get IDs
// derived from the branch and the original, so a redelivered request
// completes a branch a crash left half-written instead of doubling it.
func (a *chatActor) fork(ctx context.Context, e Fork) Input {
	st := a.svc.Store
	if _, _, err := st.CreateConversation(ctx, e.Conversation); err != nil {
		if errors.Is(err, maopao.ErrInvalid) {
			return EffectFailed{Code: protocol.CodeInvalid, Text: "the branch cannot be made: " + err.Error()}
		}
		return a.storeFailed(ctx, "fork", e.Conversation.ID, err)
	}
	msgs, err := st.MessagesAfter(ctx, a.convID, 0, 0)
	if err != nil {
		return a.storeFailed(ctx, "fork", a.convID, err)
	}
	ns := uuid.MustParse(e.Conversation.ID)
	ids := map[string]string{}
	for _, m := range msgs {
		if m.Seq > e.UpTo.Seq {
			break
		}
		if m.Deleted {
			continue
		}
		orig := m.ID
		m.ID, m.ConversationID, m.Seq = uuid.NewSHA1(ns, []byte(orig)).String(), e.Conversation.ID, 0
		ids[orig] = m.ID
		if m.ReplyTo != "" {
			m.ReplyTo = ids[m.ReplyTo]
		}
		if _, _, err := st.AppendMessage(ctx, m); err != nil {
			return a.storeFailed(ctx, "fork", orig, err)
		}
	}
	return Forked{Conversation: e.Conversation}
}

func (a *chatActor) generate(ctx context.Context, g Generate) Input {
	gctx, cut := context.WithCancelCause(ctx)
	defer cut(nil)
	a.genMu.Lock()
	a.genCut = cut
	a.genMu.Unlock()
	defer func() {
		a.genMu.Lock()
		a.genCut = nil
		a.genMu.Unlock()
	}()
	seq := 0
	var sofar strings.Builder
	restart := false
	res, err := a.generateRetrying(gctx, g, func(tok engine.Token) error {
		if tok.Text == "" {
			return nil
		}
		sofar.WriteString(tok.Text)
		a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventDelta, ConversationID: a.convID, ReplyTo: g.ReplyTo, MessageID: g.ReplyID, Seq: seq, Text: tok.Text,
			Request: request(a.state), Restart: restart})
		seq, restart = seq+1, false
		return nil
	}, func() {
		// The next attempt writes the reply from its start; players drop
		// what they saw of this one at its first piece.
		sofar.Reset()
		restart = true
	})
	switch {
	case err == nil:
		return Generated{ReplyTo: g.ReplyTo, Text: res.Text, FinishReason: res.FinishReason}
	case ctx.Err() != nil:
		return Generated{ReplyTo: g.ReplyTo, Retry: true}
	case errors.Is(context.Cause(gctx), errStopped):
		return Generated{ReplyTo: g.ReplyTo, Text: sofar.String(), Stopped: true}
	case errors.Is(err, engine.ErrPromptTooLong):
		a.svc.Log.Warn("generate: prompt too long", "conversation", a.convID, "err", err)
		return Generated{ReplyTo: g.ReplyTo, Code: protocol.CodeEngine, Err: "the conversation is too long for the model to answer; delete or rewind some messages, or start a new chat"}
	default:
		// The player gets a plain sentence; the detail (a URL, a Go
		// error) is for the operator's log only.
		a.svc.Log.Error("generate", "conversation", a.convID, "err", err)
		return Generated{ReplyTo: g.ReplyTo, Code: protocol.CodeEngine, Err: "the character could not answer just now; try again"}
	}
}

// generateRetrying asks the engine, and asks again with growing pauses
// while it is unavailable (a restarting LLM server, a model being
// installed), for up to EngineRetryFor; the player hears each retry.
// An engine that fails after part of the reply went out (it died
// mid-reply) is answered the same way: the reply starts over, on another
// engine when there are several, and onRestart is called first so the
// text shown so far is dropped rather than mixed with the new one.
func (a *chatActor) generateRetrying(ctx context.Context, g Generate, onToken func(engine.Token) error, onRestart func()) (engine.Result, error) {
	giveUp := time.Now().Add(a.svc.EngineRetryFor)
	wait := time.Second
	blind := !engine.SeesPictures(a.svc.Engine)
	told := false
	for attempt := 1; ; attempt++ {
		streamed := false
		req, unseen := a.withPictures(ctx, g.Request, blind)
		if unseen && !told {
			told = true
			a.tellBlind(g)
		}
		res, err := a.svc.Engine.Generate(ctx, req, func(tok engine.Token) error {
			streamed = streamed || tok.Text != ""
			return onToken(tok)
		})
		if errors.Is(err, engine.ErrNoVision) && !blind && !streamed {
			// Found out now: the same request, the pictures in words.
			blind = true
			attempt--
			continue
		}
		if err == nil || ctx.Err() != nil || !engine.Transient(err) || time.Now().Add(wait).After(giveUp) {
			return res, err
		}
		if streamed {
			onRestart()
		}
		a.svc.Log.Warn("engine unavailable; retrying", "conversation", a.convID, "attempt", attempt, "in", wait, "err", err)
		a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventRetrying, ConversationID: a.convID, ReplyTo: g.ReplyTo, MessageID: g.ReplyID,
			Attempt: attempt, RetryInMillis: wait.Milliseconds(), Request: request(a.state)})
		pause := time.NewTimer(wait)
		select {
		case <-pause.C:
		case <-ctx.Done():
			pause.Stop()
			return res, err
		}
		wait = min(2*wait, 15*time.Second)
	}
}

func (a *chatActor) publish(_ context.Context, ev protocol.ReplyEvent) {
	b, _ := json.Marshal(ev)
	if err := a.svc.Bus.Publish(protocol.ChatOutputSubject(ev.ConversationID), b); err != nil {
		a.svc.Log.Warn("publish reply event", "conversation", ev.ConversationID, "err", err)
	}
}

// withPictures is attachPictures for this chat.
func (a *chatActor) withPictures(ctx context.Context, req engine.Request, blind bool) (engine.Request, bool) {
	return attachPictures(ctx, a.svc.Store, a.svc.Log.With("conversation", a.convID), req, blind)
}

// tellBlind tells the player the character did not see their pictures.
func (a *chatActor) tellBlind(g Generate) {
	name := a.state.Character.Name
	if name == "" {
		name = "The character"
	}
	a.publish(context.Background(), protocol.ReplyEvent{Kind: protocol.EventNotice, ConversationID: a.convID, ReplyTo: g.ReplyTo, MessageID: g.ReplyID,
		Code: protocol.CodeNoVision, Text: name + " cannot see pictures with this model, and answers your words only."})
}

// embedQuery is the line's embedding, when the engine makes them and some
// memory has one to compare it with; nil otherwise (or when it fails:
// BM25 recalls alone).
func (a *chatActor) embedQuery(ctx context.Context, query string, mems []maopao.ChatMemory) []float32 {
	emb, ok := engine.EmbedderOf(a.svc.Engine)
	if !ok || strings.TrimSpace(query) == "" || !slices.ContainsFunc(mems, func(m maopao.ChatMemory) bool { return len(m.Embedding) > 0 }) {
		return nil
	}
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := emb.Embed(ectx, []string{query})
	if err != nil || len(v) != 1 {
		if err != nil && !errors.Is(err, engine.ErrNoEmbeddings) {
			a.svc.Log.Warn("embed the line", "conversation", a.convID, "err", err)
		}
		return nil
	}
	return v[0]
}
