package tokenizer

import (
	"sort"
)

// TrainByteLevelBPE learns a small byte-level BPE vocabulary from corpus.
// Tokens are the 256 byte tokens in byte order (GPT-2 byte-to-unicode text),
// then one token per learned merge, then specials (skipping any already
// present). Merges are learned over words cut by the gpt-2 pre-tokenizer:
// each step joins the most frequent adjacent pair, ties broken by the pair's
// text, so the result depends only on the inputs. Fewer than numMerges
// merges come back when the corpus runs out of pairs.
func TrainByteLevelBPE(corpus string, numMerges int, specials []string) (tokens []string, merges []string) {
	tokens = make([]string, 0, 256+max(numMerges, 0)+len(specials))
	ids := map[string]int32{}
	for b := 0; b < 256; b++ {
		ids[byteToText[b]] = int32(b)
		tokens = append(tokens, byteToText[b])
	}

	// Count distinct words; slice order is sorted so nothing depends on map order.
	if err := famGPT2.compile(); err != nil {
		panic(err) // the expression is a constant; failing to compile is a bug here
	}
	counts := map[string]int{}
	for _, w := range famGPT2.split(corpus) {
		counts[w]++
	}
	uniq := make([]string, 0, len(counts))
	for w := range counts {
		uniq = append(uniq, w)
	}
	sort.Strings(uniq)
	words := make([][]int32, len(uniq))
	freq := make([]int, len(uniq))
	for i, w := range uniq {
		words[i] = make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			words[i][j] = int32(w[j])
		}
		freq[i] = counts[w]
	}

	pairCount := map[uint64]int{}
	pairWords := map[uint64]map[int32]struct{}{}
	addPairs := func(wi int32, sign int) {
		w := words[wi]
		for j := 0; j+1 < len(w); j++ {
			k := pairKey(w[j], w[j+1])
			pairCount[k] += sign * freq[wi]
			if sign > 0 {
				set := pairWords[k]
				if set == nil {
					set = map[int32]struct{}{}
					pairWords[k] = set
				}
				set[wi] = struct{}{}
			}
		}
	}
	for i := range words {
		addPairs(int32(i), +1)
	}

	h := &trainHeap{tokens: &tokens}
	for k, c := range pairCount {
		h.push(trainEntry{count: c, key: k})
	}
	for len(merges) < numMerges && len(h.s) > 0 {
		e := h.pop()
		if c := pairCount[e.key]; c != e.count || c <= 0 {
			continue // stale entry; the current count was pushed separately
		}
		a, b := int32(e.key>>32), int32(uint32(e.key))
		text := tokens[a] + tokens[b]
		merges = append(merges, tokens[a]+" "+tokens[b])
		nid, ok := ids[text]
		if !ok {
			nid = int32(len(tokens))
			ids[text] = nid
			tokens = append(tokens, text)
		}
		touched := map[uint64]struct{}{}
		wis := make([]int32, 0, len(pairWords[e.key]))
		for wi := range pairWords[e.key] {
			wis = append(wis, wi)
		}
		sort.Slice(wis, func(i, j int) bool { return wis[i] < wis[j] })
		for _, wi := range wis {
			w := words[wi]
			for j := 0; j+1 < len(w); j++ {
				touched[pairKey(w[j], w[j+1])] = struct{}{}
			}
			addPairs(wi, -1)
			merged := w[:0:0]
			for j := 0; j < len(w); j++ {
				if j+1 < len(w) && w[j] == a && w[j+1] == b {
					merged = append(merged, nid)
					j++
				} else {
					merged = append(merged, w[j])
				}
			}
			words[wi] = merged
			addPairs(wi, +1)
			for j := 0; j+1 < len(merged); j++ {
				touched[pairKey(merged[j], merged[j+1])] = struct{}{}
			}
		}
		delete(pairWords, e.key)
		for k := range touched {
			if c := pairCount[k]; c > 0 {
				h.push(trainEntry{count: c, key: k})
			} else {
				delete(pairCount, k)
			}
		}
	}
	for _, s := range specials {
		if _, ok := ids[s]; ok || s == "" {
			continue
		}
		ids[s] = int32(len(tokens))
		tokens = append(tokens, s)
	}
	return tokens, merges
}

