// Package textsearch scores texts against a query the way the platform's
// memories are searched: terms (lower-cased words, and for CJK scripts,
// which have no spaces, every character and every pair of neighbouring
// characters), English stopwords left out, and BM25. World residents and
// chat characters both recall with it.
package textsearch

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Terms splits text into search terms: lower-cased words for alphabetic
// scripts, and for CJK (which has no spaces) every character plus every
// pair of neighbouring characters, so both single-character words and
// two-character compounds can match.
func Terms(text string) []string {
	var out []string
	var z tokenizer
	z.each(text, func(t []byte) { out = append(out, string(t)) })
	return out
}

// tokenizer holds the buffers of each, so that a caller tokenising many
// texts allocates them once.
type tokenizer struct {
	word []byte
	pair [8]byte // one or two CJK runes, UTF-8
}

// each calls fn with every term of text, as tokens describes, without
// allocating per term: t is only valid during the call.
func (z *tokenizer) each(text string, fn func(t []byte)) {
	word := z.word[:0]
	pair := z.pair[:]
	prevLen := 0 // bytes of the previous CJK rune in pair, 0 if none
	for i, r := range text {
		switch {
		case r < utf8.RuneSelf && ('a' <= r && r <= 'z' || '0' <= r && r <= '9'):
			prevLen = 0
			word = append(word, byte(r))
		case r < utf8.RuneSelf && 'A' <= r && r <= 'Z':
			prevLen = 0
			word = append(word, byte(r+'a'-'A'))
		case r < utf8.RuneSelf:
			// ASCII punctuation and spaces end a word: "Mira's" is about
			// Mira (the "s" is a stopword).
			prevLen = 0
			word = flushWord(word, fn)
		case IsCJK(r):
			word = flushWord(word, fn)
			size := utf8.RuneLen(r)
			if prevLen > 0 {
				n := copy(pair[prevLen:], text[i:i+size])
				fn(pair[prevLen : prevLen+n])
				fn(pair[:prevLen+n])
			} else {
				fn(pair[:copy(pair, text[i:i+size])])
			}
			prevLen = copy(pair, text[i:i+size])
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			prevLen = 0
			word = utf8.AppendRune(word, unicode.ToLower(r))
		default:
			// Other punctuation and symbols (’, “, 。) end a word too.
			prevLen = 0
			word = flushWord(word, fn)
		}
	}
	z.word = flushWord(word, fn)
}

func flushWord(word []byte, fn func([]byte)) []byte {
	if len(word) > 0 && !stopwords[string(word)] {
		fn(word)
	}
	return word[:0]
}

// IsCJK reports runes of scripts written without spaces between words
// (Han, Hiragana, Katakana, Hangul).
func IsCJK(r rune) bool {
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

// BM25 parameters, the usual ones.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Products are wrapped in float64(...) conversions on purpose: Go may fuse
// x*y+z into one FMA instruction on arm64, ppc64 and s390x, which rounds
// differently; an explicit conversion forbids the fusion, so rankings (and
// with them replays) agree across machines.

// BM25 scores every text against the query terms over the given corpus,
// with the always-positive idf ln(1 + (N - n + 0.5)/(n + 0.5)).
func BM25(query []string, texts []string) []float64 {
	scores := make([]float64, len(texts))
	if len(texts) == 0 || len(query) == 0 {
		return scores
	}
	terms := map[string]int{}
	for _, q := range query {
		if _, ok := terms[q]; !ok {
			terms[q] = len(terms)
		}
	}
	nt := len(terms)
	tf := make([]int32, len(texts)*nt)
	dl := make([]int32, len(texts))
	df := make([]int, nt)
	total := 0
	var z tokenizer
	var row []int32
	n := int32(0)
	count := func(t []byte) { // one closure for all texts: no allocation per text
		n++
		if k, ok := terms[string(t)]; ok {
			if row[k] == 0 {
				df[k]++
			}
			row[k]++
		}
	}
	for d, text := range texts {
		row, n = tf[d*nt:(d+1)*nt], 0
		z.each(text, count)
		dl[d] = n
		total += int(n)
	}
	docs := float64(len(texts))
	avg := float64(total) / docs
	if avg == 0 {
		return scores
	}
	idf := make([]float64, nt)
	for k, f := range df {
		idf[k] = math.Log(1 + (docs-float64(f)+0.5)/(float64(f)+0.5))
	}
	for d := range texts {
		row := tf[d*nt : (d+1)*nt]
		norm := float64(bm25K1 * (1 - bm25B + bm25B*float64(dl[d])/avg))
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

// Doc is a text's terms counted once, for scoring it against many queries
// (BM25Docs) without tokenising it again.
type Doc struct {
	n  int32
	tf map[string]int32
}

// NewDoc counts the terms of text.
func NewDoc(text string) Doc {
	d := Doc{tf: map[string]int32{}}
	var z tokenizer
	z.each(text, func(t []byte) {
		d.n++
		d.tf[string(t)]++
	})
	return d
}

// BM25Docs is BM25 over documents counted beforehand; it gives the same
// scores as BM25 over their texts.
func BM25Docs(query []string, docs []Doc) []float64 {
	scores := make([]float64, len(docs))
	if len(docs) == 0 || len(query) == 0 {
		return scores
	}
	var terms []string
	seen := map[string]bool{}
	for _, q := range query {
		if !seen[q] {
			seen[q] = true
			terms = append(terms, q)
		}
	}
	df := make([]int, len(terms))
	total := 0
	for _, d := range docs {
		total += int(d.n)
		for k, t := range terms {
			if d.tf[t] > 0 {
				df[k]++
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
	for i, d := range docs {
		norm := float64(bm25K1 * (1 - bm25B + bm25B*float64(d.n)/avg))
		var sc float64
		for k, t := range terms {
			if f := d.tf[t]; f > 0 {
				x := float64(f)
				sc += float64(idf[k] * float64(x*(bm25K1+1)) / float64(x+norm))
			}
		}
		scores[i] = sc
	}
	return scores
}
