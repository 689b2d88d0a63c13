package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// nextError reads frames until an error frame and returns its code.
func nextError(t *testing.T, ctx context.Context, c *chatclient.Client) protocol.Error {
	t.Helper()
	for {
		env, raw, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for an error frame: %v", err)
		}
		if env.Type == protocol.TypeError {
			var e protocol.Error
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			if e.Message == "" {
				t.Errorf("error frame %s has no message", e.Code)
			}
			return e
		}
	}
}

func TestBadInputGetsErrorFramesAndHurtsNoOne(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.HelloTimeout = time.Second })
	defer srv.Close()

	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Bob")
	if err != nil {
		t.Fatal(err)
	}
	bystander := dial(t, ctx, srv, token)
	chars, err := bystander.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bystanderChat, err := bystander.OpenChat(ctx, chars[1].ID)
	if err != nil {
		t.Fatal(err)
	}

	c := dial(t, ctx, srv, token)
	cases := []struct {
		name  string
		frame string
		code  string
	}{
		{"malformed JSON", `{"type": "say", `, protocol.CodeBadJSON},
		{"not an object", `[1,2,3]`, protocol.CodeBadJSON},
		{"no type", `{"id":"1"}`, protocol.CodeInvalid},
		{"unknown type", `{"type":"dance","id":"2"}`, protocol.CodeUnknownType},
		{"unknown character", `{"type":"open_chat","id":"3","character_id":"no-such-character"}`, protocol.CodeUnknownCharacter},
		{"open without character", `{"type":"open_chat","id":"4"}`, protocol.CodeInvalid},
		{"say before open", `{"type":"say","id":"5","conversation_id":"` + bystanderChat.ConversationID + `","text":"hi"}`, protocol.CodeUnknownChat},
		{"say into made-up chat", `{"type":"say","id":"6","conversation_id":"x","text":"hi"}`, protocol.CodeUnknownChat},
		{"wrong field type", `{"type":"say","id":"7","conversation_id":5}`, protocol.CodeBadJSON},
		{"hello with bad token", `{"type":"hello","id":"8","token":"nope","protocol":1}`, protocol.CodeBadToken},
		{"unsupported version", `{"type":"hello","id":"9","token":"` + token + `","protocol":99}`, protocol.CodeUnsupportedVersion},
	}
	for _, tc := range cases {
		if err := c.Send([]byte(tc.frame)); err != nil {
			t.Fatalf("%s: send: %v", tc.name, err)
		}
		if e := nextError(t, ctx, c); e.Code != tc.code {
			t.Errorf("%s: got error code %q (%s), want %q", tc.name, e.Code, e.Message, tc.code)
		}
	}
	opened, err := c.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, text string }{
		{"empty text", "   "},
		{"too long", strings.Repeat("长", protocol.MaxSayRunes+1)},
	} {
		_, err := c.Say(ctx, opened.ConversationID, tc.text, nil)
		if !chatclient.IsCode(err, protocol.CodeInvalid) {
			t.Errorf("%s: got %v, want an %s error frame", tc.name, err, protocol.CodeInvalid)
		}
	}

	// A connection that never says hello may only ping.
	raw, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(srv.URL(), "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.WriteMessage(websocket.TextMessage, []byte(`{"type":"list_characters","id":"a"}`))
	var e protocol.Error
	if err := raw.ReadJSON(&e); err != nil || e.Code != protocol.CodeUnauthenticated || e.Ref != "a" {
		t.Errorf("request before hello: got %+v, %v; want %s", e, err, protocol.CodeUnauthenticated)
	}

	// A connection that never says hello is closed (here after 1s).
	mute, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(srv.URL(), "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	var ceMute *websocket.CloseError
	if _, _, err := mute.ReadMessage(); !errors.As(err, &ceMute) || ceMute.Code != protocol.CloseBadAuth {
		t.Errorf("a socket without hello: %v, want close code %d", err, protocol.CloseBadAuth)
	}

	// A text frame that is not UTF-8 closes that connection with 1007.
	bad, _, err := websocket.DefaultDialer.DialContext(ctx, strings.Replace(srv.URL(), "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_ = bad.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"ping\",\"id\":\"\xff\"}"))
	var ce1007 *websocket.CloseError
	if _, _, err := bad.ReadMessage(); !errors.As(err, &ce1007) || ce1007.Code != websocket.CloseInvalidFramePayloadData {
		t.Errorf("invalid UTF-8: %v, want close code 1007", err)
	}

	// An oversized frame closes only that connection, with 1009.
	big := `{"type":"say","text":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`
	_ = c.Send([]byte(big))
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("oversized frame did not close the connection")
	}
	var ce *websocket.CloseError
	if err := c.Err(); !errors.As(err, &ce) || ce.Code != protocol.CloseFrameTooLarge {
		t.Errorf("oversized frame closed the connection with %v, want close code %d", c.Err(), protocol.CloseFrameTooLarge)
	}

	// Nothing half-written: the rejected frames stored nothing.
	msgs, err := srv.Store().RecentMessages(ctx, opened.ConversationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || !msgs[0].Greeting {
		t.Errorf("rejected lines were stored (the chat should hold its greeting only): %+v", msgs)
	}
	// The bystander on the same server is unaffected.
	if err := bystander.Ping(ctx); err != nil {
		t.Fatalf("bystander ping after another connection's bad input: %v", err)
	}
	if _, err := bystander.Say(ctx, bystanderChat.ConversationID, "still there?", nil); err != nil {
		t.Fatalf("bystander say: %v", err)
	}
}

func TestSessionEndpointRejectsBadBodies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	for _, tc := range []struct {
		body   string
		status int
	}{
		{`{"name":`, 400},
		{`{"name":"` + strings.Repeat("n", 41) + `"}`, 422},
		{strings.Repeat(" ", 5000), 413},
	} {
		resp, err := postJSON(ctx, srv.URL()+"/api/v1/session", tc.body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("body %.20q: got %d %s, want %d problem+json", tc.body, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
		}
	}
}
