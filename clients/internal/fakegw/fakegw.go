// Package fakegw is a small in-memory server speaking protocol v1, used by the
// clients' own tests (the Go client, the CLI and the web page) so they can run
// without the platform. It implements the contract as docs describe it and no
// more: guest sessions, the character list, chats with history and pending
// replies, and replies streamed as deltas by a trivial echo "engine". It is
// not the gateway.
package fakegw

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/protocol"
)

// Engine is the welcome's engine string, shown by the web page's banner.
const Engine = "fake gateway: replies are echoes, not a model"

// Options tune the fake. The zero value works.
type Options struct {
	// Static serves everything outside /api/, /ws and /healthz.
	Static http.Handler
	// DeltaDelay is the pause between deltas (default 20ms).
	DeltaDelay time.Duration
	// Characters replaces the default three characters.
	Characters []protocol.CharacterSummary
	// Reply computes a reply; the default echoes the line.
	Reply func(ch protocol.CharacterSummary, text string) string
	// FailReply makes replies to lines containing this text fail with an
	// engine_error after the ack.
	FailReply string
	// LoseAck makes the first sending of a line containing this text be
	// stored and answered but its ack lost: the connection drops instead,
	// as when a gateway dies right after the stream took the line.
	LoseAck string
	// Unavailable makes the engine "unavailable" for a moment before
	// replies to lines containing this text: a retrying frame comes first.
	Unavailable string
	// DiesMidReply makes the engine die in the middle of replies to lines
	// containing this text: a few pieces of text that are not the reply,
	// a retrying frame, then the reply from its start, its first piece
	// marked restart.
	DiesMidReply string
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	opt Options

	mu      sync.Mutex
	ids     int
	tokens  map[string]string // token → player id
	convs   map[string]*conv  // player id + "/" + character id → conversation
	byID    map[string]*conv
	Revoked map[string]bool // tokens to answer with bad_token; tests set entries under Lock
	live    map[*wsConn]bool
	lines   map[string]string // player + "/" + client message id → line id
	stored  map[string]int    // lines stored per text
}

type conv struct {
	id, player string
	ch         protocol.CharacterSummary
	history    []protocol.ChatMessage
	pending    []string
	subs       map[*wsConn]bool
}

// DefaultCharacters are three characters, one with Chinese text.
func DefaultCharacters() []protocol.CharacterSummary {
	return []protocol.CharacterSummary{
		{ID: "c-mira", Name: "Mira", Description: "A ship's cat who talks too much.", Greeting: "Mrrp. You're new on this ship.", Tags: []string{"cat", "ship"}},
		{ID: "c-lao", Name: "老王", Description: "街角面馆的老板，热心肠。", Greeting: "来啦？今天吃点什么？", Tags: []string{"中文", "面馆"}},
		{ID: "c-orin", Name: "Orin", Description: "A retired lighthouse keeper.", Scenario: "A stormy night.", Greeting: "Close the door, the wind is cold.", Tags: []string{"sea"}},
	}
}

// Start runs a fake on a local port; Close stops it.
func Start(opt Options) *Server {
	if opt.DeltaDelay == 0 {
		opt.DeltaDelay = 20 * time.Millisecond
	}
	if opt.Characters == nil {
		opt.Characters = DefaultCharacters()
	}
	if opt.Reply == nil {
		opt.Reply = func(ch protocol.CharacterSummary, text string) string {
			return ch.Name + " heard you say: " + text
		}
	}
	s := &Server{opt: opt, tokens: map[string]string{}, convs: map[string]*conv{}, byID: map[string]*conv{}, Revoked: map[string]bool{}, live: map[*wsConn]bool{}, lines: map[string]string{}, stored: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/session", s.session)
	mux.HandleFunc("GET /api/v1/characters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"characters": s.opt.Characters})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/ws", s.ws)
	if opt.Static != nil {
		mux.Handle("/", opt.Static)
	}
	s.Server = httptest.NewServer(mux)
	return s
}

// Lock and Unlock guard Revoked.
func (s *Server) Lock()   { s.mu.Lock() }
func (s *Server) Unlock() { s.mu.Unlock() }

func (s *Server) newID(prefix string) string {
	s.ids++
	return fmt.Sprintf("%s-%d", prefix, s.ids)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]string{"code": protocol.CodeBadJSON, "message": err.Error()})
			return
		}
	}
	s.mu.Lock()
	tok, pid := s.newID("tok"), s.newID("player")
	s.tokens[tok] = pid
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"token": tok, "player_id": pid, "expires_at": time.Now().Add(time.Hour)})
}

