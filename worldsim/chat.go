// Package worldsim runs the world simulation: one actor per active
// conversation (and, later, per world). Each actor's logic is a pure step
// function, Step(state, input) → (state, effects), in the style of etcd's
// raft: it does no I/O, so a conversation can be replayed and tested
// deterministically. The runner (runner.go) owns the I/O: it feeds inputs
// from JetStream and from finished effects, and performs effects against
// storage, the engine and NATS.
package worldsim

import (
	"slices"
	"strconv"
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
	// PlayerName and PlayerDescription are the persona the player uses in
	// this chat: {{user}} and what the character is told about them.
	PlayerName        string
	PlayerDescription string
	Memory            maopao.Memory
	// History is the latest messages still in the chat (deleted ones are
	// left out; failed replies stay), ascending Seq, at most
	// Config.HistoryWindow.
	History []maopao.Message
	Queue   []protocol.PlayerLine
	// InFlight is the line or request being handled ("" when idle), Op
	// the request itself, Gen the generation it is waiting for.
	InFlight string
	Op       protocol.PlayerLine
	Gen      *Generate
	// FailText is what the player is told when the reply now being stored
	// is a failure.
	FailText string
	// Recalling: Gen waits for the pair's memories (Recall) before its
	// prompt is built.
	Recalling bool
}

// Input is something that happened to a conversation.
type Input interface{ isInput() }

// LineReceived: a player's line or request arrived from the input stream
// (possibly again, after a crash).
type LineReceived struct{ Line protocol.PlayerLine }

// MessageStored: a StoreMessage effect finished; Created is false when the
// message was already stored (a redelivery).
type MessageStored struct {
	Message maopao.Message
	Created bool
}

// MessageUpdated: an UpdateMessage effect finished.
type MessageUpdated struct{ Message maopao.Message }

// ReplyLookedUp: a LookupReply effect finished; Reply is nil when none is stored.
type ReplyLookedUp struct {
	ReplyTo string
	Reply   *maopao.Message
}

// MessageLoaded: a LoadMessage effect finished; Message is nil when there
// is no such message.
type MessageLoaded struct{ Message *maopao.Message }

// HistoryLoaded: a LoadHistory or Rewind effect finished with the chat's
// latest messages (deleted ones left out).
type HistoryLoaded struct{ Messages []maopao.Message }

// Forked: a Fork effect finished.
type Forked struct{ Conversation maopao.Conversation }

// Generated: a Generate effect finished. Code is "" on success.
type Generated struct {
	ReplyTo      string
	Text         string
	FinishReason string
	Code         string // a protocol error code when generation failed
	Err          string // what the player is told then
	// Retry is true when the failure was not the line's fault (shutdown):
	// the line goes back to the stream for another try.
	Retry bool
	// Stopped is true when the player stopped the reply: Text is what was
	// generated until then.
	Stopped bool
}

// Recalled: a Recall effect finished with every memory the character has
// of the player.
type Recalled struct {
	Memories []maopao.ChatMemory
	// Query is the line's embedding, when the engine makes them (nil
	// otherwise: relevance is BM25's alone).
	Query []float32
}

// EffectFailed: the runner could not carry out an effect for a reason
// the player should hear about (Code, Text).
type EffectFailed struct{ Code, Text string }

// HandBack: the runner could not carry out an effect for a reason that may
// pass (the store is unreachable, the process is stopping): the line or
// request in flight goes back to the stream for another try.
type HandBack struct{}

func (LineReceived) isInput()   {}
func (MessageStored) isInput()  {}
func (MessageUpdated) isInput() {}
func (ReplyLookedUp) isInput()  {}
func (MessageLoaded) isInput()  {}
func (HistoryLoaded) isInput()  {}
func (Forked) isInput()         {}
func (Generated) isInput()      {}
func (EffectFailed) isInput()   {}
func (Recalled) isInput()       {}
func (HandBack) isInput()       {}

// Effect is something the runner must do.
type Effect interface{ isEffect() }

// StoreMessage appends a message (idempotent by ID); the runner answers with MessageStored.
type StoreMessage struct{ Message maopao.Message }

