package world

import (
	"math"
	"strings"
	"unicode"
)

// tokens splits text into search terms: lower-cased words for alphabetic
// scripts, and for CJK (which has no spaces) every character plus every
// pair of neighbouring characters, so both single-character words and
// two-character compounds can match.
func tokens(text string) []string {
	var out []string
	var word strings.Builder
	var prev rune = -1 // previous CJK rune in the current run
	flushWord := func() {
		if word.Len() > 0 {
			w := word.String()
			if !stopword(w) {
				out = append(out, w)
			}
			word.Reset()
		}
	}
	for _, r := range text {
		switch {
		case isCJK(r):
			flushWord()
			out = append(out, string(r))
			if prev >= 0 {
				out = append(out, string([]rune{prev, r}))
			}
			prev = r
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			prev = -1
			word.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			// "Mira's" is about Mira: drop the possessive, keep the word.
			prev = -1
			flushWord()
		default:
			prev = -1
			flushWord()
		}
	}
	flushWord()
	return out
}

func isCJK(r rune) bool {
	if r < 0x1100 { // below Hangul Jamo: no CJK script starts earlier
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a an and are as at be but by do for from had has have he her him his i
		if in into is it its me my no not of on or our s she so t that the their them then there they this
		to up us was we were what when where which who will with would you your`) {
		stopwords[w] = true
	}
}

func stopword(w string) bool { return stopwords[w] }

// BM25 parameters, the usual ones.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Products are wrapped in float64(...) conversions on purpose: Go may fuse
// x*y+z into one FMA instruction on arm64, ppc64 and s390x, which rounds
// differently; an explicit conversion forbids the fusion, so rankings (and
// with them replays) agree across machines.

// bm25 scores every document against the query over the given corpus,
// with the always-positive idf ln(1 + (N - n + 0.5)/(n + 0.5)).
func bm25(query []string, docs [][]string) []float64 {
	scores := make([]float64, len(docs))
	if len(docs) == 0 || len(query) == 0 {
		return scores
	}
	terms := map[string]int{}
	for _, q := range query {
		if _, ok := terms[q]; !ok {
			terms[q] = len(terms)
		}
	}
	df := make([]int, len(terms))
	tf := make([]int, len(docs)*len(terms))
	total := 0
	for d, doc := range docs {
		total += len(doc)
		row := tf[d*len(terms) : (d+1)*len(terms)]
		for _, t := range doc {
			if k, ok := terms[t]; ok {
				if row[k] == 0 {
					df[k]++
				}
				row[k]++
			}
		}
	}
	n := float64(len(docs))
	avg := float64(total) / n
	if avg == 0 {
		return scores
	}
	idf := make([]float64, len(terms))
	for k, f := range df {
		idf[k] = math.Log(1 + (n-float64(f)+0.5)/(float64(f)+0.5))
	}
	for d, doc := range docs {
		row := tf[d*len(terms) : (d+1)*len(terms)]
		norm := float64(bm25K1 * (1 - bm25B + bm25B*float64(len(doc))/avg))
		var sc float64
		for k, f := range row {
			if f > 0 {
				x := float64(f)
				sc += float64(idf[k] * float64(x*(bm25K1+1)) / float64(x+norm))
			}
		}
		scores[d] = sc
	}
	return scores
}

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
