package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/protocol"
)

// maopaoTarget loads a running `maopao serve`. Every group is one
// conversation: one guest player opening one character. In rooms, the
// group's connections share the player, so they all open the same
// conversation and the gateway holds one NATS subscription for them.
type maopaoTarget struct {
	base   string
	rooms  bool
	http   *http.Client
	tokens []string // per group
	charID string
}

func (m *maopaoTarget) wsURL() (string, error) {
	u, err := url.Parse(m.base)
	if err != nil {
		return "", fmt.Errorf("-url %q: %w", m.base, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("-url %q: want an http:// or https:// base URL", m.base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/ws"
	return u.String(), nil
}

// prepare creates one guest session per group and picks a character.
func (m *maopaoTarget) prepare(ctx context.Context, groups int) error {
	m.tokens = make([]string, groups)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for g := range groups {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			tok, err := m.session(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = fmt.Errorf("session %d: %w", g, err)
			}
			m.tokens[g] = tok
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	ws, err := m.hello(ctx, m.tokens[0])
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]any{"type": protocol.TypeListCharacters, "id": "l"}); err != nil {
		return err
	}
	var list protocol.Characters
	if err := readAnswer(ws, "l", protocol.TypeCharacters, &list); err != nil {
		return err
	}
	if len(list.Characters) == 0 {
		return fmt.Errorf("the server has no public character to open a chat with")
	}
	m.charID = list.Characters[0].ID
	return nil
}

func (m *maopaoTarget) session(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(m.base, "/")+"/api/v1/session", bytes.NewReader([]byte(`{"name":"bench"}`)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /api/v1/session: %s: %s", resp.Status, trunc(body))
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &s); err != nil || s.Token == "" {
		return "", fmt.Errorf("POST /api/v1/session: no token in %q", trunc(body))
	}
	return s.Token, nil
}

var dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}

func (m *maopaoTarget) hello(ctx context.Context, token string) (*websocket.Conn, error) {
	u, err := m.wsURL()
	if err != nil {
		return nil, err
	}
	ws, _, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	if err := ws.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello, ID: "h"}, Token: token, Protocol: protocol.Version}); err != nil {
		ws.Close()
		return nil, err
	}
	if err := readAnswer(ws, "h", protocol.TypeWelcome, nil); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

func (m *maopaoTarget) dial(ctx context.Context, _, group int) (*websocket.Conn, string, string, error) {
	ws, err := m.hello(ctx, m.tokens[group])
	if err != nil {
		return nil, "", "", err
	}
	if err := ws.WriteJSON(protocol.OpenChat{Envelope: protocol.Envelope{Type: protocol.TypeOpenChat, ID: "o"}, CharacterID: m.charID, HistoryLimit: 1}); err != nil {
		ws.Close()
		return nil, "", "", err
	}
	var opened protocol.ChatOpened
	if err := readAnswer(ws, "o", protocol.TypeChatOpened, &opened); err != nil {
		ws.Close()
		return nil, "", "", err
	}
	if len(opened.ConversationID) != 36 {
		ws.Close()
		return nil, "", "", fmt.Errorf("chat_opened: conversation id %q is not a UUID", opened.ConversationID)
	}
	return ws, protocol.ChatOutputSubject(opened.ConversationID), opened.ConversationID, nil
}

// pingReply is nil: gorilla answers the gateway's WebSocket pings.
func (m *maopaoTarget) pingReply([]byte) []byte { return nil }

// readAnswer reads frames until the one answering ref, which must have
// type want (an error frame is returned as an error), and decodes it into v.
func readAnswer(ws *websocket.Conn, ref, want string, v any) error {
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", want, err)
		}
		var env struct {
			protocol.Envelope
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(data, &env); err != nil {
			return fmt.Errorf("waiting for %s: frame is not JSON: %q", want, trunc(data))
		}
		if env.Ref != ref {
			continue
		}
		if env.Type != want {
			return fmt.Errorf("waiting for %s: got %s %s: %s", want, env.Type, env.Code, env.Message)
		}
		if v != nil {
			return json.Unmarshal(data, v)
		}
		return nil
	}
}
