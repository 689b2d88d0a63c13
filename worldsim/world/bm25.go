package world

import "github.com/maopao/maopao/internal/textsearch"

func tokens(text string) []string { return textsearch.Terms(text) }

func bm25(query, texts []string) []float64 { return textsearch.BM25(query, texts) }

func isCJK(r rune) bool { return textsearch.IsCJK(r) }

// overlap is the share of the message's distinct terms that also appear in
// the character's terms: a cheap relevance for deciding who speaks up.
func overlap(msg []string, known map[string]bool) float64 {
	if len(msg) == 0 {
		return 0
	}
	seen := map[string]bool{}
	hit := 0
	for _, t := range msg {
		if seen[t] {
			continue
		}
		seen[t] = true
		if known[t] {
			hit++
		}
	}
	return float64(hit) / float64(len(seen))
}
