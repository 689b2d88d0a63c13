package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/bolt"
)

// These tests drive the gateway's WebSocket path over the in-memory bus:
// the test plays the world simulation's part on the bus, a real WebSocket
// client plays the player's.

type wsBed struct {
	t     *testing.T
	s     *Server
	bus   bus.Bus
	mem   *bus.Memory
	url   string
	chars []maopao.Character
	world maopao.World
}

func newWSBed(t *testing.T, wrap func(bus.Bus) bus.Bus) *wsBed {
	t.Helper()
	ctx := context.Background()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "maopao.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(ctx) })
	chars := characters.Samples()
	for _, c := range chars {
		if err := st.PutCharacter(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w := maopao.World{
		ID: "9d1c6a52-1111-4222-8333-444455556666", Name: "Misty Harbour",
		Locations: []maopao.Location{
			{ID: "tea-house", Name: "Tea house", Connections: []string{"pier"}},
			{ID: "pier", Name: "Pier", Connections: []string{"tea-house"}},
		},
		Residents:           []maopao.Resident{{CharacterID: chars[0].ID, LocationID: "tea-house"}},
		SimMinutesPerSecond: 1, Visibility: maopao.VisibilityPublic,
	}
	if err := st.PutWorld(ctx, w); err != nil {
		t.Fatal(err)
	}
	mem := bus.NewMemory()
	if err := bus.DeclareStreams(ctx, mem); err != nil {
		t.Fatal(err)
	}
	var b bus.Bus = mem
	if wrap != nil {
		b = wrap(mem)
	}
	s := &Server{Store: st, Bus: b, Secret: []byte("0123456789abcdef0123456789abcdef"), Log: slog.New(slog.DiscardHandler),
		LinesPerSecond: 1000, LineBurst: 1000}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	t.Cleanup(s.Shutdown)
	return &wsBed{t: t, s: s, bus: b, mem: mem, url: hs.URL, chars: chars, world: w}
}

// player signs a new guest in and opens a WebSocket for it.
func (b *wsBed) player() *wsPlayer {
	b.t.Helper()
	resp, err := http.Post(b.url+"/api/v1/session", "application/json", strings.NewReader(`{"name":"Ada"}`))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess SessionResponse
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil || sess.Token == "" {
		b.t.Fatalf("session: %v", err)
	}
	return b.dial(sess.Token, sess.PlayerID)
}

func (b *wsBed) dial(token, playerID string) *wsPlayer {
	b.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.url, "http")+"/ws", nil)
	if err != nil {
		b.t.Fatal(err)
	}
	p := &wsPlayer{t: b.t, ws: ws, id: playerID, frames: make(chan []byte, 256)}
	go func() {
		defer close(p.frames)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			p.frames <- data
		}
	}()
	b.t.Cleanup(func() { _ = ws.Close() })
	p.send(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, ID: "h"}, Token: token, Protocol: protocol.Version})
	p.expect(protocol.TypeWelcome)
	return p
}

type wsPlayer struct {
	t      *testing.T
	ws     *websocket.Conn
	id     string
	frames chan []byte
}

func (p *wsPlayer) send(v any) {
	p.t.Helper()
	if err := p.ws.WriteJSON(v); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next frame, whatever it is.
func (p *wsPlayer) next() (protocol.Envelope, []byte) {
	p.t.Helper()
	select {
	case data, ok := <-p.frames:
		if !ok {
			p.t.Fatal("the gateway closed the connection")
		}
		var env protocol.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			p.t.Fatalf("frame %s: %v", data, err)
		}
		return env, data
	case <-time.After(10 * time.Second):
		p.t.Fatal("no frame within 10s")
	}
	return protocol.Envelope{}, nil
}

// expect reads the next frame, which must be of type typ, into dst.
func (p *wsPlayer) expect(typ string, dst ...any) []byte {
	p.t.Helper()
	env, data := p.next()
	if env.Type != typ {
		p.t.Fatalf("got %s, want a %s frame", data, typ)
	}
	for _, d := range dst {
		if err := json.Unmarshal(data, d); err != nil {
			p.t.Fatal(err)
		}
	}
	return data
}

