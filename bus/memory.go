package bus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Memory is a Bus inside one process, for unit tests: the same subjects,
// wildcards, queue groups, no-responder answers, deduplicated streams,
// work-queue redelivery and expiring key-value entries as NATS, kept in
// memory. Every role given the same *Memory talks to the others as over
// one NATS server. Its zero value is not usable; call NewMemory.
type Memory struct {
	mu      sync.Mutex
	subs    map[*memSub]struct{}
	streams map[string]*memStream
	buckets map[string]*memKV
	inboxes atomic.Uint64
}

var _ Bus = (*Memory)(nil)

// memoryMaxPayload matches what the embedded NATS server carries.
const memoryMaxPayload = 1 << 20

// NewMemory returns an empty in-memory bus.
func NewMemory() *Memory {
	return &Memory{subs: map[*memSub]struct{}{}, streams: map[string]*memStream{}, buckets: map[string]*memKV{}}
}

// subjectMatches reports whether subject falls under pattern, where "*"
// stands for one token and a final ">" for one or more.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" && i == len(p)-1 {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func validSubject(subject string) error {
	if subject == "" || strings.ContainsAny(subject, " \t\r\n") || strings.Contains(subject, "..") ||
		strings.HasPrefix(subject, ".") || strings.HasSuffix(subject, ".") {
		return fmt.Errorf("bus: invalid subject %q", subject)
	}
	return nil
}

// memSub delivers to its handler on its own goroutine, in order, as a
// NATS subscription does; its queue has no bound.
type memSub struct {
	bus     *Memory
	subject string
	queue   string
	h       Handler

	mu      sync.Mutex
	cond    *sync.Cond
	pending []Msg
	closed  bool
}

func (s *memSub) deliverLoop() {
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.closed {
			s.cond.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			return
		}
		m := s.pending[0]
		s.pending = s.pending[1:]
		s.mu.Unlock()
		s.h(m)
	}
}

func (s *memSub) push(m Msg) {
	s.mu.Lock()
	if !s.closed {
		s.pending = append(s.pending, m)
		s.cond.Signal()
	}
	s.mu.Unlock()
}

func (s *memSub) Unsubscribe() error {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.mu.Lock()
	s.closed, s.pending = true, nil
	s.cond.Signal()
	s.mu.Unlock()
	return nil
}

func (b *Memory) subscribe(subject, queue string, h Handler) (Subscription, error) {
	if err := validSubject(subject); err != nil {
		return nil, err
	}
	s := &memSub{bus: b, subject: subject, queue: queue, h: h}
	s.cond = sync.NewCond(&s.mu)
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.deliverLoop()
	return s, nil
}

func (b *Memory) Subscribe(subject string, h Handler) (Subscription, error) {
	return b.subscribe(subject, "", h)
}

func (b *Memory) QueueSubscribe(subject, queue string, h Handler) (Subscription, error) {
	if queue == "" {
		return nil, fmt.Errorf("bus: queue subscription to %s without a queue name", subject)
	}
	return b.subscribe(subject, queue, h)
}

// route hands m to every plain subscriber of its subject and to one member
// of each queue group; it reports whether anybody got it.
func (b *Memory) route(m Msg) bool {
	b.mu.Lock()
	var plain []*memSub
	groups := map[string][]*memSub{}
	for s := range b.subs {
		if !subjectMatches(s.subject, m.Subject) {
			continue
		}
		if s.queue == "" {
			plain = append(plain, s)
		} else {
			groups[s.queue] = append(groups[s.queue], s)
		}
	}
	b.mu.Unlock()
	for _, s := range plain {
		s.push(m)
	}
	for _, members := range groups {
		members[rand.IntN(len(members))].push(m)
	}
	return len(plain) > 0 || len(groups) > 0
}

func (b *Memory) Publish(subject string, data []byte) error {
	return b.PublishRequest(subject, "", data)
}

func (b *Memory) PublishRequest(subject, reply string, data []byte) error {
	if err := validSubject(subject); err != nil {
		return err
	}
	if len(data) > memoryMaxPayload {
		return fmt.Errorf("bus: publish %s: %w", subject, ErrTooLarge)
	}
	if !b.route(Msg{Subject: subject, Reply: reply, Data: data}) && reply != "" {
		b.route(Msg{Subject: reply, NoResponders: true})
	}
	return nil
}

func (b *Memory) Request(ctx context.Context, subject string, data []byte) (Msg, error) {
	inbox := b.NewInbox()
	answers := make(chan Msg, 1)
	sub, err := b.Subscribe(inbox, func(m Msg) {
		select {
		case answers <- m:
		default:
		}
	})
	if err != nil {
		return Msg{}, err
	}
	defer sub.Unsubscribe()
	if err := b.PublishRequest(subject, inbox, data); err != nil {
		return Msg{}, err
	}
	select {
	case m := <-answers:
		if m.NoResponders {
			return Msg{}, fmt.Errorf("bus: request %s: %w", subject, ErrNoResponders)
		}
		return m, nil
	case <-ctx.Done():
		return Msg{}, fmt.Errorf("bus: request %s: %w", subject, ctx.Err())
	}
}

func (b *Memory) NewInbox() string {
	return "_INBOX.mem" + strconv.FormatUint(b.inboxes.Add(1), 10)
}

func (b *Memory) Flush(context.Context) error { return nil }
func (b *Memory) MaxPayload() int64           { return memoryMaxPayload }
func (b *Memory) Connected() bool             { return true }