type trainEntry struct {
	count int
	key   uint64
}

// trainHeap orders pairs by count (highest first), then by left and right
// token text so that ties are broken the same way on every run.
type trainHeap struct {
	s      []trainEntry
	tokens *[]string
}

func (h *trainHeap) less(i, j int) bool {
	x, y := h.s[i], h.s[j]
	if x.count != y.count {
		return x.count > y.count
	}
	t := *h.tokens
	xa, xb := t[int32(x.key>>32)], t[int32(uint32(x.key))]
	ya, yb := t[int32(y.key>>32)], t[int32(uint32(y.key))]
	if xa != ya {
		return xa < ya
	}
	return xb < yb
}

func (h *trainHeap) push(e trainEntry) {
	h.s = append(h.s, e)
	for i := len(h.s) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.s[i], h.s[p] = h.s[p], h.s[i]
		i = p
	}
}

func (h *trainHeap) pop() trainEntry {
	top := h.s[0]
	last := len(h.s) - 1
	h.s[0] = h.s[last]
	h.s = h.s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h.s) && h.less(l, m) {
			m = l
		}
		if r < len(h.s) && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.s[i], h.s[m] = h.s[m], h.s[i]
		i = m
	}
	return top
}

// ByteLevelBPEMetadata returns complete GGUF tokenizer metadata for a
// byte-level BPE vocabulary: model gpt2, the given pre-tokenizer ("" means
// "gpt-2"), token types with specials as CONTROL (specials missing from
// tokens are appended), and bos/eos/padding ids chosen among the specials
// the way common chat models use them.
func ByteLevelBPEMetadata(tokens, merges []string, specials []string, pre string) map[string]any {
	if pre == "" {
		pre = "gpt-2"
	}
	toks := append([]string(nil), tokens...)
	index := make(map[string]int, len(toks))
	for i, s := range toks {
		index[s] = i
	}
	for _, s := range specials {
		if _, ok := index[s]; !ok && s != "" {
			index[s] = len(toks)
			toks = append(toks, s)
		}
	}
	types := make([]int32, len(toks))
	for i := range types {
		types[i] = int32(TypeNormal)
	}
	isSpecial := map[string]bool{}
	for _, s := range specials {
		if s != "" {
			types[index[s]] = int32(TypeControl)
			isSpecial[s] = true
		}
	}
	first := func(cands ...string) int {
		for _, c := range cands {
			if isSpecial[c] {
				return index[c]
			}
		}
		return -1
	}
	md := map[string]any{
		KeyModel:     "gpt2",
		KeyPre:       pre,
		KeyTokens:    toks,
		KeyTokenType: types,
		KeyMerges:    append([]string(nil), merges...),
	}
	bos := first("<|begin_of_text|>", "<s>", "<|endoftext|>", "<|im_start|>")
	eos := first("<|im_end|>", "<|eot_id|>", "</s>", "<|endoftext|>", "<|end_of_text|>")
	pad := first("<|endoftext|>", "<pad>", "<|end_of_text|>")
	if bos >= 0 {
		md[KeyBOS] = uint32(bos)
	}
	if eos >= 0 {
		md[KeyEOS] = uint32(eos)
	}
	if pad >= 0 {
		md[KeyPadding] = uint32(pad)
	}
	// Only vocabularies whose BOS is a real sequence start expect it in
	// prompts; Qwen-style ones reuse <|endoftext|> and add nothing.
	addBOS := bos >= 0 && (toks[bos] == "<|begin_of_text|>" || toks[bos] == "<s>")
	md[KeyAddBOS] = addBOS
	md[KeyAddEOS] = false
	return md
}
