package world

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/maopao/maopao"
)

// memoryID names a record: the character's ID, '#', and its sequence
// number, so an ID alone leads back to the stream holding it.
func memoryID(charID string, seq int64) string {
	return charID + "#" + strconv.FormatInt(seq, 10)
}

func parseMemoryID(id string) (charID string, seq int64, ok bool) {
	k := strings.LastIndexByte(id, '#')
	if k <= 0 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(id[k+1:], 10, 64)
	if err != nil || n <= 0 {
		return "", 0, false
	}
	return id[:k], n, true
}

func (s *State) record(a *Actor, m *Memory) maopao.MemoryRecord {
	return maopao.MemoryRecord{
		ID: memoryID(a.Card.ID, m.Seq), WorldID: s.World.ID, CharacterID: a.Card.ID,
		Kind: m.Kind, Text: m.Text, Importance: m.Importance, SimMinute: m.SimMinute,
		LastAccess: m.LastAccess, LocationID: m.LocationID, PrivateTo: m.PrivateTo,
		Evidence: m.Evidence, About: m.About, Pinned: m.Pinned,
	}
}

// remember appends a memory to an actor's stream, keeps the stream bounded
// and counts its importance towards the next reflection.
func (s *State) remember(i int, m Memory) (string, Effect) {
	a := &s.Actors[i]
	a.NextMem++
	m.Seq = a.NextMem
	m.SimMinute, m.LastAccess = s.Clock, s.Clock
	m.Importance = clampImp(m.Importance)
	if m.Kind == maopao.MemoryReflection {
		// A reflection does not count towards the next one, or every
		// reflection would call for another at once.
		a.Insights = appendCapped(a.Insights, m, s.Config.ReflectionCap)
	} else {
		a.Stream = appendCapped(a.Stream, m, s.Config.MemoryCap)
		s.addImportance(i, m.Importance)
	}
	return memoryID(a.Card.ID, m.Seq), MemoryAdded{s.record(a, &m)}
}

// appendCapped appends and drops the oldest entries beyond limit. It
// compacts in batches (up to a quarter over the limit) so that a long
// stream does not copy itself on every new memory.
func appendCapped(l []Memory, m Memory, limit int) []Memory {
	l = append(l, m)
	if len(l) > limit+limit/4 {
		n := copy(l, l[len(l)-limit:])
		clear(l[n:])
		l = l[:n]
	}
	return l
}

func (s *State) addImportance(i, delta int) {
	a := &s.Actors[i]
	a.ImpSum = max(a.ImpSum+delta, 0)
	// As in the Generative Agents paper: reflect once the sum exceeds the threshold.
	if a.ImpSum > s.Config.ReflectionThreshold && !a.Reflect && !s.isDue(i) {
		s.Due = append(s.Due, i)
	}
}

func (s *State) isDue(i int) bool {
	for _, d := range s.Due {
		if d == i {
			return true
		}
	}
	return false
}

// findMemory locates a record by ID.
func (s *State) findMemory(id string) (int, *Memory) {
	cid, seq, ok := parseMemoryID(id)
	if !ok {
		return -1, nil
	}
	i, ok := s.actorByID(cid)
	if !ok {
		return -1, nil
	}
	a := &s.Actors[i]
	for _, l := range [][]Memory{a.Stream, a.Insights} {
		k := sort.Search(len(l), func(j int) bool { return l[j].Seq >= seq })
		if k < len(l) && l[k].Seq == seq {
			return i, &l[k]
		}
	}
	return -1, nil
}

// rate sets a memory's importance from a rating and re-stores it.
func (s *State) rate(id string, score int) []Effect {
	i, m := s.findMemory(id)
	if m == nil || score < 1 || score > 10 {
		return nil
	}
	old := m.Importance
	m.Importance, m.Rated = score, true
	if m.Kind != maopao.MemoryReflection {
		s.addImportance(i, score-old)
	}
	return []Effect{MemoryAdded{s.record(&s.Actors[i], m)}}
}

func clampImp(v int) int { return min(max(v, 1), 10) }

// poignant words lift a memory's first importance guess; the engine's
// rating replaces the guess when it arrives.
var poignant = strings.Fields(`love hate die died dead death kill killed secret danger dangerous help
	afraid scared marry married wedding birthday promise war fire stole steal lost cry crying hurt
	sick baby funeral fight attack betray sorry 爱 恨 死 秘密 危险 救命 帮忙 结婚 生日 害怕 哭 打架 偷 喜欢`)

// guessImportance is the cheap importance heuristic (1..10) used at
// creation: a mundane base, raised by poignant words, emphasis, length,
// the character's own name and meeting someone for the first time.
func guessImportance(base int, text, selfName string, firstMeeting bool) int {
	imp := base
	low := strings.ToLower(text)
	for _, w := range poignant {
		if containsWord(low, w) {
			imp += 2
			break
		}
	}
	if strings.ContainsAny(text, "!！") {
		imp++
	}
	if utf8.RuneCountInString(text) > 120 {
		imp++
	}
	if selfName != "" && containsWord(low, strings.ToLower(selfName)) {
		imp++
	}
	if firstMeeting {
		imp += 2
	}
	return clampImp(imp)
}

