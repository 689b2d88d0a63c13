// Package gateway owns the player-facing edge: the HTTP API (guest
// sessions, creator accounts, the character REST API with import, export
// and history, the studio's draft previews), the WebSocket endpoint
// speaking protocol v1 (chats and open worlds), and the
// routing of player lines into JetStream and of reply events back to the
// connections that wait for them. It keeps no conversation state of its
// own, so any number of gateways can share one NATS and one store.
package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/internal/loopback"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

// Server is a gateway. Fill the exported fields, call Init, then serve Handler.
type Server struct {
	Store  storage.Store
	Bus    bus.Bus
	Secret []byte
	// AllowedOrigins lists extra origins (scheme://host[:port]) allowed to
	// open WebSockets; the page's own origin is always allowed.
	AllowedOrigins []string
	// Engine says what produces replies, shown to players on connect;
	// Untrained says its weights are random (EngineChanged updates both).
	Engine    string
	Untrained bool
	// Models, where this process runs the engine, installs models for the
	// page; nil elsewhere.
	Models Models
	// Speech speaks characters' replies (an OpenAI-compatible
	// /v1/audio/speech server); nil leaves it to the browsers' voices.
	Speech Speaker
	// Web serves the web client at /; nil serves nothing there.
	Web http.Handler
	// Health adds checks of other parts to /healthz.
	Health func(context.Context) error
	Log    *slog.Logger
	// WriteQueue is how many frames may wait for a slow client before the
	// gateway closes it (default 256).
	WriteQueue int
	// MetricsPublic serves /metrics to everyone; by default only to the
	// machine Maopao runs on.
	MetricsPublic bool
	// LoopbackOnly (set when listening on a loopback address) refuses
	// requests whose Host is not this machine's: DNS rebinding.
	LoopbackOnly bool
	// MaxConnsPerAddress bounds the WebSockets one address holds (default 200).
	MaxConnsPerAddress int
	// HelloTimeout closes a connection that has not said hello by then
	// (default 10s): an unauthenticated socket costs memory and a file.
	HelloTimeout time.Duration
	// LinesPerSecond and LineBurst bound a connection's lines and chat
	// requests (defaults 4 and 8).
	LinesPerSecond float64
	LineBurst      int

	tokens   Tokens
	upgrader websocket.Upgrader
	metrics  *metrics
	reg      *prometheus.Registry

	hub            *hub // the bus subjects this gateway's connections listen to
	worldSummaries worldSummaries
	mu             sync.Mutex
	conns          map[*conn]struct{}

	engineMu  sync.Mutex
	untrained bool

	connsByIP map[string]int // open WebSockets per address (under mu)
	players   *keyedLimiter  // lines and requests per player, over all connections
	sessions  *keyedLimiter  // new guests and accounts per address

	countsMu sync.Mutex
	counts   map[string]int // chats per character, for "most chatted"
	countsAt time.Time
}

// chatCountsEvery is how stale the "most chatted" counts may be: counting
// reads every chat, too much for every page load.
const chatCountsEvery = time.Minute

// chatsChanged makes the next chatCounts count again (this gateway made
// or deleted a chat).
func (s *Server) chatsChanged() {
	s.countsMu.Lock()
	s.countsAt = time.Time{}
	s.countsMu.Unlock()
}

// chatCounts returns the number of chats per character, recounted at most
// once a chatCountsEvery; a failed count keeps the last one.
func (s *Server) chatCounts(ctx context.Context) map[string]int {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	if s.counts == nil || time.Since(s.countsAt) > chatCountsEvery {
		if counts, err := s.Store.ChatCounts(ctx); err == nil {
			s.counts, s.countsAt = counts, time.Now()
		} else {
			s.Log.Warn("count chats", "err", err)
		}
	}
	return s.counts
}