type wsConn struct {
	c      *websocket.Conn
	mu     sync.Mutex
	player string
}

func (wc *wsConn) send(v any) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	wc.c.WriteMessage(websocket.TextMessage, protocol.Marshal(v))
}

func (wc *wsConn) fail(ref, code, msg string) { wc.send(protocol.NewError(ref, code, msg)) }

var upgrader = websocket.Upgrader{CheckOrigin: func(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	return err == nil && u.Host == r.Host
}}

func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetReadLimit(protocol.MaxFrameBytes)
	wc := &wsConn{c: c}
	s.mu.Lock()
	s.live[wc] = true
	s.mu.Unlock()
	defer s.dropSubs(wc)
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			if err == websocket.ErrReadLimit {
				wc.mu.Lock()
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseFrameTooLarge, "frame too large"), time.Now().Add(time.Second))
				wc.mu.Unlock()
			}
			return
		}
		if !s.handle(wc, data) {
			return
		}
	}
}

// handle answers one frame; false ends the connection. Validation is the
// protocol package's, as in the real gateway.
func (s *Server) handle(wc *wsConn, data []byte) bool {
	req, bad := protocol.DecodeClientFrame(data)
	if bad != nil {
		wc.send(*bad)
		return wc.player != "" || bad.Code == protocol.CodeBadJSON
	}
	if _, hello := req.(protocol.Hello); wc.player == "" && !hello {
		wc.fail("", protocol.CodeUnauthenticated, "the first frame must be hello")
		return false
	}
	switch r := req.(type) {
	case protocol.Hello:
		s.mu.Lock()
		pid, ok := s.tokens[r.Token]
		if s.Revoked[r.Token] {
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			wc.fail(r.ID, protocol.CodeBadToken, "token is not valid")
			wc.mu.Lock()
			wc.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseBadAuth, "bad token"), time.Now().Add(time.Second))
			wc.mu.Unlock()
			return false
		}
		wc.player = pid
		wc.send(protocol.Welcome{Envelope: protocol.Envelope{Type: protocol.TypeWelcome, Ref: r.ID}, PlayerID: pid, Protocol: protocol.Version, Engine: Engine})
	case protocol.ListCharacters:
		wc.send(protocol.Characters{Envelope: protocol.Envelope{Type: protocol.TypeCharacters, Ref: r.ID}, Characters: s.opt.Characters})
	case protocol.Ping:
		wc.send(protocol.Envelope{Type: protocol.TypePong, Ref: r.ID})
	case protocol.OpenChat:
		charID := r.CharacterID
		if r.ConversationID != "" {
			// A chat by its id: the player's own only.
			s.mu.Lock()
			cv := s.byID[r.ConversationID]
			s.mu.Unlock()
			if cv == nil || cv.player != wc.player {
				wc.fail(r.ID, protocol.CodeUnknownChat, fmt.Sprintf("no chat %q", r.ConversationID))
				return true
			}
			charID = cv.ch.ID
		}
		s.openChat(wc, r.ID, charID)
	case protocol.Say:
		s.say(wc, r.ID, r)
	}
	return true
}

