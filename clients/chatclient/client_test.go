package chatclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/clients/internal/fakegw"
	"github.com/maopao/maopao/protocol"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect starts a fake and returns a client dialed to it with a new session.
func connect(t *testing.T, opt fakegw.Options) (*fakegw.Server, *chatclient.Client) {
	t.Helper()
	srv := fakegw.Start(opt)
	t.Cleanup(srv.Close)
	ctx := testCtx(t)
	tok, pid, err := chatclient.NewSession(ctx, srv.URL, "tester")
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	if tok == "" || pid == "" {
		t.Fatalf("NewSession returned token %q player %q", tok, pid)
	}
	c, err := chatclient.Dial(ctx, srv.URL, tok)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Welcome().PlayerID != pid {
		t.Fatalf("welcome player %q, session player %q", c.Welcome().PlayerID, pid)
	}
	return srv, c
}

func openFirst(t *testing.T, c *chatclient.Client) protocol.ChatOpened {
	t.Helper()
	chars, err := c.ListCharacters(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	op, err := c.OpenChat(testCtx(t), chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func TestChatRoundTrip(t *testing.T) {
	srv, c := connect(t, fakegw.Options{})
	ctx := testCtx(t)
	if got := c.Welcome().Engine; got != fakegw.Engine {
		t.Errorf("engine %q, want %q", got, fakegw.Engine)
	}
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatalf("ListCharacters: %v", err)
	}
	if len(chars) != 3 || chars[1].Name != "老王" {
		t.Fatalf("characters = %+v", chars)
	}
	op, err := c.OpenChat(ctx, chars[1].ID)
	if err != nil {
		t.Fatalf("OpenChat: %v", err)
	}
	if op.ConversationID == "" || op.Character.ID != chars[1].ID || len(op.History) != 1 || !op.History[0].Greeting {
		t.Fatalf("chat_opened = %+v", op)
	}

	var deltas []protocol.Delta
	done, err := c.Say(ctx, op.ConversationID, "你好，面条多少钱？", func(d protocol.Delta) { deltas = append(deltas, d) })
	if err != nil {
		t.Fatalf("Say: %v", err)
	}
	want := "老王 heard you say: 你好，面条多少钱？"
	if done.Message.Content != want || done.Message.Role != "character" {
		t.Fatalf("complete message = %+v, want content %q", done.Message, want)
	}
	if len(deltas) < 2 {
		t.Fatalf("got %d deltas, want a stream", len(deltas))
	}
	var sb strings.Builder
	for i, d := range deltas {
		if d.Seq != i || d.MessageID != done.Message.ID || d.ReplyTo != done.Message.ReplyTo {
			t.Fatalf("delta %d = %+v (complete %+v)", i, d, done.Message)
		}
		sb.WriteString(d.Text)
	}
	if sb.String() != want {
		t.Fatalf("deltas joined = %q, want %q", sb.String(), want)
	}
	if h := srv.History(op.ConversationID); len(h) != 3 || h[1].ID != done.Message.ReplyTo {
		t.Fatalf("stored history = %+v", h)
	}

	// Reopening returns the history.
	op2, err := c.OpenChat(ctx, chars[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if op2.ConversationID != op.ConversationID || len(op2.History) != 3 || op2.History[2].Content != want {
		t.Fatalf("reopened chat = %+v", op2)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestBadToken(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{})
	defer srv.Close()
	_, err := chatclient.Dial(testCtx(t), srv.URL, "forged")
	if !chatclient.IsCode(err, protocol.CodeBadToken) {
		t.Fatalf("Dial with a forged token: err = %v, want bad_token", err)
	}
}

func TestRequestErrors(t *testing.T) {
	_, c := connect(t, fakegw.Options{FailReply: "boom"})
	ctx := testCtx(t)
	_, err := c.OpenChat(ctx, "nobody")
	if !chatclient.IsCode(err, protocol.CodeUnknownCharacter) || !strings.Contains(err.Error(), `"nobody"`) {
		t.Fatalf("OpenChat(nobody): %v", err)
	}
	op := openFirst(t, c)
	if _, err := c.Say(ctx, op.ConversationID, "   ", nil); !chatclient.IsCode(err, protocol.CodeInvalid) {
		t.Fatalf("Say(blank): %v", err)
	}
	if _, err := c.Say(ctx, "conv-none", "hi", nil); !chatclient.IsCode(err, protocol.CodeUnknownChat) {
		t.Fatalf("Say(unknown chat): %v", err)
	}
	_, err = c.Say(ctx, op.ConversationID, "boom now", nil)
	var fe *chatclient.FrameError
	if !errors.As(err, &fe) || fe.Code != protocol.CodeEngine || fe.ReplyTo == "" || fe.ConversationID != op.ConversationID {
		t.Fatalf("Say(failing reply): %#v", err)
	}
	// The connection is still fine after error frames.
	if _, err := c.Say(ctx, op.ConversationID, "ok", nil); err != nil {
		t.Fatalf("Say after errors: %v", err)
	}
}

func TestConcurrentSays(t *testing.T) {
	_, c := connect(t, fakegw.Options{DeltaDelay: time.Millisecond})
	ctx := testCtx(t)
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*4)
	for _, ch := range chars {
		op, err := c.OpenChat(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				text := fmt.Sprintf("line %d to %s", i, ch.Name)
				var sb strings.Builder
				done, err := c.Say(ctx, op.ConversationID, text, func(d protocol.Delta) { sb.WriteString(d.Text) })
				switch {
				case err != nil:
					errs <- err
				case done.Message.Content != ch.Name+" heard you say: "+text || sb.String() != done.Message.Content:
					errs <- fmt.Errorf("%s got %q streamed as %q", text, done.Message.Content, sb.String())
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAwaitPendingIncludesEarlierFrames(t *testing.T) {
	_, c := connect(t, fakegw.Options{DeltaDelay: 5 * time.Millisecond})
	ctx := testCtx(t)
	op := openFirst(t, c)
	if err := c.Send(protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "raw-1"}, ConversationID: op.ConversationID, Text: "a fairly long line so the reply takes a while"}); err != nil {
		t.Fatal(err)
	}
	env, raw, err := c.Next(ctx)
	if err != nil || env.Type != protocol.TypeAck || env.Ref != "raw-1" {
		t.Fatalf("Next = %+v %s %v, want ack", env, raw, err)
	}
	var ack protocol.Ack
	if err := json.Unmarshal(raw, &ack); err != nil || ack.MessageID == "" {
		t.Fatalf("ack %s: %v", raw, err)
	}
	msgID := ack.MessageID
	time.Sleep(40 * time.Millisecond) // let some deltas land unclaimed
	var sb strings.Builder
	var seqs []int
	done, err := c.Await(ctx, msgID, func(d protocol.Delta) { sb.WriteString(d.Text); seqs = append(seqs, d.Seq) })
	if err != nil {
		t.Fatalf("Await: %v", err)
	}
	if len(seqs) == 0 || seqs[0] != 0 || sb.String() != done.Message.Content {
		t.Fatalf("Await streamed %q (seqs %v), complete %q", sb.String(), seqs, done.Message.Content)
	}
	if _, err := c.Await(ctx, "", nil); err == nil {
		t.Fatal("Await with an empty id succeeded")
	}
}

func TestNextSeesBadInputAnswers(t *testing.T) {
	_, c := connect(t, fakegw.Options{})
	ctx := testCtx(t)
	if err := c.Send([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	env, raw, err := c.Next(ctx)
	if err != nil || env.Type != protocol.TypeError || !strings.Contains(string(raw), protocol.CodeBadJSON) {
		t.Fatalf("after bad JSON Next = %+v %s %v", env, raw, err)
	}
	if err := c.Send(map[string]string{"type": "dance", "id": "d1"}); err != nil {
		t.Fatal(err)
	}
	env, raw, err = c.Next(ctx)
	if err != nil || env.Ref != "d1" || !strings.Contains(string(raw), protocol.CodeUnknownType) {
		t.Fatalf("after unknown type Next = %+v %s %v", env, raw, err)
	}
	big := `{"type":"ping","pad":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`
	if err := c.Send([]byte(big)); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Next(ctx)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseFrameTooLarge {
		t.Fatalf("after oversized frame Next err = %v, want close %d", err, protocol.CloseFrameTooLarge)
	}
	<-c.Done()
	if c.Err() == nil {
		t.Fatal("Err() is nil after the server closed")
	}
	if _, err := c.ListCharacters(ctx); err == nil {
		t.Fatal("ListCharacters on a closed connection succeeded")
	}
}

func TestCloseEndsCalls(t *testing.T) {
	_, c := connect(t, fakegw.Options{})
	ctx := testCtx(t)
	errc := make(chan error, 1)
	go func() { _, _, err := c.Next(ctx); errc <- err }()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-errc; err == nil || ctx.Err() != nil {
		t.Fatalf("Next during Close returned %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}

func TestContextCancelDuringRequest(t *testing.T) {
	_, c := connect(t, fakegw.Options{DeltaDelay: 200 * time.Millisecond})
	op := openFirst(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Say(ctx, op.ConversationID, "slow please", nil)
	var ae *chatclient.AckedError
	if !errors.As(err, &ae) || ae.MessageID == "" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Say with a short deadline: %v", err)
	}
	// The reply still arrives and can be collected.
	done, err := c.Await(testCtx(t), ae.MessageID, nil)
	if err != nil || done.Message.ReplyTo != ae.MessageID {
		t.Fatalf("Await after a cancelled Say: %+v %v", done, err)
	}
}
