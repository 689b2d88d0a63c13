package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
)

// presence is a connection's place in one world: where its player is and
// the subjects that bring that place's events.
type presence struct {
	def      maopao.World
	summary  protocol.WorldSummary // built once at join: it costs a store read per resident
	location string
	room     string // subjects this connection listens to in the hub
	private  string
}

// worldQueryPatience is how long a join waits for a world's owner to
// answer, covering a start or a hand-over.
const worldQueryPatience = 3 * time.Second

// maxWorldsListed bounds the world list: a list shows what worlds there are,
// and two big worlds made it megabytes.
const maxWorldsListed = 100

func (c *conn) worldSummary(ctx context.Context, w maopao.World) protocol.WorldSummary {
	return c.s.worldSummaries.summary(ctx, c.s.Store.GetCharacter, w, c.playerID)
}

func (c *conn) listWorlds(ctx context.Context, ref string) {
	all, err := c.s.Store.ListWorlds(ctx)
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not list worlds; try again")
		return
	}
	out := []protocol.WorldSummary{}
	for _, w := range all {
		if len(out) == maxWorldsListed {
			break
		}
		if w.Visibility == maopao.VisibilityPublic || w.OwnerID == c.playerID {
			out = append(out, c.worldSummary(ctx, w))
		}
	}
	c.sendFrame(protocol.Worlds{Envelope: protocol.Envelope{Type: protocol.TypeWorlds, Ref: ref}, Worlds: out})
}

// appendWorldInput puts a player's input into the world's log; the ack to
// the client waits for JetStream, as for chat lines.
func (c *conn) appendWorldInput(ctx context.Context, worldID, msgID string, in protocol.WorldInput) error {
	b, err := protocol.PlayerLogEntry(in)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.s.Bus.Append(pctx, protocol.WorldInputSubject(worldID), msgID, b)
	return err
}

// forwardWorldEvents sends a world event to the connections at its place.
func forwardWorldEvents(data []byte, to []*conn) {
	var ev protocol.WorldEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return
	}
	frame := protocol.Marshal(protocol.WorldEventFrame{Envelope: protocol.Envelope{Type: protocol.TypeWorldEvent}, Event: ev})
	for _, c := range to {
		c.send(frame)
	}
}

// forwardPlayerWorldEvents forwards the events meant for one player. Two
// of them change what the connection knows of the world: the world put
// the player somewhere else (moved), or a new revision of it applies
// (changed); the connection then follows and sends the place anew.
func forwardPlayerWorldEvents(data []byte, to []*conn) {
	var ev protocol.WorldEvent
	if err := json.Unmarshal(data, &ev); err == nil && (ev.Kind == protocol.WorldMoved || ev.Kind == protocol.WorldChanged) {
		for _, c := range to {
			go c.worldReshaped(ev)
		}
	}
	forwardWorldEvents(data, to)
}

