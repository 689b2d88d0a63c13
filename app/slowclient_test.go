//go:build linux

package app_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// A client that asks for a lot and never reads is closed with 4008; a
// client beside it keeps getting prompt answers.
func TestSlowClientIsClosedWithoutSlowingOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	other := dial(t, ctx, srv, token)

	// A small receive buffer, set before connecting so TCP window scaling
	// agrees with it, makes the server's side fill up quickly.
	nd := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8192) })
	}}
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 64 << 10, NetDialContext: nd.DialContext}
	slow, _, err := d.DialContext(ctx, strings.Replace(srv.URL(), "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteJSON(protocol.Hello{Envelope: protocol.Envelope{Type: protocol.TypeHello}, Token: token, Protocol: 1}); err != nil {
		t.Fatal(err)
	}
	// Ask for ~20000 character lists (about 1 KiB each) without reading:
	// far more than socket buffers and the gateway's write queue hold.
	req := []byte(`{"type":"list_characters"}`)
	for sent := 1; sent <= 20000; sent++ {
		_ = slow.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := slow.WriteMessage(websocket.TextMessage, req); err != nil {
			t.Fatalf("request %d: %v", sent, err)
		}
		if sent%2000 == 0 {
			start := time.Now()
			if err := other.Ping(ctx); err != nil {
				t.Fatalf("the other client's ping failed while one client was slow: %v", err)
			}
			if waited := time.Since(start); waited > 2*time.Second {
				t.Fatalf("the other client waited %v for a pong while one client was slow", waited)
			}
		}
	}
	// Wait until the gateway has given up on the slow client (it works
	// through the requests at its own pace), then read: after what was
	// already in flight comes the close frame with 4008.
	for !strings.Contains(metricsText(t, ctx, srv.URL()), "maopao_gateway_slow_clients_closed_total 1") {
		select {
		case <-ctx.Done():
			t.Fatal("the gateway never closed the slow client")
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	frames := 0
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			frames++
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != protocol.CloseSlowClient {
			t.Fatalf("slow client ended with %v after %d frames, want close code %d", err, frames, protocol.CloseSlowClient)
		}
		if frames >= 20000 {
			t.Fatalf("the slow client got all %d answers: the write queue never overflowed", frames)
		}
		break
	}
	if err := other.Ping(ctx); err != nil {
		t.Fatalf("the other client is gone too: %v", err)
	}
}