// UpdateMessage replaces a stored message's text, swipes, edits, deletion
// and status; the runner answers with MessageUpdated.
type UpdateMessage struct{ Message maopao.Message }

// LookupReply asks whether the reply to a line is already stored; the runner answers with ReplyLookedUp.
type LookupReply struct{ ReplyTo, ReplyID string }

// LoadMessage reads one message of the chat; the runner answers with MessageLoaded.
type LoadMessage struct{ ID string }

// LoadHistory reads the chat's latest messages; the runner answers with HistoryLoaded.
type LoadHistory struct{}

// Rewind takes every message after After out of the chat, then answers
// with HistoryLoaded.
type Rewind struct{ After maopao.Message }

// Fork stores Conversation with a copy of this chat's messages up to and
// including UpTo (deleted ones left out); the runner answers with Forked.
type Fork struct {
	Conversation maopao.Conversation
	UpTo         maopao.Message
}

// Generate runs the engine and streams deltas; the runner answers with
// Generated. The reply is ReplyID, answering the line ReplyTo; Target is
// the stored message the text becomes a new swipe of ("" for a new
// reply), and Op the request that asked (stored with the swipe).
type Generate struct {
	ReplyTo, ReplyID string
	Target, Op       string
	Request          engine.Request
}

// Publish sends an event to the gateways of the conversation.
type Publish struct{ Event protocol.ReplyEvent }

// Ack removes the line from the input stream: it is fully answered.
type Ack struct{ MessageID string }

// Nak returns lines to the input stream for another try, in the order
// given: the one that was being answered, then the ones queued behind it.
type Nak struct{ MessageIDs []string }

// SaveMemory writes what the character remembers about the player.
type SaveMemory struct{ Memory maopao.Memory }

// Recall reads every memory the character has of the player; the runner
// answers with Recalled.
type Recall struct{ PlayerID, CharacterID, Query string }

// Remember stores a memory unless one with its ID is stored already (the
// player may have edited or pinned it since).
type Remember struct{ Memory maopao.ChatMemory }

// Forget removes a memory, if it is there.
type Forget struct{ ID string }

func (StoreMessage) isEffect()  {}
func (UpdateMessage) isEffect() {}
func (LookupReply) isEffect()   {}
func (LoadMessage) isEffect()   {}
func (LoadHistory) isEffect()   {}
func (Rewind) isEffect()        {}
func (Fork) isEffect()          {}
func (Generate) isEffect()      {}
func (Publish) isEffect()       {}
func (Ack) isEffect()           {}
func (Nak) isEffect()           {}
func (SaveMemory) isEffect()    {}
func (Recall) isEffect()        {}
func (Remember) isEffect()      {}
func (Forget) isEffect()        {}

// replyNamespace makes reply IDs a function of the line they answer, so a
// line answered twice (after a crash) can only ever store one reply.
var replyNamespace = uuid.MustParse("6f1c2b8e-4d3a-4e55-9a61-0b7c5d2e9f10")

// ReplyID is the ID of the reply to the player message (or request) with
// the given ID.
func ReplyID(lineID string) string {
	return uuid.NewSHA1(replyNamespace, []byte(lineID)).String()
}

