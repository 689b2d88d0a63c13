// Package chatclient is the Go client of Maopao's WebSocket protocol v1
// (package protocol): it gets guest identities over HTTP, dials a gateway,
// authenticates, and runs requests such as listing characters, opening a chat
// and streaming a reply. The maopao CLI and the platform's end-to-end tests use
// it; browsers use the page in clients/web instead.
package chatclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/protocol"
)

const (
	// maxServerFrame bounds one frame from the server. Histories are the
	// largest frames (100 messages of up to MaxSayRunes each by default).
	maxServerFrame = 16 << 20
	// maxUnclaimed bounds frames kept for Next; beyond it the oldest go, so a
	// caller that never calls Next does not grow memory without limit.
	maxUnclaimed = 1024
	writeTimeout = 10 * time.Second
	// handshakeTimeout applies when Dial's context has no deadline.
	handshakeTimeout = 30 * time.Second
)

// FrameError is an error frame from the server turned into a Go error.
type FrameError struct {
	Code    string // one of protocol.Code*
	Message string
	Ref     string
	// ConversationID and ReplyTo are set when a reply failed after its ack.
	ConversationID string
	ReplyTo        string
}

func (e *FrameError) Error() string {
	return "server error " + e.Code + ": " + e.Message
}

// IsCode reports whether err is (or wraps) a *FrameError with the given code.
func IsCode(err error, code string) bool {
	var fe *FrameError
	return errors.As(err, &fe) && fe.Code == code
}

// Client is one authenticated WebSocket connection. A single goroutine reads
// frames and hands each to the call waiting for it: frames whose ref names a
// request's id, and deltas, completes and errors of the reply to a line sent by
// Say (or awaited by Await). All other frames are kept for Next. All methods
// are safe for concurrent use.
type Client struct {
	conn    *websocket.Conn
	welcome protocol.Welcome
	ids     atomic.Uint64

	wmu sync.Mutex // gorilla/websocket allows one writer at a time

	mu        sync.Mutex
	byRef     map[string]*mailbox // request id → its caller
	byReply   map[string]*mailbox // player message id → caller awaiting the reply
	unclaimed mailbox
	dropped   int   // unclaimed frames dropped because nobody called Next
	readErr   error // why the reader stopped; valid once done is closed
	done      chan struct{}
	closing   atomic.Bool
}

// frame is one server frame with the fields used to route it.
type frame struct {
	env     protocol.Envelope
	raw     []byte
	replyTo string // the player message whose reply this frame belongs to
}

// Dial connects to the gateway of the server at baseURL (http or https; the
// socket is ws(s)://host/ws under the same path prefix), sends hello with
// token and waits for welcome. A rejected token comes back as a *FrameError
// with Code protocol.CodeBadToken.
func Dial(ctx context.Context, baseURL, token string) (*Client, error) {
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	origin := base.Scheme + "://" + base.Host
	wsURL := *base
	wsURL.Scheme = "ws"
	if base.Scheme == "https" {
		wsURL.Scheme = "wss"
	}
	wsURL.Path = strings.TrimSuffix(base.Path, "/") + "/ws"

	d := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: handshakeTimeout}
	conn, resp, err := d.DialContext(ctx, wsURL.String(), http.Header{"Origin": {origin}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", wsURL.String(), err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL.String(), err)
	}
	conn.SetReadLimit(maxServerFrame)
	w, err := handshake(ctx, conn, token)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &Client{
		conn:    conn,
		welcome: w,
		byRef:   map[string]*mailbox{},
		byReply: map[string]*mailbox{},
		done:    make(chan struct{}),
	}
	c.ids.Store(1) // hello used id 1
	go c.readLoop()
	return c, nil
}

