package chatclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/maopao/maopao/protocol"
)

// ListCharacters asks for the characters the player may chat with, every
// page of them.
func (c *Client) ListCharacters(ctx context.Context) ([]protocol.CharacterSummary, error) {
	var all []protocol.CharacterSummary
	cursor := ""
	for {
		id := c.newID()
		var out protocol.Characters
		req := protocol.ListCharacters{Envelope: protocol.Envelope{Type: protocol.TypeListCharacters, ID: id}, Cursor: cursor}
		if err := c.request(ctx, id, req, protocol.TypeCharacters, &out); err != nil {
			return nil, fmt.Errorf("list characters: %w", err)
		}
		all = append(all, out.Characters...)
		if out.Next == "" || out.Next == cursor {
			return all, nil
		}
		cursor = out.Next
	}
}

// OpenChat opens (or reopens) the player's chat with a character and returns
// its history. Replies to the messages listed in Pending stream on this
// connection; Await collects one.
func (c *Client) OpenChat(ctx context.Context, characterID string) (protocol.ChatOpened, error) {
	id := c.newID()
	var out protocol.ChatOpened
	req := protocol.OpenChat{Envelope: protocol.Envelope{Type: protocol.TypeOpenChat, ID: id}, CharacterID: characterID}
	if err := c.request(ctx, id, req, protocol.TypeChatOpened, &out); err != nil {
		return protocol.ChatOpened{}, fmt.Errorf("open chat with %q: %w", characterID, err)
	}
	return out, nil
}

// Ping sends a ping frame and waits for its pong.
func (c *Client) Ping(ctx context.Context) error {
	id := c.newID()
	var out protocol.Envelope
	if err := c.request(ctx, id, protocol.Envelope{Type: protocol.TypePing, ID: id}, protocol.TypePong, &out); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Say sends a line into an open conversation and streams the reply: it waits
// for the ack, calls onDelta (which may be nil) for each delta in arrival
// order on the calling goroutine, and returns the complete frame. A rejected
// line or a failed reply is a *FrameError (for a failed reply its ReplyTo names
// the accepted line). When ctx or the connection ends after the ack, the error
// is an *AckedError: the line stays accepted and its reply can be collected
// with Await, on this or (after OpenChat) another connection.
//
// Every line carries a client message id of its own; when the connection
// or ctx ends before the ack, the error is a *NotAckedError with that id,
// and SayAs with the same id (on a new connection) resends the line
// safely: the server stores and answers it once.
func (c *Client) Say(ctx context.Context, conversationID, text string, onDelta func(protocol.Delta)) (protocol.Complete, error) {
	return c.SayAs(ctx, conversationID, uuid.NewString(), text, onDelta)
}

// SayAs is Say with the client message id given: the same id is the same
// line.
func (c *Client) SayAs(ctx context.Context, conversationID, clientMessageID, text string, onDelta func(protocol.Delta)) (protocol.Complete, error) {
	return c.SayLine(ctx, conversationID, Line{Text: text, ClientMessageID: clientMessageID, OnDelta: onDelta})
}

// Line is a line for SayLine: its text and pictures (IDs from
// UploadPicture), and what to call as the reply streams.
type Line struct {
	Text            string
	Pictures        []string
	ClientMessageID string // "" for a fresh one
	OnDelta         func(protocol.Delta)
	// OnNotice hears what the server says about the line (the character
	// could not see its pictures).
	OnNotice func(protocol.Notice)
}

// SayLine is Say with pictures and notices.
func (c *Client) SayLine(ctx context.Context, conversationID string, l Line) (protocol.Complete, error) {
	clientMessageID, onDelta := l.ClientMessageID, l.OnDelta
	if clientMessageID == "" {
		clientMessageID = uuid.NewString()
	}
	id := c.newID()
	mb := c.register(id)
	defer c.unregister(id, mb)
	req := protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: id}, ConversationID: conversationID, Text: l.Text, ClientMessageID: clientMessageID, Pictures: l.Pictures}
	if err := c.Send(req); err != nil {
		return protocol.Complete{}, &NotAckedError{ClientMessageID: clientMessageID, Err: err}
	}
	f, err := c.take(ctx, mb)
	if err != nil {
		return protocol.Complete{}, &NotAckedError{ClientMessageID: clientMessageID, Err: fmt.Errorf("say: wait for ack: %w", err)}
	}
	var ack protocol.Ack
	if err := decodeAs(f, protocol.TypeAck, &ack); err != nil {
		return protocol.Complete{}, fmt.Errorf("say: %w", err)
	}
	if ack.MessageID == "" {
		return protocol.Complete{}, fmt.Errorf("say: ack without message_id")
	}
	done, err := c.collect(ctx, mb, onDelta, l.OnNotice)
	if fe, ok := err.(*FrameError); ok {
		if fe.ReplyTo == "" {
			fe.ReplyTo = ack.MessageID
		}
		return protocol.Complete{}, fe
	}
	if err != nil {
		return protocol.Complete{}, &AckedError{MessageID: ack.MessageID, Err: err}
	}
	return done, nil
}