// Step is the conversation actor's whole logic.
func Step(s ChatState, in Input) (ChatState, []Effect) {
	switch in := in.(type) {
	case LineReceived:
		l := in.Line
		if l.MessageID == s.InFlight || queued(s.Queue, l.MessageID) {
			return s, nil // a redelivery of a line we are already handling
		}
		if l.Op != "" && (s.InFlight != "" || len(s.Queue) > 0) {
			// Changing the chat under a reply being written would answer
			// a history the player no longer sees.
			return s, []Effect{
				Publish{protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: s.Conversation.ID, ReplyTo: l.MessageID, Code: protocol.CodeBusy,
					Text: "a reply is still being written; stop it or wait, then try again"}},
				Ack{MessageID: l.MessageID},
			}
		}
		s.Queue = append(s.Queue, l)
		return startNext(s)

	case MessageStored:
		return messageStored(s, in.Message, in.Created)

	case Recalled:
		return recalled(s, in.Memories, in.Query)

	case MessageUpdated:
		return messageUpdated(s, in.Message)

	case ReplyLookedUp:
		if in.ReplyTo != s.InFlight {
			return s, nil
		}
		if in.Reply != nil {
			return messageStored(s, *in.Reply, false)
		}
		return generateReply(s, in.ReplyTo, ReplyID(in.ReplyTo))

	case MessageLoaded:
		if s.Op.Op == "" || s.InFlight == "" {
			return s, nil
		}
		if in.Message == nil || in.Message.ConversationID != s.Conversation.ID || in.Message.Deleted {
			return fail(s, protocol.CodeUnknownMessage, "no message "+quoted(s.Op.Target)+" in this chat")
		}
		return apply(s, *in.Message)

	case HistoryLoaded:
		if s.InFlight == "" {
			return s, nil
		}
		s.History = lastN(inChatHistory(in.Messages), window(s))
		ev := protocol.ReplyEvent{Kind: protocol.EventUpdated, ConversationID: s.Conversation.ID, ReplyTo: s.InFlight}
		if s.Op.Op == protocol.OpRewind {
			ev.Kind, ev.MessageID = protocol.EventRewound, s.Op.Target
		}
		return finish(s, []Effect{Publish{ev}})

	case Forked:
		if s.Op.Op != protocol.OpFork {
			return s, nil
		}
		return finish(s, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventForked, ConversationID: s.Conversation.ID,
			ReplyTo: s.InFlight, MessageID: s.Op.Target, NewConversationID: in.Conversation.ID}}})

	case EffectFailed:
		if s.InFlight == "" {
			return s, nil
		}
		return fail(s, in.Code, in.Text)

	case HandBack:
		if s.InFlight == "" {
			return s, nil
		}
		return handBack(s)

	case Generated:
		if s.Gen == nil || in.ReplyTo != s.Gen.ReplyTo {
			return s, nil
		}
		return generated(s, in)
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

// startNext begins the next queued line or request when idle.
func startNext(s ChatState) (ChatState, []Effect) {
	if s.InFlight != "" || len(s.Queue) == 0 {
		return s, nil
	}
	l := s.Queue[0]
	s.Queue = s.Queue[1:]
	s.InFlight, s.Op, s.Gen, s.FailText, s.Recalling = l.MessageID, l, nil, "", false
	switch l.Op {
	case "":
		m := maopao.Message{ID: l.MessageID, ConversationID: l.ConversationID, Role: maopao.RoleUser, Content: l.Text, Pictures: l.Pictures, CreatedAt: l.AcceptedAt}
		return s, []Effect{StoreMessage{m}}
	case protocol.OpRegenerate:
		return regenerate(s)
	case protocol.OpSwipe, protocol.OpEdit, protocol.OpDelete, protocol.OpRewind, protocol.OpFork:
		if m, ok := inHistory(s, l.Target); ok {
			return apply(s, m)
		}
		return s, []Effect{LoadMessage{ID: l.Target}}
	}
	return fail(s, protocol.CodeInvalid, "unknown chat request "+quoted(l.Op))
}

// finish acks the line or request in flight and starts the next one.
func finish(s ChatState, effs []Effect) (ChatState, []Effect) {
	effs = append(effs, Ack{MessageID: s.InFlight})
	s.InFlight, s.Op, s.Gen, s.FailText, s.Recalling = "", protocol.PlayerLine{}, nil, "", false
	s, more := startNext(s)
	return s, append(effs, more...)
}

// fail tells the player why the request in flight cannot be done.
func fail(s ChatState, code, text string) (ChatState, []Effect) {
	return finish(s, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: s.Conversation.ID, ReplyTo: s.InFlight, Code: code, Text: text}}})
}

