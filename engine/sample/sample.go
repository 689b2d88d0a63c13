// Package sample owns next-token selection for the local engine: repetition,
// presence and frequency penalties, temperature, top-k, top-p and min-p
// filtering, and a seeded draw so that the same seed and inputs always give
// the same tokens.
package sample

import (
	"math"
	"sort"
)

// Params configures a Sampler. The zero value is greedy decoding with no
// penalties.
type Params struct {
	Temperature      float32 // <= 0: greedy
	TopP             float32 // (0,1) keeps the smallest set reaching this mass; otherwise off
	MinP             float32 // (0,1] drops tokens below MinP × the top probability; otherwise off
	RepeatPenalty    float32 // 0 or 1: off
	PresencePenalty  float32
	FrequencyPenalty float32
	TopK             int    // <= 0: off
	PenaltyLastN     int    // window of history for penalties; 0 means 64, < 0 the whole history
	Seed             uint64 // seeds the draw
}

// DefaultPenaltyLastN is the penalty window used when PenaltyLastN is 0.
const DefaultPenaltyLastN = 64

// Sampler picks tokens. It keeps its random state between calls, so one
// Sampler serves one sequence; it is not safe for concurrent use.
type Sampler struct {
	p     Params
	rng   splitMix64
	cands []cand
	count map[int]int
}

type cand struct {
	id    int
	logit float32
}

// New returns a sampler for p.
func New(p Params) *Sampler {
	// NaN would slip through every range check below; treat it as unset.
	for _, f := range []*float32{&p.Temperature, &p.TopP, &p.MinP, &p.RepeatPenalty, &p.PresencePenalty, &p.FrequencyPenalty} {
		if *f != *f {
			*f = 0
		}
	}
	return &Sampler{p: p, rng: splitMix64{state: p.Seed}, count: map[int]int{}}
}

// Params returns the sampler's configuration.
func (s *Sampler) Params() Params { return s.p }

// Sample picks the next token from logits given the ids generated or read
// so far. It returns -1 only when logits is empty. logits is not modified.
//
// Order: penalties over the last PenaltyLastN ids of history, then
// temperature, top-k, top-p, min-p, then a draw from the renormalised
// distribution. (llama.cpp's default chain applies temperature after the
// filters; here temperature comes first, as in Hugging Face transformers, so
// top-p and min-p see the tempered distribution.)
func (s *Sampler) Sample(logits []float32, history []int) int {
	if len(logits) == 0 {
		return -1
	}
	c := s.cands[:0]
	for id, l := range logits {
		if l != l { // NaN never wins
			l = float32(math.Inf(-1))
		}
		c = append(c, cand{id: id, logit: l})
	}
	s.cands = c
	s.applyPenalties(c, history)

	// Tiny temperatures overflow 1/T; they mean greedy anyway.
	if s.p.Temperature < 1e-6 {
		return argmax(c)
	}
	inv := 1 / s.p.Temperature
	for i := range c {
		if !math.IsInf(float64(c[i].logit), -1) { // -Inf × 0 would be NaN
			c[i].logit *= inv
		}
	}
	c = topK(c, s.p.TopK)
	c = topP(c, s.p.TopP)
	c = minP(c, s.p.MinP)
	return s.draw(c)
}

func (s *Sampler) applyPenalties(c []cand, history []int) {
	rep, pres, freq := s.p.RepeatPenalty, s.p.PresencePenalty, s.p.FrequencyPenalty
	if (rep == 0 || rep == 1) && pres == 0 && freq == 0 {
		return
	}
	n := s.p.PenaltyLastN
	if n == 0 {
		n = DefaultPenaltyLastN
	}
	window := history
	if n > 0 && len(window) > n {
		window = window[len(window)-n:]
	}
	clear(s.count)
	for _, id := range window {
		if id >= 0 && id < len(c) {
			s.count[id]++
		}
	}
	for id, k := range s.count {
		l := c[id].logit
		if rep != 0 && rep != 1 {
			// Dividing a positive logit and multiplying a negative one both
			// make the token less likely, as llama.cpp defines it.
			if l > 0 {
				l /= rep
			} else {
				l *= rep
			}
		}
		l -= float32(k)*freq + pres
		c[id].logit = l
	}
}

