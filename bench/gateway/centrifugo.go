package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// centrifugoTarget loads a running Centrifugo v6 speaking its JSON client
// protocol, with the NATS broker in raw mode: an event published on NATS
// subject S reaches the subscribers of channel S unchanged, which is the
// same path Maopao's reply events take. Each connection is its own user
// with a connection JWT signed by the config's HMAC secret, and subscribes
// to its group's channel.
type centrifugoTarget struct {
	url    string
	secret []byte
}

func (c *centrifugoTarget) prepare(context.Context, int) error { return nil }

func channelName(group int) string { return "bench.g" + strconv.Itoa(group) }

// eventID is a 36-character id per channel, so events are as long as
// Maopao's, which carry a conversation UUID.
func eventID(group int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", group) }

func (c *centrifugoTarget) dial(ctx context.Context, i, group int) (*websocket.Conn, string, string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u" + strconv.Itoa(i), "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(c.secret)
	if err != nil {
		return nil, "", "", err
	}
	ws, _, err := dialer.DialContext(ctx, c.url, nil)
	if err != nil {
		return nil, "", "", fmt.Errorf("dial %s: %w", c.url, err)
	}
	ch := channelName(group)
	steps := []struct {
		id  uint32
		cmd map[string]any
	}{
		{1, map[string]any{"id": 1, "connect": map[string]any{"token": tok, "name": "bench"}}},
		{2, map[string]any{"id": 2, "subscribe": map[string]any{"channel": ch}}},
	}
	for _, s := range steps {
		if err := ws.WriteJSON(s.cmd); err != nil {
			ws.Close()
			return nil, "", "", err
		}
		if err := readReply(ws, s.id); err != nil {
			ws.Close()
			return nil, "", "", err
		}
	}
	return ws, ch, eventID(group), nil
}

// pingReply answers Centrifugo's application-level ping (an empty JSON
// object, possibly one line of a batched frame) with an empty object.
func (c *centrifugoTarget) pingReply(frame []byte) []byte {
	for _, line := range bytes.Split(frame, []byte{'\n'}) {
		if string(bytes.TrimSpace(line)) == "{}" {
			return []byte("{}")
		}
	}
	return nil
}

// readReply reads frames until the reply with id, returning its error if
// it carries one.
func readReply(ws *websocket.Conn, id uint32) error {
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	defer ws.SetReadDeadline(time.Time{})
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for reply %d: %w", id, err)
		}
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var r struct {
				ID    uint32 `json:"id"`
				Error *struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(line, &r); err != nil {
				return fmt.Errorf("waiting for reply %d: line is not JSON: %q", id, trunc(line))
			}
			if r.ID != id {
				continue
			}
			if r.Error != nil {
				return fmt.Errorf("reply %d: error %d %s", id, r.Error.Code, r.Error.Message)
			}
			return nil
		}
	}
}
