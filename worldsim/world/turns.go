package world

import (
	"sort"
	"strings"
)

// Group turn-taking, after SillyTavern's "natural order": characters named
// in a line speak first (in the order they are named); then each other
// character rolls against its talkativeness, raised or lowered by how much
// the line touches what it knows; a player's line that moves nobody still
// gets one answer from a random character present. Characters answering
// characters get one responder per line and stop after Config.MaxChain.

// mentionAt is where a character is named in low (the lower-cased text), or -1.
func mentionAt(low string, a *Actor) int {
	best := -1
	for _, n := range []string{a.Card.Name, a.Card.Nickname} {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		if k := wordIndex(low, n); k >= 0 && (best < 0 || k < best) {
			best = k
		}
	}
	return best
}

// knownTerms is what an actor is about: its card and its latest memories.
func knownTerms(a *Actor) map[string]bool {
	known := map[string]bool{}
	add := func(text string) {
		for _, t := range tokens(text) {
			known[t] = true
		}
	}
	add(a.Card.Description)
	add(a.Card.Personality)
	add(a.Activity)
	for _, tag := range a.Card.Tags {
		add(tag)
	}
	const recent = 10
	for j := max(len(a.Stream)-recent, 0); j < len(a.Stream); j++ {
		if a.Stream[j].PrivateTo == "" {
			add(a.Stream[j].Text)
		}
	}
	return known
}

// responders picks who answers a line said at loc. speaker is the actor who
// said it (-1 for a player); chain is the line's depth (0 for a player).
func (s *State) responders(loc, text string, speaker, addressed, chain int) []int {
	if chain >= s.Config.MaxChain {
		return nil
	}
	busy := map[int]bool{}
	for _, l := range [][]Work{s.Queue, s.Flight} {
		for k := range l {
			if l[k].Kind == WorkReply && l[k].Audience.LocationID == loc {
				busy[l[k].Actor] = true
			}
		}
	}
	// Someone already about to answer here is not asked to roll again, but
	// being named or addressed still calls for an answer of its own.
	var cands []int
	for _, i := range s.actorsAt(loc) {
		if i != speaker {
			cands = append(cands, i)
		}
	}
	if addressed >= 0 {
		for _, i := range cands {
			if i == addressed {
				return []int{i}
			}
		}
		return nil
	}
	limit := s.Config.MaxResponders
	if speaker >= 0 {
		limit = 1
	}
	type pick struct {
		i   int
		pos int
		rel float64
		r   float64
	}
	var named, rolled []pick
	var rest []int
	low := strings.ToLower(text)
	for _, i := range cands {
		if p := mentionAt(low, &s.Actors[i]); p >= 0 {
			named = append(named, pick{i: i, pos: p})
		} else {
			rest = append(rest, i)
		}
	}
	sort.SliceStable(named, func(p, q int) bool { return named[p].pos < named[q].pos })
	var out []int
	for _, p := range named {
		if len(out) < limit {
			out = append(out, p.i)
		}
	}
	if len(out) < limit {
		msg := tokens(text)
		for _, i := range rest {
			a := &s.Actors[i]
			if a.Conv != 0 || busy[i] {
				continue // busy talking; only a mention draws it away
			}
			rel := overlap(msg, knownTerms(a))
			p := min(a.Talk*(0.5+rel), 1)
			if r := s.float(); r < p {
				rolled = append(rolled, pick{i: i, rel: rel, r: r})
			}
		}
		sort.SliceStable(rolled, func(p, q int) bool {
			if rolled[p].rel != rolled[q].rel {
				return rolled[p].rel > rolled[q].rel
			}
			return rolled[p].r < rolled[q].r
		})
		for _, p := range rolled {
			if len(out) < limit {
				out = append(out, p.i)
			}
		}
	}
	if len(out) == 0 && speaker < 0 {
		var free []int
		for _, i := range cands {
			if !busy[i] {
				free = append(free, i)
			}
		}
		if len(free) > 0 {
			out = append(out, free[s.intn(len(free))])
		}
	}
	return out
}