// worldReshaped reloads the world's definition after a revision (or a
// move the world made), listens at the player's place in it, and sends
// world_joined with the new map and who is there.
func (c *conn) worldReshaped(ev protocol.WorldEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), worldQueryPatience+10*time.Second)
	go func() {
		select {
		case <-c.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	w, err := c.s.Store.GetWorld(ctx, ev.WorldID)
	if err != nil || len(w.Locations) == 0 {
		return
	}
	sum := c.worldSummary(ctx, w)
	c.mu.Lock()
	p := c.worlds[w.ID]
	if p == nil {
		c.mu.Unlock()
		return // left meanwhile
	}
	loc := p.location
	if ev.Kind == protocol.WorldMoved && ev.LocationID != "" {
		loc = ev.LocationID
	}
	if !hasLocation(w, loc) {
		loc = w.Locations[0].ID // where the world puts players whose place is gone
	}
	old := p.room
	room := protocol.WorldRoomSubject(w.ID, loc)
	p.def, p.summary, p.location, p.room = w, sum, loc, room
	c.mu.Unlock()
	if room != old {
		if err := c.s.hub.join(room, c, forwardWorldEvents); err != nil {
			c.s.Log.Warn("follow a world's move", "world", w.ID, "err", err)
		}
		c.s.hub.leave(old, c)
	}
	c.sendWorldJoined(ctx, "", sum, loc)
}

func (c *conn) playerName(ctx context.Context) string {
	if p, err := c.s.Store.GetPlayer(ctx, c.playerID); err == nil && p.Name != "" {
		return p.Name
	}
	return "Traveler"
}

func (c *conn) joinWorld(ctx context.Context, ref string, j protocol.JoinWorld) {
	// Arrivals and departures are events everyone at the place hears
	// and characters remember: they count as lines.
	if !c.allowed(ref) {
		return
	}
	w, err := c.s.Store.GetWorld(ctx, j.WorldID)
	if err != nil || (w.Visibility == maopao.VisibilityPrivate && w.OwnerID != c.playerID) {
		if err != nil && !errors.Is(err, maopao.ErrNotFound) {
			c.sendError(ref, protocol.CodeUnavailable, "could not load the world; try again")
			return
		}
		c.sendError(ref, protocol.CodeUnknownWorld, "no world with id "+quote(j.WorldID))
		return
	}
	loc := j.LocationID
	if loc == "" && len(w.Locations) > 0 {
		loc = w.Locations[0].ID
	}
	if !hasLocation(w, loc) {
		c.sendError(ref, protocol.CodeUnknownLocation, "world "+quote(w.Name)+" has no location "+quote(loc))
		return
	}
	c.leaveWorldQuietly(w.ID)
	p := &presence{def: w, summary: c.worldSummary(ctx, w), location: loc}
	if err = c.s.hub.join(protocol.WorldRoomSubject(w.ID, loc), c, forwardWorldEvents); err == nil {
		p.room = protocol.WorldRoomSubject(w.ID, loc)
		if err = c.s.hub.join(protocol.WorldPlayerSubject(w.ID, c.playerID), c, forwardPlayerWorldEvents); err == nil {
			p.private = protocol.WorldPlayerSubject(w.ID, c.playerID)
		}
	}
	if err != nil {
		c.unsubscribe(p)
		c.sendError(ref, protocol.CodeUnavailable, "could not subscribe to the world; try again")
		return
	}
	if err := c.appendWorldInput(ctx, w.ID, uuid.NewString(), protocol.WorldPlayerJoined{PlayerID: c.playerID, Name: c.playerName(ctx), LocationID: loc, Conn: c.id}); err != nil {
		c.unsubscribe(p)
		c.sendError(ref, protocol.CodeUnavailable, "could not join the world; try again")
		return
	}
	c.mu.Lock()
	c.worlds[w.ID] = p
	c.mu.Unlock()
	c.sendWorldJoined(ctx, ref, p.summary, loc)
}

// sendWorldJoined answers a join or a move with what is at the place. The
// world's owner is asked on a goroutine of its own, so that a world being
// handed over holds up nothing else this connection asked for; answers
// still go out in the order they were asked for.
func (c *conn) sendWorldJoined(ctx context.Context, ref string, sum protocol.WorldSummary, loc string) {
	c.mu.Lock()
	prev := c.lastJoined
	done := make(chan struct{})
	c.lastJoined = done
	c.mu.Unlock()
	go func() {
		defer close(done)
		view := c.queryWorld(ctx, sum.ID, loc)
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				return
			}
		}
		c.sendFrame(protocol.WorldJoined{Envelope: protocol.Envelope{Type: protocol.TypeWorldJoined, Ref: ref},
			World: sum, LocationID: loc, Present: view.Present, Recent: view.Recent, SimMinute: view.SimMinute})
	}()
}

