package bus

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memStream is one stream of a Memory bus. Its lock is the bus's.
type memStream struct {
	cfg       StreamConfig
	entries   []memEntry // by sequence
	last      uint64
	dedup     map[string]memDedup
	consumers map[string]*memConsumer
	changed   chan struct{} // closed and replaced at every change
}

type memEntry struct {
	Entry
	at time.Time
}

type memDedup struct {
	seq uint64
	at  time.Time
}

// memConsumer is a durable work-queue consumer: which entries are out
// with a consumer (until when) and which were handed back (until when).
type memConsumer struct {
	cfg       ConsumerConfig
	delivered map[uint64]int       // how often each entry was handed out
	out       map[uint64]time.Time // delivered, unacknowledged: due again at
	backoff   map[uint64]time.Time // nak'd with a delay: not before
}

func (s *memStream) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memStream) takes(subject string) bool {
	for _, p := range s.cfg.Subjects {
		if subjectMatches(p, subject) {
			return true
		}
	}
	return false
}

func (b *Memory) DeclareStream(_ context.Context, cfg StreamConfig) error {
	if cfg.Name == "" || len(cfg.Subjects) == 0 {
		return fmt.Errorf("bus: stream needs a name and subjects")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for name, other := range b.streams {
		if name == cfg.Name {
			continue
		}
		for _, p := range cfg.Subjects {
			for _, q := range other.cfg.Subjects {
				if subjectMatches(p, q) || subjectMatches(q, p) {
					return fmt.Errorf("bus: stream %s: subjects overlap with stream %s", cfg.Name, name)
				}
			}
		}
	}
	if s := b.streams[cfg.Name]; s != nil {
		s.cfg = cfg
		return nil
	}
	b.streams[cfg.Name] = &memStream{cfg: cfg, dedup: map[string]memDedup{}, consumers: map[string]*memConsumer{}, changed: make(chan struct{})}
	return nil
}

func (b *Memory) Append(_ context.Context, subject, id string, data []byte) (uint64, error) {
	if err := validSubject(subject); err != nil {
		return 0, err
	}
	if len(data) > memoryMaxPayload {
		return 0, fmt.Errorf("bus: append to %s: %w", subject, ErrTooLarge)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var s *memStream
	for _, st := range b.streams {
		if st.takes(subject) {
			s = st
		}
	}
	if s == nil {
		return 0, fmt.Errorf("bus: append to %s: no stream takes the subject", subject)
	}
	now := time.Now()
	if id != "" {
		if d, ok := s.dedup[id]; ok && now.Sub(d.at) < s.cfg.Duplicates {
			return d.seq, nil
		}
	}
	s.last++
	s.entries = append(s.entries, memEntry{Entry: Entry{Seq: s.last, Subject: subject, Data: append([]byte(nil), data...)}, at: now})
	if id != "" {
		s.dedup[id] = memDedup{seq: s.last, at: now}
	}
	s.expire(now)
	s.notify()
	return s.last, nil
}

// expire drops entries past MaxAge and dedup ids past their window.
func (s *memStream) expire(now time.Time) {
	if s.cfg.MaxAge > 0 {
		i := 0
		for i < len(s.entries) && now.Sub(s.entries[i].at) > s.cfg.MaxAge {
			i++
		}
		s.entries = s.entries[i:]
	}
	for id, d := range s.dedup {
		if now.Sub(d.at) >= s.cfg.Duplicates {
			delete(s.dedup, id)
		}
	}
}

func (s *memStream) remove(seq uint64) {
	for i, e := range s.entries {
		if e.Seq == seq {
			s.entries = append(s.entries[:i:i], s.entries[i+1:]...)
			return
		}
	}
}

func (b *Memory) stream(name string) (*memStream, error) {
	s := b.streams[name]
	if s == nil {
		return nil, fmt.Errorf("bus: no stream %s", name)
	}
	return s, nil
}

func (b *Memory) Consume(ctx context.Context, stream string, cfg ConsumerConfig, h func(Delivery)) (<-chan struct{}, error) {
	if cfg.Durable == "" || cfg.AckWait <= 0 {
		return nil, fmt.Errorf("bus: consumer needs a durable name and an ack wait")
	}
	b.mu.Lock()
	s, err := b.stream(stream)
	if err != nil {
		b.mu.Unlock()
		return nil, err
	}
	c := s.consumers[cfg.Durable]
	if c == nil {
		c = &memConsumer{out: map[uint64]time.Time{}, backoff: map[uint64]time.Time{}, delivered: map[uint64]int{}}
		s.consumers[cfg.Durable] = c
	}
	c.cfg = cfg
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { defer close(done); b.consumeLoop(ctx, s, c, h) }()
	return done, nil
}

// consumeLoop hands out the first entry free to go, or waits for the
// stream to change or the next entry to come due.
func (b *Memory) consumeLoop(ctx context.Context, s *memStream, c *memConsumer, h func(Delivery)) {
	for {
		b.mu.Lock()
		now := time.Now()
		var next *Entry
		redelivered := false
		wake := now.Add(time.Hour)
		for i := range s.entries {
			e := &s.entries[i]
			if c.cfg.Filter != "" && !subjectMatches(c.cfg.Filter, e.Subject) {
				continue
			}
			if due, out := c.out[e.Seq]; out && now.Before(due) {
				wake = earlier(wake, due)
				continue
			}
			if until, held := c.backoff[e.Seq]; held && now.Before(until) {
				wake = earlier(wake, until)
				continue
			}
			delete(c.backoff, e.Seq)
			c.out[e.Seq] = now.Add(c.cfg.AckWait)
			c.delivered[e.Seq]++
			redelivered = c.delivered[e.Seq] > 1
			next = &Entry{Seq: e.Seq, Subject: e.Subject, Data: e.Data}
			break
		}
		changed := s.changed
		b.mu.Unlock()
		if next != nil {
			if ctx.Err() != nil {
				b.mu.Lock()
				delete(c.out, next.Seq) // not handed out after all
				b.mu.Unlock()
				return
			}
			h(&memDelivery{bus: b, stream: s, consumer: c, entry: *next, redelivered: redelivered})
			continue
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

type memDelivery struct {
	bus         *Memory
	stream      *memStream
	consumer    *memConsumer
	entry       Entry
	redelivered bool
}

func (d *memDelivery) Seq() uint64       { return d.entry.Seq }
func (d *memDelivery) Redelivered() bool { return d.redelivered }
func (d *memDelivery) Subject() string   { return d.entry.Subject }
func (d *memDelivery) Data() []byte      { return d.entry.Data }

// done ends the delivery; a work-queue stream forgets the entry.
func (d *memDelivery) done() error {
	b := d.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(d.consumer.out, d.entry.Seq)
	delete(d.consumer.backoff, d.entry.Seq)
	delete(d.consumer.delivered, d.entry.Seq)
	if d.stream.cfg.WorkQueue {
		d.stream.remove(d.entry.Seq)
	}
	d.stream.notify()
	return nil
}

func (d *memDelivery) Ack(context.Context) error { return d.done() }
func (d *memDelivery) Term() error               { return d.done() }

func (d *memDelivery) Nak(delay time.Duration) error {
	b := d.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(d.consumer.out, d.entry.Seq)
	if delay > 0 {
		d.consumer.backoff[d.entry.Seq] = time.Now().Add(delay)
	}
	d.stream.notify()
	return nil
}

func (d *memDelivery) InProgress() error {
	b := d.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, out := d.consumer.out[d.entry.Seq]; out {
		d.consumer.out[d.entry.Seq] = time.Now().Add(d.consumer.cfg.AckWait)
	}
	return nil
}

func (b *Memory) Read(ctx context.Context, stream, subject string, from uint64) (<-chan Entry, error) {
	b.mu.Lock()
	s, err := b.stream(stream)
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make(chan Entry)
	go func() {
		defer close(out)
		next := max(from, 1)
		for {
			b.mu.Lock()
			var found *Entry
			for i := range s.entries {
				if e := s.entries[i]; e.Seq >= next && subjectMatches(subject, e.Subject) {
					found = &e.Entry
					break
				}
			}
			changed := s.changed
			b.mu.Unlock()
			if found == nil {
				select {
				case <-ctx.Done():
					return
				case <-changed:
				}
				continue
			}
			select {
			case out <- *found:
				next = found.Seq + 1
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (b *Memory) Purge(_ context.Context, stream, subject string, before uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.stream(stream)
	if err != nil {
		return err
	}
	kept := s.entries[:0]
	for _, e := range s.entries {
		if e.Seq >= before || !subjectMatches(subject, e.Subject) {
			kept = append(kept, e)
		}
	}
	s.entries = kept
	s.notify()
	return nil
}

func (b *Memory) Len(_ context.Context, stream string) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := b.stream(stream)
	if err != nil {
		return 0, err
	}
	s.expire(time.Now())
	return uint64(len(s.entries)), nil
}

// memKV is a bucket of a Memory bus; revisions count over the bucket, as
// JetStream's stream sequence does.
type memKV struct {
	mu      sync.Mutex
	ttl     time.Duration
	rev     uint64
	entries map[string]memValue
}

type memValue struct {
	value []byte
	rev   uint64
	at    time.Time
}

func (b *Memory) OpenKV(_ context.Context, bucket string, ttl time.Duration) (KV, error) {
	if bucket == "" {
		return nil, fmt.Errorf("bus: bucket needs a name")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	kv := b.buckets[bucket]
	if kv == nil {
		kv = &memKV{entries: map[string]memValue{}}
		b.buckets[bucket] = kv
	}
	kv.mu.Lock()
	kv.ttl = ttl
	kv.mu.Unlock()
	return kv, nil
}

// live returns key's entry unless it is missing or expired.
func (k *memKV) live(key string) (memValue, bool) {
	v, ok := k.entries[key]
	if ok && k.ttl > 0 && time.Since(v.at) >= k.ttl {
		delete(k.entries, key)
		return memValue{}, false
	}
	return v, ok
}

func (k *memKV) put(key string, value []byte) uint64 {
	k.rev++
	k.entries[key] = memValue{value: append([]byte(nil), value...), rev: k.rev, at: time.Now()}
	return k.rev
}

func (k *memKV) Create(_ context.Context, key string, value []byte) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.live(key); ok {
		return 0, ErrKeyExists
	}
	return k.put(key, value), nil
}

func (k *memKV) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.live(key); !ok || v.rev != rev {
		return 0, ErrWrongRevision
	}
	return k.put(key, value), nil
}

func (k *memKV) Delete(_ context.Context, key string, rev uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.live(key); !ok || v.rev != rev {
		return ErrWrongRevision
	}
	k.rev++
	delete(k.entries, key)
	return nil
}

func (k *memKV) Keys(context.Context) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var keys []string
	for key := range k.entries {
		if _, ok := k.live(key); ok {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

func (k *memKV) Get(_ context.Context, key string) ([]byte, uint64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.live(key)
	if !ok {
		return nil, 0, ErrKeyNotFound
	}
	return append([]byte(nil), v.value...), v.rev, nil
}