// containsWord reports whether w occurs in text on word boundaries (for
// alphabetic words; CJK words match anywhere, having no boundaries).
func containsWord(text, w string) bool {
	return wordIndex(text, w) >= 0
}

func wordIndex(text, w string) int {
	if w == "" {
		return -1
	}
	first, _ := utf8.DecodeRuneInString(w)
	last, _ := utf8.DecodeLastRuneInString(w)
	off := 0
	for {
		k := strings.Index(text[off:], w)
		if k < 0 {
			return -1
		}
		at := off + k
		before, _ := utf8.DecodeLastRuneInString(text[:at])
		after, _ := utf8.DecodeRuneInString(text[at+len(w):])
		okBefore := at == 0 || isCJK(first) || !isWordRune(before)
		okAfter := at+len(w) == len(text) || isCJK(last) || !isWordRune(after)
		if okBefore && okAfter {
			return at
		}
		off = at + len(w)
	}
}

func isWordRune(r rune) bool {
	return r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r > 127 && !isCJK(r) && r != utf8.RuneError && !strings.ContainsRune("，。！？、：；“”‘’（）…—", r))
}

// meet records that an actor has seen a player, returning true the first
// time. Residents of a world are neighbours and never meet for the first
// time. The set is capped; past the cap every new player counts as new.
func meet(a *Actor, who string) bool {
	const metCap = 256
	k := sort.SearchStrings(a.Met, who)
	if k < len(a.Met) && a.Met[k] == who {
		return false
	}
	if len(a.Met) < metCap {
		a.Met = append(a.Met, "")
		copy(a.Met[k+1:], a.Met[k:])
		a.Met[k] = who
	}
	return true
}

// visible is the privacy filter: a memory from a private conversation only
// reaches prompts whose audience is that same player. A room audience is
// everyone at the location, so no private memory may reach it.
func visible(m *Memory, aud Audience) bool {
	return m.PrivateTo == "" || (aud.PlayerID != "" && aud.LocationID == "" && m.PrivateTo == aud.PlayerID)
}

// scored is a retrieval candidate.
type scored struct {
	m                    *Memory
	rec, imp, rel, total float64
	quant                int64
}

// retrieve returns the k memories of actor i that best fit the query for
// the given audience, by α_rec·recency + α_imp·importance + α_rel·relevance
// with each part min-max normalised over the candidates, and marks them
// accessed now. Ties go to the newer memory.
func (s *State) retrieve(i int, query string, aud Audience, k int) []*Memory {
	// Memories a player pinned come first, beside the k best.
	out := s.pinnedFor(i, aud)
	pinned := len(out)
	for _, c := range s.candidates(i, query, aud) {
		if len(out) >= pinned+k {
			break
		}
		if !c.m.Pinned || !slices.Contains(out[:pinned], c.m) {
			out = append(out, c.m)
		}
	}
	for _, m := range out {
		m.LastAccess = s.Clock
	}
	return out
}

// candidates scores every visible memory of actor i, best first, without
// touching LastAccess.
func (s *State) candidates(i int, query string, aud Audience) []scored {
	a := &s.Actors[i]
	var c []scored
	for _, l := range [][]Memory{a.Stream, a.Insights} {
		for j := range l {
			if visible(&l[j], aud) {
				c = append(c, scored{m: &l[j]})
			}
		}
	}
	if len(c) == 0 {
		return nil
	}
	texts := make([]string, len(c))
	for j := range c {
		texts[j] = c[j].m.Text
	}
	rel := bm25(tokens(query), texts)
	for j := range c {
		hours := float64(s.Clock-c[j].m.LastAccess) / 60
		c[j].rec = math.Pow(0.995, hours)
		c[j].imp = float64(c[j].m.Importance)
		c[j].rel = rel[j]
	}
	normalise(c, func(x *scored) *float64 { return &x.rec })
	normalise(c, func(x *scored) *float64 { return &x.imp })
	normalise(c, func(x *scored) *float64 { return &x.rel })
	w := s.Config.Weights
	for j := range c {
		x := &c[j]
		x.total = float64(w.Recency*x.rec) + float64(w.Importance*x.imp) + float64(w.Relevance*x.rel)
		// Rank on a rounded score so that last-bit differences between
		// math libraries cannot reorder near-ties.
		x.quant = int64(math.Round(x.total * 1e9))
	}
	// Seq is unique within an actor, so this is a total order.
	slices.SortFunc(c, func(p, q scored) int {
		if p.quant != q.quant {
			return cmp.Compare(q.quant, p.quant)
		}
		return cmp.Compare(q.m.Seq, p.m.Seq)
	})
	return c
}

// normalise maps one score part onto [0, 1] over the candidates; when all
// candidates have the same value, the part says nothing and becomes 0.
func normalise(c []scored, f func(*scored) *float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for j := range c {
		v := *f(&c[j])
		lo, hi = min(lo, v), max(hi, v)
	}
	for j := range c {
		p := f(&c[j])
		if hi > lo {
			*p = (*p - lo) / (hi - lo)
		} else {
			*p = 0
		}
	}
}
