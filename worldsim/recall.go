package worldsim

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/internal/textsearch"
)

// Long-term memory of one-to-one chats, as the world's residents have it
// (Generative Agents): every line a player says, and every fact they tell
// about themselves, becomes a memory of the (player, character) pair, and
// each prompt recalls the memories that score best on recency, importance
// and relevance to the line being answered, pinned ones first. The
// memories live in the store (storage.ChatMemories), where the memory
// manager lets the player see, pin, edit and forget them; the actor reads
// them afresh for every reply (Recall), so an edit or a forgetting holds
// from the next reply on.

// RecallBudget bounds the memories a prompt recalls: at most this share of
// the model's context, and at most MaxRecalled of them.
const (
	RecallBudget = 0.25
	MaxRecalled  = 40
)

// memoryNamespace derives memory IDs from what they come from, so a line
// handled twice (after a crash) leaves one memory.
var memoryNamespace = uuid.MustParse("0b6f8a3e-52c1-4d0e-9b7a-4c2d1e8f6a90")

// SaidMemoryID is the ID of the memory of player line lineID.
func SaidMemoryID(lineID string) string {
	return uuid.NewSHA1(memoryNamespace, []byte("said\x00"+lineID)).String()
}

// FactMemoryID is the ID of a fact about the player: the same fact told
// twice is one memory.
func FactMemoryID(playerID, characterID, fact string) string {
	return uuid.NewSHA1(memoryNamespace, []byte("fact\x00"+playerID+"\x00"+characterID+"\x00"+strings.ToLower(fact))).String()
}

// memoriesOfLine are the memories a player's line leaves: what was said,
// and the facts in it.
func memoriesOfLine(s ChatState, m maopao.Message) []maopao.ChatMemory {
	who := s.PlayerName
	if who == "" {
		who = "The player"
	}
	facts := ExtractFacts(m.Content)
	base := maopao.ChatMemory{PlayerID: s.Conversation.PlayerID, CharacterID: s.Character.ID, Source: m.ID, CreatedAt: m.CreatedAt, UpdatedAt: m.CreatedAt}
	said := base
	said.ID, said.Kind = SaidMemoryID(m.ID), maopao.ChatMemorySaid
	said.Text = who + " said: " + clip(oneLine(m.Content), 400)
	if n := len(m.Pictures); n > 0 {
		said.Text = strings.TrimSuffix(said.Text, " said: ") + pictureWords(n)
	}
	said.Importance = sayImportance(m.Content, len(facts) > 0)
	out := []maopao.ChatMemory{said}
	for _, f := range facts {
		fm := base
		fm.ID, fm.Kind, fm.Text, fm.Importance = FactMemoryID(base.PlayerID, base.CharacterID, f), maopao.ChatMemoryFact, f, 8
		out = append(out, fm)
	}
	return out
}

// sayImportance guesses how much a line is worth remembering (1..10),
// without asking the model: lines about the speaker, longer lines and
// lines with facts weigh more than greetings.
func sayImportance(text string, hasFacts bool) int {
	imp := 3
	lower := " " + strings.ToLower(oneLine(text)) + " "
	for _, w := range []string{" i ", " i'm ", " my ", " me ", "我", " remember ", " never ", " always ", " love ", " hate ", " promise "} {
		if strings.Contains(lower, w) {
			imp++
			break
		}
	}
	if n := len([]rune(text)); n > 80 {
		imp++
	} else if n < 15 {
		imp--
	}
	if hasFacts {
		imp += 3
	}
	return min(max(imp, 1), 10)
}

// docs counts the terms of memory texts once per process: a chat's
// memories are recalled for every reply, mostly unchanged. Bounded: past
// maxCachedDocs texts it starts afresh.
var docs = struct {
	sync.Mutex
	m map[string]textsearch.Doc
}{m: map[string]textsearch.Doc{}}

const maxCachedDocs = 200_000

func docsOf(ms []maopao.ChatMemory, idx []int) []textsearch.Doc {
	out := make([]textsearch.Doc, len(idx))
	docs.Lock()
	defer docs.Unlock()
	if len(docs.m) > maxCachedDocs {
		docs.m = map[string]textsearch.Doc{}
	}
	for k, i := range idx {
		d, ok := docs.m[ms[i].Text]
		if !ok {
			d = textsearch.NewDoc(ms[i].Text)
			docs.m[ms[i].Text] = d
		}
		out[k] = d
	}
	return out
}

