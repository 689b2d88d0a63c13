package modelgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"unicode/utf8"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/tensor"
	"github.com/maopao/maopao/engine/tokenizer"
)

// Vocabulary trains the byte-level BPE on the built-in corpus and pads it
// with reserved control tokens up to vocab entries (the corpus runs out of
// merges long before a benchmark-sized vocabulary), returning the tokenizer
// metadata.
func Vocabulary(vocab int) map[string]any {
	tokens, merges := tokenizer.TrainByteLevelBPE(corpus, max(vocab-256-len(Specials), 0), Specials)
	specials := append([]string(nil), Specials...)
	for i := 0; len(tokens)+len(specials)-len(Specials) < vocab; i++ {
		specials = append(specials, fmt.Sprintf("<|reserved_%d|>", i))
	}
	return tokenizer.ByteLevelBPEMetadata(tokens, merges, specials, "gpt-2")
}

// gen draws the random weights of one model.
type gen struct {
	s   Spec
	rng *rand.Rand
	w   *gguf.Writer
	err error
}

// normal returns n values ~ N(0, std²) with an optional mean.
func (g *gen) normal(n int, mean, std float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(mean + std*g.rng.NormFloat64())
	}
	return out
}

func (g *gen) add(name string, t tensor.Type, shape []int64, vals []float32) {
	if g.err != nil {
		return
	}
	data, err := tensor.Quantize(t, vals)
	if err != nil {
		g.err = fmt.Errorf("modelgen: %s as %v: %w", name, t, err)
		return
	}
	if err := g.w.AddTensor(name, t, shape, data); err != nil {
		g.err = fmt.Errorf("modelgen: %w", err)
	}
}

// matrix adds a weight {cols, rows, n...} scaled so activations keep unit
// size: std 1/sqrt(cols).
func (g *gen) matrix(name string, cols, rows int, extra ...int) {
	shape := []int64{int64(cols), int64(rows)}
	n := cols * rows
	for _, e := range extra {
		shape = append(shape, int64(e))
		n *= e
	}
	g.add(name, typeFor(g.s.Type, cols), shape, g.normal(n, 0, 1/math.Sqrt(float64(cols))))
}

// vocabMatrix adds an output projection {cols, vocab} whose row t is scaled
// by rowScale[t].
func (g *gen) vocabMatrix(name string, cols int, rowScale []float32) {
	vals := g.normal(cols*len(rowScale), 0, 1/math.Sqrt(float64(cols)))
	for t, sc := range rowScale {
		for j := t * cols; j < (t+1)*cols; j++ {
			vals[j] *= sc
		}
	}
	g.add(name, typeFor(g.s.Type, cols), []int64{int64(cols), int64(len(rowScale))}, vals)
}

// readableRows gives each token's output row a scale: 3 for tokens that
// decode to whole characters and for end-of-turn tokens (a wide spread of
// logits), 0 for byte pieces of a multi-byte character and for reserved
// tokens (logit 0, far below the best). An untrained model then mostly
// emits real words (nonsense, but readable) instead of stray bytes that
// render as U+FFFD.
func readableRows(md map[string]any) ([]float32, error) {
	tok, err := tokenizer.FromMetadata(md)
	if err != nil {
		return nil, fmt.Errorf("modelgen: generated vocabulary does not load: %w", err)
	}
	scale := make([]float32, tok.VocabSize())
	for id := range scale {
		text := tok.Decode([]int{id})
		switch {
		case tok.IsEOG(id):
			scale[id] = 3
		case text == "" || !utf8.ValidString(text) || strings.ContainsRune(text, utf8.RuneError):
			scale[id] = 0
		default:
			scale[id] = 3
		}
	}
	return scale, nil
}

// vector adds an F32 vector (norm weights around 1, biases around 0).
func (g *gen) vector(name string, n int, mean, std float64) {
	g.add(name, tensor.F32, []int64{int64(n)}, g.normal(n, mean, std))
}