// Init prepares the server; it must be called once before Handler.
func (s *Server) Init() error {
	if s.Store == nil || s.Bus == nil {
		return fmt.Errorf("gateway: Store and Bus are required")
	}
	if len(s.Secret) < 16 {
		return fmt.Errorf("gateway: the token secret must be at least 16 bytes")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.WriteQueue <= 0 {
		s.WriteQueue = 256
	}
	if s.HelloTimeout <= 0 {
		s.HelloTimeout = 10 * time.Second
	}
	s.initLimits()
	s.tokens = Tokens{Secret: s.Secret}
	s.untrained = s.Untrained
	s.hub = newHub(s.Bus)
	s.conns = map[*conn]struct{}{}
	s.reg = prometheus.NewRegistry()
	s.metrics = newMetrics(s.reg)
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "maopao_gateway_bus_subjects",
		Help: "Bus subjects this gateway listens to for its connections (one per chat, place and player in a world, however many connections share it)."},
		func() float64 { return float64(s.hub.subjects()) }))
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
	}
	// Every gateway tells its players when any gateway changed a character.
	if _, err := s.Bus.Subscribe(protocol.CharactersChangedSubject, func(bus.Msg) { s.notifyCharactersChanged() }); err != nil {
		return fmt.Errorf("gateway: subscribe %s: %w", protocol.CharactersChangedSubject, err)
	}
	return nil
}

// charactersChanged tells every gateway that characters were written.
func (s *Server) charactersChanged() {
	s.worldSummaries.forget() // this gateway's own players see the change at once
	if s.Bus == nil {
		return
	}
	if err := s.Bus.Publish(protocol.CharactersChangedSubject, nil); err != nil {
		s.Log.Warn("publish characters changed", "err", err)
	}
}

// notifyCharactersChanged sends characters_changed to this gateway's
// signed-in connections; clients showing a list ask for it again.
func (s *Server) notifyCharactersChanged() {
	s.worldSummaries.forget()
	s.broadcast(protocol.Marshal(protocol.Envelope{Type: protocol.TypeCharactersChanged}))
}

// broadcast sends a frame to every signed-in connection on this gateway.
func (s *Server) broadcast(frame []byte) {
	s.mu.Lock()
	targets := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		targets = append(targets, c)
	}
	s.mu.Unlock()
	for _, c := range targets {
		if c.authenticated() {
			c.send(frame)
		}
	}
}

// Handler serves the gateway's HTTP surface.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.handleHealth)
	mux.HandleFunc("/api/v1/session", s.handleSession)
	s.registerCreatorAPI(mux)
	s.registerStudioAPI(mux)
	mux.HandleFunc("/ws", s.handleWS)
	metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		// Counts of players and errors are the operator's business.
		if !s.MetricsPublic && !loopback.From(r) {
			writeProblem(w, http.StatusForbidden, codeForbidden, "metrics are served to the machine Maopao runs on only (--metrics-public serves them to all)")
			return
		}
		metrics.ServeHTTP(w, r)
	})
	if s.Web != nil {
		mux.Handle("/", s.Web)
	}
	if !s.LoopbackOnly {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Listening on loopback, only a page from a loopback host may
		// talk to us: a web page elsewhere whose name was made to point
		// at 127.0.0.1 (DNS rebinding) sends its own name as Host.
		if !s.knownHost(r.Host) {
			writeProblem(w, http.StatusMisdirectedRequest, codeForbidden, "this server answers to localhost and 127.0.0.1 only (add --allowed-origins for other names)")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// knownHost reports whether host (a Host header) names this machine or an
// allowed origin.
func (s *Server) knownHost(host string) bool {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	if ip := net.ParseIP(name); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, o := range s.AllowedOrigins {
		if u, err := url.Parse(o); err == nil && strings.EqualFold(u.Hostname(), name) {
			return true
		}
	}
	return false
}

// checkOrigin allows browsers only from the page's own origin or the
// configured ones; non-browser clients send no Origin and are allowed.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range s.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	s.Log.Warn("websocket origin refused", "origin", origin, "host", r.Host)
	return false
}

// Shutdown closes every connection with "going away" so clients reconnect
// to another gateway.
func (s *Server) Shutdown() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(protocol.CloseShutdown, "server shutting down")
	}
}

