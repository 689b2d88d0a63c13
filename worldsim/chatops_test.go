package worldsim

import (
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

func op(id, kind, target string) protocol.PlayerLine {
	l := line(id, "")
	l.Op, l.Target = kind, target
	return l
}

// answered is a state whose chat is: greeting, m1 "hello", its reply "hi".
func answered(t *testing.T) ChatState {
	t.Helper()
	s := newState()
	s.History = []maopao.Message{{ID: "g", ConversationID: "c1", Seq: 1, Role: maopao.RoleCharacter, Content: "Welcome.", Greeting: true,
		Swipes: []maopao.Swipe{{Text: "Welcome."}, {Text: "Hello there."}}}}
	s, _ = stepR(s, LineReceived{line("m1", "hello")})
	s, _ = stepR(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 2, Role: maopao.RoleUser, Content: "hello"}, Created: true})
	s, _ = stepR(s, Generated{ReplyTo: "m1", Text: "hi"})
	s, effs := stepR(s, MessageStored{Message: maopao.Message{ID: ReplyID("m1"), ConversationID: "c1", Seq: 3, Role: maopao.RoleCharacter, Content: "hi", ReplyTo: "m1"}, Created: true})
	expect(t, "reply stored", effs, "publish:complete memory ack")
	return s
}

func promptText(g Generate) string {
	var b strings.Builder
	for _, m := range g.Request.Messages {
		b.WriteString(m.Role + ": " + m.Content + "\n")
	}
	return b.String()
}

func TestRegenerateKeepsEverySwipe(t *testing.T) {
	s := answered(t)
	s, effs := stepR(s, LineReceived{op("r1", protocol.OpRegenerate, "")})
	expect(t, "regenerate", effs, "generate")
	g := effs[0].(Generate)
	if g.Target != ReplyID("m1") || g.ReplyTo != "m1" || g.Op != "r1" {
		t.Fatalf("generate %+v", g)
	}
	if p := promptText(g); strings.Contains(p, "assistant: hi") || !strings.HasSuffix(p, "user: hello\n") || !strings.Contains(p, "assistant: Welcome.") {
		t.Fatalf("the prompt must hold the greeting and the line, not the reply being replaced:\n%s", p)
	}
	s, effs = stepR(s, Generated{ReplyTo: "m1", Text: " hey "})
	expect(t, "second reply", effs, "UpdateMessage")
	m := effs[0].(UpdateMessage).Message
	if len(m.Swipes) != 2 || m.Swipes[0].Text != "hi" || m.Swipes[1].Text != "hey" || m.SwipeID != 1 || m.Content != "hey" || m.Swipes[1].Op != "r1" {
		t.Fatalf("swipes %+v", m)
	}
	s, effs = stepR(s, MessageUpdated{Message: m})
	expect(t, "updated", effs, "publish:complete ack")
	if s.History[len(s.History)-1].Content != "hey" {
		t.Fatal("history does not hold the chosen swipe")
	}

	// The next line's prompt carries the chosen alternative only.
	s, _ = stepR(s, LineReceived{line("m2", "and then?")})
	s, effs = stepR(s, MessageStored{Message: maopao.Message{ID: "m2", ConversationID: "c1", Seq: 4, Role: maopao.RoleUser, Content: "and then?"}, Created: true})
	p := promptText(effs[2].(Generate))
	if !strings.Contains(p, "assistant: hey") || strings.Contains(p, "assistant: hi\n") {
		t.Fatalf("prompt after a swipe:\n%s", p)
	}
	_ = s
}

func TestRegenerateRedeliveredAddsNoSecondSwipe(t *testing.T) {
	s := answered(t)
	reply := s.History[len(s.History)-1]
	reply.Swipes = []maopao.Swipe{{Text: "hi"}, {Text: "hey", Op: "r1"}}
	reply.SwipeID, reply.Content = 1, "hey"
	s.History[len(s.History)-1] = reply
	_, effs := stepR(s, LineReceived{op("r1", protocol.OpRegenerate, "")})
	expect(t, "redelivered regenerate", effs, "publish:complete ack")
}

