package tokenizer

import (
	"fmt"
	"testing"
)

// byteVocab returns the 256 byte-level tokens plus extra, with merges.
func bpeMeta(extra, merges []string, pre string) map[string]any {
	toks := make([]string, 0, 256+len(extra))
	for b := 0; b < 256; b++ {
		toks = append(toks, byteToText[b])
	}
	toks = append(toks, extra...)
	return map[string]any{
		KeyModel:  "gpt2",
		KeyPre:    pre,
		KeyTokens: toks,
		KeyMerges: merges,
	}
}

func mustTok(t testing.TB, md map[string]any) *Tokenizer {
	t.Helper()
	tk, err := FromMetadata(md)
	if err != nil {
		t.Fatalf("FromMetadata: %v", err)
	}
	return tk
}

func ids(t testing.TB, tk *Tokenizer, texts ...string) []int {
	t.Helper()
	out := make([]int, len(texts))
	for i, s := range texts {
		id, ok := tk.TokenID(s)
		if !ok {
			t.Fatalf("token %q not in vocabulary", s)
		}
		out[i] = id
	}
	return out
}

func eqInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const trainCorpus = `The lantern over the tavern door swung in the evening wind, and the old innkeeper wiped the counter.
"Don't you think it's late?" she asked. I'm sure we'll manage; they've said they'd come at 10:45 or 1999.
冒泡鸭说：你好，世界！今天的天气很好。 😀🦆 naïve café — ÉTÉ.
	tabs	and    spaces   
end`

var chatSpecials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}

// trained builds a vocabulary learned from trainCorpus with pre-tokenizer pre.
func trained(t testing.TB, pre string) *Tokenizer {
	t.Helper()
	toks, merges := TrainByteLevelBPE(trainCorpus, 300, chatSpecials)
	return mustTok(t, ByteLevelBPEMetadata(toks, merges, chatSpecials, pre))
}

// spmMeta is a small SentencePiece vocabulary: <unk> <s> </s>, 256 byte
// tokens, then pieces with scores.
func spmMeta(pieces map[string]float32, order []string) map[string]any {
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{int32(TypeUnknown), int32(TypeControl), int32(TypeControl)}
	scores := []float32{0, 0, 0}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, int32(TypeByte))
		scores = append(scores, 0)
	}
	for _, p := range order {
		toks = append(toks, p)
		types = append(types, int32(TypeNormal))
		scores = append(scores, pieces[p])
	}
	return map[string]any{
		KeyModel:     "llama",
		KeyTokens:    toks,
		KeyTokenType: types,
		KeyScores:    scores,
		KeyBOS:       uint32(1),
		KeyEOS:       uint32(2),
		KeyUnknown:   uint32(0),
	}
}