// publishReply plays the world simulation answering on a chat's subject.
func (b *wsBed) publishReply(ev protocol.ReplyEvent) {
	b.t.Helper()
	data, _ := json.Marshal(ev)
	if err := b.mem.Publish(protocol.ChatOutputSubject(ev.ConversationID), data); err != nil {
		b.t.Fatal(err)
	}
}

// takeLines consumes the chat input stream as the world simulation does.
func (b *wsBed) takeLines(ctx context.Context) <-chan protocol.PlayerLine {
	lines := make(chan protocol.PlayerLine, 16)
	_, err := b.mem.Consume(ctx, protocol.InputStream, bus.ConsumerConfig{Durable: "test", Filter: "maopao.in.chat.>", AckWait: time.Minute}, func(d bus.Delivery) {
		var l protocol.PlayerLine
		if err := json.Unmarshal(d.Data(), &l); err != nil {
			b.t.Errorf("line %s: %v", d.Data(), err)
		}
		_ = d.Ack(ctx)
		lines <- l
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return lines
}

func openChat(p *wsPlayer, charID string) string {
	p.t.Helper()
	p.send(protocol.OpenChat{Envelope: protocol.Envelope{Type: protocol.TypeOpenChat, ID: "open"}, CharacterID: charID})
	var opened protocol.ChatOpened
	p.expect(protocol.TypeChatOpened, &opened)
	return opened.ConversationID
}

func TestSayIsStoredOnTheBusThenAckedAndRepliesReachEveryWatcher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newWSBed(t, nil)
	lines := b.takeLines(ctx)
	p := b.player()
	conv := openChat(p, b.chars[0].ID)
	// A second tab of the same player watches the same chat: one bus
	// subject serves both.
	tab := b.dial(mustToken(t, b, p.id), p.id)
	if got := openChat(tab, b.chars[0].ID); got != conv {
		t.Fatalf("second tab opened %s, want %s", got, conv)
	}
	if n := b.s.hub.subjects(); n != 1 {
		t.Fatalf("%d bus subjects for one chat on two connections, want 1", n)
	}

	p.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "s1"}, ConversationID: conv, Text: "hello there"})
	var ack protocol.Ack
	p.expect(protocol.TypeAck, &ack)
	line := <-lines
	if ack.Ref != "s1" || ack.MessageID != line.MessageID || line.Text != "hello there" || line.PlayerID != p.id ||
		line.ConversationID != conv || line.CharacterID != b.chars[0].ID {
		t.Fatalf("ack %+v for line %+v", ack, line)
	}

	b.publishReply(protocol.ReplyEvent{Kind: protocol.EventDelta, ConversationID: conv, ReplyTo: line.MessageID, MessageID: "r1", Text: "Hel"})
	b.publishReply(protocol.ReplyEvent{Kind: protocol.EventComplete, ConversationID: conv, ReplyTo: line.MessageID,
		Message: &protocol.ChatMessage{ID: "r1", Role: "character", Content: "Hello, Ada.", ReplyTo: line.MessageID}})
	for _, who := range []*wsPlayer{p, tab} {
		var d protocol.Delta
		who.expect(protocol.TypeDelta, &d)
		var c protocol.Complete
		who.expect(protocol.TypeComplete, &c)
		if d.Text != "Hel" || d.ReplyTo != line.MessageID || c.Message.Content != "Hello, Ada." {
			t.Fatalf("delta %+v, complete %+v", d, c)
		}
	}

	// When the last watcher goes, so does the bus subscription.
	_ = p.ws.Close()
	_ = tab.ws.Close()
	for deadline := time.Now().Add(10 * time.Second); b.s.hub.subjects() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bus subjects left after every connection closed", b.s.hub.subjects())
		}
	}
}

