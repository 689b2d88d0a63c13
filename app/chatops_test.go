package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/openai/openaitest"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/ferrettest"
)

func TestChatOperations(t *testing.T) {
	t.Run("embedded store", func(t *testing.T) { testChatOperations(t, "") })
	t.Run("MongoDB", func(t *testing.T) { testChatOperations(t, ferrettest.Start(t)) })
}

func testChatOperations(t *testing.T, mongoURI string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := openaitest.Start(t)
	hs := llm
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL, c.ModelPath, c.MongoURI = hs.URL, "", mongoURI
		c.LineBurst = 100      // the test asks quicker than a person
		c.MemoryWorkAfter = -1 // the checks read the reply prompts alone
	})
	defer srv.Close()
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wantInPrompt := func(step string, want, not []string) {
		t.Helper()
		p := llm.Last()
		for _, w := range want {
			if !strings.Contains(p, w) {
				t.Errorf("%s: the prompt lacks %q:\n%s", step, w, p)
			}
		}
		for _, w := range not {
			if strings.Contains(p, w) {
				t.Errorf("%s: the prompt holds %q:\n%s", step, w, p)
			}
		}
	}

	// Persona: the player says who they are.
	if _, err := c.SetPersona(ctx, protocol.Persona{Name: "Ada", Description: "Ada keeps the lighthouse on the cape."}, ""); err != nil {
		t.Fatal(err)
	}
	chars, err := c.ListCharacters(ctx)
	must(err)
	ch := chars[0]
	opened, err := c.OpenChat(ctx, ch.ID)
	must(err)
	conv := opened.ConversationID
	if len(opened.History) != 1 || !opened.History[0].Greeting || opened.Persona.Name != "Ada" {
		t.Fatalf("a new chat opens with its greeting and the persona: %+v", opened)
	}

	first, err := c.Say(ctx, conv, "I like green tea.", nil)
	must(err)
	wantInPrompt("first line", []string{"Ada keeps the lighthouse on the cape.", "assistant: " + opened.History[0].Content, "user: I like green tea."}, nil)

	// Regenerate: both replies are kept as swipes, the new one chosen.
	regen, err := c.Regenerate(ctx, conv, "", nil)
	must(err)
	if m := regen.Message; m.ID != first.Message.ID || len(m.Swipes) != 2 || m.Swipes[0] != first.Message.Content || m.SwipeID != 1 || m.Content != m.Swipes[1] {
		t.Fatalf("regenerated reply %+v, first was %q", m, first.Message.Content)
	}
	wantInPrompt("regenerate", []string{"user: I like green tea."}, []string{"assistant: " + first.Message.Content})
	// Swipe back to the first, then past the last: a third is generated.
	back, err := c.Swipe(ctx, conv, first.Message.ID, 0, nil)
	must(err)
	if back.Message.Content != first.Message.Content || back.Message.SwipeID != 0 {
		t.Fatalf("swipe 0 gave %+v", back.Message)
	}
	deltas := 0
	third, err := c.Swipe(ctx, conv, first.Message.ID, 2, func(protocol.Delta) { deltas++ })
	must(err)
	if len(third.Message.Swipes) != 3 || third.Message.SwipeID != 2 || deltas == 0 {
		t.Fatalf("swipe past the end gave %+v after %d deltas", third.Message, deltas)
	}
	if _, err := c.Swipe(ctx, conv, first.Message.ID, 7, nil); !chatclient.IsCode(err, protocol.CodeNoAlternative) {
		t.Fatalf("swipe to a missing alternative: %v", err)
	}
	chosen := third.Message.Content

	// The next prompt holds the chosen alternative only.
	second, err := c.Say(ctx, conv, "Tell me about the sea.", nil)
	must(err)
	wantInPrompt("after swipes", []string{"assistant: " + chosen}, []string{"assistant: " + regen.Message.Content, "assistant: " + first.Message.Content + "\n"})

	// Edit the player's first line and the character's last reply.
	edited, err := c.EditMessage(ctx, conv, first.Message.ReplyTo, "I like black coffee.")
	must(err)
	if !edited.Message.Edited || edited.Message.Content != "I like black coffee." {
		t.Fatalf("edited line %+v", edited.Message)
	}
	if _, err := c.EditMessage(ctx, conv, second.Message.ID, "The sea is grey today."); err != nil {
		t.Fatal(err)
	}
	// Delete the second line's reply... and regenerate answers it again.
	if _, err := c.DeleteMessage(ctx, conv, second.Message.ID); err != nil {
		t.Fatal(err)
	}
	again, err := c.Regenerate(ctx, conv, "", nil)
	must(err)
	if again.Message.ReplyTo != second.Message.ReplyTo || again.Message.ID == second.Message.ID {
		t.Fatalf("regenerate after deleting the reply: %+v", again.Message)
	}
	wantInPrompt("after edit and delete", []string{"user: I like black coffee.", "user: Tell me about the sea."},
		[]string{"I like green tea.", "The sea is grey today."})

	// Branch at the first reply, then rewind the original to it.
	fork, err := c.Fork(ctx, conv, first.Message.ID)
	must(err)
	branch, err := c.OpenChatByID(ctx, fork.NewConversationID)
	must(err)
	if len(branch.History) != 3 || branch.History[2].Content != chosen || branch.Chat.ForkOf != conv {
		t.Fatalf("branch history %+v (chat %+v)", branch.History, branch.Chat)
	}
	rw, err := c.Rewind(ctx, conv, first.Message.ID)
	must(err)
	if !rw.Rewound {
		t.Fatal("rewind did not say rewound")
	}
	reopened, err := c.OpenChatByID(ctx, conv)
	must(err)
	if n := len(reopened.History); n != 3 || reopened.History[n-1].ID != first.Message.ID {
		t.Fatalf("history after rewind: %+v", reopened.History)
	}
	_, err = c.Say(ctx, conv, "Where were we?", nil)
	must(err)
	wantInPrompt("after rewind", []string{"user: Where were we?"}, []string{"Tell me about the sea."})

	// Stop a reply mid-way: what was written is kept, marked stopped.
	stopped := make(chan chatclient.RequestResult, 1)
	errs := make(chan error, 1)
	gotDelta := make(chan struct{}, 100)
	go func() {
		r, err := c.Say(ctx, conv, "Tell me a SLOW story.", func(protocol.Delta) { gotDelta <- struct{}{} })
		if err != nil {
			errs <- err
			return
		}
		stopped <- chatclient.RequestResult{Message: r.Message, FinishReason: r.FinishReason}
	}()
	select {
	case <-gotDelta:
	case err := <-errs:
		t.Fatal(err)
	}
	stopper := dial(t, ctx, srv, token)
	if _, err := stopper.OpenChatByID(ctx, conv); err != nil {
		t.Fatal(err)
	}
	// Changing the chat while a reply is written is refused.
	if _, err := stopper.Regenerate(ctx, conv, "", nil); !chatclient.IsCode(err, protocol.CodeBusy) {
		t.Fatalf("regenerate while a reply is written: %v, want busy", err)
	}
	must(stopper.Stop(ctx, conv))
	select {
	case r := <-stopped:
		if r.FinishReason != "stopped" || r.Message.Status != "stopped" || !strings.HasPrefix(r.Message.Content, "word0") {
			t.Fatalf("stopped reply %+v (%s)", r.Message, r.FinishReason)
		}
	case err := <-errs:
		t.Fatal(err)
	}

	// A failure: a plain message, stored, and retryable after a reload.
	_, err = c.Say(ctx, conv, "Please FAIL now.", nil)
	var fe *chatclient.FrameError
	if !chatclientAs(err, &fe) || fe.Code != protocol.CodeEngine || strings.Contains(fe.Message, hs.URL) || strings.Contains(fe.Message, "500") {
		t.Fatalf("a failed reply gave %v; want engine_error with a plain message", err)
	}
	reloaded, err := c.OpenChatByID(ctx, conv)
	must(err)
	failedReply := reloaded.History[len(reloaded.History)-1]
	if failedReply.Status != "failed" || len(reloaded.Pending) != 0 {
		t.Fatalf("after a reload the failure is %+v (pending %v)", failedReply, reloaded.Pending)
	}
	retried, err := c.Regenerate(ctx, conv, failedReply.ID, nil)
	must(err)
	if retried.Message.ID != failedReply.ID || retried.Message.Status != "" || !strings.HasPrefix(retried.Message.Content, "reply ") {
		t.Fatalf("retry gave %+v", retried.Message)
	}

	// A persona for this chat only reaches this chat's prompts.
	if _, err := c.SetPersona(ctx, protocol.Persona{Name: "Grace", Description: "Grace charts the stars."}, conv); err != nil {
		t.Fatal(err)
	}
	_, err = c.Say(ctx, conv, "Who am I?", nil)
	must(err)
	wantInPrompt("a chat's own persona", []string{"Grace charts the stars."}, []string{"Ada keeps the lighthouse"})

	// Many chats: new, list, rename, delete.
	fresh, err := c.NewChat(ctx, ch.ID)
	must(err)
	if fresh.ConversationID == conv || len(fresh.History) != 1 {
		t.Fatalf("new chat %+v", fresh)
	}
	list, err := c.ListChats(ctx, ch.ID)
	must(err)
	if len(list) != 3 || list[0].ID != fresh.ConversationID {
		t.Fatalf("chats %+v", list)
	}
	renamed, err := c.RenameChat(ctx, conv, "Lighthouse talk")
	must(err)
	if renamed.Title != "Lighthouse talk" {
		t.Fatalf("renamed %+v", renamed)
	}
	must(c.DeleteChat(ctx, fork.NewConversationID))
	if _, err := c.OpenChatByID(ctx, fork.NewConversationID); !chatclient.IsCode(err, protocol.CodeUnknownChat) {
		t.Fatalf("open a deleted chat: %v", err)
	}
	// Opening the character without a chat id continues the most recent.
	cont, err := c.OpenChat(ctx, ch.ID)
	must(err)
	if cont.ConversationID != fresh.ConversationID {
		t.Fatalf("open_chat continued %s, want the newest chat (%s)", cont.ConversationID, fresh.ConversationID)
	}

	// Someone else's chat is unknown to them; requests need an open chat.
	other, _, err := chatclient.NewSession(ctx, srv.URL(), "Mallory")
	must(err)
	m := dial(t, ctx, srv, other)
	if _, err := m.OpenChatByID(ctx, conv); !chatclient.IsCode(err, protocol.CodeUnknownChat) {
		t.Fatalf("another player opened the chat: %v", err)
	}
	if _, err := m.EditMessage(ctx, conv, first.Message.ID, "mine now"); !chatclient.IsCode(err, protocol.CodeUnknownChat) {
		t.Fatalf("another player edited the chat: %v", err)
	}
}

func chatclientAs(err error, fe **chatclient.FrameError) bool {
	for err != nil {
		if e, ok := err.(*chatclient.FrameError); ok {
			*fe = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