// Post sends a line and returns its id once the server accepted it (the
// ack), without waiting for the reply: the reply's frames are left for
// Next or Await. Errors are as for SayAs up to the ack.
func (c *Client) Post(ctx context.Context, conversationID, clientMessageID, text string) (string, error) {
	id := c.newID()
	mb := c.register(id)
	defer c.unregister(id, mb)
	req := protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: id}, ConversationID: conversationID, Text: text, ClientMessageID: clientMessageID}
	if err := c.Send(req); err != nil {
		return "", &NotAckedError{ClientMessageID: clientMessageID, Err: err}
	}
	f, err := c.take(ctx, mb)
	if err != nil {
		return "", &NotAckedError{ClientMessageID: clientMessageID, Err: fmt.Errorf("say: wait for ack: %w", err)}
	}
	var ack protocol.Ack
	if err := decodeAs(f, protocol.TypeAck, &ack); err != nil {
		return "", fmt.Errorf("say: %w", err)
	}
	if ack.MessageID == "" {
		return "", fmt.Errorf("say: ack without message_id")
	}
	return ack.MessageID, nil
}

// NotAckedError is a line whose ack never came: the server may or may not
// have it. Sending it again with SayAs and ClientMessageID is safe.
type NotAckedError struct {
	ClientMessageID string
	Err             error
}

func (e *NotAckedError) Error() string {
	return fmt.Sprintf("line %s not acknowledged (safe to resend): %v", e.ClientMessageID, e.Err)
}

func (e *NotAckedError) Unwrap() error { return e.Err }

// AckedError wraps a failure that happened after the server accepted the
// player's line, so callers know MessageID is stored and its reply may still
// come.
type AckedError struct {
	MessageID string
	Err       error
}

func (e *AckedError) Error() string {
	return fmt.Sprintf("reply to message %s: %v", e.MessageID, e.Err)
}

func (e *AckedError) Unwrap() error { return e.Err }

// Await collects the reply to an already accepted player message, such as
// one listed in ChatOpened.Pending. Frames of that reply that arrived before
// Await was called (and were not yet taken by Next) are included.
func (c *Client) Await(ctx context.Context, replyTo string, onDelta func(protocol.Delta)) (protocol.Complete, error) {
	if replyTo == "" {
		return protocol.Complete{}, fmt.Errorf("await: empty message id")
	}
	mb := &mailbox{}
	c.mu.Lock()
	if _, taken := c.byReply[replyTo]; taken {
		c.mu.Unlock()
		return protocol.Complete{}, fmt.Errorf("await: the reply to %s is already being collected", replyTo)
	}
	c.byReply[replyTo] = mb
	for _, f := range c.unclaimed.extract(func(f frame) bool { return f.replyTo == replyTo }) {
		mb.put(f)
	}
	c.mu.Unlock()
	defer c.unregister("", mb)
	done, err := c.collect(ctx, mb, onDelta, nil)
	if err != nil {
		return protocol.Complete{}, fmt.Errorf("await reply to %s: %w", replyTo, err)
	}
	return done, nil
}

// collect reads a reply's deltas until its complete or error frame.
func (c *Client) collect(ctx context.Context, mb *mailbox, onDelta func(protocol.Delta), onNotice func(protocol.Notice)) (protocol.Complete, error) {
	for {
		f, err := c.take(ctx, mb)
		if err != nil {
			return protocol.Complete{}, err
		}
		switch f.env.Type {
		case protocol.TypeDelta:
			var d protocol.Delta
			if err := json.Unmarshal(f.raw, &d); err != nil {
				return protocol.Complete{}, fmt.Errorf("decode delta frame: %w", err)
			}
			if onDelta != nil {
				onDelta(d)
			}
		case protocol.TypeComplete:
			var done protocol.Complete
			if err := json.Unmarshal(f.raw, &done); err != nil {
				return protocol.Complete{}, fmt.Errorf("decode complete frame: %w", err)
			}
			return done, nil
		case protocol.TypeError:
			return protocol.Complete{}, decodeError(f.raw)
		case protocol.TypeNotice:
			var n protocol.Notice
			if onNotice != nil && json.Unmarshal(f.raw, &n) == nil {
				onNotice(n)
			}
		default:
			// A frame with this request's ref but of another kind (a repeated
			// ack, say) carries nothing for the caller.
		}
	}
}