func TestSwipeSelectsAndGeneratesPastTheEnd(t *testing.T) {
	s := answered(t)
	reply := s.History[len(s.History)-1]
	reply.Swipes = []maopao.Swipe{{Text: "hi"}, {Text: "hey"}}
	reply.SwipeID, reply.Content = 1, "hey"
	s.History[len(s.History)-1] = reply

	sw := op("s1", protocol.OpSwipe, reply.ID)
	sw.SwipeID = 0
	_, effs := stepR(s, LineReceived{sw})
	expect(t, "swipe left", effs, "UpdateMessage")
	if m := effs[0].(UpdateMessage).Message; m.Content != "hi" || m.SwipeID != 0 {
		t.Fatalf("swiped to %+v", m)
	}
	sw.SwipeID = 2
	_, effs = stepR(s, LineReceived{sw})
	expect(t, "swipe past the last", effs, "generate")
	sw.SwipeID = 3
	_, effs = stepR(s, LineReceived{sw})
	expect(t, "swipe too far", effs, "publish:error ack")
	if ev := effs[0].(Publish).Event; ev.Code != protocol.CodeNoAlternative {
		t.Fatalf("code %q", ev.Code)
	}
	// Only the last reply can be swiped.
	old := op("s2", protocol.OpSwipe, "g")
	_, effs = stepR(s, LineReceived{old})
	expect(t, "swipe an earlier message", effs, "publish:error ack")
}

func TestGreetingSwipesAreAlternateGreetings(t *testing.T) {
	s := newState()
	g := maopao.Message{ID: "g", ConversationID: "c1", Seq: 1, Role: maopao.RoleCharacter, Content: "Welcome.", Greeting: true,
		Swipes: []maopao.Swipe{{Text: "Welcome."}, {Text: "Hello there."}}}
	s.History = []maopao.Message{g}
	sw := op("s1", protocol.OpSwipe, "g")
	sw.SwipeID = 1
	_, effs := stepR(s, LineReceived{sw})
	expect(t, "greeting swipe", effs, "UpdateMessage")
	sw.SwipeID = 2
	_, effs = stepR(s, LineReceived{sw})
	expect(t, "past the last greeting", effs, "publish:error ack")
	_, effs = stepR(s, LineReceived{op("r1", protocol.OpRegenerate, "")})
	expect(t, "regenerate a greeting", effs, "publish:error ack")
}

func TestEditDeleteRewindFork(t *testing.T) {
	s := answered(t)
	ed := op("e1", protocol.OpEdit, "m1")
	ed.Text = "hello again"
	s2, effs := stepR(s, LineReceived{ed})
	// The line's memory says what it says now.
	expect(t, "edit", effs, "UpdateMessage Forget remember:said")
	if f, r := effs[1].(Forget), effs[2].(Remember); f.ID != SaidMemoryID("m1") || r.Memory.ID != f.ID || r.Memory.Text != "Ada said: hello again" {
		t.Fatalf("memory after edit: forget %+v, remember %+v", f, r.Memory)
	}
	m := effs[0].(UpdateMessage).Message
	if m.Content != "hello again" || len(m.Edits) != 1 || m.Edits[0].Text != "hello" {
		t.Fatalf("edited %+v", m)
	}
	s2, effs = stepR(s2, MessageUpdated{Message: m})
	expect(t, "edited", effs, "publish:updated ack")
	// Edit + regenerate: the edited line is answered again.
	_, effs = stepR(s2, LineReceived{op("r1", protocol.OpRegenerate, "")})
	if p := promptText(effs[0].(Generate)); !strings.HasSuffix(p, "user: hello again\n") {
		t.Fatalf("prompt after edit:\n%s", p)
	}

	// A deleted line is forgotten as said.
	_, effs = stepR(s, LineReceived{op("d0", protocol.OpDelete, "m1")})
	expect(t, "delete a line", effs, "UpdateMessage Forget")
	if f := effs[1].(Forget); f.ID != SaidMemoryID("m1") {
		t.Fatalf("delete forgets %q", f.ID)
	}
	_, effs = stepR(s, LineReceived{op("d1", protocol.OpDelete, ReplyID("m1"))})
	expect(t, "delete", effs, "UpdateMessage")
	del := effs[0].(UpdateMessage).Message
	if !del.Deleted {
		t.Fatal("delete did not mark the message deleted")
	}
	s3, _ := stepR(s, LineReceived{op("d1", protocol.OpDelete, ReplyID("m1"))})
	s3, effs = stepR(s3, MessageUpdated{Message: del})
	expect(t, "deleted", effs, "publish:updated ack")
	if _, ok := inHistory(s3, del.ID); ok {
		t.Fatal("a deleted message stays in the history")
	}
	// With its reply deleted, regenerate answers the line anew.
	_, effs = stepR(s3, LineReceived{op("r2", protocol.OpRegenerate, "")})
	if g := effs[0].(Generate); g.Target != "" || g.ReplyTo != "m1" || g.ReplyID != ReplyID("r2") {
		t.Fatalf("regenerate after delete: %+v", g)
	}

	_, effs = stepR(s, LineReceived{op("w1", protocol.OpRewind, "g")})
	expect(t, "rewind", effs, "Rewind")
	// Not in the window: the actor reads it first.
	_, effs = stepR(s, LineReceived{op("w2", protocol.OpRewind, "old-message")})
	expect(t, "rewind to an old message", effs, "LoadMessage")

	f := op("f1", protocol.OpFork, "m1")
	f.NewConversationID = "c2"
	s4, effs := stepR(s, LineReceived{f})
	expect(t, "fork", effs, "Fork")
	fk := effs[0].(Fork)
	if fk.Conversation.ID != "c2" || fk.Conversation.ForkOf.MessageID != "m1" || fk.UpTo.ID != "m1" || fk.Conversation.PlayerID != "p1" {
		t.Fatalf("fork %+v", fk)
	}
	_, effs = stepR(s4, Forked{Conversation: fk.Conversation})
	expect(t, "forked", effs, "publish:forked ack")
}

