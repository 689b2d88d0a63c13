package worldsim

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/protocol"
)

func newState() ChatState {
	return ChatState{
		Config:       ChatConfig{HistoryWindow: 6, ContextSize: 2048, MaxTokens: 64, CountTokens: func(s string) int { return len(s)/4 + 1 }},
		Conversation: maopao.Conversation{ID: "c1", PlayerID: "p1", CharacterID: characters.Samples()[0].ID},
		Character:    characters.Samples()[0],
		PlayerName:   "Ada",
		Memory:       maopao.Memory{PlayerID: "p1", CharacterID: characters.Samples()[0].ID},
	}
}

func line(id, text string) protocol.PlayerLine {
	return protocol.PlayerLine{MessageID: id, ConversationID: "c1", PlayerID: "p1", Text: text, AcceptedAt: time.Unix(1700000000, 0).UTC()}
}

// kinds names the effects, for compact expectations.
func kinds(effs []Effect) string {
	var out []string
	for _, e := range effs {
		switch e := e.(type) {
		case StoreMessage:
			out = append(out, "store:"+string(e.Message.Role))
		case LookupReply:
			out = append(out, "lookup")
		case Generate:
			out = append(out, "generate")
		case Publish:
			out = append(out, "publish:"+e.Event.Kind)
		case Ack:
			out = append(out, "ack")
		case Nak:
			out = append(out, "nak")
		case SaveMemory:
			out = append(out, "memory")
		case Remember:
			out = append(out, "remember:"+e.Memory.Kind)
		case Recall:
			out = append(out, "recall")
		default:
			out = append(out, strings.TrimPrefix(fmt.Sprintf("%T", e), "worldsim."))
		}
	}
	return strings.Join(out, " ")
}

// recallFor answers a Recall effect with mems and returns the Generate the
// actor then starts (the prompt is built once memories are in).
func recallFor(t *testing.T, s ChatState, mems ...maopao.ChatMemory) (ChatState, Generate) {
	t.Helper()
	s, effs := Step(s, Recalled{Memories: mems})
	if len(effs) == 0 {
		t.Fatal("no effects after Recalled")
	}
	g, ok := effs[len(effs)-1].(Generate)
	if !ok {
		t.Fatalf("after Recalled: effects %q, want a generate last", kinds(effs))
	}
	return s, g
}

// rememberedOf returns the memories the effects store.
func rememberedOf(effs []Effect) []maopao.ChatMemory {
	var out []maopao.ChatMemory
	for _, e := range effs {
		if r, ok := e.(Remember); ok {
			out = append(out, r.Memory)
		}
	}
	return out
}

func expect(t *testing.T, step string, effs []Effect, want string) {
	t.Helper()
	if got := kinds(effs); got != want {
		t.Fatalf("%s: effects %q, want %q", step, got, want)
	}
}

func TestStepAnswersALine(t *testing.T) {
	s := newState()
	s, effs := Step(s, LineReceived{line("m1", "Hi, my name is Ada.")})
	expect(t, "line", effs, "store:user")
	user := effs[0].(StoreMessage).Message
	user.Seq = 1
	s, effs = Step(s, MessageStored{Message: user, Created: true})
	expect(t, "user stored", effs, "publish:stored remember:said remember:fact recall")
	mems := rememberedOf(effs)
	if mems[1].Text != "Their name is Ada." || mems[0].Text != "Ada said: Hi, my name is Ada." || mems[0].Source != "m1" {
		t.Fatalf("memories of the line %+v", mems)
	}
	// The runner recalls what the store has, the new memories among them.
	s, gen := recallFor(t, s, mems...)
	if gen.ReplyID != ReplyID("m1") || gen.Request.MaxTokens != 64 {
		t.Fatalf("generate %+v", gen)
	}
	sys := gen.Request.Messages[0].Content
	if !strings.Contains(sys, "Their name is Ada.") || !strings.Contains(sys, s.Character.Description) {
		t.Fatalf("prompt lacks memory or persona:\n%s", sys)
	}
	if strings.Contains(sys, "Ada said: Hi") {
		t.Fatalf("a line still in the history is recalled too:\n%s", sys)
	}
	if last := gen.Request.Messages[len(gen.Request.Messages)-1]; last.Content != "Hi, my name is Ada." {
		t.Fatalf("prompt ends with %+v", last)
	}
	s, effs = Step(s, Generated{ReplyTo: "m1", Text: "  Hello Ada!  ", FinishReason: "stop"})
	expect(t, "generated", effs, "store:character")
	reply := effs[0].(StoreMessage).Message
	if reply.ID != ReplyID("m1") || reply.ReplyTo != "m1" || reply.Content != "Hello Ada!" {
		t.Fatalf("reply %+v", reply)
	}
	reply.Seq = 2
	s, effs = Step(s, MessageStored{Message: reply, Created: true})
	expect(t, "reply stored", effs, "publish:complete memory ack")
	if s.InFlight != "" || len(s.History) != 2 {
		t.Fatalf("state after reply: inflight %q, history %d", s.InFlight, len(s.History))
	}
}