// handshake runs hello → welcome before the reader starts, so a bad token is
// reported by Dial rather than by the first request.
func handshake(ctx context.Context, conn *websocket.Conn, token string) (protocol.Welcome, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(handshakeTimeout)
	}
	conn.SetWriteDeadline(deadline)
	conn.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	hello := protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, ID: "1"}, Token: token, Protocol: protocol.Version}
	if err := conn.WriteMessage(websocket.TextMessage, protocol.Marshal(hello)); err != nil {
		return protocol.Welcome{}, fmt.Errorf("send hello: %w", err)
	}
	_, data, err := conn.ReadMessage()
	if err != nil {
		if ctx.Err() != nil {
			return protocol.Welcome{}, fmt.Errorf("wait for welcome: %w", ctx.Err())
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// The read deadline is the context's, and may fire a moment
			// before the context itself reports it.
			return protocol.Welcome{}, fmt.Errorf("wait for welcome: no answer by %s: %w", deadline.Format(time.TimeOnly), context.DeadlineExceeded)
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code == protocol.CloseBadAuth {
			return protocol.Welcome{}, &FrameError{Code: protocol.CodeBadToken, Message: "connection closed: " + ce.Text}
		}
		return protocol.Welcome{}, fmt.Errorf("wait for welcome: %w", err)
	}
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return protocol.Welcome{}, fmt.Errorf("first frame from server is not JSON: %w", err)
	}
	switch env.Type {
	case protocol.TypeWelcome:
		var w protocol.Welcome
		if err := json.Unmarshal(data, &w); err != nil {
			return protocol.Welcome{}, fmt.Errorf("decode welcome: %w", err)
		}
		if w.Protocol != protocol.Version {
			return protocol.Welcome{}, fmt.Errorf("server speaks protocol %d, this client %d", w.Protocol, protocol.Version)
		}
		conn.SetReadDeadline(time.Time{})
		conn.SetWriteDeadline(time.Time{})
		return w, nil
	case protocol.TypeError:
		return protocol.Welcome{}, decodeError(data)
	default:
		return protocol.Welcome{}, fmt.Errorf("server answered hello with a %q frame, want welcome", env.Type)
	}
}

// Welcome returns the server's answer to hello.
func (c *Client) Welcome() protocol.Welcome { return c.welcome }

// Send writes v as one JSON text frame. []byte and json.RawMessage are sent
// unchanged, so tests can send malformed frames.
func (c *Client) Send(v any) error {
	var data []byte
	switch b := v.(type) {
	case []byte:
		data = b
	case json.RawMessage:
		data = b
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode frame: %w", err)
		}
	}
	select {
	case <-c.done:
		return c.stoppedErr()
	default:
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("send frame: %w", err)
	}
	return nil
}

// Next returns the next frame no call was waiting for, in arrival order: its
// envelope and its raw JSON. Once the connection is gone and those frames are
// used up it returns the reason the connection ended (a *websocket.CloseError
// when the server closed it).
func (c *Client) Next(ctx context.Context) (protocol.Envelope, []byte, error) {
	f, err := c.unclaimed.take(ctx, c.done)
	if err != nil {
		if errors.Is(err, errStopped) {
			err = c.stoppedErr()
		}
		return protocol.Envelope{}, nil, err
	}
	return f.env, f.raw, nil
}

// Dropped reports how many frames were discarded because nobody called Next
// while more than maxUnclaimed were waiting.
func (c *Client) Dropped() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.stoppedErr()
	default:
		return nil
	}
}

