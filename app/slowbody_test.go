package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
)

// A request body trickled a byte at a time cannot hold a connection past
// the read timeout; a WebSocket stays open past it.
func TestTrickledBodyIsCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.HTTPReadTimeout = 2 * time.Second })
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL(), "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/session HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", addr)
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		r := bufio.NewReader(conn)
		for {
			if _, err := r.ReadByte(); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case d := <-closed:
			if d > 10*time.Second {
				t.Fatalf("the connection was cut after %v", d)
			}
			// A WebSocket is not a request body: it outlives the timeout.
			token, _, err := chatclient.NewSession(ctx, srv.URL(), "")
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, ctx, srv, token)
			time.Sleep(3 * time.Second)
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("a WebSocket past the read timeout: %v", err)
			}
			return
		case <-tick.C:
			if time.Since(start) > 20*time.Second {
				t.Fatal("a trickled body held the connection for 20s")
			}
			_, _ = conn.Write([]byte("{"))
		}
	}
}
