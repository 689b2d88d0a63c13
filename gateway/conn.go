package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

// conn is one player's WebSocket. A reader goroutine handles requests in
// order; a writer goroutine drains a bounded queue, so a slow client is
// closed instead of slowing anyone else down.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	out      outQueue
	done     chan struct{} // closed when the socket is closed
	once     sync.Once
	closing  atomic.Bool      // set once a close is requested; later frames are dropped
	kill     chan closeReason // the close the writer should send
	readDone chan struct{}    // closed when the read loop has stopped
	playerID string
	id       string      // names this connection to worlds, which count a player's tabs
	ip       string      // the client's address, for the per-address cap
	authed   atomic.Bool // hello accepted; readable from other goroutines

	mu     sync.Mutex
	chats  map[string]string    // conversation ID → character ID, opened on this connection
	worlds map[string]*presence // world ID → where the player is in it
	// lastJoined is closed once the last world_joined answer went out.
	lastJoined chan struct{}

	// held keeps the reply frames of lines this connection sent whose ack
	// has not gone out yet: a fast answer (an error found without any
	// generation) can arrive from the bus before JetStream confirms the
	// line, and a client learns which frames answer its line from the ack.
	holdMu sync.Mutex
	held   map[string][][]byte // line message ID → frames waiting for its ack
}

// holdReplies starts holding the frames that answer line id.
func (c *conn) holdReplies(id string) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if c.held == nil {
		c.held = map[string][][]byte{}
	}
	c.held[id] = [][]byte{}
}

// releaseReplies sends first (the ack, or the error that replaces it) and
// then the frames held for line id, in order, and stops holding.
func (c *conn) releaseReplies(id string, first []byte) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	c.send(first)
	for _, b := range c.held[id] {
		c.send(b)
	}
	delete(c.held, id)
}

// sendReply sends a frame answering line id, or holds it until the line's
// ack has gone out.
func (c *conn) sendReply(id string, b []byte) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if q, ok := c.held[id]; ok && id != "" {
		c.held[id] = append(q, b)
		return
	}
	c.send(b)
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	if !s.takeConnSlot(ip) {
		writeProblem(w, http.StatusTooManyRequests, codeTooManyRequests, fmt.Sprintf("more than %d connections from this address", s.MaxConnsPerAddress))
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.giveConnSlot(ip)
		return // the upgrader has answered with an HTTP error
	}
	c := &conn{
		s: s, ws: ws, out: outQueue{max: s.WriteQueue, ready: make(chan struct{}, 1)}, done: make(chan struct{}), kill: make(chan closeReason, 1), readDone: make(chan struct{}),
		chats: map[string]string{}, worlds: map[string]*presence{}, ip: ip, id: uuid.NewString(),
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.metrics.connections.Inc()
	go c.writeLoop()
	hello := time.AfterFunc(s.HelloTimeout, func() {
		if !c.authenticated() {
			c.closeWith(protocol.CloseBadAuth, "no hello in time")
		}
	})
	go func() { <-c.done; hello.Stop() }()
	// The read loop runs on its own goroutine, not the handler's: returning
	// from the handler frees net/http's per-request buffers and stack for
	// the connection's whole life (about a third of its memory). Its
	// context ends with the connection, not with the request.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		c.readLoop(ctx)
	}()
}

func (c *conn) send(b []byte) {
	if c.closing.Load() {
		return
	}
	if !c.out.push(b) {
		c.s.metrics.slowClosed.Inc()
		c.closeWith(protocol.CloseSlowClient, "client too slow: write queue full")
	}
}

// outQueue holds the frames waiting for a connection's writer. It grows
// on demand up to max instead of reserving a channel of max slots, since
// almost every connection is idle almost all the time.
type outQueue struct {
	mu    sync.Mutex
	items [][]byte
	max   int
	ready chan struct{} // one pending wake-up for the writer
}

