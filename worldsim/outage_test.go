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

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
)

// downLLM refuses the first down calls with 503, as a restarting server
// does, then answers.
type downLLM struct {
	calls atomic.Int32
	down  int32
}

func (l *downLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.calls.Add(1) <= l.down {
		http.Error(w, "loading model", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Back again.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

func outageBed(t *testing.T, ctx context.Context, llm http.Handler, retryFor time.Duration) (*replyWatch, *sentLine) {
	t.Helper()
	emb, st := testBed(t)
	char, conv := seedChat(ctx, t, st, "p1")
	hs := httptest.NewServer(llm)
	t.Cleanup(hs.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	watch := watchReplies(t, emb, conv.ID, log)
	nc, err := bus.Connect(emb.URL(), "worldsim", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc := &worldsim.ChatService{Store: st, Engine: openai.New(hs.URL), Bus: nc, Log: log, EngineRetryFor: retryFor, MemoryWorkAfter: -1,
		Config: worldsim.ChatConfig{MaxTokens: 32}}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	line := protocol.PlayerLine{MessageID: "11111111-2222-4333-8444-0000000000a1", ConversationID: conv.ID, PlayerID: "p1", CharacterID: char.ID,
		Text: "Are you there?", AcceptedAt: time.Now().UTC()}
	publishLine(ctx, t, emb, line, log)
	return watch, &sentLine{line: line, st: st}
}

type sentLine struct {
	line protocol.PlayerLine
	st   interface {
		GetMessage(context.Context, string) (maopao.Message, error)
	}
}

// An engine that is down for a moment delays the reply; it does not lose
// it. The player hears each retry.
func TestShortEngineOutageIsRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	llm := &downLLM{down: 2}
	watch, l := outageBed(t, ctx, llm, time.Minute)
	var done protocol.ReplyEvent
	select {
	case done = <-watch.completed:
	case <-ctx.Done():
		t.Fatal("no reply after the engine came back")
	}
	if done.Message == nil || done.Message.Content != "Back again." || done.ReplyTo != l.line.MessageID {
		t.Fatalf("complete %+v", done)
	}
	watch.settle(ctx, t)
	if n := watch.count(protocol.EventRetrying); n != 2 {
		t.Fatalf("%d retrying events, want one per refused call (2)", n)
	}
	if n := watch.count(protocol.EventComplete); n != 1 {
		t.Fatalf("%d complete events, want 1", n)
	}
	if n := llm.calls.Load(); n != 3 {
		t.Fatalf("%d calls to the engine, want 3", n)
	}
}

// An outage longer than the retries leaves a stored failure the player can
// retry, never an accepted line without an answer.
func TestLongEngineOutageStoresARetryableFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	llm := &downLLM{down: 1 << 30}
	watch, l := outageBed(t, ctx, llm, 1500*time.Millisecond)
	watch.settle(ctx, t) // the line is acked: it has its answer
	reply, err := l.st.GetMessage(ctx, worldsim.ReplyID(l.line.MessageID))
	if err != nil {
		t.Fatalf("no stored reply for the line: %v", err)
	}
	if reply.Status != maopao.StatusFailed || reply.Code != protocol.CodeEngine {
		t.Fatalf("stored reply %+v, want a failure with code %s", reply, protocol.CodeEngine)
	}
	if n := watch.count(protocol.EventError); n != 1 {
		t.Fatalf("%d error events, want 1", n)
	}
	if n := watch.count(protocol.EventRetrying); n < 1 {
		t.Fatal("the failure came without a retry")
	}
}
