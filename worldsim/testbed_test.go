package worldsim_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/bolt"
	"github.com/maopao/maopao/worldsim"
)

// testBed starts a real embedded NATS with JetStream and opens a real
// embedded store, both in a fresh folder and stopped when the test ends.
func testBed(t *testing.T) (*bus.Embedded, *bolt.Store) {
	t.Helper()
	dir := t.TempDir()
	emb, err := bus.StartEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	st, err := bolt.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return emb, st
}

// seedWorld stores the sample characters and a world holding them.
func seedWorld(ctx context.Context, t *testing.T, st *bolt.Store) ([]maopao.Character, maopao.World) {
	t.Helper()
	chars := characters.Samples()
	for _, c := range chars {
		if err := st.PutCharacter(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	w := testWorld(chars)
	if err := st.PutWorld(ctx, w); err != nil {
		t.Fatal(err)
	}
	return chars, w
}

// seedChat stores a character and a player with a conversation between
// them, as a gateway would have made it.
func seedChat(ctx context.Context, t *testing.T, st *bolt.Store, playerID string) (maopao.Character, maopao.Conversation) {
	t.Helper()
	char := characters.Samples()[2]
	if err := st.PutCharacter(ctx, char); err != nil {
		t.Fatal(err)
	}
	if err := st.PutPlayer(ctx, maopao.Player{ID: playerID, Name: "Ada", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	conv, err := st.OpenConversation(ctx, playerID, char.ID)
	if err != nil {
		t.Fatal(err)
	}
	return char, conv
}

// crashMidReply waits until world simulation A streams the first piece of
// a reply, crashes it (its connection drops without an ack or a nak, then
// its goroutines die), starts B, waits for the line to reach B (once A's
// ack deadline passed), lets the LLM finish and returns B's complete event.
func crashMidReply(ctx context.Context, t *testing.T, emb *bus.Embedded, st *bolt.Store, llm *stallingLLM, llmURL string,
	watch *replyWatch, log *slog.Logger, ncA *bus.NATS, stopA context.CancelFunc, doneA chan error) protocol.ReplyEvent {
	t.Helper()
	select {
	case <-watch.firstDelta:
	case <-ctx.Done():
		t.Fatal("world simulation A never started answering")
	}
	ncA.Close()
	stopA()
	<-doneA
	_, stopB, doneB := chatService(ctx, t, emb, st, llmURL, "worldsim-b", log)
	t.Cleanup(func() { stopB(); <-doneB })
	deadline := time.After(30 * time.Second)
	for llm.calls.Load() < 2 {
		select {
		case <-deadline:
			t.Fatal("the line was not redelivered to world simulation B")
		case <-time.After(50 * time.Millisecond):
		}
	}
	close(llm.release)
	select {
	case done := <-watch.completed:
		return done
	case <-ctx.Done():
		t.Fatal("no complete event from B")
	}
	return protocol.ReplyEvent{}
}

// replyWatch records a conversation's reply events on a bus connection of
// its own, as a gateway would see them.
type replyWatch struct {
	obs        *bus.NATS
	conv       string
	markers    chan struct{}
	firstDelta chan struct{}
	completed  chan protocol.ReplyEvent

	mu     sync.Mutex
	events []protocol.ReplyEvent
}

func watchReplies(t *testing.T, emb *bus.Embedded, conversationID string, log *slog.Logger) *replyWatch {
	t.Helper()
	obs, err := bus.Connect(emb.URL(), "observer", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(obs.Close)
	w := &replyWatch{obs: obs, conv: conversationID, markers: make(chan struct{}, 1),
		firstDelta: make(chan struct{}, 4), completed: make(chan protocol.ReplyEvent, 4)}
	_, err = obs.Subscribe(protocol.ChatOutputSubject(conversationID), func(m bus.Msg) {
		var ev protocol.ReplyEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("reply event %q: %v", m.Data, err)
			return
		}
		w.mu.Lock()
		w.events = append(w.events, ev)
		w.mu.Unlock()
		switch ev.Kind {
		case settledMarker:
			w.markers <- struct{}{}
			return
		case protocol.EventDelta:
			select {
			case w.firstDelta <- struct{}{}:
			default:
			}
		case protocol.EventComplete:
			w.completed <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// settledMarker is an event kind only tests publish.
const settledMarker = "test-settled"

// settle returns once nothing more can arrive for the conversation: every
// line is acknowledged (the input stream is empty, so nothing will be
// delivered again), and a marker published after that came back, so every
// event the world simulation published before its acks has arrived.
func (w *replyWatch) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	for {
		n, err := w.obs.Len(ctx, protocol.InputStream)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the input stream still holds %d lines", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	b, _ := json.Marshal(protocol.ReplyEvent{Kind: settledMarker, ConversationID: w.conv})
	if err := w.obs.Publish(protocol.ChatOutputSubject(w.conv), b); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.markers:
	case <-ctx.Done():
		t.Fatal("the marker never came back")
	}
}

// count is how many events of the kind arrived so far.
func (w *replyWatch) count(kind string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// chatService starts a world simulation's chat service named name on its
// own bus connection, answering through the OpenAI-compatible server at
// llmURL. Closing the returned connection and calling stop is a crash:
// nothing is acked or naked.
func chatService(ctx context.Context, t *testing.T, emb *bus.Embedded, st *bolt.Store, llmURL, name string, log *slog.Logger) (*bus.NATS, context.CancelFunc, chan error) {
	t.Helper()
	nc, err := bus.Connect(emb.URL(), name, log)
	if err != nil {
		t.Fatal(err)
	}
	svc := &worldsim.ChatService{Store: st, Engine: openai.New(llmURL), Bus: nc, Log: log, AckWait: 2 * time.Second,
		LeaseTTL: 3 * time.Second, ClaimEvery: 100 * time.Millisecond, MemoryWorkAfter: -1,
		Config: worldsim.ChatConfig{MaxTokens: 32}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	return nc, stop, done
}

// publishLine does the gateway's part: it puts a line into the input
// stream, and returns the bus connection it used.
func publishLine(ctx context.Context, t *testing.T, emb *bus.Embedded, line protocol.PlayerLine, log *slog.Logger) bus.Bus {
	t.Helper()
	gw, err := bus.Connect(emb.URL(), "gateway", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	if err := bus.DeclareStreams(ctx, gw); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(line)
	if _, err := gw.Append(ctx, protocol.ChatInputSubject(line.ConversationID), "", b); err != nil {
		t.Fatal(err)
	}
	return gw
}

// runWorlds gives svc its own bus connection and a recording log, runs it
// until the test ends, and returns its bus connection and log.
func runWorlds(ctx context.Context, t *testing.T, emb *bus.Embedded, svc *worldsim.WorldService) (bus.Bus, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	svc.Log = slog.New(rec)
	nc, err := bus.Connect(emb.URL(), "worldsim", svc.Log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	svc.Bus = nc
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	t.Cleanup(func() { stop(); <-done })
	return nc, rec
}

// waitLive waits for the first world to go live.
func waitLive(ctx context.Context, t *testing.T, rec *logRecorder) {
	t.Helper()
	for rec.count("world live") == 0 {
		if ctx.Err() != nil {
			t.Fatal("the world never went live")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
