package worldsim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
)

// Chats are partitioned like worlds are owned: the input of the
// protocol.ChatPartitions partitions is consumed by one world simulation
// each, holding the partition's lease, so the lines of one conversation
// are answered by one process, in order. Every live process has an entry
// in the members bucket; each partition's place is decided by rendezvous
// hashing over the members, so a process joining or leaving moves only
// its share. A process gives up the partitions that are no longer its
// share gracefully (its actors hand back what they hold, in order, then
// the lease goes), and the partitions of a process that died come to the
// others once its lease lapses.

// chatPartition is the input of one partition, or (n < 0) the lines of
// unpartitioned chats every process drains, while this process runs it.
type chatPartition struct {
	n      int
	ctx    context.Context // its actors' context
	cancel context.CancelFunc
	actors sync.WaitGroup
	done   chan struct{} // closed once it stopped here

	mu       sync.Mutex
	stopping bool
	late     []bus.Delivery // fetched after it began stopping
	handOver bool           // release the lease when stopped (not lost)
	released int            // lines let go unanswered: they come back after AckWait
}

// letGo stops keeping a line alive; the stream gives it out again after
// its AckWait.
func (p *chatPartition) letGo(d bus.Delivery) {
	if h, ok := d.(*heldLine); ok {
		h.forget()
	}
	p.mu.Lock()
	p.released++
	p.mu.Unlock()
}

func newChatPartition(n int) *chatPartition {
	ctx, cancel := context.WithCancel(context.Background())
	return &chatPartition{n: n, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// admit reports whether a line may go to an actor; a partition that is
// stopping keeps it to hand back after its actors' lines.
func (p *chatPartition) admit(d bus.Delivery) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		p.late = append(p.late, d)
		return false
	}
	return true
}

// stop ends the partition here; handOver releases its lease afterwards.
func (p *chatPartition) stop(handOver bool) {
	p.mu.Lock()
	p.stopping = true
	p.handOver = p.handOver || handOver
	p.mu.Unlock()
	p.cancel()
}

// owner picks the member whose hash with partition p is highest
// (rendezvous hashing): every process agrees given the same members, and a
// change of members moves only the partitions of the one that came or went.
func owner(members []string, p int) string {
	best, bestHash := "", uint64(0)
	for _, m := range members {
		// A cryptographic hash: with a weak one, names that differ in one
		// letter win the same partitions.
		sum := sha256.Sum256([]byte(m + "\x00" + strconv.Itoa(p)))
		if v := binary.BigEndian.Uint64(sum[:8]); best == "" || v > bestHash || (v == bestHash && m < best) {
			best, bestHash = m, v
		}
	}
	return best
}

// balance claims the partitions that are this process's share and hands
// over those that are no longer.
func (s *ChatService) balance(ctx context.Context) {
	members, err := s.members.Held(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("list chat members", "err", err)
		}
		return
	}
	if !slices.Contains(members, s.Owner) {
		// Our entry lapsed for a moment (joinMembers enters it again):
		// without it every partition would look like another's.
		return
	}
	defer func() {
		held := len(s.Partitions())
		if held != s.lastHeld {
			s.Log.Info("chat partitions held", "owner", s.Owner, "partitions", held, "members", len(members))
			s.lastHeld = held
		}
	}()
	for p := range protocol.ChatPartitions {
		mine := owner(members, p) == s.Owner
		s.mu.Lock()
		part := s.parts[p]
		s.mu.Unlock()
		switch {
		case mine && part == nil:
			rev, reclaimed, ok, err := s.leases.Take(ctx, protocol.ChatPartitionKey(p))
			if err != nil || !ok {
				continue // its last owner has not let go yet
			}
			s.startPartition(p, rev, reclaimed)
		case !mine && part != nil:
			part.stop(true)
		}
	}
}

