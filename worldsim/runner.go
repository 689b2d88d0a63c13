package worldsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	Store     storage.Store
	Engine    engine.Generator
	NC        *nats.Conn
	JS        jetstream.JetStream
	Log       *slog.Logger
	Config    ChatConfig
	AckWait   time.Duration // how long JetStream waits before redelivering an unacked line (default 30s)
	IdleAfter time.Duration // an actor with nothing to do passivates after this (default 5m)

	mu     sync.Mutex
	actors map[string]*chatActor
	wg     sync.WaitGroup
}

// Run consumes until ctx is cancelled, then stops every actor; lines being
// answered go back to the stream for the next process to take.
func (s *ChatService) Run(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.AckWait <= 0 {
		s.AckWait = 30 * time.Second
	}
	if s.IdleAfter <= 0 {
		s.IdleAfter = 5 * time.Minute
	}
	if s.Config.ContextSize == 0 {
		s.Config.ContextSize = s.Engine.ContextSize()
	}
	if s.Config.CountTokens == nil {
		s.Config.CountTokens = s.Engine.CountTokens
	}
	s.actors = map[string]*chatActor{}
	if err := bus.EnsureStreams(ctx, s.JS); err != nil {
		return err
	}
	cons, err := bus.ChatConsumer(ctx, s.JS, s.AckWait)
	if err != nil {
		return err
	}
	actorCtx, stopActors := context.WithCancel(context.Background())
	defer stopActors()
	cc, err := cons.Consume(func(msg jetstream.Msg) { s.route(actorCtx, msg) },
		jetstream.PullMaxMessages(256),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, context.Canceled) {
				s.Log.Debug("chat consumer", "err", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("worldsim: consume %s: %w", protocol.ChatWorkerConsumer, err)
	}
	<-ctx.Done()
	cc.Stop()
	stopActors()
	s.wg.Wait()
	return nil
}

func (s *ChatService) route(ctx context.Context, msg jetstream.Msg) {
	var line protocol.PlayerLine
	if err := json.Unmarshal(msg.Data(), &line); err != nil || line.MessageID == "" || line.ConversationID == "" {
		s.Log.Error("dropping malformed player line", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	s.mu.Lock()
	a := s.actors[line.ConversationID]
	if a == nil {
		a = &chatActor{svc: s, convID: line.ConversationID, mailbox: make(chan jetstream.Msg, 1024), deliveries: map[string]jetstream.Msg{}}
		s.actors[line.ConversationID] = a
		s.wg.Add(1)
		go a.run(ctx)
	}
	select {
	case a.mailbox <- msg:
	default:
		// The actor is far behind; let JetStream hold the line for now.
		_ = msg.NakWithDelay(time.Second)
	}
	s.mu.Unlock()
}

// chatActor is the runner of one conversation: it owns a ChatState and
// performs the effects Step asks for, one input at a time.
type chatActor struct {
	svc        *ChatService
	convID     string
	mailbox    chan jetstream.Msg
	deliveries map[string]jetstream.Msg // latest delivery per line, for acks
	state      ChatState
	loaded     bool
}

func (a *chatActor) run(ctx context.Context) {
	defer a.svc.wg.Done()
	idle := time.NewTimer(a.svc.IdleAfter)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			a.nakAll()
			a.remove()
			return
		case msg := <-a.mailbox:
			a.handle(ctx, msg)
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

func (a *chatActor) remove() {
	a.svc.mu.Lock()
	if a.svc.actors[a.convID] == a {
		delete(a.svc.actors, a.convID)
	}
	a.svc.mu.Unlock()
}

func (a *chatActor) nakAll() {
	for _, m := range a.deliveries {
		_ = m.Nak()
	}
	for {
		select {
		case m := <-a.mailbox:
			_ = m.Nak()
		default:
			return
		}
	}
}

func (a *chatActor) handle(ctx context.Context, msg jetstream.Msg) {
	var line protocol.PlayerLine
	_ = json.Unmarshal(msg.Data(), &line) // validated in route
	if !a.loaded {
		if err := a.load(ctx, line); err != nil {
			a.svc.Log.Error("activate conversation", "conversation", a.convID, "err", err)
			if errors.Is(err, maopao.ErrNotFound) {
				a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: a.convID, ReplyTo: line.MessageID, Code: protocol.CodeUnknownChat, Text: err.Error()})
				_ = msg.Term()
				return
			}
			_ = msg.NakWithDelay(2 * time.Second)
			return
		}
	}
	a.deliveries[line.MessageID] = msg
	a.step(ctx, LineReceived{Line: line})
}

// load activates the actor: the conversation, its character, the player's
// name, what the character remembers and the recent history.
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
	name := "Traveler"
	if p, err := st.GetPlayer(ctx, conv.PlayerID); err == nil && p.Name != "" {
		name = p.Name
	}
	mem, err := st.GetMemory(ctx, conv.PlayerID, conv.CharacterID)
	if err != nil {
		return fmt.Errorf("load memory: %w", err)
	}
	window := a.svc.Config.HistoryWindow
	if window <= 0 {
		window = 40
	}
	recent, err := st.RecentMessages(ctx, conv.ID, window)
	if err != nil {
		return fmt.Errorf("load history: %w", err)
	}
	a.state = ChatState{Config: a.svc.Config, Conversation: conv, Character: char, PlayerName: name, Memory: mem, History: recent}
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
				return MessageStored{Message: stored, Created: created}
			}
			if ctx.Err() != nil || attempt == 4 {
				a.svc.Log.Error("store message", "conversation", a.convID, "message", m.ID, "err", err)
				// Not stored: the line goes back to the stream.
				return Generated{ReplyTo: a.state.InFlight, Retry: true}
			}
			time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
		}
	case LookupReply:
		m, err := st.GetMessage(ctx, e.ReplyID)
		if err != nil {
			if !errors.Is(err, maopao.ErrNotFound) {
				a.svc.Log.Error("look up reply", "message", e.ReplyID, "err", err)
				return Generated{ReplyTo: e.ReplyTo, Retry: true}
			}
			return ReplyLookedUp{ReplyTo: e.ReplyTo}
		}
		return ReplyLookedUp{ReplyTo: e.ReplyTo, Reply: &m}
	case Generate:
		return a.generate(ctx, e)
	case Publish:
		a.publish(ctx, e.Event)
	case SaveMemory:
		if err := st.PutMemory(ctx, e.Memory); err != nil {
			a.svc.Log.Error("save memory", "conversation", a.convID, "err", err)
		}
	case Ack:
		if m := a.deliveries[e.MessageID]; m != nil {
			if err := m.DoubleAck(ctx); err != nil {
				a.svc.Log.Warn("ack player line", "message", e.MessageID, "err", err)
			}
			delete(a.deliveries, e.MessageID)
		}
	case Nak:
		if m := a.deliveries[e.MessageID]; m != nil {
			_ = m.NakWithDelay(time.Second)
			delete(a.deliveries, e.MessageID)
		}
	}
	return nil
}

