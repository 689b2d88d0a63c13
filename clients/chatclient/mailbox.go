package chatclient

import (
	"context"
	"errors"
	"sync"
)

// errStopped tells a waiter that the reader has stopped and nothing more will
// arrive; callers replace it with the reason.
var errStopped = errors.New("reader stopped")

// mailbox is an unbounded FIFO of frames with one consumer. It is unbounded so
// the reader never blocks on a slow consumer (such as a Say caller printing
// deltas to a terminal), which would stall every other call on the connection.
type mailbox struct {
	mu  sync.Mutex
	q   []frame
	sig chan struct{} // holds one token while q is non-empty
}

func (m *mailbox) put(f frame) {
	m.mu.Lock()
	if m.sig == nil {
		m.sig = make(chan struct{}, 1)
	}
	m.q = append(m.q, f)
	m.mu.Unlock()
	select {
	case m.sig <- struct{}{}:
	default:
	}
}

func (m *mailbox) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.q)
}

func (m *mailbox) dropOldest() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.q) > 0 {
		m.q[0] = frame{}
		m.q = m.q[1:]
	}
}

// extract removes and returns the frames for which match is true, in order.
func (m *mailbox) extract(match func(frame) bool) []frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	var got []frame
	rest := m.q[:0]
	for _, f := range m.q {
		if match(f) {
			got = append(got, f)
		} else {
			rest = append(rest, f)
		}
	}
	clear(m.q[len(rest):])
	m.q = rest
	return got
}

// take returns the oldest frame, waiting for one. Frames already queued are
// still returned after done closes; then it returns errStopped.
func (m *mailbox) take(ctx context.Context, done <-chan struct{}) (frame, error) {
	for {
		m.mu.Lock()
		if m.sig == nil {
			m.sig = make(chan struct{}, 1)
		}
		sig := m.sig
		if len(m.q) > 0 {
			f := m.q[0]
			m.q[0] = frame{}
			m.q = m.q[1:]
			if len(m.q) > 0 {
				// Keep the token so the next take does not wait.
				select {
				case m.sig <- struct{}{}:
				default:
				}
			}
			m.mu.Unlock()
			return f, nil
		}
		m.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			return frame{}, ctx.Err()
		case <-done:
			// The reader may have queued frames just before stopping.
			m.mu.Lock()
			n := len(m.q)
			m.mu.Unlock()
			if n == 0 {
				return frame{}, errStopped
			}
		}
	}
}