// queryWorld asks the world's owner what is at a location. A world whose
// owner is starting up answers nothing for a moment: the player joins all
// the same and sees events as they come.
func (c *conn) queryWorld(ctx context.Context, worldID, loc string) protocol.WorldView {
	empty := protocol.WorldView{LocationID: loc, Present: []protocol.Actor{}, Recent: []protocol.WorldEvent{}}
	b, _ := json.Marshal(protocol.WorldQuery{PlayerID: c.playerID, LocationID: loc})
	// Right after a start or a hand-over nobody may own the world for a
	// moment: ask again for a little while before giving up.
	ctx, cancel := context.WithTimeout(ctx, worldQueryPatience)
	defer cancel()
	var msg bus.Msg
	var err error
	for {
		rctx, cancelRequest := context.WithTimeout(ctx, 2*time.Second)
		msg, err = c.s.Bus.Request(rctx, protocol.WorldQuerySubject(worldID), b)
		cancelRequest()
		if !errors.Is(err, bus.ErrNoResponders) {
			break
		}
		retry := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			retry.Stop()
			return empty
		case <-retry.C:
		}
	}
	if err != nil {
		return empty
	}
	var v protocol.WorldView
	if json.Unmarshal(msg.Data, &v) != nil {
		return empty
	}
	return v
}

func hasLocation(w maopao.World, id string) bool {
	for _, l := range w.Locations {
		if l.ID == id {
			return true
		}
	}
	return false
}

func connected(w maopao.World, from, to string) bool {
	for _, l := range w.Locations {
		if l.ID == from {
			for _, c := range l.Connections {
				if c == to {
					return true
				}
			}
		}
	}
	return false
}

func (c *conn) presenceIn(ref, worldID string) *presence {
	c.mu.Lock()
	p := c.worlds[worldID]
	c.mu.Unlock()
	if p == nil {
		c.sendError(ref, protocol.CodeUnknownWorld, "join the world with join_world first")
	}
	return p
}

func (c *conn) move(ctx context.Context, ref string, m protocol.Move) {
	// Arrivals and departures are events everyone at the place hears
	// and characters remember: they count as lines.
	if !c.allowed(ref) {
		return
	}
	p := c.presenceIn(ref, m.WorldID)
	if p == nil {
		return
	}
	if !hasLocation(p.def, m.LocationID) {
		c.sendError(ref, protocol.CodeUnknownLocation, "no location "+quote(m.LocationID))
		return
	}
	if m.LocationID != p.location && !connected(p.def, p.location, m.LocationID) {
		c.sendError(ref, protocol.CodeInvalid, "move: "+quote(m.LocationID)+" cannot be reached from "+quote(p.location))
		return
	}
	// Listen at the new place before the move is logged: what the world
	// says the moment the player arrives (their arrival, an event set off
	// by it) must reach them.
	room := protocol.WorldRoomSubject(m.WorldID, m.LocationID)
	if err := c.s.hub.join(room, c, forwardWorldEvents); err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not subscribe to the new place")
		return
	}
	msgID := uuid.NewString()
	if err := c.appendWorldInput(ctx, m.WorldID, msgID, protocol.WorldPlayerMoved{PlayerID: c.playerID, LocationID: m.LocationID}); err != nil {
		c.mu.Lock()
		stayed := p.room != room
		c.mu.Unlock()
		if stayed {
			c.s.hub.leave(room, c)
		}
		c.sendError(ref, protocol.CodeUnavailable, "could not move; try again")
		return
	}
	c.mu.Lock()
	old := p.room
	p.room, p.location = room, m.LocationID
	c.mu.Unlock()
	if old != room {
		c.s.hub.leave(old, c)
	}
	c.sendWorldJoined(ctx, ref, p.summary, m.LocationID)
}