// push queues b, or reports false when max frames are already waiting.
func (q *outQueue) push(b []byte) bool {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take moves every queued frame into batch (reusing its array).
func (q *outQueue) take(batch [][]byte) [][]byte {
	q.mu.Lock()
	batch = append(batch[:0], q.items...)
	clear(q.items)
	q.items = q.items[:0]
	if cap(q.items) > 64 {
		q.items = nil // a burst is over: give its memory back
	}
	q.mu.Unlock()
	return batch
}

func (c *conn) sendFrame(v any) { c.send(protocol.Marshal(v)) }

// authenticated reports whether the connection's hello was accepted.
func (c *conn) authenticated() bool { return c.authed.Load() }

func (c *conn) sendError(ref, code, msg string) {
	c.s.metrics.errors.WithLabelValues(code).Inc()
	c.sendFrame(protocol.NewError(ref, code, msg))
}

// closeGrace bounds how long a closing connection waits for the client's
// answering close frame.
const closeGrace = 5 * time.Second

type closeReason struct {
	code int
	text string
}

// closeWith asks the writer to send a close frame with code, after which
// it closes the socket. Queued frames are dropped: a slow client gets the
// close code as soon as it reads again, instead of the backlog.
func (c *conn) closeWith(code int, reason string) {
	if c.closing.CompareAndSwap(false, true) {
		c.kill <- closeReason{code, reason}
	}
}

func (c *conn) finish() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

func (c *conn) writeLoop() {
	defer c.finish()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	var batch [][]byte
	sendClose := func(r closeReason) {
		if c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(r.code, r.text), time.Now().Add(writeWait)) != nil {
			return
		}
		// Let the client read the backlog and answer the close frame before
		// the socket goes: closing first would reset the connection and
		// throw away the close code the client is about to read.
		select {
		case <-c.readDone:
		case <-time.After(closeGrace):
		}
	}
	for {
		// A requested close goes before anything still queued.
		select {
		case r := <-c.kill:
			sendClose(r)
			return
		default:
		}
		select {
		case r := <-c.kill:
			sendClose(r)
			return
		case <-c.out.ready:
			batch = c.out.take(batch)
			for i, b := range batch {
				if c.closing.Load() {
					break // the close frame goes next; the rest is dropped
				}
				_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
				if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
					return
				}
				batch[i] = nil
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				return
			}
		}
	}
}

func (c *conn) readLoop(ctx context.Context) {
	defer func() {
		c.mu.Lock()
		ids := make([]string, 0, len(c.chats))
		for id := range c.chats {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		c.s.unwatchAll(c, ids)
		c.leaveAllWorlds()
		c.closeWith(websocket.CloseNormalClosure, "")
		close(c.readDone)
		<-c.done
		c.s.metrics.connections.Dec()
		c.s.giveConnSlot(c.ip)
	}()
	c.ws.SetReadLimit(protocol.MaxFrameBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(90 * time.Second))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(90 * time.Second)) })
	for {
		kind, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has already sent the 1009 close frame.
				c.s.metrics.errors.WithLabelValues(protocol.CodeFrameTooLarge).Inc()
				c.closing.Store(true)
				c.finish()
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(90 * time.Second))
		if kind != websocket.TextMessage {
			c.sendError("", protocol.CodeBadJSON, "frames must be JSON text frames")
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455: a text frame that is not UTF-8 fails the connection.
			c.s.metrics.errors.WithLabelValues(protocol.CodeBadJSON).Inc()
			c.closeWith(websocket.CloseInvalidFramePayloadData, "text frame is not valid UTF-8")
			continue
		}
		if c.closing.Load() {
			continue // read until the writer closes the socket, but act on nothing
		}
		c.handle(ctx, data)
	}
}