func messageStored(s ChatState, m maopao.Message, created bool) (ChatState, []Effect) {
	s.History, s.Memory = remember(s, m)
	if m.Role == maopao.RoleUser {
		if m.ID != s.InFlight {
			return s, nil
		}
		effs := []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventStored, ConversationID: m.ConversationID, ReplyTo: m.ID, Message: chatMessage(m)}}}
		for _, mem := range memoriesOfLine(s, m) {
			effs = append(effs, Remember{mem})
		}
		if !created {
			// Stored before: maybe answered before a crash, too.
			return s, append(effs, LookupReply{ReplyTo: m.ID, ReplyID: ReplyID(m.ID)})
		}
		s, more := generateReply(s, m.ID, ReplyID(m.ID))
		return s, append(effs, more...)
	}
	// A reply was stored: the line (or request) is answered.
	if s.InFlight == "" {
		return s, nil
	}
	if m.Status == maopao.StatusFailed {
		text := s.FailText
		if text == "" {
			text = "the character could not answer; try again"
		}
		return finish(s, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: m.ConversationID, ReplyTo: m.ReplyTo,
			MessageID: m.ID, Message: chatMessage(m), Code: m.Code, Text: text, Request: request(s)}}})
	}
	return finish(s, []Effect{
		Publish{protocol.ReplyEvent{Kind: protocol.EventComplete, ConversationID: m.ConversationID, ReplyTo: m.ReplyTo, MessageID: m.ID, Message: chatMessage(m),
			FinishReason: finishReason(m.Status), Request: request(s)}},
		SaveMemory{s.Memory},
	})
}

func messageUpdated(s ChatState, m maopao.Message) (ChatState, []Effect) {
	if s.InFlight == "" {
		return s, nil
	}
	s.History = replaceInHistory(s.History, m)
	ev := protocol.ReplyEvent{Kind: protocol.EventUpdated, ConversationID: m.ConversationID, ReplyTo: s.InFlight, MessageID: m.ID, Message: chatMessage(m)}
	if s.Gen != nil {
		// A new swipe or a retried failure: the reply is complete.
		ev.Kind, ev.ReplyTo, ev.FinishReason, ev.Request = protocol.EventComplete, m.ReplyTo, finishReason(m.Status), s.InFlight
	}
	return finish(s, []Effect{Publish{ev}})
}

func finishReason(status string) string {
	if status == maopao.StatusStopped {
		return "stopped"
	}
	return "stop"
}

// regenerate asks for another reply to the chat's last line: a new swipe
// of the last reply, a retry of a failed one, or a first reply to a line
// whose reply is gone.
func regenerate(s ChatState) (ChatState, []Effect) {
	if len(s.History) == 0 {
		return fail(s, protocol.CodeInvalid, "the chat is empty: there is nothing to regenerate")
	}
	last := s.History[len(s.History)-1]
	if s.Op.Target != "" && s.Op.Target != last.ID {
		return fail(s, protocol.CodeInvalid, "only the chat's last message can be regenerated")
	}
	switch {
	case last.Role == maopao.RoleUser:
		return generateReply(s, last.ID, ReplyID(s.InFlight))
	case last.Greeting:
		return fail(s, protocol.CodeNoAlternative, "the greeting answers no line; swipe it for the character's other greetings")
	case last.Role != maopao.RoleCharacter:
		return fail(s, protocol.CodeInvalid, "the last message is not a reply")
	}
	return newSwipe(s, last)
}

// newSwipe generates another alternative of the reply m.
func newSwipe(s ChatState, m maopao.Message) (ChatState, []Effect) {
	for _, sw := range m.Swipes {
		if sw.Op == s.InFlight {
			// Made before a crash: the request is done.
			return messageUpdatedDone(s, m)
		}
	}
	return recall(s, Generate{ReplyTo: m.ReplyTo, ReplyID: m.ID, Target: m.ID, Op: s.InFlight})
}

func messageUpdatedDone(s ChatState, m maopao.Message) (ChatState, []Effect) {
	return finish(s, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventComplete, ConversationID: m.ConversationID, ReplyTo: m.ReplyTo,
		MessageID: m.ID, Message: chatMessage(m), FinishReason: finishReason(m.Status), Request: s.InFlight}}})
}