func TestStepQueuesAndIgnoresDuplicates(t *testing.T) {
	s := newState()
	s, _ = Step(s, LineReceived{line("m1", "one")})
	s, effs := Step(s, LineReceived{line("m2", "two")})
	expect(t, "second line while busy", effs, "")
	s, effs = Step(s, LineReceived{line("m1", "one")})
	expect(t, "redelivery of the in-flight line", effs, "")
	s, effs = Step(s, LineReceived{line("m2", "two")})
	expect(t, "redelivery of a queued line", effs, "")
	s, _ = Step(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "one"}, Created: true})
	s, _ = recallFor(t, s)
	s, _ = Step(s, Generated{ReplyTo: "m1", Text: "r1"})
	s, effs = Step(s, MessageStored{Message: maopao.Message{ID: ReplyID("m1"), ConversationID: "c1", Seq: 2, Role: maopao.RoleCharacter, Content: "r1", ReplyTo: "m1"}, Created: true})
	expect(t, "reply to m1 stored", effs, "publish:complete memory ack store:user")
	if s.InFlight != "m2" {
		t.Fatalf("next in flight %q, want m2", s.InFlight)
	}
}

func TestStepRedeliveryAfterCrashAnswersOnce(t *testing.T) {
	s := newState()
	s, _ = Step(s, LineReceived{line("m1", "hello")})
	// The store already had the line: a previous process got this far.
	s, effs := Step(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "hello"}, Created: false})
	expect(t, "line already stored", effs, "publish:stored remember:said lookup")
	stored := maopao.Message{ID: ReplyID("m1"), ConversationID: "c1", Seq: 2, Role: maopao.RoleCharacter, Content: "hi", ReplyTo: "m1"}
	_, effs = Step(s, ReplyLookedUp{ReplyTo: "m1", Reply: &stored})
	expect(t, "reply already stored", effs, "publish:complete memory ack")
	// Without a stored reply it generates (recalling first).
	s, effs = Step(s, ReplyLookedUp{ReplyTo: "m1"})
	expect(t, "no reply stored", effs, "recall")
	recallFor(t, s)
}

func TestStepFailures(t *testing.T) {
	s := newState()
	s, _ = Step(s, LineReceived{line("m1", "hello")})
	s, _ = Step(s, MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "hello"}, Created: true})
	s, _ = recallFor(t, s)
	s2, effs := Step(s, Generated{ReplyTo: "m1", Retry: true})
	expect(t, "shutdown mid-generation", effs, "nak")
	if s2.InFlight != "" {
		t.Fatal("a handed-back line must not stay in flight")
	}
	s3, effs := Step(s, Generated{ReplyTo: "m1", Code: protocol.CodeEngine, Err: "the character could not answer"})
	expect(t, "engine failure", effs, "store:character")
	failed := effs[0].(StoreMessage).Message
	if failed.ID != ReplyID("m1") || failed.Status != maopao.StatusFailed || failed.Code != protocol.CodeEngine || failed.Content != "" {
		t.Fatalf("failure stored as %+v", failed)
	}
	failed.Seq = 2
	_, effs = Step(s3, MessageStored{Message: failed, Created: true})
	expect(t, "failure stored", effs, "publish:error ack")
	if ev := effs[0].(Publish).Event; ev.Code != protocol.CodeEngine || ev.ReplyTo != "m1" || ev.Text != "the character could not answer" || ev.Message == nil {
		t.Fatalf("failure event %+v", ev)
	}
	_, effs = Step(s, Generated{ReplyTo: "other", Text: "stale"})
	expect(t, "stale result", effs, "")
}

