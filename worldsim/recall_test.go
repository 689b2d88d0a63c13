package worldsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
)

func words(s string) int { return len(strings.Fields(s)) + 1 }

func mem(id, kind, text string, imp int, at time.Time) maopao.ChatMemory {
	return maopao.ChatMemory{ID: id, PlayerID: "p", CharacterID: "c", Kind: kind, Text: text, Importance: imp, Source: "src-" + id, CreatedAt: at, UpdatedAt: at}
}

// Pinned memories come first; a relevant old memory beats unrelated recent
// ones; lines still in the window are left out; the budget holds.
func TestSelectMemories(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var all []maopao.ChatMemory
	for i := 0; i < 50; i++ {
		all = append(all, mem(fmt.Sprintf("filler%02d", i), maopao.ChatMemorySaid, fmt.Sprintf("Ada said: the weather is mild today, number %d.", i), 3, now.Add(-time.Duration(i)*time.Minute)))
	}
	all = append(all,
		mem("sister", maopao.ChatMemorySaid, "Ada said: my sister Lin is a nurse at the river hospital.", 5, now.Add(-30*24*time.Hour)),
		mem("pin", maopao.ChatMemoryNote, "Ada is allergic to peanuts.", 7, now.Add(-60*24*time.Hour)),
		mem("window", maopao.ChatMemorySaid, "Ada said: how is my sister?", 4, now))
	all[len(all)-2].Pinned = true
	inWindow := map[string]bool{"src-window": true}

	got := selectMemories(all, "How is my sister doing?", nil, now, inWindow, 60, words)
	if len(got) == 0 || got[0].ID != "pin" {
		t.Fatalf("first recalled %+v, want the pinned note", got)
	}
	ids := map[string]bool{}
	used := 0
	for _, m := range got {
		ids[m.ID] = true
		used += words(m.Text) + 2
	}
	if !ids["sister"] {
		t.Errorf("the relevant month-old line is not recalled among %d", len(got))
	}
	if ids["window"] {
		t.Error("a line still in the history window is recalled")
	}
	if used > 60 {
		t.Errorf("recalled %d tokens, budget 60", used)
	}
	// Same inputs, same memories: prompts must not depend on map order.
	again := selectMemories(all, "How is my sister doing?", nil, now, inWindow, 60, words)
	if fmt.Sprint(again) != fmt.Sprint(got) {
		t.Error("two selections of the same input differ")
	}
	// Nothing relevant: the important and recent ones.
	if got := selectMemories(all, "zzz", nil, now, inWindow, 1000, words); len(got) > MaxRecalled {
		t.Errorf("%d recalled, at most %d", len(got), MaxRecalled)
	}
}

// BenchmarkSelectMemories10k: recalling for a prompt from a chat with
// 10,000 memories (the goal: under 5 ms).
func BenchmarkSelectMemories10k(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	topics := []string{"tea", "river", "sister", "market", "winter", "boat", "garden", "letter", "mountain", "song"}
	all := make([]maopao.ChatMemory, 10000)
	for i := range all {
		all[i] = mem(fmt.Sprintf("m%05d", i), maopao.ChatMemorySaid,
			fmt.Sprintf("Ada said: I went to the %s with the %s on day %d and it was fine.", topics[i%10], topics[(i*7)%10], i), 1+i%10, now.Add(-time.Duration(i)*time.Minute))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		selectMemories(all, "Tell me about the river and my sister again.", nil, now, nil, 1024, words)
	}
}

// topN keeps exactly what a full sort would put first.
func TestTopNMatchesSort(t *testing.T) {
	score := make([]int, 1000)
	for i := range score {
		score[i] = (i * 7919) % 613 // many ties
	}
	better := func(a, b int) int {
		if score[a] != score[b] {
			return score[b] - score[a]
		}
		return a - b
	}
	all := make([]int, len(score))
	for i := range all {
		all[i] = i
	}
	sorted := append([]int(nil), all...)
	slices.SortFunc(sorted, better)
	for _, n := range []int{1, 7, 160, 999, 1000, 2000} {
		got := topN(append([]int(nil), all...), n, better)
		want := sorted[:min(n, len(sorted))]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("topN(%d) differs from the sorted prefix", n)
		}
	}
}

// BenchmarkSelectMemories10kEmbedded is the same with every memory and the
// query embedded (2,048 dimensions, a real model's width): the hybrid's
// cost.
func BenchmarkSelectMemories10kEmbedded(b *testing.B) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	topics := []string{"tea", "river", "sister", "market", "winter", "boat", "garden", "letter", "mountain", "song"}
	const dims = 2048
	vec := func(seed int) []float32 {
		v := make([]float32, dims)
		x := uint32(seed*2654435761 + 1)
		var s float64
		for i := range v {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			v[i] = float32(int32(x)) / (1 << 31)
			s += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(s))
		}
		return v
	}
	all := make([]maopao.ChatMemory, 10000)
	for i := range all {
		all[i] = mem(fmt.Sprintf("m%05d", i), maopao.ChatMemorySaid,
			fmt.Sprintf("Ada said: I went to the %s with the %s on day %d and it was fine.", topics[i%10], topics[(i*7)%10], i), 1+i%10, now.Add(-time.Duration(i)*time.Minute))
		all[i].Embedding = EncodeEmbedding(vec(i))
	}
	q := vec(-1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		selectMemories(all, "Tell me about the river and my sister again.", q, now, nil, 1024, words)
	}
}
