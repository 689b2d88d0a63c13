package model

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"testing"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/tensor"
)

// refModel is a plain float64 forward pass written straight from the math,
// reading the GGUF file on its own (no Model, no KV cache): every call
// recomputes the whole sequence. Architecture facts are restated here from
// the reference notes rather than taken from config.go, so a wrong table
// there shows up as a mismatch.
type refModel struct {
	arch                                   string
	vocab, hidden, layers, heads, kvHeads  int
	headDim, experts, used                 int
	eps, ropeBase                          float64
	yarn                                   *refYaRN
	neox, renorm                           bool
	qkNorm                                 string // "", "head", "full"
	embedScale, resScale, attnScale, logit float64
	tok, out                               [][]float64
	outNorm                                []float64
	blk                                    []refLayer
	// How the cache under test stores keys and values; the reference
	// rounds what it would store, and what meets it, the same way.
	kCache, vCache CacheType
}

type refLayer struct {
	attnNorm, ffnNorm, bq, bk, bv, qn, kn, shInp []float64
	wq, wk, wv, wo, router                       [][]float64
	gate, up, down                               [][][]float64 // per expert (one entry when dense)
	shGate, shUp, shDown                         [][]float64
}

func refTensor(t *testing.T, f *gguf.File, name string) (*gguf.TensorInfo, bool) {
	t.Helper()
	for _, ti := range f.Tensors {
		if ti.Name == name {
			return ti, true
		}
	}
	return nil, false
}

// refFloats dequantizes a whole tensor.
func refFloats(t *testing.T, f *gguf.File, name string) ([]float64, []int) {
	t.Helper()
	ti, ok := refTensor(t, f, name)
	if !ok {
		t.Fatalf("reference: tensor %s missing", name)
	}
	shape := dims(ti.Shape)
	n := 1
	for _, d := range shape {
		n *= d
	}
	f32 := make([]float32, n)
	if err := tensor.Dequantize(ti.Type, ti.Data, f32); err != nil {
		t.Fatalf("reference: %s: %v", name, err)
	}
	out := make([]float64, n)
	for i, v := range f32 {
		out[i] = float64(v)
	}
	return out, shape
}

func refMat(t *testing.T, f *gguf.File, name string) [][]float64 {
	v, shape := refFloats(t, f, name)
	return rows(v, shape[0])
}

func rows(v []float64, cols int) [][]float64 {
	var out [][]float64
	for i := 0; i < len(v); i += cols {
		out = append(out, v[i:i+cols])
	}
	return out
}

func refExperts(t *testing.T, f *gguf.File, name string) [][][]float64 {
	v, shape := refFloats(t, f, name)
	per := shape[0] * shape[1]
	var out [][][]float64
	for e := 0; e < shape[2]; e++ {
		out = append(out, rows(v[e*per:(e+1)*per], shape[0]))
	}
	return out
}

func metaNum(t *testing.T, f *gguf.File, key string, def float64) float64 {
	t.Helper()
	v, ok := f.Metadata[key]
	if !ok {
		if math.IsNaN(def) {
			t.Fatalf("reference: metadata %s missing", key)
		}
		return def
	}
	switch x := v.(type) {
	case uint32:
		return float64(x)
	case int32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	}
	t.Fatalf("reference: metadata %s has type %T", key, v)
	return 0
}