func (s *Server) openChat(wc *wsConn, ref, charID string) {
	var ch *protocol.CharacterSummary
	for i := range s.opt.Characters {
		if s.opt.Characters[i].ID == charID {
			ch = &s.opt.Characters[i]
		}
	}
	if ch == nil {
		wc.fail(ref, protocol.CodeUnknownCharacter, fmt.Sprintf("no character %q", charID))
		return
	}
	s.mu.Lock()
	key := wc.player + "/" + charID
	cv := s.convs[key]
	if cv == nil {
		cv = &conv{id: s.newID("conv"), player: wc.player, ch: *ch, subs: map[*wsConn]bool{}}
		if ch.Greeting != "" {
			// A new chat starts with its greeting, stored, as on the real gateway.
			cv.history = append(cv.history, protocol.ChatMessage{ID: s.newID("msg"), Seq: 1, Role: "character", Content: ch.Greeting, Greeting: true, At: time.Now().UTC()})
		}
		s.convs[key] = cv
		s.byID[cv.id] = cv
	}
	cv.subs[wc] = true
	opened := protocol.ChatOpened{
		Envelope:       protocol.Envelope{Type: protocol.TypeChatOpened, Ref: ref},
		ConversationID: cv.id, Character: cv.ch,
		History: append([]protocol.ChatMessage{}, cv.history...),
		Pending: append([]string(nil), cv.pending...),
	}
	s.mu.Unlock()
	wc.send(opened)
}

func (s *Server) say(wc *wsConn, ref string, say protocol.Say) {
	s.mu.Lock()
	cv := s.byID[say.ConversationID]
	if cv == nil || cv.player != wc.player {
		s.mu.Unlock()
		wc.fail(ref, protocol.CodeUnknownChat, fmt.Sprintf("no open chat %q", say.ConversationID))
		return
	}
	key := wc.player + "/" + say.ClientMessageID
	if id, ok := s.lines[key]; ok && say.ClientMessageID != "" {
		// The same line again: stored and answered once, acked again, and
		// its reply sent again if it is done (as the world simulation
		// does for a line it already answered).
		var reply *protocol.ChatMessage
		for i := range cv.history {
			if cv.history[i].ReplyTo == id {
				r := cv.history[i]
				reply = &r
			}
		}
		s.mu.Unlock()
		wc.send(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, ConversationID: cv.id, MessageID: id})
		if reply != nil {
			wc.send(protocol.Complete{Envelope: protocol.Envelope{Type: protocol.TypeComplete}, ConversationID: cv.id, Message: *reply, FinishReason: "stop"})
		}
		return
	}
	msg := protocol.ChatMessage{ID: s.newID("msg"), Seq: int64(len(cv.history) + 1), Role: "user", Content: say.Text, At: time.Now().UTC()}
	cv.history = append(cv.history, msg)
	cv.pending = append(cv.pending, msg.ID)
	if say.ClientMessageID != "" {
		s.lines[key] = msg.ID
	}
	s.stored[say.Text]++
	replyID := s.newID("msg")
	loseAck := s.opt.LoseAck != "" && strings.Contains(say.Text, s.opt.LoseAck) && s.stored[say.Text] == 1
	s.mu.Unlock()
	if loseAck {
		go s.generate(cv, msg, replyID)
		wc.c.NetConn().Close()
		return
	}
	// The ack goes out before any frame of the reply, as the real gateway
	// holds a reply's frames until its line's ack is sent.
	wc.send(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, ConversationID: cv.id, MessageID: msg.ID})
	go s.generate(cv, msg, replyID)
}

