package worldsim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
)

// A regeneration caught by a crash is finished by the next world
// simulation: the reply ends with exactly one new alternative, and one
// complete event answers the request.
func TestRegenerateSurvivesWorldsimCrashAndAddsOneSwipe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, st := testBed(t)
	char, conv := seedChat(ctx, t, st, "p1")
	const lineID = "11111111-2222-4333-8444-000000000001"
	for _, m := range []maopao.Message{
		{ID: lineID, ConversationID: conv.ID, Role: maopao.RoleUser, Content: "Please explain primes."},
		{ID: worldsim.ReplyID(lineID), ConversationID: conv.ID, Role: maopao.RoleCharacter, Content: "A prime has two divisors.", ReplyTo: lineID},
	} {
		if _, _, err := st.AppendMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	llm := &stallingLLM{release: make(chan struct{})}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	watch := watchReplies(t, emb, conv.ID, log)

	ncA, stopA, doneA := chatService(ctx, t, emb, st, hs.URL, "worldsim-a", log)
	req := protocol.PlayerLine{MessageID: "11111111-2222-4333-8444-0000000000f1", ConversationID: conv.ID, PlayerID: "p1", CharacterID: char.ID,
		Op: protocol.OpRegenerate, AcceptedAt: time.Now().UTC()}
	publishLine(ctx, t, emb, req, log)
	done := crashMidReply(ctx, t, emb, st, llm, hs.URL, watch, log, ncA, stopA, doneA)
	if done.Request != req.MessageID || done.Message == nil || len(done.Message.Swipes) != 2 || done.Message.Content != "piece-of-call-2 done." {
		t.Fatalf("complete %+v", done)
	}
	watch.settle(ctx, t)
	reply, err := st.GetMessage(ctx, worldsim.ReplyID(lineID))
	if err != nil {
		t.Fatal(err)
	}
	if len(reply.Swipes) != 2 || reply.Swipes[0].Text != "A prime has two divisors." || reply.Swipes[1].Op != req.MessageID || reply.SwipeID != 1 {
		t.Fatalf("stored reply %+v", reply)
	}
	msgs, _ := st.RecentMessages(ctx, conv.ID, 0)
	if len(msgs) != 2 {
		t.Fatalf("%d messages stored, want the line and its reply", len(msgs))
	}
	if n := watch.count(protocol.EventComplete); n != 1 {
		t.Fatalf("%d complete events, want exactly 1", n)
	}
}