func (a *chatActor) generate(ctx context.Context, g Generate) Input {
	// Keep JetStream from redelivering the line while the engine works.
	stopKeepAlive := make(chan struct{})
	if m := a.deliveries[g.ReplyTo]; m != nil {
		go func() {
			t := time.NewTicker(a.svc.AckWait / 3)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					_ = m.InProgress()
				case <-stopKeepAlive:
					return
				}
			}
		}()
	}
	defer close(stopKeepAlive)
	seq := 0
	res, err := a.svc.Engine.Generate(ctx, g.Request, func(tok engine.Token) error {
		if tok.Text == "" {
			return nil
		}
		a.publish(ctx, protocol.ReplyEvent{Kind: protocol.EventDelta, ConversationID: a.convID, ReplyTo: g.ReplyTo, MessageID: g.ReplyID, Seq: seq, Text: tok.Text})
		seq++
		return nil
	})
	switch {
	case err == nil:
		return Generated{ReplyTo: g.ReplyTo, Text: res.Text, FinishReason: res.FinishReason}
	case ctx.Err() != nil:
		return Generated{ReplyTo: g.ReplyTo, Retry: true}
	case errors.Is(err, engine.ErrPromptTooLong):
		return Generated{ReplyTo: g.ReplyTo, Code: protocol.CodeEngine, Err: err.Error()}
	default:
		a.svc.Log.Error("generate", "conversation", a.convID, "err", err)
		return Generated{ReplyTo: g.ReplyTo, Code: protocol.CodeEngine, Err: "the character could not answer: " + err.Error()}
	}
}

func (a *chatActor) publish(_ context.Context, ev protocol.ReplyEvent) {
	b, _ := json.Marshal(ev)
	if err := a.svc.NC.Publish(protocol.ChatOutputSubject(ev.ConversationID), b); err != nil {
		a.svc.Log.Warn("publish reply event", "conversation", ev.ConversationID, "err", err)
	}
}
