// Package worldsim runs the world simulation: one actor per active
// conversation (and, later, per world). Each actor's logic is a pure step
// function, Step(state, input) → (state, effects), in the style of etcd's
// raft: it does no I/O, so a conversation can be replayed and tested
// deterministically. The runner (runner.go) owns the I/O: it feeds inputs
// from JetStream and from finished effects, and performs effects against
// storage, the engine and NATS.
package worldsim

import (
	"strings"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
)

// ChatConfig tunes a conversation actor.
type ChatConfig struct {
	HistoryWindow int // messages kept in state; older ones are folded into the memory summary
	ContextSize   int // the model's context window
	MaxTokens     int // reply length cap
	Sampling      engine.Request
	CountTokens   func(string) int
}

// ChatState is everything a conversation actor knows.
type ChatState struct {
	Config       ChatConfig
	Conversation maopao.Conversation
	Character    maopao.Character
	PlayerName   string
	Memory       maopao.Memory
	History      []maopao.Message // ascending Seq, at most Config.HistoryWindow
	Queue        []protocol.PlayerLine
	// InFlight is the player line being answered; "" when idle.
	InFlight string
}

// Input is something that happened to a conversation.
type Input interface{ isInput() }

// LineReceived: a player's line arrived from the input stream (possibly again, after a crash).
type LineReceived struct{ Line protocol.PlayerLine }

// MessageStored: a StoreMessage effect finished; Created is false when the
// message was already stored (a redelivery).
type MessageStored struct {
	Message maopao.Message
	Created bool
}

// ReplyLookedUp: a LookupReply effect finished; Reply is nil when none is stored.
type ReplyLookedUp struct {
	ReplyTo string
	Reply   *maopao.Message
}

// Generated: a Generate effect finished. Code is "" on success.
type Generated struct {
	ReplyTo      string
	Text         string
	FinishReason string
	Code         string // a protocol error code when generation failed
	Err          string
	// Retry is true when the failure was not the line's fault (shutdown):
	// the line goes back to the stream for another try.
	Retry bool
}

func (LineReceived) isInput()  {}
func (MessageStored) isInput() {}
func (ReplyLookedUp) isInput() {}
func (Generated) isInput()     {}

// Effect is something the runner must do.
type Effect interface{ isEffect() }

// StoreMessage appends a message (idempotent by ID); the runner answers with MessageStored.
type StoreMessage struct{ Message maopao.Message }

// LookupReply asks whether the reply to a line is already stored; the runner answers with ReplyLookedUp.
type LookupReply struct{ ReplyTo, ReplyID string }

// Generate runs the engine and streams deltas; the runner answers with Generated.
type Generate struct {
	ReplyTo, ReplyID string
	Request          engine.Request
}

// Publish sends an event to the gateways of the conversation.
type Publish struct{ Event protocol.ReplyEvent }

// Ack removes the line from the input stream: it is fully answered.
type Ack struct{ MessageID string }

// Nak returns the line to the input stream for another try.
type Nak struct{ MessageID string }

// SaveMemory writes what the character remembers about the player.
type SaveMemory struct{ Memory maopao.Memory }

func (StoreMessage) isEffect() {}
func (LookupReply) isEffect()  {}
func (Generate) isEffect()     {}
func (Publish) isEffect()      {}
func (Ack) isEffect()          {}
func (Nak) isEffect()          {}
func (SaveMemory) isEffect()   {}

// replyNamespace makes reply IDs a function of the line they answer, so a
// line answered twice (after a crash) can only ever store one reply.
var replyNamespace = uuid.MustParse("6f1c2b8e-4d3a-4e55-9a61-0b7c5d2e9f10")

// ReplyID is the ID of the reply to the player message with the given ID.
func ReplyID(lineID string) string {
	return uuid.NewSHA1(replyNamespace, []byte(lineID)).String()
}

