package worldsim_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine/openai"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/worldsim"
)

// countingBus counts, per line, how often the stream delivered it and how
// often the consumer said it is still in hand.
type countingBus struct {
	bus.Bus
	mu          sync.Mutex
	deliveries  map[string]int
	inProgress  map[string]int
	keptAliveCh chan string
	deliveredCh chan string
}

type countingDelivery struct {
	bus.Delivery
	b  *countingBus
	id string
}

func (d countingDelivery) InProgress() error {
	d.b.mu.Lock()
	d.b.inProgress[d.id]++
	d.b.mu.Unlock()
	select {
	case d.b.keptAliveCh <- d.id:
	default:
	}
	return d.Delivery.InProgress()
}

func (b *countingBus) Consume(ctx context.Context, stream string, cfg bus.ConsumerConfig, h func(bus.Delivery)) (<-chan struct{}, error) {
	return b.Bus.Consume(ctx, stream, cfg, func(d bus.Delivery) {
		var l protocol.PlayerLine
		_ = json.Unmarshal(d.Data(), &l)
		b.mu.Lock()
		b.deliveries[l.MessageID]++
		b.mu.Unlock()
		select {
		case b.deliveredCh <- l.MessageID:
		default:
		}
		h(countingDelivery{Delivery: d, b: b, id: l.MessageID})
	})
}

func (b *countingBus) counts(id string) (deliveries, inProgress int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deliveries[id], b.inProgress[id]
}

// A line queued behind a long reply is kept alive: the stream does not
// hand it out again however long the reply takes.
func TestQueuedLineIsKeptAliveBehindALongReply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	emb, st := testBed(t)
	char, conv := seedChat(ctx, t, st, "p1")
	llm := &stallingLLM{release: make(chan struct{})}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	watch := watchReplies(t, emb, conv.ID, log)
	nc, err := bus.Connect(emb.URL(), "worldsim", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cb := &countingBus{Bus: nc, deliveries: map[string]int{}, inProgress: map[string]int{}, keptAliveCh: make(chan string, 64), deliveredCh: make(chan string, 64)}
	ackWait := time.Second
	svc := &worldsim.ChatService{Store: st, Engine: openai.New(hs.URL), Bus: cb, Log: log, AckWait: ackWait, Config: worldsim.ChatConfig{MaxTokens: 32}}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	defer func() { stop(); <-done }()

	line := func(id, text string) protocol.PlayerLine {
		return protocol.PlayerLine{MessageID: id, ConversationID: conv.ID, PlayerID: "p1", CharacterID: char.ID, Text: text, AcceptedAt: time.Now().UTC()}
	}
	first, second := line("11111111-2222-4333-8444-0000000000b1", "first"), line("11111111-2222-4333-8444-0000000000b2", "second")
	publishLine(ctx, t, emb, first, log)
	select {
	case <-watch.firstDelta:
	case <-ctx.Done():
		t.Fatal("the first reply never started")
	}
	publishLine(ctx, t, emb, second, log)
	// Three keep-alives of the queued line span more than AckWait: had
	// it not been kept alive, the stream would have delivered it again.
	for {
		delivered, kept := cb.counts(second.MessageID)
		if delivered > 1 {
			t.Fatalf("the queued line was delivered %d times while it waited", delivered)
		}
		if kept >= 4 {
			break
		}
		select {
		case <-cb.keptAliveCh:
		case <-cb.deliveredCh:
		case <-ctx.Done():
			t.Fatalf("the queued line was kept alive %d times", kept)
		}
	}
	if n, _ := cb.counts(second.MessageID); n != 1 {
		t.Fatalf("the queued line was delivered %d times while it waited", n)
	}
	if n, _ := cb.counts(first.MessageID); n != 1 {
		t.Fatalf("the line being answered was delivered %d times", n)
	}
	close(llm.release)
	for _, want := range []string{first.MessageID, second.MessageID} {
		select {
		case ev := <-watch.completed:
			if ev.ReplyTo != want {
				t.Fatalf("reply to %s came before the reply to %s", ev.ReplyTo, want)
			}
		case <-ctx.Done():
			t.Fatal("the replies never came")
		}
	}
}
