package tokenizer

import (
	"fmt"
	"strings"
	"sync"
)

// bpeModel runs rank-ordered byte-level BPE merges. Symbols are token ids;
// a merge whose result is missing from the vocabulary gets a synthetic id
// past the end so the algorithm still follows the merge list exactly, and
// such symbols fall back to byte tokens at the end (as llama.cpp does).
type bpeModel struct {
	n            int // vocabulary size; ids >= n are synthetic
	merges       map[uint64]bpeMerge
	byteSym      [256]int32 // symbol for each raw byte
	toID         map[string]int32
	ignoreMerges bool

	mu    sync.RWMutex
	cache map[string][]int32
}

type bpeMerge struct {
	rank   int32
	result int32
}

const bpeCacheMax = 1 << 16

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(toID map[string]int32, n int, merges []string, ignoreMerges bool) (*bpeModel, error) {
	if int64(n)+int64(len(merges))+256 >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: metadata %s: %d merges is too many", KeyMerges, len(merges))
	}
	m := &bpeModel{
		n:            n,
		merges:       make(map[uint64]bpeMerge, len(merges)),
		toID:         toID,
		ignoreMerges: ignoreMerges,
		cache:        make(map[string][]int32),
	}
	synth := map[string]int32{}
	symbol := func(s string) int32 {
		if id, ok := toID[s]; ok {
			return id
		}
		if id, ok := synth[s]; ok {
			return id
		}
		id := int32(n + len(synth))
		synth[s] = id
		return id
	}
	for b := 0; b < 256; b++ {
		m.byteSym[b] = symbol(byteToText[b])
	}
	for i, line := range merges {
		// The separator is the first space after the first character, so a
		// left side that is itself a space still parses.
		sp := -1
		if len(line) > 1 {
			if j := strings.IndexByte(line[1:], ' '); j >= 0 {
				sp = j + 1
			}
		}
		if sp < 0 || sp == len(line)-1 {
			return nil, fmt.Errorf("tokenizer: metadata %s[%d]: %q is not \"left right\"", KeyMerges, i, line)
		}
		left, right := line[:sp], line[sp+1:]
		l, ok := toID[left]
		if !ok {
			return nil, fmt.Errorf("tokenizer: metadata %s[%d]: %q names unknown token %q", KeyMerges, i, line, left)
		}
		r, ok := toID[right]
		if !ok {
			return nil, fmt.Errorf("tokenizer: metadata %s[%d]: %q names unknown token %q", KeyMerges, i, line, right)
		}
		k := pairKey(l, r)
		if _, dup := m.merges[k]; dup {
			continue // the first (lowest) rank wins
		}
		m.merges[k] = bpeMerge{rank: int32(i), result: symbol(left + right)}
	}
	return m, nil
}

// encodeWord appends the ids of one pre-tokenized word (raw bytes).
func (m *bpeModel) encodeWord(word string, unk int, out []int) []int {
	if word == "" {
		return out
	}
	m.mu.RLock()
	ids, ok := m.cache[word]
	m.mu.RUnlock()
	if !ok {
		ids = m.merge(word, unk)
		m.mu.Lock()
		if len(m.cache) >= bpeCacheMax {
			clear(m.cache)
		}
		// word points into the caller's text; a copy keeps the cache from
		// pinning whole prompts in memory.
		m.cache[strings.Clone(word)] = ids
		m.mu.Unlock()
	}
	for _, id := range ids {
		out = append(out, int(id))
	}
	return out
}

type bpeSym struct {
	id         int32
	prev, next int32
	start, end int32 // byte span in the word
}

type bpeCand struct {
	rank        int32
	left        int32 // symbol index
	lid, rid    int32
	mergeResult int32
}

// bpeBefore orders merge candidates by (rank, left position): the
// standard BPE order.
func bpeBefore(a, b bpeCand) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

func (m *bpeModel) merge(word string, unk int) []int32 {
	if m.ignoreMerges {
		if id, ok := m.toID[byteLevelEncode(word)]; ok {
			return []int32{id}
		}
	}
	syms := make([]bpeSym, len(word))
	for i := 0; i < len(word); i++ {
		syms[i] = bpeSym{id: m.byteSym[word[i]], prev: int32(i - 1), next: int32(i + 1), start: int32(i), end: int32(i + 1)}
	}
	syms[len(syms)-1].next = -1
	h := minHeap[bpeCand]{less: bpeBefore}
	try := func(l int32) {
		if l < 0 {
			return
		}
		r := syms[l].next
		if r < 0 {
			return
		}
		if mg, ok := m.merges[pairKey(syms[l].id, syms[r].id)]; ok {
			h.push(bpeCand{rank: mg.rank, left: l, lid: syms[l].id, rid: syms[r].id, mergeResult: mg.result})
		}
	}
	for i := range syms {
		try(int32(i))
	}
	for h.len() > 0 {
		c := h.pop()
		ls := &syms[c.left]
		if ls.id != c.lid || ls.next < 0 {
			continue // stale: the left symbol changed since this was queued
		}
		rs := &syms[ls.next]
		if rs.id != c.rid {
			continue
		}
		ls.id = c.mergeResult
		ls.end = rs.end
		ls.next = rs.next
		if rs.next >= 0 {
			syms[rs.next].prev = c.left
		}
		rs.id = -1
		try(ls.prev)
		try(c.left)
	}
	var out []int32
	for i := int32(0); i >= 0; i = syms[i].next {
		s := syms[i]
		if int(s.id) < m.n {
			out = append(out, s.id)
			continue
		}
		for j := s.start; j < s.end; j++ {
			if b := m.byteSym[word[j]]; int(b) < m.n {
				out = append(out, b)
			} else if unk >= 0 {
				out = append(out, int32(unk))
			}
		}
	}
	return out
}