func (c *conn) handle(ctx context.Context, data []byte) {
	req, bad := protocol.DecodeClientFrame(data)
	if bad != nil {
		c.s.metrics.errors.WithLabelValues(bad.Code).Inc()
		c.sendFrame(bad)
		return
	}
	// Decoded frames have one of a fixed set of types: a safe metric label.
	head := req.(interface{ Head() protocol.Envelope }).Head()
	c.s.metrics.frames.WithLabelValues(head.Type).Inc()
	switch r := req.(type) {
	case protocol.Ping:
		c.sendFrame(protocol.Envelope{Type: protocol.TypePong, Ref: r.ID})
		return
	case protocol.Hello:
		c.hello(r.ID, r)
		return
	}
	if c.playerID == "" {
		c.sendError(head.ID, protocol.CodeUnauthenticated, "send a hello frame with a token first")
		return
	}
	switch r := req.(type) {
	case protocol.ListCharacters:
		c.listCharacters(ctx, r.ID, r)
	case protocol.OpenChat:
		c.openChat(ctx, r.ID, r)
	case protocol.NewChat:
		c.newChat(ctx, r.ID, r)
	case protocol.ListChats:
		c.listChats(ctx, r.ID, r)
	case protocol.RenameChat:
		c.renameChat(ctx, r.ID, r)
	case protocol.DeleteChat:
		c.deleteChat(ctx, r.ID, r)
	case protocol.ChatRequest:
		c.chatRequest(ctx, r.ID, r)
	case protocol.SetPersona:
		c.setPersona(ctx, r.ID, r)
	case protocol.Say:
		c.say(ctx, r.ID, r)
	case protocol.ListWorlds:
		c.listWorlds(ctx, r.ID)
	case protocol.JoinWorld:
		c.joinWorld(ctx, r.ID, r)
	case protocol.Move:
		c.move(ctx, r.ID, r)
	case protocol.RoomSay:
		c.roomSay(ctx, r.ID, r)
	case protocol.PrivateSay:
		c.privateSay(ctx, r.ID, r)
	case protocol.LeaveWorld:
		c.leaveWorld(ctx, r.ID, r)
	}
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func (c *conn) hello(ref string, h protocol.Hello) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	pid, err := c.s.verifyToken(ctx, h.Token)
	cancel()
	if errors.Is(err, errRevoked) {
		c.sendError(ref, protocol.CodeBadToken, "token revoked (signed out everywhere); log in again")
		return
	}
	if errors.Is(err, ErrBadToken) {
		c.sendError(ref, protocol.CodeBadToken, "token rejected; get a new one from POST /api/v1/session")
		return
	}
	if err != nil {
		c.s.Log.Error("check token", "err", err)
		c.sendError(ref, protocol.CodeUnavailable, "checking the token failed; try again")
		return
	}
	if c.playerID != "" && c.playerID != pid {
		c.sendError(ref, protocol.CodeInvalid, "this connection is already authenticated as another player")
		return
	}
	c.playerID = pid
	c.authed.Store(true)
	describe, untrained := c.s.engine()
	c.sendFrame(protocol.Welcome{Envelope: protocol.Envelope{Type: protocol.TypeWelcome, Ref: ref}, PlayerID: pid, Protocol: protocol.Version, Engine: describe,
		Untrained: untrained, Persona: c.persona(context.Background(), nil)})
}

func (c *conn) listCharacters(ctx context.Context, ref string, l protocol.ListCharacters) {
	limit := l.Limit
	if limit == 0 {
		limit = protocol.MaxListPage
	}
	offset, err := strconv.Atoi(l.Cursor)
	if l.Cursor == "" {
		offset, err = 0, nil
	}
	if err != nil || offset < 0 {
		c.sendError(ref, protocol.CodeInvalid, "list_characters: cursor is not one this gateway gave")
		return
	}
	// The search applies the visibility rule (public, plus the player's
	// own) and leaves avatars out. One more than the page tells whether
	// there is a next one.
	found, err := c.s.Store.SearchCharacters(ctx, storage.CharacterQuery{ViewerID: c.playerID, Limit: limit + 1, Offset: offset})
	if err != nil {
		c.sendError(ref, protocol.CodeUnavailable, "could not list characters; try again")
		return
	}
	next := ""
	if len(found) > limit {
		found, next = found[:limit], strconv.Itoa(offset+limit)
	}
	counts := c.s.chatCounts(ctx)
	out := make([]protocol.CharacterSummary, 0, len(found))
	for _, ch := range found {
		sum := listSummary(ch)
		sum.Chats = counts[ch.ID]
		out = append(out, sum)
	}
	c.sendFrame(protocol.Characters{Envelope: protocol.Envelope{Type: protocol.TypeCharacters, Ref: ref}, Characters: out, Next: next})
}