// request is the request in flight, when it is one rather than a line.
func request(s ChatState) string {
	if s.Op.Op == "" {
		return ""
	}
	return s.InFlight
}

// generateReply generates a new reply replyID to the line lineID.
func generateReply(s ChatState, lineID, replyID string) (ChatState, []Effect) {
	return recall(s, Generate{ReplyTo: lineID, ReplyID: replyID})
}

// recall starts g: the pair's memories first (Recall), then the prompt
// (recalled).
func recall(s ChatState, g Generate) (ChatState, []Effect) {
	s.Gen, s.Recalling = &g, true
	query := ""
	for _, m := range s.History {
		if m.ID == g.ReplyTo {
			query = m.Content
		}
	}
	return s, []Effect{Recall{PlayerID: s.Conversation.PlayerID, CharacterID: s.Character.ID, Query: query}}
}

// recalled builds the prompt of the generation waiting for memories and
// starts it. Facts kept the old way (Memory.Facts) become memories first.
func recalled(s ChatState, mems []maopao.ChatMemory, qvec []float32) (ChatState, []Effect) {
	if !s.Recalling || s.Gen == nil {
		return s, nil
	}
	s.Recalling = false
	var effs []Effect
	if len(s.Memory.Facts) > 0 {
		at := s.Op.AcceptedAt
		for _, f := range s.Memory.Facts {
			m := maopao.ChatMemory{ID: FactMemoryID(s.Conversation.PlayerID, s.Character.ID, f), PlayerID: s.Conversation.PlayerID, CharacterID: s.Character.ID,
				Kind: maopao.ChatMemoryFact, Text: f, Importance: 8, CreatedAt: at, UpdatedAt: at}
			effs = append(effs, Remember{m})
			if !slices.ContainsFunc(mems, func(x maopao.ChatMemory) bool { return x.ID == m.ID }) {
				mems = append(mems, m)
			}
		}
		s.Memory.Facts = nil
		effs = append(effs, SaveMemory{s.Memory})
	}
	g0 := *s.Gen
	g := generate(s, g0.ReplyTo, g0.ReplyID, g0.Target, mems, qvec)
	g.Target, g.Op = g0.Target, g0.Op
	s.Gen = &g
	return s, append(effs, g)
}

func generated(s ChatState, in Generated) (ChatState, []Effect) {
	g := *s.Gen
	if in.Retry {
		return handBack(s)
	}
	if in.Code != "" && g.Target != "" {
		// A failed new swipe leaves the reply as it was.
		return fail(s, in.Code, in.Err)
	}
	if in.Code != "" {
		// The failure is stored as the reply, so the player can retry it
		// after a reload, and the line is not left looking unanswered.
		s.FailText = in.Err
		return s, []Effect{StoreMessage{maopao.Message{ID: g.ReplyID, ConversationID: s.Conversation.ID, Role: maopao.RoleCharacter,
			ReplyTo: g.ReplyTo, Status: maopao.StatusFailed, Code: in.Code, CreatedAt: s.Op.AcceptedAt}}}
	}
	text := strings.TrimSpace(in.Text)
	if text == "" {
		text = "…"
	}
	status := ""
	if in.Stopped {
		status = maopao.StatusStopped
	}
	if g.Target == "" {
		return s, []Effect{StoreMessage{maopao.Message{ID: g.ReplyID, ConversationID: s.Conversation.ID, Role: maopao.RoleCharacter,
			Content: text, ReplyTo: g.ReplyTo, Status: status, CreatedAt: s.Op.AcceptedAt}}}
	}
	m, ok := inHistory(s, g.Target)
	if !ok {
		return fail(s, protocol.CodeUnknownMessage, "the reply to regenerate is gone")
	}
	if m.Status == maopao.StatusFailed {
		m.Content, m.Status, m.Code = text, status, ""
		return s, []Effect{UpdateMessage{m}}
	}
	if len(m.Swipes) == 0 {
		m.Swipes = []maopao.Swipe{{Text: m.Content, Status: m.Status, CreatedAt: m.CreatedAt}}
	}
	m.Swipes = append(append([]maopao.Swipe(nil), m.Swipes...), maopao.Swipe{Text: text, Op: g.Op, Status: status, CreatedAt: s.Op.AcceptedAt})
	m.SwipeID, m.Content, m.Status = len(m.Swipes)-1, text, status
	return s, []Effect{UpdateMessage{m}}
}

