// Package pool is an engine.Generator over several engines serving the same
// model: it sends each conversation to the engine that most likely holds
// its prompt in its KV cache, spreads load within a bound, and takes out
// engines that fail until they answer again.
//
// Cache affinity: an engine keeps a prompt's computed prefix (a character's
// persona, the conversation so far), so the next turn of a conversation, or
// a new player of the same character, is cheapest where the last one ran.
// The pool keys a request by its first message (the system prompt, which
// names the character and its persona) and ranks the engines for that key
// by rendezvous hashing: the same character goes to the same engine, and
// when engines come or go only the characters of the engine that changed
// move. A preferred engine that is busier than its share lets the request
// go down its ranking ("consistent hashing with bounded loads", Mirrokni,
// Thorup and Zadimoghaddam, 2018): no engine takes more than Spread times
// the average number of requests in flight, plus one.
package pool

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/maopao/maopao/engine"
)

// Member is one engine of a pool.
type Member struct {
	Name string // for logs and errors; unique within the pool
	Gen  engine.Generator
}

// Pool routes requests among its members. Build it with New.
type Pool struct {
	// Spread bounds load imbalance: a member takes a request only while
	// its requests in flight stay within Spread × the average (+1).
	Spread float64
	// Backoff is how long a failed member sits out before it is tried
	// again; it doubles with each failure in a row, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration

	members []*member
	now     func() time.Time
	mu      sync.Mutex
}

type member struct {
	Member
	seed     [32]byte // hashes the member's name into its rendezvous scores
	inFlight int
	failures int       // in a row
	downTill time.Time // out of the ranking until then
}

var _ engine.Generator = (*Pool)(nil)

// New returns a pool of members (names unique). A pool may start empty
// and get its members later (SetMembers); until then it answers
// engine.ErrUnavailable.
func New(members ...Member) (*Pool, error) {
	p := &Pool{Spread: 1.25, Backoff: time.Second, MaxBackoff: 30 * time.Second, now: time.Now}
	if err := p.SetMembers(members); err != nil {
		return nil, err
	}
	return p, nil
}

// SetMembers makes members the pool's engines: those already in it (by
// name) keep their state, new ones join, missing ones leave (requests
// running on them finish there).
func (p *Pool) SetMembers(members []Member) error {
	seen := map[string]bool{}
	for _, m := range members {
		if m.Gen == nil || m.Name == "" || seen[m.Name] {
			return fmt.Errorf("pool: engine %q: needs a unique name and a generator", m.Name)
		}
		seen[m.Name] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := map[string]*member{}
	for _, m := range p.members {
		old[m.Name] = m
	}
	next := make([]*member, 0, len(members))
	for _, m := range members {
		if o := old[m.Name]; o != nil {
			next = append(next, o)
			continue
		}
		next = append(next, &member{Member: m, seed: sha256.Sum256([]byte(m.Name))})
	}
	p.members = next
	return nil
}

// Names lists the pool's engines now.
func (p *Pool) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.members))
	for i, m := range p.members {
		out[i] = m.Name
	}
	return out
}

// list is the members now, for reading outside the lock.
func (p *Pool) list() []*member {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*member(nil), p.members...)
}