// startPartition consumes partition p here until it is stopped or its
// lease is lost.
func (s *ChatService) startPartition(p int, rev uint64, reclaimed bool) {
	part := newChatPartition(p)
	s.mu.Lock()
	s.parts[p] = part
	s.mu.Unlock()
	key := protocol.ChatPartitionKey(p)
	log := s.Log.With("partition", p)
	s.partsWG.Add(1)
	go func() {
		defer s.partsWG.Done()
		defer close(part.done)
		defer func() {
			s.mu.Lock()
			if s.parts[p] == part {
				delete(s.parts, p)
			}
			s.mu.Unlock()
		}()
		keepCtx, stopKeeping := context.WithCancel(context.Background())
		lost := make(chan struct{})
		lastRev := make(chan uint64, 1)
		go func() {
			r, err := s.leases.Keep(keepCtx, key, rev)
			lastRev <- r
			if errors.Is(err, bus.ErrLeaseLost) {
				log.Warn("chat partition lease lost; stopping it here", "err", err)
				close(lost)
				part.stop(false)
			}
		}()
		if reclaimed {
			// Our earlier life (it crashed) may have held lines of this
			// partition: they come back when their AckWait is over, and
			// must be answered before anything newer.
			pause := time.NewTimer(s.AckWait + s.AckWait/2)
			select {
			case <-pause.C:
			case <-part.ctx.Done():
				pause.Stop()
			}
		}
		consumed, err := s.Bus.Consume(part.ctx, protocol.InputStream, bus.ChatConsumer(p, s.AckWait), func(d bus.Delivery) { s.route(part, d) })
		if err != nil {
			log.Error("consume chat partition", "err", err)
			part.stop(true)
			consumed = closedChan()
		}
		log.Debug("chat partition taken", "owner", s.Owner)
		<-part.ctx.Done()
		s.drainPartition(part, consumed)
		stopKeeping()
		last := <-lastRev
		select {
		case <-lost:
			return
		default:
		}
		part.mu.Lock()
		handOver := part.handOver
		part.mu.Unlock()
		if handOver {
			// The lines let go, and any that pull requests still out
			// brought to the closed subscription, come back when their
			// AckWait is over, sorted by the stream. Letting go of the
			// lease after that makes the next owner get them in order and
			// before anything newer.
			part.mu.Lock()
			released := part.released
			part.mu.Unlock()
			if released > 0 || s.othersAlive() {
				time.Sleep(s.AckWait + s.AckWait/2)
			}
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.leases.Release(rctx, key, last); err != nil {
				log.Warn("hand over chat partition", "err", err)
			}
			cancel()
		}
		log.Debug("chat partition given up", "owner", s.Owner)
	}()
}

// drainPartition waits for the partition's consumer to stop and its actors
// to let their lines go; lines fetched meanwhile are let go too.
func (s *ChatService) drainPartition(part *chatPartition, consumed <-chan struct{}) {
	<-consumed
	part.actors.Wait()
	part.mu.Lock()
	part.released += len(part.late)
	part.late = nil
	part.mu.Unlock()
}

// othersAlive reports whether another chat service is a member now.
func (s *ChatService) othersAlive() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	members, err := s.members.Held(ctx)
	if err != nil {
		return true // cannot tell: be careful
	}
	return slices.ContainsFunc(members, func(m string) bool { return m != s.Owner })
}

func closedChan() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// joinMembers enters this process in the members bucket and keeps it there.
func (s *ChatService) joinMembers(ctx context.Context, log *slog.Logger) error {
	rev, ok, err := s.members.TryAcquire(ctx, s.Owner)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("worldsim: another chat service runs under owner " + s.Owner)
	}
	go func() {
		for ctx.Err() == nil {
			_, err := s.members.Keep(ctx, s.Owner, rev)
			if ctx.Err() != nil {
				break
			}
			log.Warn("chat membership lapsed; joining again", "err", err)
			t := time.NewTimer(s.ClaimEvery)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if r, ok, err := s.members.TryAcquire(ctx, s.Owner); err == nil && ok {
				rev = r
			}
		}
	}()
	return nil
}