func newRef(t *testing.T, f *gguf.File) *refModel {
	t.Helper()
	arch, _ := f.Metadata["general.architecture"].(string)
	k := func(s string, def float64) float64 { return metaNum(t, f, arch+"."+s, def) }
	req := math.NaN()
	r := &refModel{kCache: CacheF32, vCache: CacheF32, arch: arch,
		hidden: int(k("embedding_length", req)), layers: int(k("block_count", req)),
		heads: int(k("attention.head_count", req)), experts: int(k("expert_count", 0)),
		used: int(k("expert_used_count", 0)), eps: k("attention.layer_norm_rms_epsilon", req),
		ropeBase: k("rope.freq_base", 10000), embedScale: 1, resScale: 1, logit: 1}
	if typ, _ := f.Metadata[arch+".rope.scaling.type"].(string); typ == "yarn" {
		r.yarn = &refYaRN{factor: k("rope.scaling.factor", req), origCtx: k("rope.scaling.original_context_length", req)}
	}
	r.kvHeads = int(k("attention.head_count_kv", float64(r.heads)))
	r.headDim = int(k("attention.key_length", float64(r.hidden/r.heads)))
	r.attnScale = 1 / math.Sqrt(float64(r.headDim))
	switch arch {
	case "llama":
		r.renorm = true
	case "qwen2", "qwen2moe":
		r.neox = true
	case "qwen3", "qwen3moe":
		r.neox, r.qkNorm, r.renorm = true, "head", true
	case "olmoe":
		r.neox, r.qkNorm = true, "full"
	case "granite", "granitemoe":
		r.renorm = true
		r.embedScale = k("embedding_scale", 1)
		r.resScale = k("residual_scale", 1)
		r.attnScale = k("attention.scale", r.attnScale)
		r.logit = k("logit_scale", 1)
	default:
		t.Fatalf("reference: no rules for %s", arch)
	}
	r.tok = refMat(t, f, "token_embd.weight")
	r.vocab = len(r.tok)
	r.out = r.tok
	if _, ok := refTensor(t, f, "output.weight"); ok {
		r.out = refMat(t, f, "output.weight")
	}
	r.outNorm, _ = refFloats(t, f, "output_norm.weight")
	for l := 0; l < r.layers; l++ {
		n := func(s string) string { return fmt.Sprintf("blk.%d.%s", l, s) }
		vec := func(s string) []float64 {
			if _, ok := refTensor(t, f, n(s)); !ok {
				return nil
			}
			v, _ := refFloats(t, f, n(s))
			return v
		}
		L := refLayer{attnNorm: vec("attn_norm.weight"), ffnNorm: vec("ffn_norm.weight"),
			bq: vec("attn_q.bias"), bk: vec("attn_k.bias"), bv: vec("attn_v.bias"),
			qn: vec("attn_q_norm.weight"), kn: vec("attn_k_norm.weight"), shInp: vec("ffn_gate_inp_shexp.weight"),
			wq: refMat(t, f, n("attn_q.weight")), wk: refMat(t, f, n("attn_k.weight")),
			wv: refMat(t, f, n("attn_v.weight")), wo: refMat(t, f, n("attn_output.weight"))}
		if r.experts > 0 {
			L.router = refMat(t, f, n("ffn_gate_inp.weight"))
			L.gate = refExperts(t, f, n("ffn_gate_exps.weight"))
			L.up = refExperts(t, f, n("ffn_up_exps.weight"))
			L.down = refExperts(t, f, n("ffn_down_exps.weight"))
			if _, ok := refTensor(t, f, n("ffn_up_shexp.weight")); ok {
				L.shGate = refMat(t, f, n("ffn_gate_shexp.weight"))
				L.shUp = refMat(t, f, n("ffn_up_shexp.weight"))
				L.shDown = refMat(t, f, n("ffn_down_shexp.weight"))
			}
		} else {
			L.gate = [][][]float64{refMat(t, f, n("ffn_gate.weight"))}
			L.up = [][][]float64{refMat(t, f, n("ffn_up.weight"))}
			L.down = [][][]float64{refMat(t, f, n("ffn_down.weight"))}
		}
		r.blk = append(r.blk, L)
	}
	return r
}

func mv(w [][]float64, x []float64) []float64 {
	y := make([]float64, len(w))
	for i, row := range w {
		for j, v := range row {
			y[i] += v * x[j]
		}
	}
	return y
}

func rms(x, w []float64, eps float64) []float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	s := 1 / math.Sqrt(ss/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = x[i] * s * w[i]
	}
	return out
}

// refYaRN is YaRN as its paper states it (Peng et al. 2023, "YaRN:
// Efficient Context Window Extension"): a dimension pair whose wavelength
// turns more than beta_fast = 32 times over the original context keeps its
// angle, one that turns fewer than beta_slow = 1 times is interpolated by
// the factor, the ones between ramp linearly (by pair index, between the
// floor and ceiling of the boundary dimensions); queries and keys are
// scaled by 0.1·ln(factor)+1, the paper's √(1/t), which sharpens attention
// over the longer context.
type refYaRN struct{ factor, origCtx float64 }

