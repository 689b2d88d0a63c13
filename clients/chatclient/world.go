package chatclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/maopao/maopao/protocol"
)

// ListWorlds asks for the worlds the player may join.
func (c *Client) ListWorlds(ctx context.Context) ([]protocol.WorldSummary, error) {
	id := c.newID()
	var out protocol.Worlds
	req := protocol.ListWorlds{Envelope: protocol.Envelope{Type: protocol.TypeListWorlds, ID: id}}
	if err := c.request(ctx, id, req, protocol.TypeWorlds, &out); err != nil {
		return nil, fmt.Errorf("list worlds: %w", err)
	}
	return out.Worlds, nil
}

// JoinWorld enters a world at locationID ("" for the world's first
// location). From then on the events of that place arrive on this
// connection; NextWorldEvent reads them.
func (c *Client) JoinWorld(ctx context.Context, worldID, locationID string) (protocol.WorldJoined, error) {
	id := c.newID()
	var out protocol.WorldJoined
	req := protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: id}, WorldID: worldID, LocationID: locationID}
	if err := c.request(ctx, id, req, protocol.TypeWorldJoined, &out); err != nil {
		return protocol.WorldJoined{}, fmt.Errorf("join world %q: %w", worldID, err)
	}
	return out, nil
}

// Move walks the player to a location connected to where it is, and
// returns what it finds there.
func (c *Client) Move(ctx context.Context, worldID, locationID string) (protocol.WorldJoined, error) {
	id := c.newID()
	var out protocol.WorldJoined
	req := protocol.Move{Envelope: protocol.Envelope{Type: protocol.TypeMove, ID: id}, WorldID: worldID, LocationID: locationID}
	if err := c.request(ctx, id, req, protocol.TypeWorldJoined, &out); err != nil {
		return protocol.WorldJoined{}, fmt.Errorf("move to %q: %w", locationID, err)
	}
	return out, nil
}

// RoomSay says text where the player is, addressed to the character with
// id to when to is not empty. It returns the line's message id once the
// server has accepted it: the line itself and the characters' answers
// (their reply_to is that id) come as world events.
func (c *Client) RoomSay(ctx context.Context, worldID, text, to string) (string, error) {
	id := c.newID()
	req := protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: id}, WorldID: worldID, Text: text, To: to}
	msgID, err := c.sayAck(ctx, id, req)
	if err != nil {
		return "", fmt.Errorf("room say: %w", err)
	}
	return msgID, nil
}

// PrivateSay tells one character something only this player hears about.
// Like RoomSay it returns the accepted line's id; the answer comes as
// world events whose PrivateWith is characterID.
func (c *Client) PrivateSay(ctx context.Context, worldID, characterID, text string) (string, error) {
	id := c.newID()
	req := protocol.PrivateSay{Envelope: protocol.Envelope{Type: protocol.TypePrivateSay, ID: id}, WorldID: worldID, CharacterID: characterID, Text: text}
	msgID, err := c.sayAck(ctx, id, req)
	if err != nil {
		return "", fmt.Errorf("private say to %q: %w", characterID, err)
	}
	return msgID, nil
}

func (c *Client) sayAck(ctx context.Context, id string, req any) (string, error) {
	var ack protocol.Ack
	if err := c.request(ctx, id, req, protocol.TypeAck, &ack); err != nil {
		return "", err
	}
	if ack.MessageID == "" {
		return "", fmt.Errorf("ack without message_id")
	}
	return ack.MessageID, nil
}

// LeaveWorld leaves a world; its events stop arriving.
func (c *Client) LeaveWorld(ctx context.Context, worldID string) error {
	id := c.newID()
	var out protocol.Envelope
	req := protocol.LeaveWorld{Envelope: protocol.Envelope{Type: protocol.TypeLeaveWorld, ID: id}, WorldID: worldID}
	if err := c.request(ctx, id, req, protocol.TypeAck, &out); err != nil {
		return fmt.Errorf("leave world %q: %w", worldID, err)
	}
	return nil
}

// NextWorldEvent returns the next world event pushed by the server, in
// arrival order. It reads through Next, so it consumes every frame no call
// was waiting for: frames that are neither world events nor errors (a late
// pong, a chat delta) are skipped, and an error frame answering no request
// comes back as a *FrameError. Use it on a connection given to worlds, or
// from the one goroutine that reads Next.
func (c *Client) NextWorldEvent(ctx context.Context) (protocol.WorldEvent, error) {
	for {
		env, raw, err := c.Next(ctx)
		if err != nil {
			return protocol.WorldEvent{}, err
		}
		switch env.Type {
		case protocol.TypeWorldEvent:
			var f protocol.WorldEventFrame
			if err := json.Unmarshal(raw, &f); err != nil {
				return protocol.WorldEvent{}, fmt.Errorf("decode world_event frame: %w", err)
			}
			return f.Event, nil
		case protocol.TypeError:
			return protocol.WorldEvent{}, decodeError(raw)
		}
	}
}