func mustToken(t *testing.T, b *wsBed, playerID string) string {
	t.Helper()
	tok, _, err := b.s.tokens.Issue(playerID)
	if err != nil {
		t.Fatal(err)
	}
	// As POST /api/v1/session does: a guest token's player exists.
	if err := b.s.Store.PutPlayer(context.Background(), maopao.Player{ID: playerID, Name: playerID}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// failingAppends is the bus with Append refusing while fail is set.
type failingAppends struct {
	bus.Bus
	mu   sync.Mutex
	fail bool
}

func (f *failingAppends) Append(ctx context.Context, subject, id string, data []byte) (uint64, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return 0, errors.New("stream unavailable")
	}
	return f.Bus.Append(ctx, subject, id, data)
}

func TestLineTheBusDidNotStoreIsRefusedNotAcked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var fb *failingAppends
	b := newWSBed(t, func(m bus.Bus) bus.Bus { fb = &failingAppends{Bus: m, fail: true}; return fb })
	lines := b.takeLines(ctx)
	p := b.player()
	conv := openChat(p, b.chars[0].ID)
	p.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "lost"}, ConversationID: conv, Text: "one"})
	var e protocol.Error
	p.expect(protocol.TypeError, &e)
	if e.Ref != "lost" || e.Code != protocol.CodeUnavailable {
		t.Fatalf("error %+v, want unavailable for ref lost", e)
	}
	// The connection is fine; once the bus is back the line goes through.
	fb.mu.Lock()
	fb.fail = false
	fb.mu.Unlock()
	p.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "again"}, ConversationID: conv, Text: "one"})
	var ack protocol.Ack
	p.expect(protocol.TypeAck, &ack)
	if l := <-lines; l.MessageID != ack.MessageID || l.Text != "one" {
		t.Fatalf("stored %+v, acked %+v", l, ack)
	}
	select {
	case l := <-lines:
		t.Fatalf("the refused line was stored too: %+v", l)
	default:
	}
}

// slowAppends holds every Append until the test lets it go, and tells the
// test what is being appended.
type slowAppends struct {
	bus.Bus
	appending chan []byte
	release   chan struct{}
}

func (s *slowAppends) Append(ctx context.Context, subject, id string, data []byte) (uint64, error) {
	s.appending <- data
	<-s.release
	return s.Bus.Append(ctx, subject, id, data)
}

func TestAnswerOvertakingTheAckWaitsForIt(t *testing.T) {
	sa := &slowAppends{appending: make(chan []byte, 1), release: make(chan struct{})}
	b := newWSBed(t, func(m bus.Bus) bus.Bus { sa.Bus = m; return sa })
	p := b.player()
	conv := openChat(p, b.chars[0].ID)
	p.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "s1"}, ConversationID: conv, Text: "hi"})
	var line protocol.PlayerLine
	if err := json.Unmarshal(<-sa.appending, &line); err != nil {
		t.Fatal(err)
	}
	// The world simulation answers before the bus confirmed the line.
	b.publishReply(protocol.ReplyEvent{Kind: protocol.EventError, ConversationID: conv, ReplyTo: line.MessageID, Code: protocol.CodeBusy, Text: "busy"})
	// Wait until the gateway holds the answer, then let the append finish.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if heldFrames(b.s, line.MessageID) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway never got the early answer")
		}
	}
	close(sa.release)
	var ack protocol.Ack
	p.expect(protocol.TypeAck, &ack)
	var e protocol.Error
	p.expect(protocol.TypeError, &e)
	if ack.MessageID != line.MessageID || e.ReplyTo != line.MessageID || e.Code != protocol.CodeBusy {
		t.Fatalf("ack %+v then error %+v", ack, e)
	}
}

// heldFrames counts the frames the server's connections hold for line.
func heldFrames(s *Server, line string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.holdMu.Lock()
		n += len(c.held[line])
		c.holdMu.Unlock()
	}
	return n
}

func TestWorldJoinMoveAndEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newWSBed(t, nil)
	// The world's owner answers queries and reads the log.
	owner, err := b.mem.Subscribe(protocol.WorldQuerySubject(b.world.ID), func(m bus.Msg) {
		var q protocol.WorldQuery
		_ = json.Unmarshal(m.Data, &q)
		v, _ := json.Marshal(protocol.WorldView{LocationID: q.LocationID, SimMinute: 42,
			Present: []protocol.Actor{{Kind: "character", ID: b.chars[0].ID, Name: b.chars[0].Name}}, Recent: []protocol.WorldEvent{}})
		_ = b.mem.Publish(m.Reply, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Unsubscribe()
	log, err := b.mem.Read(ctx, protocol.WorldLogStream, protocol.WorldInputSubject(b.world.ID), 1)
	if err != nil {
		t.Fatal(err)
	}
	nextInput := func() protocol.WorldInputEnvelope {
		t.Helper()
		select {
		case e := <-log:
			var le protocol.WorldLogEntry
			var env protocol.WorldInputEnvelope
			if json.Unmarshal(e.Data, &le) != nil || json.Unmarshal(le.Input, &env) != nil {
				t.Fatalf("log entry %s", e.Data)
			}
			return env
		case <-time.After(10 * time.Second):
			t.Fatal("nothing appended to the world's log")
		}
		return protocol.WorldInputEnvelope{}
	}

	p := b.player()
	p.send(protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: "j"}, WorldID: b.world.ID})
	var joined protocol.WorldJoined
	p.expect(protocol.TypeWorldJoined, &joined)
	if joined.Ref != "j" || joined.LocationID != "tea-house" || joined.SimMinute != 42 || len(joined.Present) != 1 || joined.World.Name != "Misty Harbour" {
		t.Fatalf("world_joined %+v", joined)
	}
	if in := nextInput(); in.Kind != "player_joined" || !strings.Contains(string(in.Input), p.id) {
		t.Fatalf("logged %s %s, want the player's arrival", in.Kind, in.Input)
	}
	room := func(loc, text string) {
		ev, _ := json.Marshal(protocol.WorldEvent{Kind: protocol.WorldSaid, LocationID: loc, Text: text})
		if err := b.mem.Publish(protocol.WorldRoomSubject(b.world.ID, loc), ev); err != nil {
			t.Fatal(err)
		}
	}
	room("tea-house", "welcome")
	var ev protocol.WorldEventFrame
	p.expect(protocol.TypeWorldEvent, &ev)
	if ev.Event.Text != "welcome" {
		t.Fatalf("event %+v", ev.Event)
	}

	p.send(protocol.Move{Envelope: protocol.Envelope{Type: protocol.TypeMove, ID: "m"}, WorldID: b.world.ID, LocationID: "pier"})
	p.expect(protocol.TypeWorldJoined, &joined)
	if joined.Ref != "m" || joined.LocationID != "pier" {
		t.Fatalf("after move: %+v", joined)
	}
	if in := nextInput(); in.Kind != "player_moved" || !strings.Contains(string(in.Input), `"pier"`) {
		t.Fatalf("logged %s %s, want the move", in.Kind, in.Input)
	}
	if b.s.hub.subjects() != 2 { // the pier and the player's private subject
		t.Fatalf("%d bus subjects after the move, want 2", b.s.hub.subjects())
	}
	room("tea-house", "left behind")
	room("pier", "waves")
	p.expect(protocol.TypeWorldEvent, &ev)
	if ev.Event.Text != "waves" {
		t.Fatalf("after moving to the pier got %q", ev.Event.Text)
	}

	p.send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r"}, WorldID: b.world.ID, Text: "ahoy"})
	var ack protocol.Ack
	p.expect(protocol.TypeAck, &ack)
	if in := nextInput(); in.Kind != "player_said" || !strings.Contains(string(in.Input), ack.MessageID) {
		t.Fatalf("logged %s %s, want the line acked as %s", in.Kind, in.Input, ack.MessageID)
	}
}

// A world whose owner does not answer holds up nothing else the player
// asks for: the question goes out on its own goroutine.
func TestSilentWorldDoesNotBlockTheConnection(t *testing.T) {
	b := newWSBed(t, nil)
	p := b.player()
	p.send(protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: "j"}, WorldID: b.world.ID})
	p.send(protocol.Envelope{Type: protocol.TypePing, ID: "ping"})
	p.expect(protocol.TypePong)
	var joined protocol.WorldJoined
	p.expect(protocol.TypeWorldJoined, &joined) // after worldQueryPatience, empty
	if joined.Ref != "j" || len(joined.Present) != 0 {
		t.Fatalf("world_joined %+v", joined)
	}
}

