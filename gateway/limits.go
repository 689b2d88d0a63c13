package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter keeps a token bucket per key (a player, an address, a
// username at an address). Its memory is bounded: past maxBuckets, buckets
// that have refilled (and so carry no information) go first.
type keyedLimiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	every   rate.Limit
	burst   int
	now     func() time.Time
}

// maxBuckets bounds a limiter's memory.
const maxBuckets = 100_000

func newKeyedLimiter(every rate.Limit, burst int) *keyedLimiter {
	return &keyedLimiter{buckets: map[string]*rate.Limiter{}, every: every, burst: burst, now: time.Now}
}

// allow takes one token from key's bucket, or says how long to wait.
func (l *keyedLimiter) allow(key string) (time.Duration, bool) {
	if l == nil {
		return 0, true // a server made without Init (unit tests) limits nothing
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			for k, old := range l.buckets {
				if old.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
			// Still full: all are fresh, so anything dropped gains its
			// owner at most one burst.
			for k := range l.buckets {
				if len(l.buckets) < maxBuckets {
					break
				}
				delete(l.buckets, k)
			}
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	res := b.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}

// check says whether key has a token left, without taking it, or how long
// until it has.
func (l *keyedLimiter) check(key string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return 0, true
	}
	now := l.now()
	if b.TokensAt(now) >= 1 {
		return 0, true
	}
	res := b.ReserveN(now, 1)
	d := res.DelayFrom(now)
	res.CancelAt(now)
	return d, false
}

// Defaults of the limits shared by all of a player's connections and of
// the requests from one address.
const (
	defaultLinesPerSecond = 4
	defaultLineBurst      = 8
	// New guests and accounts from one address: a burst, then one every
	// sessionEvery. A family behind one router opens a few; a script
	// opening thousands waits.
	sessionBurst = 20
	sessionEvery = 3 * time.Second
	// WebSockets one address may hold: a household or an office behind
	// one router, not a flood.
	defaultMaxConnsPerAddress = 200
	// Login attempts from one address, over all usernames.
	loginsFromBurst = 20
	loginsFromEvery = 2 * time.Second
)

// retryAfter answers 429 with how long to wait, in whole seconds.
func retryAfter(wait time.Duration, what string) *apiError {
	e := problemf(http.StatusTooManyRequests, codeTooManyRequests, "too many %s from this address; try again in %s", what, wait.Round(time.Second))
	e.header = http.Header{"Retry-After": {strconv.Itoa(int(wait/time.Second) + 1)}}
	return e
}

const codeTooManyRequests = "rate_limited"

// initLimits makes the limiters from the server's settings.
func (s *Server) initLimits() {
	if s.LinesPerSecond <= 0 {
		s.LinesPerSecond = defaultLinesPerSecond
	}
	if s.LineBurst <= 0 {
		s.LineBurst = defaultLineBurst
	}
	if s.MaxConnsPerAddress <= 0 {
		s.MaxConnsPerAddress = defaultMaxConnsPerAddress
	}
	s.connsByIP = map[string]int{}
	s.players = newKeyedLimiter(rate.Limit(s.LinesPerSecond), s.LineBurst)
	s.sessions = newKeyedLimiter(rate.Every(sessionEvery), sessionBurst)
}

// takeConnSlot counts a WebSocket from ip, or refuses one past
// MaxConnsPerAddress: one client must not hold thousands of sockets.
func (s *Server) takeConnSlot(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connsByIP[ip] >= s.MaxConnsPerAddress {
		return false
	}
	s.connsByIP[ip]++
	return true
}

func (s *Server) giveConnSlot(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connsByIP[ip]--; s.connsByIP[ip] <= 0 {
		delete(s.connsByIP, ip)
	}
}