// allowedIn returns the character of a chat opened on this connection,
// when the player may send it something now; otherwise it answers ref
// with why not.
func (c *conn) allowedIn(ref, conversationID string) (string, bool) {
	c.mu.Lock()
	charID, open := c.chats[conversationID]
	c.mu.Unlock()
	if !open {
		c.sendError(ref, protocol.CodeUnknownChat, "open the chat with open_chat first")
		return "", false
	}
	if !c.allowed(ref) {
		return "", false
	}
	return charID, true
}

// allowed takes one token from the player's bucket, shared by all of the
// player's connections, or answers ref with how long to wait.
func (c *conn) allowed(ref string) bool {
	wait, ok := c.s.players.allow(c.playerID)
	if !ok {
		c.sendError(ref, protocol.CodeRateLimited, fmt.Sprintf("too many messages; slow down (try again in %s)", wait.Round(100*time.Millisecond)))
	}
	return ok
}

func (c *conn) say(ctx context.Context, ref string, sy protocol.Say) {
	charID, ok := c.allowedIn(ref, sy.ConversationID)
	if !ok {
		return
	}
	pictures, ok := c.ownPictures(ctx, ref, "say", sy.Pictures)
	if !ok {
		return
	}
	c.publishLine(ctx, ref, protocol.PlayerLine{
		MessageID: c.lineID(sy.ClientMessageID), ConversationID: sy.ConversationID, PlayerID: c.playerID,
		CharacterID: charID, Text: sy.Text, Pictures: pictures, AcceptedAt: time.Now().UTC().Truncate(time.Millisecond),
	})
}

// ownPictures checks that the pictures a line shows are the player's own
// (an ID seen elsewhere is not theirs to show) and drops repeats; on a
// problem the player gets an error frame and ok is false.
func (c *conn) ownPictures(ctx context.Context, ref, frame string, ids []string) (pictures []string, ok bool) {
	for _, id := range ids {
		if !slices.Contains(pictures, id) {
			pictures = append(pictures, id)
		}
	}
	for _, id := range pictures {
		if p, err := c.s.Store.PictureInfo(ctx, id); err != nil || p.OwnerID != c.playerID {
			if err != nil && !errors.Is(err, maopao.ErrNotFound) {
				c.sendError(ref, protocol.CodeUnavailable, "could not check the picture; try again")
				return nil, false
			}
			c.sendError(ref, protocol.CodeInvalid, frame+": no picture "+quote(id)+" of yours: upload it with POST /api/v1/pictures first")
			return nil, false
		}
	}
	return pictures, true
}

// lineNamespace makes line ids from clients' message ids (UUID v5).
var lineNamespace = uuid.MustParse("6f1d3c52-8a5e-4b1e-9c7e-2d4f8a9b0c13")

// lineID names a player's line. A client's own message id gives the same
// line id every time the same player sends it, so a resend is stored and
// answered once (the stream deduplicates the id, the store and the actor
// the line); it is mixed with the player's id so nobody can collide with
// another player's line.
func (c *conn) lineID(clientMessageID string) string {
	if clientMessageID == "" {
		return uuid.NewString()
	}
	return uuid.NewSHA1(lineNamespace, []byte(c.playerID+"\x00"+clientMessageID)).String()
}

// unanswered lists the stored player lines that have no reply yet: their
// replies are still being generated and will stream to this connection.
func unanswered(msgs []maopao.Message) []string {
	answered := map[string]bool{}
	for _, m := range msgs {
		if m.ReplyTo != "" {
			answered[m.ReplyTo] = true
		}
	}
	var out []string
	for _, m := range msgs {
		if m.Role == maopao.RoleUser && !m.Deleted && !answered[m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}