func TestBadFramesGetCodedErrorsAndTheConnectionLives(t *testing.T) {
	b := newWSBed(t, nil)
	p := b.player()
	for _, c := range []struct{ frame, code string }{
		{`{"type":"say",`, protocol.CodeBadJSON},
		{`{"type":"no_such_frame","id":"x"}`, protocol.CodeUnknownType},
		{`{"type":"say","id":"s","conversation_id":"nope","text":"hi"}`, protocol.CodeUnknownChat},
		{`{"type":"join_world","id":"j","world_id":"nope"}`, protocol.CodeUnknownWorld},
	} {
		if err := p.ws.WriteMessage(websocket.TextMessage, []byte(c.frame)); err != nil {
			t.Fatal(err)
		}
		var e protocol.Error
		p.expect(protocol.TypeError, &e)
		if e.Code != c.code {
			t.Errorf("%s: code %q, want %q", c.frame, e.Code, c.code)
		}
	}
	p.send(protocol.Envelope{Type: protocol.TypePing, ID: "still-there"})
	p.expect(protocol.TypePong)
}

// A client that lost an ack sends the line again with the same client
// message id: it is the same line, stored once. Another player's line
// with the same client id is a line of its own.
func TestResentLineIsOneLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := newWSBed(t, nil)
	p, other := b.player(), b.player()
	conv := openChat(p, b.chars[0].ID)
	otherConv := openChat(other, b.chars[0].ID)
	var acks []protocol.Ack
	for _, s := range []struct {
		who  *wsPlayer
		conv string
	}{{p, conv}, {p, conv}, {other, otherConv}} {
		s.who.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "s"}, ConversationID: s.conv, Text: "once", ClientMessageID: "c-1"})
		var ack protocol.Ack
		s.who.expect(protocol.TypeAck, &ack)
		acks = append(acks, ack)
	}
	if acks[0].MessageID != acks[1].MessageID {
		t.Fatalf("a resend got a new line id: %s then %s", acks[0].MessageID, acks[1].MessageID)
	}
	if acks[2].MessageID == acks[0].MessageID {
		t.Fatal("two players' lines with the same client id got the same line id")
	}
	if n, err := b.mem.Len(ctx, protocol.InputStream); err != nil || n != 2 {
		t.Fatalf("the input stream holds %d lines (%v), want 2: the resend was stored again", n, err)
	}

	// The same in a world.
	p.send(protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: "j"}, WorldID: b.world.ID})
	for range 2 {
		p.send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r"}, WorldID: b.world.ID, Text: "ahoy", ClientMessageID: "w-1"})
	}
	var first, second protocol.Ack
	for _, dst := range []*protocol.Ack{&first, &second} {
		for {
			env, data := p.next()
			if env.Type == protocol.TypeAck {
				_ = json.Unmarshal(data, dst)
				break
			}
		}
	}
	if first.MessageID != second.MessageID {
		t.Fatalf("a resent room line got a new id: %s then %s", first.MessageID, second.MessageID)
	}
	// The log holds the arrival and one line.
	if n, err := b.mem.Len(ctx, protocol.WorldLogStream); err != nil || n != 2 {
		t.Fatalf("the world log holds %d entries (%v), want the arrival and one line", n, err)
	}

	p.send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "bad"}, ConversationID: conv, Text: "x", ClientMessageID: "no spaces allowed"})
	var e protocol.Error
	for {
		env, data := p.next()
		if env.Type == protocol.TypeError {
			_ = json.Unmarshal(data, &e)
			break
		}
	}
	if e.Code != protocol.CodeInvalid || !strings.Contains(e.Message, "client_message_id") {
		t.Fatalf("error %+v for a malformed client id", e)
	}
}

// The world simulation's "engine unavailable, retrying" reaches the player
// as a retrying frame for the line.
func TestRetryingReachesThePlayer(t *testing.T) {
	b := newWSBed(t, nil)
	p := b.player()
	conv := openChat(p, b.chars[0].ID)
	b.publishReply(protocol.ReplyEvent{Kind: protocol.EventRetrying, ConversationID: conv, ReplyTo: "line-1", Attempt: 2, RetryInMillis: 4000})
	var r protocol.Retrying
	p.expect(protocol.TypeRetrying, &r)
	if r.ConversationID != conv || r.ReplyTo != "line-1" || r.Attempt != 2 || r.RetryInMillis != 4000 {
		t.Fatalf("retrying frame %+v", r)
	}
}
