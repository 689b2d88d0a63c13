package chatclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/maopao/maopao/protocol"
)

// OpenChatByID opens one of the player's chats by its ID.
func (c *Client) OpenChatByID(ctx context.Context, conversationID string) (protocol.ChatOpened, error) {
	id := c.newID()
	var out protocol.ChatOpened
	req := protocol.OpenChat{Envelope: protocol.Envelope{Type: protocol.TypeOpenChat, ID: id}, ConversationID: conversationID}
	if err := c.request(ctx, id, req, protocol.TypeChatOpened, &out); err != nil {
		return protocol.ChatOpened{}, fmt.Errorf("open chat %s: %w", conversationID, err)
	}
	return out, nil
}

// NewChat starts another chat with a character; its history holds the
// greeting.
func (c *Client) NewChat(ctx context.Context, characterID string) (protocol.ChatOpened, error) {
	id := c.newID()
	var out protocol.ChatOpened
	req := protocol.NewChat{Envelope: protocol.Envelope{Type: protocol.TypeNewChat, ID: id}, CharacterID: characterID}
	if err := c.request(ctx, id, req, protocol.TypeChatOpened, &out); err != nil {
		return protocol.ChatOpened{}, fmt.Errorf("new chat with %q: %w", characterID, err)
	}
	return out, nil
}

// ListChats lists the player's chats with a character, most recent first.
func (c *Client) ListChats(ctx context.Context, characterID string) ([]protocol.ChatSummary, error) {
	id := c.newID()
	var out protocol.Chats
	req := protocol.ListChats{Envelope: protocol.Envelope{Type: protocol.TypeListChats, ID: id}, CharacterID: characterID}
	if err := c.request(ctx, id, req, protocol.TypeChats, &out); err != nil {
		return nil, fmt.Errorf("list chats with %q: %w", characterID, err)
	}
	return out.Chats, nil
}

// RenameChat gives a chat a title.
func (c *Client) RenameChat(ctx context.Context, conversationID, title string) (protocol.ChatSummary, error) {
	id := c.newID()
	var out protocol.ChatUpdated
	req := protocol.RenameChat{Envelope: protocol.Envelope{Type: protocol.TypeRenameChat, ID: id}, ConversationID: conversationID, Title: title}
	if err := c.request(ctx, id, req, protocol.TypeChatUpdated, &out); err != nil {
		return protocol.ChatSummary{}, fmt.Errorf("rename chat %s: %w", conversationID, err)
	}
	return out.Chat, nil
}

// DeleteChat deletes a chat and its messages.
func (c *Client) DeleteChat(ctx context.Context, conversationID string) error {
	id := c.newID()
	var out protocol.ChatDeleted
	req := protocol.DeleteChat{Envelope: protocol.Envelope{Type: protocol.TypeDeleteChat, ID: id}, ConversationID: conversationID}
	if err := c.request(ctx, id, req, protocol.TypeChatDeleted, &out); err != nil {
		return fmt.Errorf("delete chat %s: %w", conversationID, err)
	}
	return nil
}

// SetPersona sets who the player is: everywhere, or (conversationID set)
// in one chat.
func (c *Client) SetPersona(ctx context.Context, p protocol.Persona, conversationID string) (protocol.Persona, error) {
	id := c.newID()
	var out protocol.PersonaSet
	req := protocol.SetPersona{Envelope: protocol.Envelope{Type: protocol.TypeSetPersona, ID: id}, Persona: p, ConversationID: conversationID}
	if err := c.request(ctx, id, req, protocol.TypePersona, &out); err != nil {
		return protocol.Persona{}, fmt.Errorf("set persona: %w", err)
	}
	return out.Persona, nil
}

// RequestResult is how a chat request ended: Message is the message as it
// now is (for regenerate and swipe, the reply with its swipes), Rewound
// and NewConversationID are set for rewind and fork.
type RequestResult struct {
	RequestID         string
	Message           protocol.ChatMessage
	Rewound           bool
	NewConversationID string
	FinishReason      string
}

// Regenerate asks for another reply to the chat's last line (messageID
// names a failed reply to retry; "" means the last reply), streaming it.
func (c *Client) Regenerate(ctx context.Context, conversationID, messageID string, onDelta func(protocol.Delta)) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeRegenerate}, ConversationID: conversationID, MessageID: messageID}, onDelta)
}