// The character's lines that leave the window are folded into the
// summary; the player's live on as memories (which they can forget), not
// in the summary.
func TestHistoryWindowFoldsIntoSummary(t *testing.T) {
	s := newState()
	seq := int64(0)
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("m%d", i)
		s, _ = Step(s, LineReceived{line(id, fmt.Sprintf("line %d", i))})
		seq++
		s, _ = Step(s, MessageStored{Message: maopao.Message{ID: id, ConversationID: "c1", Seq: seq, Role: maopao.RoleUser, Content: fmt.Sprintf("line %d", i)}, Created: true})
		s, _ = recallFor(t, s)
		s, _ = Step(s, Generated{ReplyTo: id, Text: fmt.Sprintf("reply %d", i)})
		seq++
		s, _ = Step(s, MessageStored{Message: maopao.Message{ID: ReplyID(id), ConversationID: "c1", Seq: seq, Role: maopao.RoleCharacter, Content: fmt.Sprintf("reply %d", i), ReplyTo: id}, Created: true})
	}
	if len(s.History) != 6 || s.History[0].Seq != 5 {
		t.Fatalf("history window: %d messages from seq %d", len(s.History), s.History[0].Seq)
	}
	want := "Lin Xiaoyu: reply 1\nLin Xiaoyu: reply 2"
	if s.Memory.Summary != want || s.Memory.SummarizedThrough != 4 {
		t.Fatalf("summary %q through %d", s.Memory.Summary, s.Memory.SummarizedThrough)
	}
}

func TestReplayIsDeterministic(t *testing.T) {
	inputs := []Input{
		LineReceived{line("m1", "I live in Hangzhou and I like jasmine tea")},
		MessageStored{Message: maopao.Message{ID: "m1", ConversationID: "c1", Seq: 1, Role: maopao.RoleUser, Content: "I live in Hangzhou and I like jasmine tea"}, Created: true},
		Recalled{Memories: []maopao.ChatMemory{{ID: "x", Kind: maopao.ChatMemoryFact, Text: "They like rain.", Importance: 5}}},
		LineReceived{line("m2", "again")},
		Generated{ReplyTo: "m1", Text: "Lovely."},
		MessageStored{Message: maopao.Message{ID: ReplyID("m1"), ConversationID: "c1", Seq: 2, Role: maopao.RoleCharacter, Content: "Lovely.", ReplyTo: "m1"}, Created: true},
	}
	run := func() (ChatState, [][]Effect) {
		s := newState()
		var all [][]Effect
		for _, in := range inputs {
			var effs []Effect
			s, effs = Step(s, in)
			all = append(all, effs)
		}
		s.Config.CountTokens = nil // functions never compare equal
		return s, all
	}
	s1, e1 := run()
	s2, e2 := run()
	if !reflect.DeepEqual(s1, s2) {
		t.Fatal("same inputs gave different states")
	}
	for i := range e1 {
		if !reflect.DeepEqual(e1[i], e2[i]) {
			t.Fatalf("same inputs gave different effects at step %d", i)
		}
	}
	var facts []string
	for _, m := range rememberedOf(e1[1]) {
		if m.Kind == maopao.ChatMemoryFact {
			facts = append(facts, m.Text)
		}
	}
	if got := strings.Join(facts, "|"); got != "They live in Hangzhou.|They like jasmine tea." {
		t.Fatalf("facts %q", got)
	}
}

func TestExtractFacts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"My name is Ada Lovelace.", []string{"Their name is Ada Lovelace."}},
		{"call me Bo", []string{"They like to be called Bo."}},
		{"I'm from Chengdu, and I love hotpot!", []string{"They are from Chengdu.", "They like hotpot."}},
		{"我叫小明，我喜欢猫", []string{"他们的名字是小明。", "他们喜欢猫。"}},
		{"what a nice day", nil},
	} {
		got := ExtractFacts(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ExtractFacts(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// stepR is Step, answering a Recall at the end of the effects at once
// (with no memories): the effects are those before the Recall and those
// after it.
func stepR(s ChatState, in Input) (ChatState, []Effect) {
	s, effs := Step(s, in)
	if n := len(effs); n > 0 {
		if _, ok := effs[n-1].(Recall); ok {
			s, more := Step(s, Recalled{})
			return s, append(effs[:n-1:n-1], more...)
		}
	}
	return s, effs
}