func TestRequestsWhileAReplyRunsAreRefused(t *testing.T) {
	s := newState()
	s, _ = stepR(s, LineReceived{line("m1", "hello")})
	_, effs := stepR(s, LineReceived{op("r1", protocol.OpRegenerate, "")})
	expect(t, "regenerate while busy", effs, "publish:error ack")
	if ev := effs[0].(Publish).Event; ev.Code != protocol.CodeBusy || ev.ReplyTo != "r1" {
		t.Fatalf("event %+v", ev)
	}
}

func TestStoppedReplyKeepsItsText(t *testing.T) {
	s := newState()
	s, _ = stepR(s, LineReceived{line("m1", "tell me a story")})
	s, _ = stepR(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "tell me a story"}, Created: true})
	s, effs := stepR(s, Generated{ReplyTo: "m1", Text: "Once upon", Stopped: true})
	expect(t, "stopped", effs, "store:character")
	m := effs[0].(StoreMessage).Message
	if m.Content != "Once upon" || m.Status != maopao.StatusStopped {
		t.Fatalf("stopped reply %+v", m)
	}
	m.Seq = 2
	_, effs = stepR(s, MessageStored{Message: m, Created: true})
	if ev := effs[0].(Publish).Event; ev.FinishReason != "stopped" {
		t.Fatalf("finish reason %q", ev.FinishReason)
	}
}

func TestRetryReplacesAFailedReply(t *testing.T) {
	s := newState()
	s, _ = stepR(s, LineReceived{line("m1", "hello")})
	s, _ = stepR(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "hello"}, Created: true})
	s, effs := stepR(s, Generated{ReplyTo: "m1", Code: protocol.CodeEngine, Err: "down"})
	failed := effs[0].(StoreMessage).Message
	failed.Seq = 2
	s, _ = stepR(s, MessageStored{Message: failed, Created: true})
	s, effs = stepR(s, LineReceived{op("r1", protocol.OpRegenerate, failed.ID)})
	expect(t, "retry", effs, "generate")
	s, effs = stepR(s, Generated{ReplyTo: "m1", Text: "hi!"})
	m := effs[0].(UpdateMessage).Message
	if m.Status != "" || m.Code != "" || m.Content != "hi!" || len(m.Swipes) != 0 {
		t.Fatalf("retried reply %+v", m)
	}
	_ = s
	_ = time.Second
}