// handBack returns the line in flight to the stream; whoever gets it next
// starts over. Queued lines go back too (they were never acked), so they
// keep their order behind it.
func handBack(s ChatState) (ChatState, []Effect) {
	ids := []string{s.InFlight}
	for _, l := range s.Queue {
		ids = append(ids, l.MessageID)
	}
	s.InFlight, s.Op, s.Gen, s.Queue, s.FailText, s.Recalling = "", protocol.PlayerLine{}, nil, nil, "", false
	return s, []Effect{Nak{MessageIDs: ids}}
}

// apply carries out a request about the stored message m.
func apply(s ChatState, m maopao.Message) (ChatState, []Effect) {
	op := s.Op
	switch op.Op {
	case protocol.OpEdit:
		if m.Status == maopao.StatusFailed {
			return fail(s, protocol.CodeInvalid, "a failed reply has no text to edit; regenerate it")
		}
		if op.Text == m.Content {
			return messageUpdatedFinish(s, m)
		}
		m.Edits = append(append([]maopao.Edit(nil), m.Edits...), maopao.Edit{Text: m.Content, EditedAt: op.AcceptedAt})
		m.Content = op.Text
		if len(m.Swipes) > 0 {
			m.Swipes = append([]maopao.Swipe(nil), m.Swipes...)
			m.Swipes[m.SwipeID].Text = op.Text
		}
		effs := []Effect{UpdateMessage{m}}
		if m.Role == maopao.RoleUser {
			// What the character remembers of the line is what it says now.
			effs = append(effs, Forget{SaidMemoryID(m.ID)})
			for _, mem := range memoriesOfLine(s, m) {
				effs = append(effs, Remember{mem})
			}
		}
		return s, effs
	case protocol.OpDelete:
		m.Deleted = true
		effs := []Effect{UpdateMessage{m}}
		if m.Role == maopao.RoleUser {
			// A deleted line is not remembered as said; facts told in it
			// stay until the player forgets them in the memory manager.
			effs = append(effs, Forget{SaidMemoryID(m.ID)})
		}
		return s, effs
	case protocol.OpRewind:
		return s, []Effect{Rewind{After: m}}
	case protocol.OpFork:
		c := s.Conversation
		fork := maopao.Conversation{ID: op.NewConversationID, PlayerID: c.PlayerID, CharacterID: c.CharacterID,
			Title: forkTitle(c.Title, s.Character.Name), Persona: c.Persona, CreatedAt: op.AcceptedAt, UpdatedAt: op.AcceptedAt,
			ForkOf: &maopao.ForkPoint{ConversationID: c.ID, MessageID: m.ID}}
		return s, []Effect{Fork{Conversation: fork, UpTo: m}}
	case protocol.OpSwipe:
		if len(s.History) == 0 || s.History[len(s.History)-1].ID != m.ID || m.Role != maopao.RoleCharacter {
			return fail(s, protocol.CodeNoAlternative, "only the chat's last reply can be swiped")
		}
		n := max(len(m.Swipes), 1)
		switch id := op.SwipeID; {
		case id < 0 || id > n || (id == n && m.Greeting):
			return fail(s, protocol.CodeNoAlternative, "there is no alternative "+strconv.Itoa(id+1)+" of this message")
		case id == n:
			return newSwipe(s, m)
		case len(m.Swipes) == 0 || id == m.SwipeID:
			return messageUpdatedFinish(s, m)
		default:
			m.SwipeID, m.Content, m.Status = id, m.Swipes[id].Text, m.Swipes[id].Status
			return s, []Effect{UpdateMessage{m}}
		}
	}
	return fail(s, protocol.CodeInvalid, "unknown chat request "+quoted(op.Op))
}