// Build generates the model of s into a GGUF writer ready to write.
func Build(s Spec) (*gguf.Writer, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	md := Vocabulary(s.Vocab)
	tokens, _ := md["tokenizer.ggml.tokens"].([]string)
	nVocab := len(tokens)
	g := &gen{s: s, rng: rand.New(rand.NewPCG(uint64(s.Seed), 0x6d616f70616f)), w: gguf.NewWriter()}
	kv := func(k string, v any) {
		if g.err == nil {
			if err := g.w.AddKV(k, v); err != nil {
				g.err = fmt.Errorf("modelgen: %s: %w", k, err)
			}
		}
	}
	a := s.Arch
	kv("general.architecture", a)
	kv("general.name", fmt.Sprintf("maopao-random-%s", a))
	kv("general.alignment", uint32(32))
	kv("maopao.untrained", true)
	kv(a+".context_length", uint32(s.ContextLength))
	kv(a+".embedding_length", uint32(s.Hidden))
	kv(a+".block_count", uint32(s.Layers))
	kv(a+".attention.head_count", uint32(s.Heads))
	kv(a+".attention.head_count_kv", uint32(s.KVHeads))
	kv(a+".attention.key_length", uint32(s.HeadDim))
	kv(a+".attention.value_length", uint32(s.HeadDim))
	kv(a+".attention.layer_norm_rms_epsilon", float32(1e-6))
	kv(a+".rope.freq_base", float32(10000))
	kv(a+".rope.dimension_count", uint32(s.HeadDim))
	if s.Experts > 0 {
		kv(a+".expert_count", uint32(s.Experts))
		kv(a+".expert_used_count", uint32(s.ExpertsUsed))
		if a == "llama" || a == "granitemoe" {
			// Mixtral and Granite keep the expert width in feed_forward_length.
			kv(a+".feed_forward_length", uint32(s.ExpertFF))
		} else {
			kv(a+".expert_feed_forward_length", uint32(s.ExpertFF))
			kv(a+".feed_forward_length", uint32(s.ExpertFF))
		}
		if s.SharedFF > 0 {
			kv(a+".expert_shared_feed_forward_length", uint32(s.SharedFF))
		}
	} else {
		kv(a+".feed_forward_length", uint32(s.FF))
	}
	if a == "granite" || a == "granitemoe" {
		kv(a+".embedding_scale", float32(2))
		kv(a+".residual_scale", float32(0.5))
		kv(a+".attention.scale", float32(0.125))
		kv(a+".logit_scale", float32(4))
	}
	for _, k := range sortedKeys(md) {
		kv(k, md[k])
	}
	kv("tokenizer.chat_template", ChatTemplate)

	H, qDim, kvDim := s.Hidden, s.Heads*s.HeadDim, s.KVHeads*s.HeadDim
	rowScale, err := readableRows(md)
	if err != nil {
		return nil, err
	}
	if s.TiedOutput {
		g.vocabMatrix("token_embd.weight", H, rowScale)
	} else {
		g.matrix("token_embd.weight", H, nVocab)
		g.vocabMatrix("output.weight", H, rowScale)
	}
	g.vector("output_norm.weight", H, 1, 0.1)
	for l := 0; l < s.Layers; l++ {
		n := func(x string) string { return fmt.Sprintf("blk.%d.%s", l, x) }
		g.vector(n("attn_norm.weight"), H, 1, 0.1)
		g.matrix(n("attn_q.weight"), H, qDim)
		g.matrix(n("attn_k.weight"), H, kvDim)
		g.matrix(n("attn_v.weight"), H, kvDim)
		g.matrix(n("attn_output.weight"), qDim, H)
		switch a {
		case "qwen2", "qwen2moe":
			g.vector(n("attn_q.bias"), qDim, 0, 0.1)
			g.vector(n("attn_k.bias"), kvDim, 0, 0.1)
			g.vector(n("attn_v.bias"), kvDim, 0, 0.1)
		case "qwen3", "qwen3moe":
			g.vector(n("attn_q_norm.weight"), s.HeadDim, 1, 0.1)
			g.vector(n("attn_k_norm.weight"), s.HeadDim, 1, 0.1)
		case "olmoe":
			g.vector(n("attn_q_norm.weight"), qDim, 1, 0.1)
			g.vector(n("attn_k_norm.weight"), kvDim, 1, 0.1)
		}
		g.vector(n("ffn_norm.weight"), H, 1, 0.1)
		if s.Experts == 0 {
			g.matrix(n("ffn_gate.weight"), H, s.FF)
			g.matrix(n("ffn_up.weight"), H, s.FF)
			g.matrix(n("ffn_down.weight"), s.FF, H)
			continue
		}
		// A router with larger weights than 1/sqrt(H) so routing is decisive
		// rather than near-uniform, as in trained models.
		g.add(n("ffn_gate_inp.weight"), tensor.F32, []int64{int64(H), int64(s.Experts)},
			g.normal(H*s.Experts, 0, 2/math.Sqrt(float64(H))))
		g.matrix(n("ffn_gate_exps.weight"), H, s.ExpertFF, s.Experts)
		g.matrix(n("ffn_up_exps.weight"), H, s.ExpertFF, s.Experts)
		g.matrix(n("ffn_down_exps.weight"), s.ExpertFF, H, s.Experts)
		if s.SharedFF > 0 {
			g.vector(n("ffn_gate_inp_shexp.weight"), H, 0, 1/math.Sqrt(float64(H)))
			g.matrix(n("ffn_gate_shexp.weight"), H, s.SharedFF)
			g.matrix(n("ffn_up_shexp.weight"), H, s.SharedFF)
			g.matrix(n("ffn_down_shexp.weight"), s.SharedFF, H)
		}
	}
	if g.err != nil {
		return nil, g.err
	}
	return g.w, nil
}