// Close ends the connection with a normal close frame and waits for the reader
// to stop.
func (c *Client) Close() error {
	if !c.closing.CompareAndSwap(false, true) {
		<-c.done
		return nil
	}
	c.wmu.Lock()
	c.conn.SetWriteDeadline(time.Now().Add(time.Second))
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.wmu.Unlock()
	// Give the server a moment to answer the close frame, then cut the
	// connection so Close never blocks on a silent server.
	select {
	case <-c.done:
	case <-time.After(time.Second):
	}
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (c *Client) stoppedErr() error {
	if c.closing.Load() {
		return errClosed
	}
	return c.readErr
}

func (c *Client) readLoop() {
	var err error
	for {
		var data []byte
		_, data, err = c.conn.ReadMessage()
		if err != nil {
			break
		}
		c.route(data)
	}
	c.mu.Lock()
	c.readErr = fmt.Errorf("connection ended: %w", err)
	c.mu.Unlock()
	close(c.done)
}

// route hands a frame to whoever waits for it. It runs on the reader
// goroutine, which is what makes the ack → reply routing race-free: the
// reply's key is registered before the next frame is read.
func (c *Client) route(data []byte) {
	var probe struct {
		protocol.Envelope
		MessageID string `json:"message_id"`
		ReplyTo   string `json:"reply_to"`
		Request   string `json:"request"`
		// A complete's message is an object, an error's a string.
		Message json.RawMessage `json:"message"`
	}
	f := frame{raw: data}
	if json.Unmarshal(data, &probe) == nil {
		f.env = probe.Envelope
		switch probe.Type {
		case protocol.TypeDelta, protocol.TypeError, protocol.TypeMessageUpdated, protocol.TypeRewound, protocol.TypeChatForked, protocol.TypeNotice:
			f.replyTo = probe.ReplyTo
		case protocol.TypeComplete:
			var m struct {
				ReplyTo string `json:"reply_to"`
			}
			if json.Unmarshal(probe.Message, &m) == nil {
				f.replyTo = m.ReplyTo
			}
		}
		// A reply to a request (regenerate, swipe) goes to whoever made
		// the request, not to the line it answers.
		if probe.Request != "" {
			f.replyTo = probe.Request
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if mb := c.byRef[f.env.Ref]; f.env.Ref != "" && mb != nil {
		if f.env.Type == protocol.TypeAck && probe.MessageID != "" {
			c.byReply[probe.MessageID] = mb
		}
		mb.put(f)
		return
	}
	if mb := c.byReply[f.replyTo]; f.replyTo != "" && mb != nil {
		mb.put(f)
		return
	}
	if c.unclaimed.len() >= maxUnclaimed {
		c.unclaimed.dropOldest()
		c.dropped++
	}
	c.unclaimed.put(f)
}

// register makes frames answering request id go to a new mailbox.
func (c *Client) register(id string) *mailbox {
	mb := &mailbox{}
	c.mu.Lock()
	c.byRef[id] = mb
	c.mu.Unlock()
	return mb
}

// unregister stops routing to mb. Frames it still holds go back to the
// unclaimed queue: a caller that gave up (its context ended) leaves the rest of
// a reply for Await or Next rather than losing it.
func (c *Client) unregister(id string, mb *mailbox) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byRef[id] == mb {
		delete(c.byRef, id)
	}
	for k, v := range c.byReply {
		if v == mb {
			delete(c.byReply, k)
		}
	}
	for _, f := range mb.extract(func(frame) bool { return true }) {
		c.unclaimed.put(f)
	}
}

func (c *Client) newID() string { return strconv.FormatUint(c.ids.Add(1), 10) }

// request sends a frame carrying id and returns the first frame answering it,
// turning an error frame into a *FrameError and checking the answer's type.
func (c *Client) request(ctx context.Context, id string, v any, want string, out any) error {
	mb := c.register(id)
	defer c.unregister(id, mb)
	if err := c.Send(v); err != nil {
		return err
	}
	f, err := c.take(ctx, mb)
	if err != nil {
		return err
	}
	return decodeAs(f, want, out)
}

func (c *Client) take(ctx context.Context, mb *mailbox) (frame, error) {
	f, err := mb.take(ctx, c.done)
	if errors.Is(err, errStopped) {
		err = c.stoppedErr()
	}
	return f, err
}

func decodeAs(f frame, want string, out any) error {
	if f.env.Type == protocol.TypeError {
		return decodeError(f.raw)
	}
	if f.env.Type != want {
		return fmt.Errorf("server sent a %q frame, want %q", f.env.Type, want)
	}
	if err := json.Unmarshal(f.raw, out); err != nil {
		return fmt.Errorf("decode %s frame: %w", want, err)
	}
	return nil
}

func decodeError(raw []byte) error {
	var e protocol.Error
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("decode error frame: %w", err)
	}
	return &FrameError{Code: e.Code, Message: e.Message, Ref: e.Ref, ConversationID: e.ConversationID, ReplyTo: e.ReplyTo}
}
