package worldsim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
)

// stallingLLM streams one piece and then waits until released (or until
// the client goes away), so a test can stop a world simulation mid-reply.
type stallingLLM struct {
	calls   atomic.Int32
	release chan struct{}
}

func (l *stallingLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := l.calls.Add(1)
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprintf(w, "data: {\"choices\":[{\"delta\":{\"content\":\"piece-of-call-%d \"}}]}\n\n", n)
	w.(http.Flusher).Flush()
	select {
	case <-l.release:
	case <-r.Context().Done():
		return
	}
	fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"done.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

func TestLineSurvivesWorldsimCrashAndIsAnsweredOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, st := testBed(t)
	char, conv := seedChat(ctx, t, st, "p1")

	llm := &stallingLLM{release: make(chan struct{})}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	watch := watchReplies(t, emb, conv.ID, log)

	ncA, stopA, doneA := chatService(ctx, t, emb, st, hs.URL, "worldsim-a", log)
	lineMsg := protocol.PlayerLine{MessageID: "11111111-2222-4333-8444-555555555555", ConversationID: conv.ID, PlayerID: "p1", CharacterID: char.ID, Text: "Please explain primes.", AcceptedAt: time.Now().UTC()}
	gjs := publishLine(ctx, t, emb, lineMsg, log)
	done := crashMidReply(ctx, t, emb, st, llm, hs.URL, watch, log, ncA, stopA, doneA)
	if done.MessageID != worldsim.ReplyID(lineMsg.MessageID) || done.Message.Content != "piece-of-call-2 done." {
		t.Fatalf("complete %+v", done)
	}
	// Exactly one answer is stored, and no second complete arrives.
	watch.settle(ctx, t)
	msgs, err := st.RecentMessages(ctx, conv.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].ID != lineMsg.MessageID || msgs[1].ReplyTo != lineMsg.MessageID {
		t.Fatalf("stored messages: %+v", msgs)
	}
	if n := watch.count(protocol.EventComplete); n != 1 {
		t.Fatalf("%d complete events, want exactly 1", n)
	}
	// The stream no longer holds the line: it was acked.
	if n, err := gjs.Len(ctx, protocol.InputStream); err != nil || n != 0 {
		t.Fatalf("input stream still holds %d messages after the answer (%v)", n, err)
	}
}
