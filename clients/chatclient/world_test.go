package chatclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// TestWorldRequests plays a gateway's side of the world frames and checks
// that each method sends what the protocol asks and decodes the answer,
// and that world events pushed between answers reach NextWorldEvent in
// order, other frames skipped.
func TestWorldRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sum := protocol.WorldSummary{ID: "w1", Name: "Harbour", Locations: []protocol.LocationSummary{{ID: "a", Name: "A", Connections: []string{"b"}}, {ID: "b", Name: "B"}}}
	push := func(c *websocket.Conn, ev protocol.WorldEvent) {
		c.WriteJSON(protocol.WorldEventFrame{Envelope: protocol.Envelope{Type: protocol.TypeWorldEvent}, Event: ev})
	}
	url := scripted(t, func(t *testing.T, c *websocket.Conn) {
		welcome(t, c, 1)
		f := readFrame(t, c)
		if f["type"] != protocol.TypeListWorlds {
			t.Errorf("first request %v, want list_worlds", f)
		}
		c.WriteJSON(protocol.Worlds{Envelope: protocol.Envelope{Type: protocol.TypeWorlds, Ref: f["id"].(string)}, Worlds: []protocol.WorldSummary{sum}})

		f = readFrame(t, c)
		if f["type"] != protocol.TypeJoinWorld || f["world_id"] != "w1" || f["location_id"] != "a" {
			t.Errorf("join frame %v", f)
		}
		// An event may come before the answer that it follows logically.
		push(c, protocol.WorldEvent{Kind: protocol.WorldArrived, WorldID: "w1", LocationID: "a", Actor: protocol.Actor{Kind: "player", ID: "p", Name: "Me"}})
		c.WriteJSON(protocol.WorldJoined{Envelope: protocol.Envelope{Type: protocol.TypeWorldJoined, Ref: f["id"].(string)}, World: sum, LocationID: "a",
			Present: []protocol.Actor{{Kind: "character", ID: "c1", Name: "Xiaoyu"}}, SimMinute: 61})

		f = readFrame(t, c)
		if f["type"] != protocol.TypeRoomSay || f["text"] != "hi" || f["to"] != "c1" {
			t.Errorf("room_say frame %v", f)
		}
		c.WriteJSON(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: f["id"].(string)}, MessageID: "m1"})
		c.WriteJSON(protocol.Envelope{Type: protocol.TypePong})
		push(c, protocol.WorldEvent{Kind: protocol.WorldDelta, WorldID: "w1", MessageID: "r1", Text: "hel"})

		f = readFrame(t, c)
		if f["type"] != protocol.TypePrivateSay || f["character_id"] != "c1" || f["text"] != "psst" {
			t.Errorf("private_say frame %v", f)
		}
		c.WriteJSON(protocol.NewError(f["id"].(string), protocol.CodeRateLimited, "slow down"))

		f = readFrame(t, c)
		if f["type"] != protocol.TypeMove || f["location_id"] != "b" {
			t.Errorf("move frame %v", f)
		}
		c.WriteJSON(protocol.WorldJoined{Envelope: protocol.Envelope{Type: protocol.TypeWorldJoined, Ref: f["id"].(string)}, World: sum, LocationID: "b"})

		f = readFrame(t, c)
		if f["type"] != protocol.TypeLeaveWorld || f["world_id"] != "w1" {
			t.Errorf("leave frame %v", f)
		}
		c.WriteJSON(protocol.NewError("", protocol.CodeUnavailable, "world restarting"))
		c.WriteJSON(protocol.Envelope{Type: protocol.TypeAck, Ref: f["id"].(string)})
		c.ReadMessage() // until the client closes
	})
	c, err := chatclient.Dial(ctx, url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ws, err := c.ListWorlds(ctx)
	if err != nil || len(ws) != 1 || ws[0].Name != "Harbour" || len(ws[0].Locations) != 2 {
		t.Fatalf("ListWorlds = %+v, %v", ws, err)
	}
	j, err := c.JoinWorld(ctx, "w1", "a")
	if err != nil || j.LocationID != "a" || len(j.Present) != 1 || j.Present[0].Name != "Xiaoyu" || j.SimMinute != 61 {
		t.Fatalf("JoinWorld = %+v, %v", j, err)
	}
	id, err := c.RoomSay(ctx, "w1", "hi", "c1")
	if err != nil || id != "m1" {
		t.Fatalf("RoomSay = %q, %v", id, err)
	}
	_, err = c.PrivateSay(ctx, "w1", "c1", "psst")
	if !chatclient.IsCode(err, protocol.CodeRateLimited) {
		t.Fatalf("PrivateSay on a rate-limited connection: %v", err)
	}
	if j, err = c.Move(ctx, "w1", "b"); err != nil || j.LocationID != "b" {
		t.Fatalf("Move = %+v, %v", j, err)
	}
	if err := c.LeaveWorld(ctx, "w1"); err != nil {
		t.Fatalf("LeaveWorld: %v", err)
	}

	ev, err := c.NextWorldEvent(ctx)
	if err != nil || ev.Kind != protocol.WorldArrived || ev.Actor.Name != "Me" {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	ev, err = c.NextWorldEvent(ctx)
	if err != nil || ev.Kind != protocol.WorldDelta || ev.Text != "hel" || ev.MessageID != "r1" {
		t.Fatalf("second event (after a skipped pong) %+v, %v", ev, err)
	}
	_, err = c.NextWorldEvent(ctx)
	var fe *chatclient.FrameError
	if !errors.As(err, &fe) || fe.Code != protocol.CodeUnavailable {
		t.Fatalf("an error frame answering nothing: %v, want a *FrameError", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := c.NextWorldEvent(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no more events: %v, want the context's deadline", err)
	}
}
