package worldsim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/bolt"
	"github.com/maopao/maopao/worldsim"
)

// echoEngine answers at once with the last line of the prompt.
type echoEngine struct{}

func (echoEngine) Generate(ctx context.Context, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	last := ""
	if n := len(req.Messages); n > 0 {
		last = req.Messages[n-1].Content
	}
	text := "heard: " + last
	if err := onToken(engine.Token{Text: text}); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{Text: text, FinishReason: "stop"}, nil
}
func (echoEngine) CountTokens(text string) int { return len(text)/4 + 1 }
func (echoEngine) ContextSize() int            { return 8192 }
func (echoEngine) Describe() string            { return "echo test engine" }

type chatProcess struct {
	svc     *worldsim.ChatService
	nc      *bus.NATS
	stop    context.CancelFunc
	done    chan error
	stopped sync.Once
	err     error
}

// wait returns Run's result once it returned.
func (p *chatProcess) wait() error {
	p.stopped.Do(func() { p.err = <-p.done })
	return p.err
}

func startChatProcess(ctx context.Context, t *testing.T, emb *bus.Embedded, st *bolt.Store, name string) *chatProcess {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, err := bus.Connect(emb.URL(), name, log)
	if err != nil {
		t.Fatal(err)
	}
	svc := &worldsim.ChatService{Store: st, Engine: echoEngine{}, Bus: nc, Log: log, Owner: name,
		AckWait: time.Second, LeaseTTL: 2 * time.Second, ClaimEvery: 100 * time.Millisecond, Config: worldsim.ChatConfig{MaxTokens: 16}}
	rctx, stop := context.WithCancel(ctx)
	p := &chatProcess{svc: svc, nc: nc, stop: stop, done: make(chan error, 1)}
	go func() { p.done <- svc.Run(rctx) }()
	t.Cleanup(func() { stop(); _ = p.wait(); nc.Close() })
	return p
}

// waitPartitions waits until the processes own every partition between
// them, each its own, and returns how many each has.
func waitPartitions(ctx context.Context, t *testing.T, procs ...*chatProcess) []int {
	t.Helper()
	for {
		seen := map[int]int{}
		var counts []int
		for _, p := range procs {
			parts := p.svc.Partitions()
			counts = append(counts, len(parts))
			for _, n := range parts {
				seen[n]++
			}
		}
		whole := len(seen) == protocol.ChatPartitions
		for _, c := range seen {
			whole = whole && c == 1
		}
		if whole && !slices.Contains(counts, 0) {
			return counts
		}
		if ctx.Err() != nil {
			t.Fatalf("the partitions never settled: %v", counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestChatPartitionsAreSharedAndMoveWhenProcessesComeAndGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	a := startChatProcess(ctx, t, emb, st, "a")
	if n := waitPartitions(ctx, t, a); n[0] != protocol.ChatPartitions {
		t.Fatalf("one process holds %d partitions", n[0])
	}
	b := startChatProcess(ctx, t, emb, st, "b")
	counts := waitPartitions(ctx, t, a, b)
	if counts[0] < 8 || counts[1] < 8 {
		t.Fatalf("two processes split the partitions %v", counts)
	}
	// A graceful stop hands b's share to a at once (no lease to lapse).
	stoppedAt := time.Now()
	b.stop()
	if err := b.wait(); err != nil {
		t.Fatal(err)
	}
	waitPartitions(ctx, t, a)
	// A hand-over waits 1.5×AckWait (1.5s here) for lines in flight to
	// the old owner; a lapse would take LeaseTTL (2s) more on top.
	if d := time.Since(stoppedAt); d > 3*time.Second {
		t.Errorf("a took b's partitions %v after b stopped; a hand-over should not wait for leases to lapse", d)
	}
	t.Logf("graceful hand-over of %d partitions took %v", counts[1], time.Since(stoppedAt))
}

// Lines of many conversations keep flowing while processes join, leave and
// crash: every line is stored once, in order, and answered once.
func TestChatLinesStayInOrderAndOnceWhileProcessesComeAndGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, st := testBed(t)
	const players, lines = 12, 12
	var convs []maopao.Conversation
	var char maopao.Character
	for i := range players {
		var conv maopao.Conversation
		char, conv = seedChat(ctx, t, st, fmt.Sprintf("p%d", i))
		convs = append(convs, conv)
	}
	a := startChatProcess(ctx, t, emb, st, "a")
	b := startChatProcess(ctx, t, emb, st, "b")
	waitPartitions(ctx, t, a, b)
	gw, err := bus.Connect(emb.URL(), "gateway", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()

	var crashed time.Time
	var held []int
	faults := map[int]func(){
		3: func() { startChatProcess(ctx, t, emb, st, "c") },                                  // joins
		6: func() { b.stop(); _ = b.wait() },                                                  // leaves
		9: func() { held = a.svc.Partitions(); crashed = time.Now(); a.nc.Close(); a.stop() }, // crashes
	}
	for i := 1; i <= lines; i++ {
		for _, conv := range convs {
			line := protocol.PlayerLine{MessageID: uuid.NewString(), ConversationID: conv.ID, PlayerID: conv.PlayerID, CharacterID: char.ID,
				Text: fmt.Sprintf("line %02d", i), AcceptedAt: time.Now().UTC()}
			if _, err := gw.Append(ctx, protocol.ChatInputSubject(conv.ID), line.MessageID, mustJSON(t, line)); err != nil {
				t.Fatal(err)
			}
		}
		if f := faults[i]; f != nil {
			f()
		}
		time.Sleep(30 * time.Millisecond)
	}

	defer func() {
		t.Logf("every line answered %v after a crash of the owner of %d partitions", time.Since(crashed), len(held))
	}()
	for _, conv := range convs {
		for {
			msgs, err := st.RecentMessages(ctx, conv.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) >= 2*lines {
				checkConversation(t, conv.ID, msgs, lines)
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("conversation %s has %d of %d messages", conv.ID, len(msgs), 2*lines)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// checkConversation: the player's lines in the order sent, each followed
// by its one reply.
func checkConversation(t *testing.T, conv string, msgs []maopao.Message, lines int) {
	t.Helper()
	if len(msgs) != 2*lines {
		t.Fatalf("conversation %s: %d messages, want %d (each line and its reply once)", conv, len(msgs), 2*lines)
	}
	for i := 0; i < len(msgs); i += 2 {
		line, reply := msgs[i], msgs[i+1]
		want := fmt.Sprintf("line %02d", i/2+1)
		if line.Role != maopao.RoleUser || line.Content != want {
			var got []string
			for _, m := range msgs {
				if m.Role == maopao.RoleUser {
					got = append(got, m.Content)
				}
			}
			t.Fatalf("conversation %s: message %d is %q (%s), want %q; lines in order: %s", conv, i, line.Content, line.Role, want, strings.Join(got, ", "))
		}
		if reply.Role != maopao.RoleCharacter || reply.ReplyTo != line.ID {
			var all []string
			for _, m := range msgs {
				all = append(all, fmt.Sprintf("%d %s %q id=%.8s reply_to=%.8s", m.Seq, m.Role, m.Content, m.ID, m.ReplyTo))
			}
			t.Fatalf("conversation %s: %q is not answered right after it:\n%s", conv, want, strings.Join(all, "\n"))
		}
	}
}