// Swipe chooses alternative swipeID (0-based) of the last reply; one past
// the last generates a new one, streamed to onDelta.
func (c *Client) Swipe(ctx context.Context, conversationID, messageID string, swipeID int, onDelta func(protocol.Delta)) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeSwipe}, ConversationID: conversationID, MessageID: messageID, SwipeID: swipeID}, onDelta)
}

// EditMessage replaces a message's text.
func (c *Client) EditMessage(ctx context.Context, conversationID, messageID, text string) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeEditMessage}, ConversationID: conversationID, MessageID: messageID, Text: text}, nil)
}

// DeleteMessage takes a message out of the chat.
func (c *Client) DeleteMessage(ctx context.Context, conversationID, messageID string) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeDeleteMessage}, ConversationID: conversationID, MessageID: messageID}, nil)
}

// Rewind takes every message after messageID out of the chat.
func (c *Client) Rewind(ctx context.Context, conversationID, messageID string) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeRewind}, ConversationID: conversationID, MessageID: messageID}, nil)
}

// Fork branches the chat at messageID into a new chat; open it with
// OpenChatByID(result.NewConversationID).
func (c *Client) Fork(ctx context.Context, conversationID, messageID string) (RequestResult, error) {
	return c.chatRequest(ctx, protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeForkChat}, ConversationID: conversationID, MessageID: messageID}, nil)
}

// Stop stops the reply being generated in a chat; the reply is kept as far
// as it got (its complete frame says finish_reason "stopped").
func (c *Client) Stop(ctx context.Context, conversationID string) error {
	id := c.newID()
	var ack protocol.Ack
	req := protocol.ChatRequest{Envelope: protocol.Envelope{Type: protocol.TypeStop, ID: id}, ConversationID: conversationID}
	if err := c.request(ctx, id, req, protocol.TypeAck, &ack); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// chatRequest sends a request, waits for its ack, then collects what it
// did: deltas to onDelta, and the frame that ends it.
func (c *Client) chatRequest(ctx context.Context, req protocol.ChatRequest, onDelta func(protocol.Delta)) (RequestResult, error) {
	id := c.newID()
	req.ID = id
	mb := c.register(id)
	defer c.unregister(id, mb)
	if err := c.Send(req); err != nil {
		return RequestResult{}, err
	}
	f, err := c.take(ctx, mb)
	if err != nil {
		return RequestResult{}, fmt.Errorf("%s: wait for ack: %w", req.Type, err)
	}
	var ack protocol.Ack
	if err := decodeAs(f, protocol.TypeAck, &ack); err != nil {
		return RequestResult{}, fmt.Errorf("%s: %w", req.Type, err)
	}
	res := RequestResult{RequestID: ack.MessageID}
	for {
		f, err := c.take(ctx, mb)
		if err != nil {
			return res, &AckedError{MessageID: ack.MessageID, Err: err}
		}
		switch f.env.Type {
		case protocol.TypeDelta:
			var d protocol.Delta
			if err := json.Unmarshal(f.raw, &d); err != nil {
				return res, fmt.Errorf("decode delta frame: %w", err)
			}
			if onDelta != nil {
				onDelta(d)
			}
		case protocol.TypeComplete:
			var done protocol.Complete
			if err := json.Unmarshal(f.raw, &done); err != nil {
				return res, fmt.Errorf("decode complete frame: %w", err)
			}
			res.Message, res.FinishReason = done.Message, done.FinishReason
			return res, nil
		case protocol.TypeMessageUpdated:
			var u protocol.MessageUpdated
			if err := json.Unmarshal(f.raw, &u); err != nil {
				return res, fmt.Errorf("decode message_updated frame: %w", err)
			}
			res.Message = u.Message
			return res, nil
		case protocol.TypeRewound:
			res.Rewound = true
			return res, nil
		case protocol.TypeChatForked:
			var fk protocol.ChatForked
			if err := json.Unmarshal(f.raw, &fk); err != nil {
				return res, fmt.Errorf("decode chat_forked frame: %w", err)
			}
			res.NewConversationID = fk.NewConversationID
			return res, nil
		case protocol.TypeError:
			return res, decodeError(f.raw)
		}
	}
}