// selectMemories picks what a prompt recalls from all of the pair's
// memories: pinned ones first (newest first), then the rest by recency ×
// importance × relevance to query, min-max normalised as the world's
// residents recall, until budget tokens (as count says) or MaxRecalled.
// Memories of lines still in the prompt's history (inWindow) are left out:
// the prompt has them word for word.
func selectMemories(all []maopao.ChatMemory, query string, now time.Time, inWindow map[string]bool, budget int, count func(string) int) []maopao.ChatMemory {
	var pinned []maopao.ChatMemory
	var rest []int // indices into all
	for i, m := range all {
		switch {
		case m.Kind == maopao.ChatMemorySaid && inWindow[m.Source]:
		case m.Pinned:
			pinned = append(pinned, m)
		default:
			rest = append(rest, i)
		}
	}
	slices.SortFunc(pinned, func(a, b maopao.ChatMemory) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	quant := make([]int64, len(all))
	if len(rest) > 0 {
		rel := textsearch.BM25Docs(textsearch.Terms(query), docsOf(all, rest))
		rec, imp := make([]float64, len(rest)), make([]float64, len(rest))
		for k, i := range rest {
			hours := now.Sub(all[i].UpdatedAt).Hours()
			rec[k] = math.Pow(0.995, max(hours, 0))
			imp[k] = float64(all[i].Importance)
		}
		normalise(rec)
		normalise(imp)
		normalise(rel)
		for k, i := range rest {
			// Rank on a rounded score: last-bit differences must not
			// reorder near-ties between machines.
			quant[i] = int64(math.Round((rec[k] + imp[k] + rel[k]) * 1e9))
		}
		better := func(i, j int) int {
			if quant[i] != quant[j] {
				return cmp.Compare(quant[j], quant[i])
			}
			if c := all[j].CreatedAt.Compare(all[i].CreatedAt); c != 0 {
				return c
			}
			return cmp.Compare(all[j].ID, all[i].ID)
		}
		// Only the best few can be recalled: keep those, sorted, rather
		// than sorting thousands.
		rest = topN(rest, 4*MaxRecalled, better)
	}
	var out []maopao.ChatMemory
	used := 0
	take := func(m maopao.ChatMemory) bool {
		cost := count(m.Text) + 2
		if used+cost > budget || len(out) >= MaxRecalled {
			return false
		}
		used += cost
		out = append(out, m)
		return true
	}
	for _, m := range pinned {
		// Pinned memories take at most half the budget, so the rest of
		// what is recalled still has room.
		if used+count(m.Text)+2 <= budget/2 {
			take(m)
		}
	}
	for _, i := range rest {
		if len(out) >= MaxRecalled {
			break
		}
		take(all[i])
	}
	return out
}

// topN returns the n best of xs by cmp (negative: the first is better),
// best first. xs is reordered.
func topN(xs []int, n int, better func(a, b int) int) []int {
	if len(xs) <= n {
		slices.SortFunc(xs, better)
		return xs
	}
	// A bounded max-heap of the best n so far, its worst at the root.
	h := xs[:0:0]
	worse := func(a, b int) bool { return better(a, b) > 0 }
	down := func(i int) {
		for {
			l, w := 2*i+1, i
			if l < len(h) && worse(h[l], h[w]) {
				w = l
			}
			if r := l + 1; r < len(h) && worse(h[r], h[w]) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for _, x := range xs {
		if len(h) < n {
			h = append(h, x)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if better(x, h[0]) < 0 {
			h[0] = x
			down(0)
		}
	}
	slices.SortFunc(h, better)
	return h
}

// normalise maps scores onto [0, 1]; all equal say nothing and become 0.
func normalise(x []float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	for i := range x {
		if hi > lo {
			x[i] = (x[i] - lo) / (hi - lo)
		} else {
			x[i] = 0
		}
	}
}

// pictureWords says in a memory that pictures were shown.
func pictureWords(n int) string {
	if n == 1 {
		return " (showing a picture)"
	}
	return " (showing " + strconv.Itoa(n) + " pictures)"
}
