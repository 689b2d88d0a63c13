// Package sample owns next-token selection for the local engine: repetition,
// presence and frequency penalties, temperature, top-k, top-p and min-p
// filtering, and a seeded draw so that the same seed and inputs always give
// the same tokens.
package sample

import (
	"math"
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
	w     []float32 // working copy of the logits
	ids   []int32   // candidate ids
	wts   []float64 // weights parallel to ids
	count map[int]int
}

// New returns a sampler for p.
func New(p Params) *Sampler {
	// NaN would slip through every range check below; treat it as unset.
	for _, f := range []*float32{&p.Temperature, &p.TopP, &p.MinP, &p.RepeatPenalty, &p.PresencePenalty, &p.FrequencyPenalty} {
		if *f != *f {
			*f = 0
		}
	}
	// An infinite temperature would turn -Inf logits into NaN weights; a
	// huge finite one means the same (uniform over what is allowed).
	p.Temperature = min(p.Temperature, 1e30)
	return &Sampler{p: p, rng: splitMix64{state: p.Seed}, count: map[int]int{}}
}

// Params returns the sampler's configuration.
func (s *Sampler) Params() Params { return s.p }

// Sample picks the next token from logits given the ids generated or read
// so far. It returns -1 only when logits is empty. logits is not modified.
//
// Order: penalties over the last PenaltyLastN ids of history, then
// temperature, top-k, top-p, min-p, then a draw from what is left,
// renormalised. (llama.cpp's default chain applies temperature after the
// filters; here temperature comes first, as in Hugging Face transformers, so
// top-p and min-p see the tempered distribution.) Candidates are ordered by
// logit, lower id first on ties. NaN logits are never picked.
//
// Nothing here sorts the whole vocabulary: top-k keeps a k-sized heap and
// top-p finds its nucleus by weighted selection, so a step costs O(n).
func (s *Sampler) Sample(logits []float32, history []int) int {
	n := len(logits)
	if n == 0 {
		return -1
	}
	if cap(s.w) < n {
		s.w = make([]float32, n)
	}
	w := s.w[:n]
	copy(w, logits)
	s.applyPenalties(w, history)

	// Tiny temperatures overflow 1/T; they mean greedy anyway.
	if s.p.Temperature < 1e-6 {
		return argmax(w)
	}
	ninf := float32(math.Inf(-1))
	m := ninf
	for i, v := range w {
		if v != v {
			w[i] = ninf
			continue
		}
		m = max(m, v)
	}
	if math.IsInf(float64(m), 0) {
		return s.uniformAt(w, m)
	}

	ids := s.ids[:0]
	wts := s.wts[:0]
	// Weights are relative to the best token: exp((l - m)/T) is the
	// tempered probability up to the common normaliser.
	invT := 1 / float64(s.p.Temperature)
	weight := func(id int32) float64 { return math.Exp((float64(w[id]) - float64(m)) * invT) }

	// min-p keeps p_i >= MinP × p_max, i.e. l_i >= m + T·ln(MinP); the
	// tokens it keeps are a best-first prefix, like top-p's and top-k's.
	minP := s.p.MinP
	useMinP := minP > 0 && minP <= 1
	thr := ninf
	if useMinP {
		thr = m + s.p.Temperature*float32(math.Log(float64(minP)))
	}
	topP := s.p.TopP
	useTopP := topP > 0 && topP < 1

	if k := s.p.TopK; k > 0 && k < n {
		ids = topK(w, k, ids)
		var z float64
		for _, id := range ids {
			x := weight(id)
			wts = append(wts, x)
			z += x
		}
		cut := len(ids)
		if useTopP {
			var cum float64
			for i, x := range wts {
				cum += x
				if cum >= float64(topP)*z {
					cut = i + 1
					break
				}
			}
		}
		for cut > 1 && w[ids[cut-1]] < thr {
			cut--
		}
		ids, wts = ids[:cut], wts[:cut]
	} else {
		// top-p's nucleus is measured against the whole mass z, so it needs
		// every weight; min-p alone only needs the survivors'.
		var z float64
		for i, v := range w {
			switch {
			case useTopP:
				x := weight(int32(i))
				z += x
				if v >= thr {
					ids = append(ids, int32(i))
					wts = append(wts, x)
				}
			case v >= thr:
				ids = append(ids, int32(i))
				wts = append(wts, weight(int32(i)))
			}
		}
		if useTopP {
			// Both filters keep prefixes of the same order, so the result is
			// the shorter one: the nucleus is looked for inside min-p's set.
			cut := max(nucleus(ids, wts, w, float64(topP)*z), 1)
			ids, wts = ids[:cut], wts[:cut]
		}
	}
	s.ids, s.wts = ids, wts
	return s.draw(ids, wts)
}