func (r *refModel) rope(v []float64, pos int) {
	d := len(v)
	corr := func(turns float64) float64 {
		return float64(d) * math.Log(r.yarn.origCtx/(turns*2*math.Pi)) / (2 * math.Log(r.ropeBase))
	}
	mag := 1.0
	if r.yarn != nil {
		mag = 0.1*math.Log(r.yarn.factor) + 1
	}
	for i := 0; i < d/2; i++ {
		th := float64(pos) * math.Pow(r.ropeBase, -2*float64(i)/float64(d))
		if r.yarn != nil {
			low, high := math.Max(0, math.Floor(corr(32))), math.Min(float64(d-1), math.Ceil(corr(1)))
			keep := 1 - math.Min(1, math.Max(0, (float64(i)-low)/math.Max(0.001, high-low)))
			th = th/r.yarn.factor*(1-keep) + th*keep
		}
		a, b := 2*i, 2*i+1
		if r.neox {
			a, b = i, i+d/2
		}
		x0, x1 := v[a], v[b]
		v[a] = mag * (x0*math.Cos(th) - x1*math.Sin(th))
		v[b] = mag * (x0*math.Sin(th) + x1*math.Cos(th))
	}
}

func ffn(gate, up, down [][]float64, x []float64) []float64 {
	g, u := mv(gate, x), mv(up, x)
	for i := range g {
		g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return mv(down, g)
}

// forward returns the logits of every position of tokens.
func (r *refModel) forward(tokens []int) [][]float64 {
	T, hd := len(tokens), r.headDim
	x := make([][]float64, T)
	for i, tok := range tokens {
		x[i] = make([]float64, r.hidden)
		for j, v := range r.tok[tok] {
			x[i][j] = v * r.embedScale
		}
	}
	for _, L := range r.blk {
		q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for i := range x {
			h := rms(x[i], L.attnNorm, r.eps)
			q[i], k[i], v[i] = mv(L.wq, h), mv(L.wk, h), mv(L.wv, h)
			for j := range L.bq {
				q[i][j] += L.bq[j]
			}
			for j := range L.bk {
				k[i][j] += L.bk[j]
			}
			for j := range L.bv {
				v[i][j] += L.bv[j]
			}
			switch r.qkNorm {
			case "full":
				q[i], k[i] = rms(q[i], L.qn, r.eps), rms(k[i], L.kn, r.eps)
			case "head":
				for h := 0; h < r.heads; h++ {
					copy(q[i][h*hd:], rms(q[i][h*hd:(h+1)*hd], L.qn, r.eps))
				}
				for h := 0; h < r.kvHeads; h++ {
					copy(k[i][h*hd:], rms(k[i][h*hd:(h+1)*hd], L.kn, r.eps))
				}
			}
			for h := 0; h < r.heads; h++ {
				r.rope(q[i][h*hd:(h+1)*hd], i)
			}
			for h := 0; h < r.kvHeads; h++ {
				r.rope(k[i][h*hd:(h+1)*hd], i)
			}
			// llama.cpp's rotation for quantized caches, as a dense
			// orthonormal Hadamard product (see rotate.go).
			refHadamard(q[i], keyRotation(r.kCache, hd))
			refHadamard(k[i], keyRotation(r.kCache, hd))
			refHadamard(v[i], valueRotation(r.vCache, hd))
			refRound(r.kCache, k[i], hd)
			refRound(r.kCache, q[i], hd)
			refRound(r.vCache, v[i], hd)
		}
		for i := range x {
			att := make([]float64, r.heads*hd)
			for h := 0; h < r.heads; h++ {
				kh := h / (r.heads / r.kvHeads)
				s := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					for d := 0; d < hd; d++ {
						s[j] += q[i][h*hd+d] * k[j][kh*hd+d]
					}
					s[j] *= r.attnScale
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for j := range s {
					s[j] /= sum
				}
				if r.vCache == CacheF16 {
					refRound(CacheF16, s, len(s))
				}
				for j := range s {
					for d := 0; d < hd; d++ {
						att[h*hd+d] += s[j] * v[j][kh*hd+d]
					}
				}
			}
			refHadamard(att, valueRotation(r.vCache, hd))
			o := mv(L.wo, att)
			for j := range o {
				x[i][j] += o[j] * r.resScale
			}
		}
		for i := range x {
			h := rms(x[i], L.ffnNorm, r.eps)
			var y []float64
			if r.experts == 0 {
				y = ffn(L.gate[0], L.up[0], L.down[0], h)
			} else {
				y = r.moe(L, h)
			}
			for j := range y {
				x[i][j] += y[j] * r.resScale
			}
		}
	}
	logits := make([][]float64, T)
	for i := range x {
		logits[i] = mv(r.out, rms(x[i], r.outNorm, r.eps))
		for j := range logits[i] {
			logits[i][j] /= r.logit
		}
	}
	return logits
}

// refHadamard multiplies x, in blocks of n (0: none), by the orthonormal
// Walsh-Hadamard matrix written out: entry (i, j) is ±1/√n, negative when
// i and j share an odd number of set bits.
func refHadamard(x []float64, n int) {
	if n == 0 {
		return
	}
	for b := 0; b+n <= len(x); b += n {
		out := make([]float64, n)
		for i := range out {
			for j := 0; j < n; j++ {
				v := x[b+j] / math.Sqrt(float64(n))
				if bits.OnesCount(uint(i&j))%2 == 1 {
					v = -v
				}
				out[i] += v
			}
		}
		copy(x[b:b+n], out)
	}
}

// refRound rounds x, in rows of rowLen, to cache type t.
func refRound(t CacheType, x []float64, rowLen int) {
	f := make([]float32, len(x))
	for i, v := range x {
		f[i] = float32(v)
	}
	switch t {
	case CacheF32:
		return
	case CacheF16:
		for i := range f {
			f[i] = tensor.F16ToF32(tensor.F32ToF16(f[i]))
		}
	case CacheQ8_0:
		// ggml's activation quantizer, which fills a q8_0 cache and
		// converts the query that meets q8_0 keys.
		for r := 0; r < len(f); r += rowLen {
			q := make([]byte, rowLen/32*34)
			tensor.QuantizeQ8_0Act(f[r:r+rowLen], q)
			if err := tensor.Dequantize(tensor.Q8_0, q, f[r:r+rowLen]); err != nil {
				panic(err)
			}
		}
	}
	for i, v := range f {
		x[i] = float64(v)
	}
}

func (r *refModel) moe(L refLayer, h []float64) []float64 {
	p := mv(L.router, h)
	mx := math.Inf(-1)
	for _, v := range p {
		mx = math.Max(mx, v)
	}
	var sum float64
	for i := range p {
		p[i] = math.Exp(p[i] - mx)
		sum += p[i]
	}
	idx := make([]int, len(p))
	for i := range p {
		p[i] /= sum
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	top := idx[:r.used]
	wsum := 1.0
	if r.renorm {
		wsum = 0
		for _, e := range top {
			wsum += p[e]
		}
	}
	y := make([]float64, r.hidden)
	for _, e := range top {
		o := ffn(L.gate[e], L.up[e], L.down[e], h)
		for j := range y {
			y[j] += p[e] / wsum * o[j]
		}
	}
	if L.shUp != nil {
		o := ffn(L.shGate, L.shUp, L.shDown, h)
		g := 1.0
		if L.shInp != nil {
			var d float64
			for j := range h {
				d += L.shInp[j] * h[j]
			}
			g = 1 / (1 + math.Exp(-d))
		}
		for j := range y {
			y[j] += g * o[j]
		}
	}
	return y
}

// greedy runs the reference autoregressively.
func (r *refModel) greedy(prompt []int, n int) []int {
	toks := append([]int(nil), prompt...)
	var out []int
	for i := 0; i < n; i++ {
		lg := r.forward(toks)
		next := argmax64(lg[len(lg)-1])
		out = append(out, next)
		toks = append(toks, next)
	}
	return out
}

func argmax64(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