// messageUpdatedFinish ends a request that changed nothing, telling the
// clients the message as it is.
func messageUpdatedFinish(s ChatState, m maopao.Message) (ChatState, []Effect) {
	return finish(s, []Effect{Publish{protocol.ReplyEvent{Kind: protocol.EventUpdated, ConversationID: m.ConversationID, ReplyTo: s.InFlight, MessageID: m.ID, Message: chatMessage(m)}}})
}

func forkTitle(title, charName string) string {
	if title == "" {
		title = "Chat with " + charName
	}
	return "Branch of " + title
}

func inHistory(s ChatState, id string) (maopao.Message, bool) {
	for _, m := range s.History {
		if m.ID == id {
			return m, true
		}
	}
	return maopao.Message{}, false
}

func replaceInHistory(h []maopao.Message, m maopao.Message) []maopao.Message {
	out := make([]maopao.Message, 0, len(h))
	for _, x := range h {
		switch {
		case x.ID != m.ID:
			out = append(out, x)
		case !m.Deleted:
			out = append(out, m)
		}
	}
	return out
}

// inChatHistory leaves deleted messages out.
func inChatHistory(msgs []maopao.Message) []maopao.Message {
	out := make([]maopao.Message, 0, len(msgs))
	for _, m := range msgs {
		if !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

func lastN(msgs []maopao.Message, n int) []maopao.Message {
	if len(msgs) > n {
		return msgs[len(msgs)-n:]
	}
	return msgs
}

func window(s ChatState) int {
	if s.Config.HistoryWindow <= 0 {
		return 40
	}
	return s.Config.HistoryWindow
}

func quoted(s string) string { return strconv.Quote(s) }

// generate builds the request for a reply to lineID: the prompt holds the
// chat up to the line, without exclude (the reply being regenerated) and
// without failed replies.
func generate(s ChatState, lineID, replyID, exclude string, mems []maopao.ChatMemory, qvec []float32) Generate {
	req := s.Config.Sampling
	req.MaxTokens = s.Config.MaxTokens
	reserve := s.Config.MaxTokens
	if reserve <= 0 {
		reserve = 256
	}
	var hist []maopao.Message
	for _, m := range s.History {
		if m.InChat() && m.ID != exclude {
			hist = append(hist, m)
		}
	}
	// What the character recalls of the player goes where facts went.
	mem := s.Memory
	count := s.Config.CountTokens
	if count == nil {
		count = func(t string) int { return len(t)/4 + 1 }
	}
	budget := MaxRecalled * 64
	if s.Config.ContextSize > 0 {
		budget = int(float64(s.Config.ContextSize) * RecallBudget)
	}
	inWindow := map[string]bool{}
	query := ""
	for _, m := range hist {
		inWindow[m.ID] = true
		if m.ID == lineID {
			query = m.Content
		}
	}
	mem.Facts = nil
	// This chat's summary, written by the engine (keeper.go), tells what
	// came before the window in place of the clipped transcript.
	summaryID := SummaryMemoryID(s.Conversation.ID)
	if k := slices.IndexFunc(mems, func(m maopao.ChatMemory) bool { return m.ID == summaryID }); k >= 0 {
		mem.Summary = mems[k].Text
		mems = slices.Delete(slices.Clone(mems), k, k+1)
	}
	for _, m := range selectMemories(mems, query, qvec, s.Op.AcceptedAt, inWindow, budget, count) {
		mem.Facts = append(mem.Facts, m.Text)
	}
	req.Messages = characters.BuildPrompt(characters.PromptInput{
		Character: s.Character, UserName: s.PlayerName, UserDescription: s.PlayerDescription, Memory: mem, History: hist,
		ContextSize: s.Config.ContextSize, ReserveTokens: reserve, CountTokens: s.Config.CountTokens,
		// Macros like {{pick}} stay fixed within a conversation and
		// differ between conversations.
		Seed: conversationSeed(s.Conversation.ID),
	})
	return Generate{ReplyTo: lineID, ReplyID: replyID, Request: req}
}

func chatMessage(m maopao.Message) *protocol.ChatMessage {
	cm := protocol.ChatMessageOf(m)
	return &cm
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