func (s *Sampler) applyPenalties(w []float32, history []int) {
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
		if id >= 0 && id < len(w) {
			s.count[id]++
		}
	}
	for id, k := range s.count {
		l := w[id]
		if rep != 0 && rep != 1 {
			// Dividing a positive logit and multiplying a negative one both
			// make the token less likely, as llama.cpp defines it.
			if l > 0 {
				l /= rep
			} else {
				l *= rep
			}
		}
		w[id] = l - (float32(k)*freq + pres)
	}
}

// better orders candidates: higher logit first, lower id on ties.
func better(w []float32, a, b int32) bool {
	if w[a] != w[b] {
		return w[a] > w[b]
	}
	return a < b
}

func argmax(w []float32) int {
	best := -1
	for i, v := range w {
		if v != v {
			continue
		}
		if best < 0 || v > w[best] {
			best = i
		}
	}
	if best < 0 {
		return 0 // every logit is NaN
	}
	return best
}

// uniformAt draws uniformly among the ids whose logit equals m: the +Inf
// ones, or all of them when everything is -Inf.
func (s *Sampler) uniformAt(w []float32, m float32) int {
	ids := s.ids[:0]
	for i, v := range w {
		if v == m {
			ids = append(ids, int32(i))
		}
	}
	s.ids = ids
	return int(ids[int(s.rng.float64()*float64(len(ids)))%len(ids)])
}

// topK appends the k best ids of w to dst, best first.
func topK(w []float32, k int, dst []int32) []int32 {
	h := dst[:0]
	for i := 0; i < k; i++ {
		h = append(h, int32(i))
	}
	// A min-heap (worst at the root) of the best k seen so far.
	worse := func(i, j int) bool { return better(w, h[j], h[i]) }
	down := func(i, n int) {
		for {
			l, r, m := 2*i+1, 2*i+2, i
			if l < n && worse(l, m) {
				m = l
			}
			if r < n && worse(r, m) {
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
		down(i, k)
	}
	for i := k; i < len(w); i++ {
		if w[i] < w[h[0]] {
			continue // cheap common case: worse than the worst kept
		}
		if better(w, int32(i), h[0]) {
			h[0] = int32(i)
			down(0, k)
		}
	}
	// Heap-sort in place: popping the worst to the end leaves best first.
	for end := k - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		down(0, end)
	}
	return h
}

// nucleus reorders ids (and wts with them) so that the smallest best-first
// set whose weight reaches target comes first, and returns its size. It is
// a weighted quickselect: expected O(n), no full sort.
func nucleus(ids []int32, wts []float64, w []float32, target float64) int {
	swap := func(i, j int) {
		ids[i], ids[j] = ids[j], ids[i]
		wts[i], wts[j] = wts[j], wts[i]
	}
	lo, hi := 0, len(ids)
	for hi > lo {
		// Median of three as pivot, moved to the end of the range.
		a, b, c := lo, lo+(hi-lo)/2, hi-1
		if better(w, ids[b], ids[a]) {
			a, b = b, a
		}
		if better(w, ids[c], ids[b]) {
			b = c
			if better(w, ids[b], ids[a]) {
				b = a
			}
		}
		swap(b, hi-1)
		pv := ids[hi-1]
		store := lo
		var mass float64
		for i := lo; i < hi-1; i++ {
			if better(w, ids[i], pv) {
				swap(i, store)
				mass += wts[store]
				store++
			}
		}
		swap(store, hi-1)
		if mass >= target && store > lo {
			hi = store
			continue
		}
		mass += wts[store]
		if mass >= target {
			return store + 1
		}
		target -= mass
		lo = store + 1
	}
	return lo
}

func (s *Sampler) draw(ids []int32, wts []float64) int {
	if len(ids) == 0 {
		return argmax(s.w) // unreachable: the best token survives every filter
	}
	if len(ids) == 1 {
		return int(ids[0])
	}
	var total float64
	for _, x := range wts {
		total += x
	}
	r := s.rng.float64() * total
	var cum float64
	for i, x := range wts {
		cum += x
		if r < cum {
			return int(ids[i])
		}
	}
	// Rounding left r at the total: take the last token with any weight.
	for i := len(wts) - 1; i >= 0; i-- {
		if wts[i] > 0 {
			return int(ids[i])
		}
	}
	return int(ids[len(ids)-1])
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