// Step is the conversation actor's whole logic.
func Step(s ChatState, in Input) (ChatState, []Effect) {
	switch in := in.(type) {
	case LineReceived:
		if in.Line.MessageID == s.InFlight || queued(s.Queue, in.Line.MessageID) {
			return s, nil // a redelivery of a line we are already handling
		}
		s.Queue = append(s.Queue, in.Line)
		return startNext(s)

	case MessageStored:
		m := in.Message
		s.History, s.Memory = remember(s, m)
		if m.Role == maopao.RoleUser {
			if m.ID != s.InFlight {
				return s, nil
			}
			effs := []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventStored, ConversationID: m.ConversationID, ReplyTo: m.ID, Message: chatMessage(m)}}}
			if facts := ExtractFacts(m.Content); len(facts) > 0 {
				s.Memory.Facts = mergeFacts(s.Memory.Facts, facts)
			}
			effs = append(effs, SaveMemory{s.Memory})
			if !in.Created {
				// Stored before: maybe answered before a crash, too.
				return s, append(effs, LookupReply{ReplyTo: m.ID, ReplyID: ReplyID(m.ID)})
			}
			return s, append(effs, generate(s, m.ID))
		}
		// A reply was stored: the line is answered.
		return finishLine(s, m.ReplyTo, []Effect{
			Publish{protocol.ReplyEvent{Kind: protocol.EventComplete, ConversationID: m.ConversationID, ReplyTo: m.ReplyTo, MessageID: m.ID, Message: chatMessage(m), FinishReason: "stop"}},
			SaveMemory{s.Memory},
		})

	case ReplyLookedUp:
		if in.ReplyTo != s.InFlight {
			return s, nil
		}
		if in.Reply != nil {
			m := *in.Reply
			s.History, s.Memory = remember(s, m)
			return finishLine(s, in.ReplyTo, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventComplete, ConversationID: m.ConversationID, ReplyTo: m.ReplyTo, MessageID: m.ID, Message: chatMessage(m), FinishReason: "stop"}}})
		}
		return s, []Effect{generate(s, in.ReplyTo)}

	case Generated:
		if in.ReplyTo != s.InFlight {
			return s, nil
		}
		if in.Retry {
			// Hand the line back; whoever gets it next starts over.
			s.InFlight = ""
			s.Queue = nil
			return s, []Effect{Nak{MessageID: in.ReplyTo}}
		}
		if in.Code != "" {
			return finishLine(s, in.ReplyTo, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: s.Conversation.ID, ReplyTo: in.ReplyTo, Code: in.Code, Text: in.Err}}})
		}
		text := strings.TrimSpace(in.Text)
		if text == "" {
			text = "…"
		}
		reply := maopao.Message{
			ID: ReplyID(in.ReplyTo), ConversationID: s.Conversation.ID, Role: maopao.RoleCharacter,
			Content: text, ReplyTo: in.ReplyTo,
		}
		return s, []Effect{StoreMessage{reply}}
	}
	return s, nil
}

func queued(q []protocol.PlayerLine, id string) bool {
	for _, l := range q {
		if l.MessageID == id {
			return true
		}
	}
	return false
}

// startNext begins answering the next queued line when idle.
func startNext(s ChatState) (ChatState, []Effect) {
	if s.InFlight != "" || len(s.Queue) == 0 {
		return s, nil
	}
	l := s.Queue[0]
	s.Queue = s.Queue[1:]
	s.InFlight = l.MessageID
	m := maopao.Message{ID: l.MessageID, ConversationID: l.ConversationID, Role: maopao.RoleUser, Content: l.Text, CreatedAt: l.AcceptedAt}
	return s, []Effect{StoreMessage{m}}
}

func finishLine(s ChatState, lineID string, effs []Effect) (ChatState, []Effect) {
	effs = append(effs, Ack{MessageID: lineID})
	s.InFlight = ""
	s, more := startNext(s)
	return s, append(effs, more...)
}

func generate(s ChatState, lineID string) Effect {
	req := s.Config.Sampling
	req.MaxTokens = s.Config.MaxTokens
	reserve := s.Config.MaxTokens
	if reserve <= 0 {
		reserve = 256
	}
	req.Messages = characters.BuildPrompt(characters.PromptInput{
		Character: s.Character, UserName: s.PlayerName, Memory: s.Memory, History: s.History,
		ContextSize: s.Config.ContextSize, ReserveTokens: reserve, CountTokens: s.Config.CountTokens,
		// Macros like {{pick}} stay fixed within a conversation and
		// differ between conversations.
		Seed: conversationSeed(s.Conversation.ID),
	})
	return Generate{ReplyTo: lineID, ReplyID: ReplyID(lineID), Request: req}
}

func chatMessage(m maopao.Message) *protocol.ChatMessage {
	return &protocol.ChatMessage{ID: m.ID, Seq: m.Seq, Role: string(m.Role), Content: m.Content, ReplyTo: m.ReplyTo, At: m.CreatedAt}
}

func conversationSeed(id string) uint64 {
	u, err := uuid.Parse(id)
	if err != nil {
		return 0
	}
	var v uint64
	for _, b := range u[:8] {
		v = v<<8 | uint64(b)
	}
	return v
}