// better orders candidates: higher logit first, lower id on ties.
func better(a, b cand) bool {
	if a.logit != b.logit {
		return a.logit > b.logit
	}
	return a.id < b.id
}

func argmax(c []cand) int {
	best := c[0]
	for _, x := range c[1:] {
		if better(x, best) {
			best = x
		}
	}
	return best.id
}

// topK keeps the k best candidates, sorted best first.
func topK(c []cand, k int) []cand {
	if k <= 0 || k >= len(c) {
		return c
	}
	// A size-k min-heap of the best seen keeps this O(n log k) on large
	// vocabularies.
	h := c[:0:0]
	h = append(h, c[:k]...)
	worse := func(i, j int) bool { return better(h[j], h[i]) }
	down := func(i int) {
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < len(h) && worse(l, m) {
				m = l
			}
			if r < len(h) && worse(r, m) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i := k/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, x := range c[k:] {
		if better(x, h[0]) {
			h[0] = x
			down(0)
		}
	}
	sort.Slice(h, func(i, j int) bool { return better(h[i], h[j]) })
	copy(c, h)
	return c[:k]
}

// softmax returns probabilities for c (in c's order) in float64.
func softmax(c []cand) []float64 {
	mx := math.Inf(-1)
	for _, x := range c {
		mx = math.Max(mx, float64(x.logit))
	}
	p := make([]float64, len(c))
	if math.IsInf(mx, 0) {
		// All -Inf: uniform. Some +Inf: uniform over those.
		var k float64
		for i, x := range c {
			if math.IsInf(mx, -1) || float64(x.logit) == mx {
				p[i] = 1
				k++
			}
		}
		for i := range p {
			p[i] /= k
		}
		return p
	}
	var sum float64
	for i, x := range c {
		p[i] = math.Exp(float64(x.logit) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p
}

func topP(c []cand, p float32) []cand {
	if p <= 0 || p >= 1 || len(c) <= 1 {
		return c
	}
	sort.Slice(c, func(i, j int) bool { return better(c[i], c[j]) })
	probs := softmax(c)
	var cum float64
	for i, q := range probs {
		cum += q
		if cum >= float64(p) {
			return c[:i+1]
		}
	}
	return c
}

func minP(c []cand, p float32) []cand {
	if p <= 0 || p > 1 || len(c) <= 1 {
		return c
	}
	mx := float32(math.Inf(-1))
	for _, x := range c {
		mx = max(mx, x.logit)
	}
	// p_i >= p × p_max  <=>  logit_i >= logit_max + ln p, whatever the
	// normalisation.
	cut := mx + float32(math.Log(float64(p)))
	out := c[:0]
	for _, x := range c {
		if x.logit >= cut {
			out = append(out, x)
		}
	}
	return out
}

func (s *Sampler) draw(c []cand) int {
	if len(c) == 0 {
		return -1
	}
	if len(c) == 1 {
		return c[0].id
	}
	probs := softmax(c)
	r := s.rng.float64()
	var cum float64
	for i, q := range probs {
		cum += q
		if r < cum {
			return c[i].id
		}
	}
	// Rounding left r above the total: take the last token with any mass.
	for i := len(c) - 1; i >= 0; i-- {
		if probs[i] > 0 {
			return c[i].id
		}
	}
	return c[len(c)-1].id
}

// splitMix64 is a small, fixed PRNG: unlike math/rand its sequence is part of
// this package, so a seed reproduces the same tokens across Go versions.
type splitMix64 struct{ state uint64 }

func (r *splitMix64) next() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *splitMix64) float64() float64 {
	return float64(r.next()>>11) / (1 << 53)
}
