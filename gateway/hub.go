package gateway

import (
	"hash/maphash"
	"sync"

	"github.com/maopao/maopao/bus"
)

// hub fans the bus out to this gateway's connections, for chats and
// worlds alike: one bus subscription per subject however many connections
// listen to it, decoded once per message and sent to each listener.
// Subjects are spread over shards so that joins, leaves and deliveries on
// different subjects do not wait for one lock.
type hub struct {
	bus    bus.PubSub
	seed   maphash.Seed
	shards [hubShards]hubShard
}

const hubShards = 32

type hubShard struct {
	mu       sync.Mutex
	subjects map[string]*hubSubject
}

// fanOut turns one message into frames for the connections listening.
type fanOut func(data []byte, to []*conn)

type hubSubject struct {
	sub bus.Subscription
	fan fanOut
	// listeners is replaced, never changed in place: a delivery reads it
	// under the shard lock and sends without it.
	listeners []*conn
}

func newHub(b bus.PubSub) *hub {
	h := &hub{bus: b, seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].subjects = map[string]*hubSubject{}
	}
	return h
}

func (h *hub) shard(subject string) *hubShard {
	return &h.shards[maphash.String(h.seed, subject)%hubShards]
}

// join makes c a listener of subject; the first listener subscribes, with
// fan deciding what every listener of that subject gets.
func (h *hub) join(subject string, c *conn, fan fanOut) error {
	sh := h.shard(subject)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	hs := sh.subjects[subject]
	if hs == nil {
		hs = &hubSubject{fan: fan}
		sub, err := h.bus.Subscribe(subject, func(m bus.Msg) { h.deliver(sh, hs, m.Data) })
		if err != nil {
			return err
		}
		hs.sub = sub
		sh.subjects[subject] = hs
	}
	for _, l := range hs.listeners {
		if l == c {
			return nil
		}
	}
	hs.listeners = append(hs.listeners[:len(hs.listeners):len(hs.listeners)], c)
	return nil
}

// leave stops c listening to subject; the last listener unsubscribes.
func (h *hub) leave(subject string, c *conn) {
	sh := h.shard(subject)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	hs := sh.subjects[subject]
	if hs == nil {
		return
	}
	kept := make([]*conn, 0, len(hs.listeners))
	for _, l := range hs.listeners {
		if l != c {
			kept = append(kept, l)
		}
	}
	hs.listeners = kept
	if len(kept) == 0 {
		_ = hs.sub.Unsubscribe()
		delete(sh.subjects, subject)
	}
}

func (h *hub) deliver(sh *hubShard, hs *hubSubject, data []byte) {
	sh.mu.Lock()
	to := hs.listeners
	sh.mu.Unlock()
	if len(to) > 0 {
		hs.fan(data, to)
	}
}

// subjects is how many subjects this gateway subscribes to now.
func (h *hub) subjects() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.subjects)
		sh.mu.Unlock()
	}
	return n
}
