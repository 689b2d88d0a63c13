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
func selectMemories(all []maopao.ChatMemory, query string, qvec []float32, now time.Time, inWindow map[string]bool, budget int, count func(string) int) []maopao.ChatMemory {
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
		rel := relevance(all, rest, query, qvec)
		rec, imp := make([]float64, len(rest)), make([]float64, len(rest))
		for k, i := range rest {
			hours := now.Sub(all[i].UpdatedAt).Hours()
			rec[k] = math.Pow(0.995, max(hours, 0))
			imp[k] = float64(all[i].Importance)
		}
		normalise(rec)
		normalise(imp)
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

// relevance scores memories idx against the query, in [0, 1]: BM25,
// min-max normalised; with the query's embedding, the mean of that and
// the normalised cosine of the memories' embeddings (a memory not embedded
// yet counts 0 there).
func relevance(all []maopao.ChatMemory, idx []int, query string, qvec []float32) []float64 {
	rel := textsearch.BM25Docs(textsearch.Terms(query), docsOf(all, idx))
	normalise(rel)
	if len(qvec) == 0 {
		return rel
	}
	cos := make([]float64, len(idx))
	any := false
	q8 := EncodeEmbedding(qvec)
	qn := 0.0
	for _, b := range q8 {
		qn += float64(int8(b)) * float64(int8(b))
	}
	scale := 1 / (math.Sqrt(qn) * 127)
	for k, i := range idx {
		if e := all[i].Embedding; len(e) == len(q8) && qn > 0 {
			// Both are unit vectors quantized by 127: the stored one's
			// length is 127 but for rounding.
			cos[k], any = float64(dotInt8(q8, e))*scale, true
		}
	}
	if !any {
		return rel
	}
	normalise(cos)
	for k := range rel {
		rel[k] = (rel[k] + cos[k]) / 2
	}
	return rel
}

// EmbeddingDims is the width embeddings are kept at: a model's hidden
// states (2,048–4,096 wide) are reduced by a fixed random ±1 projection
// (Johnson–Lindenstrauss: cosines keep within a few hundredths), so a
// memory costs 256 bytes and recall over 10,000 of them stays in budget.
const EmbeddingDims = 256

var projections sync.Map // input width → []float32, n × EmbeddingDims of ±1

// projectionFor is the fixed ±1 matrix for inputs n wide, drawn from a
// fixed seed: every process projects alike.
func projectionFor(n int) []float32 {
	if p, ok := projections.Load(n); ok {
		return p.([]float32)
	}
	m := make([]float32, n*EmbeddingDims)
	x := uint64(0x6d61_6f70_616f_2121)
	for i := 0; i < len(m); i += 64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		for k := 0; k < 64 && i+k < len(m); k++ {
			m[i+k] = float32(int(z>>k&1)*2 - 1)
		}
	}
	p, _ := projections.LoadOrStore(n, m)
	return p.([]float32)
}

// EncodeEmbedding is how an embedding is kept and compared: reduced to
// EmbeddingDims (when wider), scaled to unit length and quantized.
func EncodeEmbedding(v []float32) []byte {
	if len(v) > EmbeddingDims {
		p := projectionFor(len(v))
		out := make([]float32, EmbeddingDims)
		for i, x := range v {
			row := p[i*EmbeddingDims : (i+1)*EmbeddingDims]
			for j, s := range row {
				out[j] += x * s
			}
		}
		v = out
	}
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s > 0 {
		u := make([]float32, len(v))
		for i, x := range v {
			u[i] = float32(float64(x) / math.Sqrt(s))
		}
		v = u
	}
	return QuantizeEmbedding(v)
}

// QuantizeEmbedding stores a unit vector as signed bytes (value × 127).
func QuantizeEmbedding(v []float32) []byte {
	out := make([]byte, len(v))
	for i, x := range v {
		q := math.Round(float64(x) * 127)
		out[i] = byte(int8(min(max(q, -127), 127)))
	}
	return out
}

// dotInt8 is the dot product of two signed-byte vectors of one length.
func dotInt8(a, b []byte) int32 {
	var s0, s1, s2, s3 int32
	n := len(a) &^ 3
	b = b[:len(a)]
	for i := 0; i < n; i += 4 {
		s0 += int32(int8(a[i])) * int32(int8(b[i]))
		s1 += int32(int8(a[i+1])) * int32(int8(b[i+1]))
		s2 += int32(int8(a[i+2])) * int32(int8(b[i+2]))
		s3 += int32(int8(a[i+3])) * int32(int8(b[i+3]))
	}
	for i := n; i < len(a); i++ {
		s0 += int32(int8(a[i])) * int32(int8(b[i]))
	}
	return s0 + s1 + s2 + s3
}

// cosineQ is the cosine of a unit query vector with a quantized one.
func cosineQ(q []float32, e []byte) float64 {
	var dot, norm float64
	for i, b := range e {
		x := float64(int8(b))
		dot += float64(q[i]) * x
		norm += x * x
	}
	if norm == 0 {
		return 0
	}
	return dot / math.Sqrt(norm)
}
