package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// SentencePiece-style encoding as llama.cpp does it for "llama" vocabularies:
// start from single characters, repeatedly join the adjacent pair whose join
// is the vocabulary entry with the highest score, and spell anything left
// outside the vocabulary as <0xXX> byte tokens.

type spmSym struct {
	start, n   int32
	prev, next int32
}

type spmBigram struct {
	score       float32
	left, right int32
	size        int32
}

// spmBefore orders bigrams by score, highest first, then by position.
func spmBefore(a, b spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

// spmLookup finds a vocabulary entry usable as a piece. Control tokens are
// never formed from plain text: that would let a user spell "</s>" out of
// "</" and "s>" and end the model's turn.
func (t *Tokenizer) spmLookup(s string) (int32, bool) {
	id, ok := t.toID[s]
	if !ok || t.types[id] == TypeControl {
		return 0, false
	}
	return id, true
}

func (t *Tokenizer) encodeSPM(text string, out []int) []int {
	if text == "" {
		return out
	}
	s := strings.ReplaceAll(text, " ", spmSpace)
	syms := make([]spmSym, 0, len(s))
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		k := int32(len(syms))
		syms = append(syms, spmSym{start: int32(i), n: int32(size), prev: k - 1, next: k + 1})
		i += size
	}
	syms[len(syms)-1].next = -1

	h := minHeap[spmBigram]{less: spmBefore}
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		a, b := syms[l], syms[r]
		piece := s[a.start : b.start+b.n]
		id, ok := t.spmLookup(piece)
		if !ok {
			return
		}
		var score float32
		if t.scores != nil {
			score = t.scores[id]
		}
		h.push(spmBigram{score: score, left: l, right: r, size: int32(len(piece))})
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for h.len() > 0 {
		bg := h.pop()
		ls, rs := &syms[bg.left], &syms[bg.right]
		if ls.n == 0 || rs.n == 0 || ls.n+rs.n != bg.size {
			continue // one side was merged since this pair was queued
		}
		ls.n += rs.n
		rs.n = 0
		ls.next = rs.next
		if rs.next >= 0 {
			syms[rs.next].prev = bg.left
		}
		try(ls.prev, bg.left)
		try(bg.left, ls.next)
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		sym := syms[i]
		piece := s[sym.start : sym.start+sym.n]
		if id, ok := t.spmLookup(piece); ok {
			out = append(out, int(id))
			continue
		}
		for j := 0; j < len(piece); j++ {
			if id := t.byteTok[piece[j]]; id >= 0 {
				out = append(out, int(id))
			} else if t.unk >= 0 {
				out = append(out, t.unk)
			}
		}
	}
	return out
}