// generate streams a reply to every connection that has the chat open at the
// time of each frame, as a gateway fanning out NATS events would.
func (s *Server) generate(cv *conv, msg protocol.ChatMessage, replyID string) {
	if s.opt.FailReply != "" && strings.Contains(msg.Content, s.opt.FailReply) {
		time.Sleep(s.opt.DeltaDelay)
		s.finish(cv, msg.ID, nil, protocol.Error{Envelope: protocol.Envelope{Type: protocol.TypeError}, Code: protocol.CodeEngine, Message: "the engine failed (on purpose)", ConversationID: cv.id, ReplyTo: msg.ID})
		return
	}
	if s.opt.Unavailable != "" && strings.Contains(msg.Content, s.opt.Unavailable) {
		s.broadcast(cv, protocol.Retrying{Envelope: protocol.Envelope{Type: protocol.TypeRetrying}, ConversationID: cv.id, ReplyTo: msg.ID, Attempt: 1, RetryInMillis: 2000})
		time.Sleep(500 * time.Millisecond)
	}
	seq := 0
	if s.opt.DiesMidReply != "" && strings.Contains(msg.Content, s.opt.DiesMidReply) {
		for _, piece := range []string{"LOST ", "WORDS "} {
			time.Sleep(s.opt.DeltaDelay)
			s.broadcast(cv, protocol.Delta{Envelope: protocol.Envelope{Type: protocol.TypeDelta}, ConversationID: cv.id, MessageID: replyID, ReplyTo: msg.ID, Seq: seq, Text: piece})
			seq++
		}
		s.broadcast(cv, protocol.Retrying{Envelope: protocol.Envelope{Type: protocol.TypeRetrying}, ConversationID: cv.id, ReplyTo: msg.ID, Attempt: 1, RetryInMillis: 1000})
		time.Sleep(300 * time.Millisecond)
	}
	restart := seq > 0
	text := s.opt.Reply(cv.ch, msg.Content)
	runes := []rune(text)
	for i := 0; i < len(runes); seq++ {
		j := min(i+4, len(runes))
		time.Sleep(s.opt.DeltaDelay)
		s.broadcast(cv, protocol.Delta{Envelope: protocol.Envelope{Type: protocol.TypeDelta}, ConversationID: cv.id, MessageID: replyID, ReplyTo: msg.ID, Seq: seq, Text: string(runes[i:j]), Restart: restart})
		restart = false
		i = j
		if i < len(runes) && s.opt.DiesMidReply != "" && strings.Contains(msg.Content, s.opt.DiesMidReply) {
			// Slow enough for a page to be seen mid-reply.
			time.Sleep(100 * time.Millisecond)
		}
	}
	reply := protocol.ChatMessage{ID: replyID, Role: "character", Content: text, ReplyTo: msg.ID, At: time.Now().UTC()}
	s.finish(cv, msg.ID, &reply, protocol.Complete{Envelope: protocol.Envelope{Type: protocol.TypeComplete}, ConversationID: cv.id, FinishReason: "stop"})
}

func (s *Server) finish(cv *conv, userMsg string, reply *protocol.ChatMessage, last any) {
	s.mu.Lock()
	if reply != nil {
		reply.Seq = int64(len(cv.history) + 1)
		cv.history = append(cv.history, *reply)
		c := last.(protocol.Complete)
		c.Message = *reply
		last = c
	}
	for i, id := range cv.pending {
		if id == userMsg {
			cv.pending = append(cv.pending[:i], cv.pending[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	s.broadcast(cv, last)
}

func (s *Server) broadcast(cv *conv, v any) {
	s.mu.Lock()
	subs := make([]*wsConn, 0, len(cv.subs))
	for wc := range cv.subs {
		subs = append(subs, wc)
	}
	s.mu.Unlock()
	for _, wc := range subs {
		wc.send(v)
	}
}

func (s *Server) dropSubs(wc *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.live, wc)
	for _, cv := range s.byID {
		delete(cv.subs, wc)
	}
}

// History returns a copy of a conversation's stored messages.
func (s *Server) History(conversationID string) []protocol.ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cv := s.byID[conversationID]; cv != nil {
		return append([]protocol.ChatMessage(nil), cv.history...)
	}
	return nil
}

// StoredCount is how many lines with this text the fake stored.
func (s *Server) StoredCount(text string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[text]
}

// DropAll cuts every WebSocket connection without a close frame, as a crashed
// gateway or a lost network would, and returns how many there were.
func (s *Server) DropAll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for wc := range s.live {
		wc.c.NetConn().Close()
	}
	return len(s.live)
}