// watch makes c receive the reply events of a conversation.
func (s *Server) watch(c *conn, convID string) error {
	return s.hub.join(protocol.ChatOutputSubject(convID), c, func(data []byte, to []*conn) { s.dispatch(convID, data, to) })
}

// unwatch stops c receiving one conversation's events.
func (s *Server) unwatch(c *conn, convID string) {
	s.hub.leave(protocol.ChatOutputSubject(convID), c)
}

func (s *Server) unwatchAll(c *conn, convIDs []string) {
	for _, id := range convIDs {
		s.unwatch(c, id)
	}
}

// dispatch turns a reply event into a frame for the local connections
// watching the conversation.
func (s *Server) dispatch(convID string, data []byte, targets []*conn) {
	var ev protocol.ReplyEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		s.Log.Warn("bad reply event", "conversation", convID, "err", err)
		return
	}
	var frame any
	switch ev.Kind {
	case protocol.EventDelta:
		frame = protocol.Delta{Envelope: protocol.Envelope{Type: protocol.TypeDelta}, ConversationID: convID, MessageID: ev.MessageID, ReplyTo: ev.ReplyTo, Seq: ev.Seq, Text: ev.Text, Request: ev.Request, Restart: ev.Restart}
	case protocol.EventComplete:
		if ev.Message == nil {
			return
		}
		frame = protocol.Complete{Envelope: protocol.Envelope{Type: protocol.TypeComplete}, ConversationID: convID, Message: *ev.Message, FinishReason: ev.FinishReason, Request: ev.Request}
	case protocol.EventError:
		e := protocol.NewError("", ev.Code, ev.Text)
		e.ConversationID, e.ReplyTo, e.Failed = convID, ev.ReplyTo, ev.Message
		frame = e
	case protocol.EventUpdated:
		if ev.Message == nil {
			return
		}
		frame = protocol.MessageUpdated{Envelope: protocol.Envelope{Type: protocol.TypeMessageUpdated}, ConversationID: convID, ReplyTo: ev.ReplyTo, Message: *ev.Message}
	case protocol.EventRetrying:
		frame = protocol.Retrying{Envelope: protocol.Envelope{Type: protocol.TypeRetrying}, ConversationID: convID, ReplyTo: ev.ReplyTo,
			Attempt: ev.Attempt, RetryInMillis: ev.RetryInMillis, Request: ev.Request}
	case protocol.EventNotice:
		frame = protocol.Notice{Envelope: protocol.Envelope{Type: protocol.TypeNotice}, ConversationID: convID, ReplyTo: ev.ReplyTo, Code: ev.Code, Text: ev.Text}
	case protocol.EventRewound:
		frame = protocol.Rewound{Envelope: protocol.Envelope{Type: protocol.TypeRewound}, ConversationID: convID, ReplyTo: ev.ReplyTo, MessageID: ev.MessageID}
	case protocol.EventForked:
		frame = protocol.ChatForked{Envelope: protocol.Envelope{Type: protocol.TypeChatForked}, ConversationID: convID, ReplyTo: ev.ReplyTo,
			MessageID: ev.MessageID, NewConversationID: ev.NewConversationID}
	default:
		return
	}
	b := protocol.Marshal(frame)
	// A request's frames name it in Request; a line's, in ReplyTo.
	line := ev.ReplyTo
	if ev.Request != "" {
		line = ev.Request
	} else if line == "" && ev.Message != nil {
		line = ev.Message.ReplyTo
	}
	for _, c := range targets {
		c.sendReply(line, b)
	}
}

const writeWait = 10 * time.Second