func (c *conn) roomSay(ctx context.Context, ref string, r protocol.RoomSay) {
	if c.presenceIn(ref, r.WorldID) == nil {
		return
	}
	pictures, ok := c.ownPictures(ctx, ref, "room_say", r.Pictures)
	if !ok {
		return
	}
	c.acceptLine(ctx, ref, r.WorldID, r.ClientMessageID, func(id string) protocol.WorldInput {
		return protocol.WorldPlayerSaid{MessageID: id, PlayerID: c.playerID, Text: r.Text, AddressedTo: r.To, Pictures: pictures}
	})
}

func (c *conn) privateSay(ctx context.Context, ref string, ps protocol.PrivateSay) {
	p := c.presenceIn(ref, ps.WorldID)
	if p == nil {
		return
	}
	resident := false
	for _, r := range p.def.Residents {
		resident = resident || r.CharacterID == ps.CharacterID
	}
	if resident {
		// A character made private since the world took it in talks to
		// its owner only.
		ch, err := c.s.Store.GetCharacter(ctx, ps.CharacterID)
		resident = err == nil && c.mayMeet(ch)
	}
	if !resident {
		c.sendError(ref, protocol.CodeUnknownCharacter, "no character "+quote(ps.CharacterID)+" lives in this world")
		return
	}
	c.acceptLine(ctx, ref, ps.WorldID, ps.ClientMessageID, func(id string) protocol.WorldInput {
		return protocol.WorldPrivateSaid{MessageID: id, PlayerID: c.playerID, CharacterID: ps.CharacterID, Text: ps.Text}
	})
}

// acceptLine rate-limits a player's line, gives it an id, puts it into the
// world's log and acks it once JetStream has it.
func (c *conn) acceptLine(ctx context.Context, ref, worldID, clientMessageID string, input func(id string) protocol.WorldInput) {
	if !c.allowed(ref) {
		return
	}
	msgID := c.lineID(clientMessageID)
	if err := c.appendWorldInput(ctx, worldID, msgID, input(msgID)); err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "your message was not accepted; please send it again")
		return
	}
	c.sendFrame(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, MessageID: msgID})
}

func (c *conn) leaveWorld(ctx context.Context, ref string, l protocol.LeaveWorld) {
	// Arrivals and departures are events everyone at the place hears
	// and characters remember: they count as lines.
	if !c.allowed(ref) {
		return
	}
	if c.presenceIn(ref, l.WorldID) == nil {
		return
	}
	c.leaveWorldQuietly(l.WorldID)
	_ = c.appendWorldInput(ctx, l.WorldID, uuid.NewString(), protocol.WorldPlayerLeft{PlayerID: c.playerID, Conn: c.id})
	c.sendFrame(protocol.Envelope{Type: protocol.TypeAck, Ref: ref})
}

// leaveWorldQuietly drops the connection's subscriptions to a world.
func (c *conn) leaveWorldQuietly(worldID string) {
	c.mu.Lock()
	p := c.worlds[worldID]
	delete(c.worlds, worldID)
	c.mu.Unlock()
	if p != nil {
		c.unsubscribe(p)
	}
}

// leaveAllWorlds runs when the connection ends: the player leaves every
// world it was in, so characters stop seeing a ghost.
func (c *conn) leaveAllWorlds() {
	c.mu.Lock()
	ids := make([]string, 0, len(c.worlds))
	for id := range c.worlds {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		c.leaveWorldQuietly(id)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.appendWorldInput(ctx, id, uuid.NewString(), protocol.WorldPlayerLeft{PlayerID: c.playerID, Conn: c.id})
		cancel()
	}
}

func (c *conn) unsubscribe(p *presence) {
	for _, subject := range []string{p.room, p.private} {
		if subject != "" {
			c.s.hub.leave(subject, c)
		}
	}
}

// mayMeet reports whether the player may see and talk to ch: not someone
// else's private character.
func (c *conn) mayMeet(ch maopao.Character) bool {
	return ch.Visibility != maopao.VisibilityPrivate || ch.OwnerID == c.playerID
}
