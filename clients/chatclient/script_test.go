package chatclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// scripted serves /ws with a function that plays one side of a conversation
// frame by frame, for server behaviour the fake never shows.
func scripted(t *testing.T, play func(t *testing.T, c *websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		play(t, c)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func readFrame(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	var m map[string]any
	if err := c.ReadJSON(&m); err != nil {
		t.Errorf("server read: %v", err)
		return map[string]any{}
	}
	return m
}

func welcome(t *testing.T, c *websocket.Conn, proto int) {
	t.Helper()
	h := readFrame(t, c)
	if h["type"] != protocol.TypeHello || h["token"] != "tok" || h["protocol"] != float64(1) {
		t.Errorf("hello = %v", h)
	}
	c.WriteJSON(protocol.Welcome{Envelope: protocol.Envelope{Type: protocol.TypeWelcome, Ref: h["id"].(string)}, PlayerID: "p", Protocol: proto, Engine: "x"})
}

func TestDialRejections(t *testing.T) {
	ctx := testCtx(t)
	cases := []struct {
		name string
		play func(t *testing.T, c *websocket.Conn)
		want string
	}{
		{"wrong protocol", func(t *testing.T, c *websocket.Conn) { welcome(t, c, 2) }, "protocol 2"},
		{"not JSON", func(t *testing.T, c *websocket.Conn) {
			readFrame(t, c)
			c.WriteMessage(websocket.TextMessage, []byte("hi"))
		}, "not JSON"},
		{"other frame", func(t *testing.T, c *websocket.Conn) { readFrame(t, c); c.WriteJSON(map[string]string{"type": "pong"}) }, `"pong" frame`},
		{"close 4001", func(t *testing.T, c *websocket.Conn) {
			readFrame(t, c)
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseBadAuth, "expired"))
			time.Sleep(100 * time.Millisecond)
		}, "bad_token"},
		{"silent", func(t *testing.T, c *websocket.Conn) { readFrame(t, c); time.Sleep(time.Second) }, "deadline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := scripted(t, tc.play)
			ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			c, err := chatclient.Dial(ctx, url, "tok")
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Dial error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := chatclient.Dial(ctx, "ftp://x", "tok"); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Fatalf("Dial(ftp) = %v", err)
	}
}

func TestConnectionLostMidReply(t *testing.T) {
	url := scripted(t, func(t *testing.T, c *websocket.Conn) {
		welcome(t, c, 1)
		say := readFrame(t, c)
		ref, _ := say["id"].(string)
		// The ack and the first delta in one burst: the client must route the
		// delta to Say even though Say has not yet seen the ack.
		c.WriteJSON(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, MessageID: "m1"})
		c.WriteJSON(protocol.Delta{Envelope: protocol.Envelope{Type: protocol.TypeDelta}, MessageID: "r1", ReplyTo: "m1", Text: "Hel"})
		c.WriteJSON(protocol.Delta{Envelope: protocol.Envelope{Type: protocol.TypeDelta}, MessageID: "r9", ReplyTo: "other", Text: "not ours"})
		c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseShutdown, "restart"))
		time.Sleep(100 * time.Millisecond)
	})
	ctx := testCtx(t)
	c, err := chatclient.Dial(ctx, url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []string
	_, err = c.Say(ctx, "conv", "hello", func(d protocol.Delta) { got = append(got, d.Text) })
	var ae *chatclient.AckedError
	var ce *websocket.CloseError
	if !errors.As(err, &ae) || ae.MessageID != "m1" || !errors.As(err, &ce) || ce.Code != protocol.CloseShutdown {
		t.Fatalf("Say err = %v", err)
	}
	if strings.Join(got, "") != "Hel" {
		t.Fatalf("deltas = %q", got)
	}
	env, raw, err := c.Next(ctx)
	if err != nil || env.Type != protocol.TypeDelta || !strings.Contains(string(raw), "not ours") {
		t.Fatalf("Next = %+v %s %v; want the unclaimed delta", env, raw, err)
	}
}

func TestNewSessionHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pre/api/v1/session":
			var body map[string]string
			json.NewDecoder(r.Body).Decode(&body)
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]string{"code": "rate_limited", "message": "slow down " + body["name"]})
		case "/api/v1/session":
			w.Write([]byte(`{"token":""}`))
		default:
			http.Error(w, "nope", http.StatusTeapot)
		}
	}))
	defer srv.Close()
	ctx := testCtx(t)
	_, _, err := chatclient.NewSession(ctx, srv.URL+"/pre/", "ann")
	var he *chatclient.HTTPError
	if !errors.As(err, &he) || he.Status != 429 || he.Code != "rate_limited" || he.Message != "slow down ann" {
		t.Fatalf("NewSession(429) = %#v", err)
	}
	if _, _, err := chatclient.NewSession(ctx, srv.URL, ""); err == nil || !strings.Contains(err.Error(), "lacks token") {
		t.Fatalf("NewSession(empty token) = %v", err)
	}
	if _, err := chatclient.Characters(ctx, srv.URL+"/x"); !errors.As(err, &he) || he.Status != 418 || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Characters(418) = %v", err)
	}
	if _, _, err := chatclient.NewSession(ctx, "http://", ""); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Fatalf("NewSession(no host) = %v", err)
	}
}

// A line whose ack was lost is sent again with the same client message id,
// so the server can tell it is the same line.
func TestLineLostBeforeItsAckCanBeResentAsTheSameLine(t *testing.T) {
	ids := make(chan string, 2)
	url := scripted(t, func(t *testing.T, c *websocket.Conn) {
		welcome(t, c, 1)
		say := readFrame(t, c)
		ids <- fmt.Sprint(say["client_message_id"])
		if len(ids) == 1 {
			// The first time the connection drops before the ack.
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseShutdown, "restart"))
			time.Sleep(100 * time.Millisecond)
			return
		}
		ref, _ := say["id"].(string)
		c.WriteJSON(protocol.Ack{Envelope: protocol.Envelope{Type: protocol.TypeAck, Ref: ref}, MessageID: "m1"})
		c.WriteJSON(protocol.Complete{Envelope: protocol.Envelope{Type: protocol.TypeComplete}, Message: protocol.ChatMessage{ID: "r1", ReplyTo: "m1", Content: "hi"}})
	})
	ctx := testCtx(t)
	c, err := chatclient.Dial(ctx, url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Say(ctx, "conv", "hello", nil)
	c.Close()
	var na *chatclient.NotAckedError
	if !errors.As(err, &na) || na.ClientMessageID == "" {
		t.Fatalf("Say over a dropped connection: %v, want a NotAckedError with the line's id", err)
	}
	c2, err := chatclient.Dial(ctx, url, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	done, err := c2.SayAs(ctx, "conv", na.ClientMessageID, "hello", nil)
	if err != nil || done.Message.Content != "hi" {
		t.Fatalf("resend: %+v %v", done, err)
	}
	if first, second := <-ids, <-ids; first != na.ClientMessageID || second != first {
		t.Fatalf("client message ids sent: %q then %q, error names %q", first, second, na.ClientMessageID)
	}
}