// Generate runs req on the member chosen for it. A member that fails
// before any text streamed (unreachable, overloaded, dying) is taken out
// for a while and the next one in the ranking gets the request at once;
// one that fails after text streamed is taken out too, but the error is
// returned, since starting over elsewhere is the caller's to decide (the
// player saw part of a reply).
func (p *Pool) Generate(ctx context.Context, req engine.Request, onToken func(engine.Token) error) (engine.Result, error) {
	key := affinityKey(req)
	tried := map[*member]bool{}
	var errs []error
	for {
		m := p.pick(key, tried)
		if m == nil {
			return engine.Result{}, fmt.Errorf("pool: %w: every engine failed: %w", engine.ErrUnavailable, errors.Join(errs...))
		}
		tried[m] = true
		streamed := false
		res, err := m.Gen.Generate(ctx, req, func(t engine.Token) error {
			streamed = streamed || t.Text != ""
			if onToken == nil {
				return nil
			}
			return onToken(t)
		})
		p.done(m, err, ctx)
		if err == nil || ctx.Err() != nil || !engine.Transient(err) || streamed {
			return res, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
	}
}

// pick chooses the member for key among those not tried and not out, and
// counts the request in flight on it; nil when none is left. When every
// member is out, the one back soonest is tried anyway: a pool never
// refuses while an engine might answer.
func (p *Pool) pick(key []byte, tried map[*member]bool) *member {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var up, down []*member
	total := 0
	for _, m := range p.members {
		if tried[m] {
			continue
		}
		if now.Before(m.downTill) {
			down = append(down, m)
			continue
		}
		up = append(up, m)
		total += m.inFlight
	}
	if len(up) == 0 {
		if len(down) == 0 {
			return nil
		}
		soonest := slices.MinFunc(down, func(a, b *member) int { return a.downTill.Compare(b.downTill) })
		soonest.inFlight++
		return soonest
	}
	ranked := rank(key, up)
	bound := int(math.Ceil(p.Spread*float64(total+1)/float64(len(up)))) + 1
	chosen := ranked[0]
	for _, m := range ranked {
		if m.inFlight+1 <= bound {
			chosen = m
			break
		}
	}
	chosen.inFlight++
	return chosen
}

// done ends a request on m: a transient failure takes m out for a while,
// a success brings it back.
func (p *Pool) done(m *member, err error, ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.inFlight--
	switch {
	case err == nil:
		m.failures, m.downTill = 0, time.Time{}
	case ctx.Err() == nil && engine.Transient(err):
		m.failures++
		back := p.Backoff << min(m.failures-1, 16)
		m.downTill = p.now().Add(min(back, p.MaxBackoff))
	}
}

// rank orders members by their rendezvous score for key, highest first.
func rank(key []byte, ms []*member) []*member {
	type scored struct {
		m     *member
		score uint64
	}
	s := make([]scored, len(ms))
	for i, m := range ms {
		h := sha256.New()
		h.Write(m.seed[:])
		h.Write(key)
		s[i] = scored{m, binary.BigEndian.Uint64(h.Sum(nil))}
	}
	slices.SortFunc(s, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.m.Name, b.m.Name)
	})
	out := make([]*member, len(s))
	for i := range s {
		out[i] = s[i].m
	}
	return out
}

// affinityKey is what decides where a request goes: its first message,
// the system prompt with the character's persona, which is also the
// start of the prompt an engine caches.
func affinityKey(req engine.Request) []byte {
	if len(req.Messages) == 0 {
		return nil
	}
	return []byte(req.Messages[0].Role + "\x00" + req.Messages[0].Content)
}

// Member returns the name of the member a request with these messages
// would go to now ("" with none), for logs and tests.
func (p *Pool) Member(req engine.Request) string {
	m := p.pick(affinityKey(req), map[*member]bool{})
	if m == nil {
		return ""
	}
	p.mu.Lock()
	m.inFlight--
	p.mu.Unlock()
	return m.Name
}

// defaultContext is assumed while the pool has no engine.
const defaultContext = 4096

// CountTokens counts with the first member's tokenizer: the members serve
// the same model. With none, it errs high as engine/openai does.
func (p *Pool) CountTokens(text string) int {
	if ms := p.list(); len(ms) > 0 {
		return ms[0].Gen.CountTokens(text)
	}
	return (len(text)+2)/3 + 1
}

// Embed asks the members in turn until one embeds: embeddings are
// compared with each other, so a pool's members must serve one model.
func (p *Pool) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	var errs []error
	for _, m := range p.list() {
		e, ok := engine.EmbedderOf(m.Gen)
		if !ok {
			continue
		}
		v, err := e.Embed(ctx, texts)
		if err == nil {
			return v, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
	}
	if len(errs) == 0 {
		return nil, engine.ErrNoEmbeddings
	}
	return nil, errors.Join(errs...)
}

// SeesPictures holds when every member sees: a conversation may go to
// any of them.
func (p *Pool) SeesPictures() bool {
	for _, m := range p.list() {
		if !engine.SeesPictures(m.Gen) {
			return false
		}
	}
	return true
}

// ContextSize is the smallest of the members'.
func (p *Pool) ContextSize() int {
	ms := p.list()
	if len(ms) == 0 {
		return defaultContext
	}
	n := ms[0].Gen.ContextSize()
	for _, m := range ms[1:] {
		n = min(n, m.Gen.ContextSize())
	}
	return n
}

// Describe names the members.
func (p *Pool) Describe() string {
	ms := p.list()
	if len(ms) == 0 {
		return "no engine has announced itself yet"
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return fmt.Sprintf("%d engines with cache affinity (%s); first: %s", len(ms), strings.Join(names, ", "), ms[0].Gen.Describe())
}

// Ping succeeds when any member that can be pinged answers (or none can
// be): the pool serves while one engine does.
func (p *Pool) Ping(ctx context.Context) error {
	var errs []error
	ms := p.list()
	if len(ms) == 0 {
		return errors.New("pool: no engine has announced itself yet")
	}
	for _, m := range ms {
		pg, ok := m.Gen.(interface{ Ping(context.Context) error })
		if !ok {
			return nil
		}
		err := pg.Ping(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
	}
	return fmt.Errorf("pool: no engine answers: %w", errors.Join(errs...))
}
