package model

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/maopao/maopao/engine/tensor"
)

// Batch is a set of tokens to run through the model in one forward pass.
// Tokens may belong to different sequences (continuous batching); the tokens
// of one sequence must be in order with consecutive positions, starting at or
// before the number of positions the cache already holds for it (starting
// before rewrites the rest of that sequence).
type Batch struct {
	Tokens []int
	Pos    []int  // position of each token in its sequence
	Seq    []int  // sequence id of each token; nil = all sequence 0
	Logits []bool // which tokens need logits; nil = only the last token
	// Hidden returns, for the tokens flagged in Logits, the final norm's
	// output (the hidden state the output projection reads) instead of
	// logits: what embeddings are pooled from.
	Hidden bool
}

// SeqBatch is a batch of consecutive tokens of one sequence starting at pos,
// with logits for the last token only.
func SeqBatch(seq, pos int, tokens []int) Batch {
	b := Batch{Tokens: tokens, Pos: make([]int, len(tokens)), Seq: make([]int, len(tokens))}
	for i := range tokens {
		b.Pos[i] = pos + i
		b.Seq[i] = seq
	}
	return b
}

func (m *Model) checkBatch(b Batch, kv *KVCache) error {
	n := len(b.Tokens)
	switch {
	case n == 0:
		return fmt.Errorf("model: empty batch")
	case len(b.Pos) != n:
		return fmt.Errorf("model: batch has %d tokens but %d positions", n, len(b.Pos))
	case b.Seq != nil && len(b.Seq) != n:
		return fmt.Errorf("model: batch has %d tokens but %d sequence ids", n, len(b.Seq))
	case b.Logits != nil && len(b.Logits) != n:
		return fmt.Errorf("model: batch has %d tokens but %d logit flags", n, len(b.Logits))
	case kv == nil:
		return fmt.Errorf("model: nil KV cache")
	case kv.layers != m.Config.Layers || kv.kvDim != m.Config.KVHeads*m.Config.HeadDim:
		return fmt.Errorf("model: KV cache was made for another model")
	}
	next := map[int]int{}
	for i, tok := range b.Tokens {
		if tok < 0 || tok >= m.Config.Vocab {
			return fmt.Errorf("model: token %d at batch index %d is outside the vocabulary of %d", tok, i, m.Config.Vocab)
		}
		s, p := b.seq(i), b.Pos[i]
		want, seen := next[s]
		switch {
		case p < 0:
			return fmt.Errorf("model: negative position %d at batch index %d", p, i)
		case seen && p != want:
			return fmt.Errorf("model: sequence %d jumps from position %d to %d at batch index %d", s, want-1, p, i)
		case !seen && p > kv.SeqLen(s):
			return fmt.Errorf("model: sequence %d starts at position %d but the cache holds only %d", s, p, kv.SeqLen(s))
		case p >= kv.maxSeqLen:
			return fmt.Errorf("model: sequence %d position %d exceeds the context of %d", s, p, kv.maxSeqLen)
		}
		next[s] = p + 1
	}
	return nil
}

func (b Batch) seq(i int) int {
	if b.Seq == nil {
		return 0
	}
	return b.Seq[i]
}

func (b Batch) wantLogits(i int) bool {
	if b.Logits == nil {
		return i == len(b.Tokens)-1
	}
	return b.Logits[i]
}

// Forward runs the batch through the model, storing its keys and values in
// kv, and returns the logits of the tokens flagged in b.Logits (in batch
// order; nil entries for the others). On error the sequences of the batch
// are cut back to where the batch started.
func (m *Model) Forward(ctx context.Context, b Batch, kv *KVCache) ([][]float32, error) {
	if err := m.checkBatch(b, kv); err != nil {
		return nil, err
	}
	start := map[int]int{}
	for i := range b.Tokens {
		if _, ok := start[b.seq(i)]; !ok {
			start[b.seq(i)] = b.Pos[i]
		}
	}
	logits, err := m.forward(ctx, b, kv)
	if err != nil {
		for s, p := range start {
			kv.Truncate(s, p)
		}
		return nil, err
	}
	return logits, nil
}

// scratch holds the activations of one forward pass. Scratches are pooled
// and reused across passes (buffers only grow), so a decode step allocates
// little besides its logits.
type scratch struct {
	x, xb    []float32 // n × Hidden: residual stream, normalised input
	q, k, v  []float32 // n × qDim / kvDim
	qkv      []tensor.Product
	att      []float32 // n × qDim
	tmp      []float32 // n × Hidden
	cos, sin []float32 // n × RopeDims/2
	seqs     []*seqState

	probs, in, y, sh, g, u, h []float32 // feed-forward and output scratch
	routes                    [][]route
	idx                       []int
	attn                      []attnBufs // per attention worker
	active                    []int      // experts chosen by some token of the batch
	prods                     []tensor.Product
	ff                        []ffBufs // per expert worker (expertsParallel)
	ys                        [][]float32
	slots                     []float32 // n × ExpertsUsed × Hidden: weighted expert outputs (see expertOut)
}

// route sends token tok to an expert as its slot-th choice, with weight w.
type route struct {
	tok, slot int
	w         float32
}

// attnBufs are one attention worker's scratch.
type attnBufs struct {
	k, vt, q, sc, o, kq []float32
	k8                  []byte // q8_0 keys side by side (KVCache.keyProducts)
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (m *Model) forward(ctx context.Context, b Batch, kv *KVCache) ([][]float32, error) {
	c := m.Config
	n := len(b.Tokens)
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.x, s.xb, s.tmp = grow(s.x, n*c.Hidden), grow(s.xb, n*c.Hidden), grow(s.tmp, n*c.Hidden)
	s.q, s.att = grow(s.q, n*qDim), grow(s.att, n*qDim)
	s.k, s.v = grow(s.k, n*kvDim), grow(s.v, n*kvDim)
	s.cos, s.sin = grow(s.cos, n*c.RopeDims/2), grow(s.sin, n*c.RopeDims/2)
	s.seqs = grow(s.seqs, n)
	for i := range b.Tokens {
		if err := kv.prepare(b.seq(i), b.Pos[i]); err != nil {
			return nil, err
		}
	}
	for i := range b.Tokens {
		st := kv.seqs[b.seq(i)]
		s.seqs[i] = st
		m.rope.cosSin(b.Pos[i], s.cos[i*c.RopeDims/2:(i+1)*c.RopeDims/2], s.sin[i*c.RopeDims/2:(i+1)*c.RopeDims/2])
	}

	// Embeddings.
	rowBytes := len(m.Embed.Data) / m.Embed.Rows
	for i, tok := range b.Tokens {
		row := s.x[i*c.Hidden : (i+1)*c.Hidden]
		if err := tensor.Dequantize(m.Embed.Type, m.Embed.Data[tok*rowBytes:(tok+1)*rowBytes], row); err != nil {
			return nil, fmt.Errorf("model: token_embd.weight: %w", err)
		}
		if c.EmbedScale != 1 {
			scale(row, c.EmbedScale)
		}
	}
	m.trace("embd", -1, s.x[:n*c.Hidden])

	// The rows that need logits: the last layer's feed-forward block, the
	// final norm and the output projection run for these alone.
	var rows []int
	for i := range b.Tokens {
		if b.wantLogits(i) {
			rows = append(rows, i)
		}
	}
	for l := range m.Layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var outRows []int
		if l == len(m.Layers)-1 {
			outRows = rows
		}
		m.layer(l, b, kv, s, outRows)
	}

	out := make([][]float32, n)
	if len(rows) == 0 {
		return out, nil
	}
	s.h = grow(s.h, len(rows)*c.Hidden)
	h := s.h
	for r := range rows {
		rmsNorm(h[r*c.Hidden:(r+1)*c.Hidden], s.x[r*c.Hidden:(r+1)*c.Hidden], m.OutNorm, c.RMSEps)
	}
	m.trace("result_norm", -1, h[:len(rows)*c.Hidden])
	if b.Hidden {
		hid := make([]float32, len(rows)*c.Hidden)
		copy(hid, h[:len(rows)*c.Hidden])
		for r, i := range rows {
			out[i] = hid[r*c.Hidden : (r+1)*c.Hidden : (r+1)*c.Hidden]
		}
		return out, nil
	}
	lg := make([]float32, len(rows)*c.Vocab)
	m.matMul(m.Output, h, len(rows), lg, false)
	if c.LogitScale != 1 {
		scale(lg, 1/c.LogitScale)
	}
	m.trace("result_output", -1, lg)
	for r, i := range rows {
		out[i] = lg[r*c.Vocab : (r+1)*c.Vocab : (r+1)*c.Vocab]
	}
	return out, nil
}

// layer runs layer l over the batch. For the last layer outRows lists the
// rows that need logits: after attention (which fills the KV cache for
// every row) only those go on, packed to the front of s.x, as llama.cpp
// does; its feed-forward products then see the same number of rows.
func (m *Model) layer(l int, b Batch, kv *KVCache, s *scratch, outRows []int) {
	c := m.Config
	L := &m.Layers[l]
	n := len(b.Tokens)
	H, hd := c.Hidden, c.HeadDim
	qDim, kvDim := c.Heads*hd, c.KVHeads*hd

	// Attention block.
	for i := 0; i < n; i++ {
		rmsNorm(s.xb[i*H:(i+1)*H], s.x[i*H:(i+1)*H], L.AttnNorm, c.RMSEps)
	}
	m.trace("attn_norm", l, s.xb[:n*H])
	m.projectQKV(L, n, s)
	m.trace("Qcur", l, s.q[:n*qDim])
	m.trace("Kcur", l, s.k[:n*kvDim])
	m.trace("Vcur", l, s.v[:n*kvDim])
	half := c.RopeDims / 2
	for i := 0; i < n; i++ {
		q, k, v := s.q[i*qDim:(i+1)*qDim], s.k[i*kvDim:(i+1)*kvDim], s.v[i*kvDim:(i+1)*kvDim]
		if L.Bq != nil {
			addTo(q, L.Bq)
			addTo(k, L.Bk)
			addTo(v, L.Bv)
		}
		switch c.QKNorm {
		case QKNormPerHead:
			for h := 0; h < c.Heads; h++ {
				rmsNorm(q[h*hd:(h+1)*hd], q[h*hd:(h+1)*hd], L.QNorm, c.RMSEps)
			}
			for h := 0; h < c.KVHeads; h++ {
				rmsNorm(k[h*hd:(h+1)*hd], k[h*hd:(h+1)*hd], L.KNorm, c.RMSEps)
			}
		case QKNormFull:
			rmsNorm(q, q, L.QNorm, c.RMSEps)
			rmsNorm(k, k, L.KNorm, c.RMSEps)
		}
		if n == 1 && c.QKNorm != QKNormNone {
			m.trace("Qcur_normed", l, q)
			m.trace("Kcur_normed", l, k)
		}
		cos, sin := s.cos[i*half:(i+1)*half], s.sin[i*half:(i+1)*half]
		for h := 0; h < c.Heads; h++ {
			m.rope.rotate(q[h*hd:(h+1)*hd], cos, sin)
		}
		for h := 0; h < c.KVHeads; h++ {
			m.rope.rotate(k[h*hd:(h+1)*hd], cos, sin)
		}
		if r := keyRotation(kv.k.typ, hd); r > 0 {
			hadamard(q, r)
			hadamard(k, r)
		}
		hadamard(v, valueRotation(kv.v.typ, hd))
		kv.store(l, s.seqs[i], b.Pos[i], k, v, hd)
	}
	m.trace("Qcur_rope", l, s.q[:n*qDim])
	m.trace("Kcur_rope", l, s.k[:n*kvDim])
	m.attention(l, b, kv, s)
	hadamard(s.att[:n*qDim], valueRotation(kv.v.typ, hd))
	m.trace("kqv_out", l, s.att[:n*qDim])
	m.matMul(L.Wo, s.att, n, s.tmp, false)
	m.trace("attn_out", l, s.tmp[:n*H])
	addScaled(s.x[:n*H], s.tmp[:n*H], c.ResidualScale)
	if l == len(m.Layers)-1 {
		for r, i := range outRows {
			copy(s.x[r*H:(r+1)*H], s.x[i*H:(i+1)*H])
		}
		n = len(outRows)
	}
	m.trace("ffn_inp", l, s.x[:n*H])

	// Feed-forward block.
	for i := 0; i < n; i++ {
		rmsNorm(s.xb[i*H:(i+1)*H], s.x[i*H:(i+1)*H], L.FFNNorm, c.RMSEps)
	}
	m.trace("ffn_norm", l, s.xb[:n*H])
	if c.MoE() {
		m.moe(l, n, s)
	} else {
		m.swiglu(L.Gate, L.Up, L.Down, s.xb[:n*H], n, s.tmp[:n*H], s, false)
	}
	m.trace("ffn_out", l, s.tmp[:n*H])
	addScaled(s.x[:n*H], s.tmp[:n*H], c.ResidualScale)
	m.trace("l_out", l, s.x[:n*H])
}

func (m *Model) trace(name string, layer int, x []float32) {
	if m.Trace != nil {
		m.Trace(name, layer, x)
	}
}

// attnTile is the width of the position tiles attention works in: query
// tokens of one sequence in the same tile share one pass over the keys.
// Tiles are fixed by absolute position, and a tile always reads keys and
// values up to its end (zero-padded), so every query row is computed from
// the same operands however the prompt was split into batches; only the
// kernels' summation order may differ with the number of rows per pass.
const attnTile = 64

// attention computes, for every token and head, the softmax-weighted sum of
// the cached values of its sequence's positions up to its own (causal mask).
// Query heads share key/value heads in groups (GQA). Work is split by
// (sequence, KV head); for each, the keys and the transposed values are
// gathered into contiguous scratch so that scores = Q·Kᵀ and out = P·V run
// through the matrix kernels.
func (m *Model) attention(l int, b Batch, kv *KVCache, s *scratch) {
	c := m.Config
	hd := c.HeadDim
	qDim := c.Heads * hd
	group := c.Heads / c.KVHeads

	// Batch indices of each sequence, in order (positions are consecutive).
	var order []int
	bySeq := map[int][]int{}
	for i := range b.Tokens {
		sq := b.seq(i)
		if _, ok := bySeq[sq]; !ok {
			order = append(order, sq)
		}
		bySeq[sq] = append(bySeq[sq], i)
	}
	items := len(order) * c.KVHeads
	threads := min(m.threadsFor(items*64), items)
	if m.Trace != nil {
		threads = 1
	}
	if len(s.attn) < threads {
		s.attn = append(s.attn, make([]attnBufs, threads-len(s.attn))...)
	}
	tensor.ParallelFor(items, threads, func(worker, w int) {
		ab := &s.attn[worker]
		kbuf, vt, qbuf, sc, ob, kq, k8 := ab.k, ab.vt, ab.q, ab.sc, ab.o, ab.kq, ab.k8
		defer func() { ab.k, ab.vt, ab.q, ab.sc, ab.o, ab.kq, ab.k8 = kbuf, vt, qbuf, sc, ob, kq, k8 }()
		idx := bySeq[order[w/c.KVHeads]]
		h := w % c.KVHeads
		st := s.seqs[idx[0]]
		npos := b.Pos[idx[len(idx)-1]] + 1
		padded := (npos + attnTile - 1) / attnTile * attnTile
		// q8_0 keys are multiplied in place (keyProducts); the others are
		// unpacked to floats first.
		q8keys := kv.k.typ == CacheQ8_0
		if !q8keys {
			kbuf = grow(kbuf, padded*hd)
			kv.gatherK(l, st, h, npos, hd, kbuf)
			clear(kbuf[npos*hd:])
		}
		for t0 := 0; t0 < len(idx); {
			limit := (b.Pos[idx[t0]]/attnTile + 1) * attnTile
			t1 := t0
			for t1 < len(idx) && b.Pos[idx[t1]] < limit {
				t1++
			}
			tile := idx[t0:t1]
			t0 = t1
			nq := len(tile) * group
			qbuf = grow(qbuf, nq*hd)
			for r, i := range tile {
				for g := 0; g < group; g++ {
					qh := h*group + g
					copy(qbuf[(r*group+g)*hd:], s.q[i*qDim+qh*hd:i*qDim+(qh+1)*hd])
				}
			}
			sc = grow(sc, nq*limit)
			if q8keys {
				kq, k8 = kv.keyProducts(l, st, h, b.Pos[tile[len(tile)-1]]+1, qbuf[:nq*hd], nq, limit, sc, kq, k8)
			} else {
				roundLikeCache(kv.k.typ, qbuf[:nq*hd])
				dots := keyDots(kv.k.typ, len(b.Tokens))
				for r, i := range tile {
					for g := 0; g < group; g++ {
						row := sc[(r*group+g)*limit : (r*group+g+1)*limit]
						qr := qbuf[(r*group+g)*hd : (r*group+g+1)*hd]
						dots(qr, kbuf, hd, row[:b.Pos[i]+1])
					}
				}
			}
			for r, i := range tile {
				p := b.Pos[i]
				for g := 0; g < group; g++ {
					row := sc[(r*group+g)*limit : (r*group+g+1)*limit]
					if len(b.Tokens) == 1 {
						m.trace("kq", l, row[:p+1])
					}
					scale(row[:p+1], c.AttnScale)
					tensor.SoftmaxMasked(row[:p+1])
					if kv.v.typ == CacheF16 {
						roundLikeCache(CacheF16, row[:p+1])
					}
					if len(b.Tokens) == 1 {
						m.trace("kq_soft_max", l, row[:p+1])
					}
					clear(row[p+1:])
				}
			}
			vt = grow(vt, hd*limit)
			kv.gatherVT(l, st, h, min(limit, npos), limit, hd, vt)
			ob = grow(ob, nq*hd)
			dots := rowDots(len(b.Tokens))
			for r, i := range tile {
				n64 := (b.Pos[i] + 64) &^ 63 // = limit for the tile's last row
				for g := 0; g < group; g++ {
					pr := sc[(r*group+g)*limit : (r*group+g)*limit+n64]
					dots(pr, vt, limit, ob[(r*group+g)*hd:(r*group+g+1)*hd])
				}
			}
			for r, i := range tile {
				for g := 0; g < group; g++ {
					qh := h*group + g
					copy(s.att[i*qDim+qh*hd:i*qDim+(qh+1)*hd], ob[(r*group+g)*hd:(r*group+g+1)*hd])
				}
			}
		}
	})
}

// roundLikeCache rounds what multiplies a float16 cache (the queries that
// meet the keys, the probabilities that weigh the values) to float16, as
// ggml converts the other operand of a float16 matrix product before the
// dot products; with the same rounding, greedy tokens follow llama.cpp's
// with the same cache type. (q8_0 keys are multiplied as ggml multiplies
// q8_0, see keyProducts; float32 needs nothing.)
func roundLikeCache(t CacheType, x []float32) {
	if t == CacheF16 {
		tensor.RoundF16(x, x)
	}
}

// moe routes each token to its top-k experts and sums their SwiGLU outputs
// weighted by the router probabilities. Tokens are grouped by expert so each
// expert's matrices are read once per step, and experts no token chose are
// never touched.
func (m *Model) moe(l, n int, s *scratch) {
	c := m.Config
	L := &m.Layers[l]
	H, E, K := c.Hidden, c.Experts, c.ExpertsUsed
	xb, out := s.xb[:n*H], s.tmp[:n*H]
	s.probs = grow(s.probs, n*E)
	probs := s.probs
	// Routing picks experts by these logits, and a near-tie decided
	// differently sends a token through different weights; MatMul sums a
	// float32 router in llama.cpp's orders (a batch's and a token's differ).
	m.matMul(L.Router, xb, n, probs, false)
	m.trace("ffn_moe_logits", l, probs[:n*E])
	s.routes = grow(s.routes, E)
	byExpert := s.routes
	for e := range byExpert {
		byExpert[e] = byExpert[e][:0]
	}
	for i := 0; i < n; i++ {
		p := probs[i*E : (i+1)*E]
		softmax(p)
		m.trace("ffn_moe_probs", l, p)
		s.idx = topK(p, K, s.idx)
		top := s.idx
		var sum float32 = 1
		if c.NormTopK {
			// ggml_sum_rows: a double sum over the slots, then the
			// clamp llama.cpp puts against dividing by zero.
			var d float64
			for _, e := range top {
				d += float64(p[e])
			}
			sum = max(float32(d), 6.103515625e-5)
		}
		for slot, e := range top {
			byExpert[e] = append(byExpert[e], route{i, slot, p[e] / sum})
		}
	}
	clear(out[:n*H])
	if K > 2 {
		s.slots = grow(s.slots, n*K*H)
	}
	if threads := m.threadsFor(n * c.ExpertFF); threads > 1 && n == 1 && !m.Exact {
		m.expertsParallel(L, byExpert, threads, s)
	} else {
		m.experts(l, L, byExpert, s)
	}
	m.sumSlots(s, n)
	if c.SharedFF > 0 {
		m.trace("ffn_moe_out", l, out)
		s.sh = grow(s.sh, n*H)
		sh := s.sh
		m.swiglu(L.ShGate, L.ShUp, L.ShDown, xb, n, sh, s, false)
		m.trace("ffn_shexp", l, sh[:n*H])
		for i := 0; i < n; i++ {
			var g float32 = 1
			if L.ShGateInp != nil {
				// A one-row product: llama.cpp's tinyBLAS takes only
				// multiples of 4 rows, so this is ggml_vec_dot_f32 even
				// for a batch.
				gi := tensor.DotF32x64(L.ShGateInp, xb[i*H:(i+1)*H])
				g = sharedGate(gi)
				if m.Trace != nil {
					m.trace("ffn_shexp_gate_inp", l, []float32{gi})
					m.trace("ffn_shexp_gate", l, []float32{g})
				}
			}
			axpy(out[i*H:(i+1)*H], sh[i*H:(i+1)*H], g)
		}
	}
}

// rowDots is the float32 dot product llama.cpp's CPU backend uses in a
// matrix product with n right-hand columns, over many rows in one call:
// llamafile's tinyBLAS (tensor.DotF32x16Rows) for n ≥ 2,
// ggml_vec_dot_f32 (tensor.DotF32x64Rows) for a single one. Attention's
// rows are padded to multiples of 64, as llama.cpp pads its KV cache,
// where both are defined.
func rowDots(n int) func(x, rows []float32, stride int, out []float32) {
	if n >= 2 {
		return tensor.DotF32x16Rows
	}
	return tensor.DotF32x64Rows
}

// keyDots is the dot product llama.cpp uses for queries × keys with keys
// of type t in a batch of n tokens. The queries are a permuted, so
// non-contiguous, view: float32 keys never reach tinyBLAS and always use
// ggml_vec_dot_f32; float16 keys first convert the queries to float16 into
// a contiguous buffer, which tinyBLAS then takes for n ≥ 2 (its summation
// order, tensor.DotF32x16Rows), leaving ggml_vec_dot_f16 (the same order
// as ggml_vec_dot_f32) to a single token.
func keyDots(t CacheType, n int) func(x, rows []float32, stride int, out []float32) {
	if t == CacheF16 {
		return rowDots(n)
	}
	return tensor.DotF32x64Rows
}

// expertsParallel runs whole experts on separate threads, for one token
// (a single conversation's decode step), where every chosen expert has
// the same work: one hand-off per layer instead of experts' two, which
// made such a step 4% slower (Qwen3-30B-A3B shapes, Q4_K_M, 2 threads).
// With more tokens the experts' loads differ and whole experts per thread
// left one thread idle while the other finished the last (8 chats of the
// bench model: 610–690 against experts' 740–880 tokens/s). Outputs are
// summed afterwards (expertOut), as on one thread, so the result does not
// depend on the thread count.
func (m *Model) expertsParallel(L *Layer, byExpert [][]route, threads int, s *scratch) {
	H := m.Config.Hidden
	xb := s.xb
	var active []int
	for e, rs := range byExpert {
		if len(rs) > 0 {
			active = append(active, e)
		}
	}
	if len(s.ff) < threads {
		s.ff = append(s.ff, make([]ffBufs, threads-len(s.ff))...)
	}
	s.ys = grow(s.ys, len(active))
	for k, e := range active {
		s.ys[k] = grow(s.ys[k], len(byExpert[e])*H)
	}
	tensor.ParallelFor(len(active), threads, func(worker, k int) {
		e, rs, fb := active[k], byExpert[active[k]], &s.ff[worker]
		ne, ff := len(rs), L.GateExp[active[k]].Rows
		fb.in, fb.g, fb.u = grow(fb.in, ne*H), grow(fb.g, ne*ff), grow(fb.u, ne*ff)
		for r, rt := range rs {
			copy(fb.in[r*H:(r+1)*H], xb[rt.tok*H:(rt.tok+1)*H])
		}
		m.matMulT(L.GateExp[e], fb.in, ne, fb.g, 1, true)
		m.matMulT(L.UpExp[e], fb.in, ne, fb.u, 1, true)
		tensor.SwiGLU(fb.g, fb.u)
		m.matMulT(L.DownExp[e], fb.g, ne, s.ys[k], 1, true)
	})
	for k, e := range active {
		for r, rt := range byExpert[e] {
			m.expertOut(s, rt, s.ys[k][r*H:(r+1)*H])
		}
	}
}

// ffBufs are one expert worker's scratch (expertsParallel).
type ffBufs struct{ in, g, u []float32 }

// experts runs every chosen expert's SwiGLU over the tokens routed to it
// and adds the weighted outputs to their tokens' sums (expertOut): the
// gate and up products of all the layer's experts as one parallel job,
// then their down products as another, each cut in row tiles the threads
// take as they come free (tensor.MatMulsOf). Two hand-offs a layer
// whatever the batch: a job per product cost a hand-off each (three per
// expert, 384 a layer for 128 experts), and whole experts per thread left
// one thread idle while the other finished the last expert of a decode
// step. Results do not depend on the thread count.
func (m *Model) experts(l int, L *Layer, byExpert [][]route, s *scratch) {
	H := m.Config.Hidden
	xb := s.xb
	active, total := s.active[:0], 0
	for e, rs := range byExpert {
		if len(rs) > 0 {
			active = append(active, e)
			total += len(rs)
		}
	}
	s.active = active
	ff := L.GateExp[active[0]].Rows
	s.in, s.y = grow(s.in, total*H), grow(s.y, total*H)
	s.g, s.u = grow(s.g, total*ff), grow(s.u, total*ff)
	ps, macs := s.prods[:0], 0
	off := 0
	for _, e := range active {
		rs := byExpert[e]
		ne := len(rs)
		in := s.in[off*H : (off+ne)*H]
		for r, rt := range rs {
			copy(in[r*H:(r+1)*H], xb[rt.tok*H:(rt.tok+1)*H])
		}
		g, u := s.g[off*ff:(off+ne)*ff], s.u[off*ff:(off+ne)*ff]
		ps = append(ps, tensor.Product{M: L.GateExp[e], X: in, N: ne, Y: g, Each: true},
			tensor.Product{M: L.UpExp[e], X: in, N: ne, Y: u, Each: true})
		macs += 2 * ne * ff * H
		off += ne
	}
	m.matMuls(ps, macs)
	ps = ps[:0]
	off = 0
	for _, e := range active {
		ne := len(byExpert[e])
		g, u := s.g[off*ff:(off+ne)*ff], s.u[off*ff:(off+ne)*ff]
		tensor.SwiGLU(g, u)
		ps = append(ps, tensor.Product{M: L.DownExp[e], X: g, N: ne, Y: s.y[off*H : (off+ne)*H], Each: true})
		off += ne
	}
	m.matMuls(ps, macs/2)
	s.prods = ps
	off = 0
	for _, e := range active {
		rs := byExpert[e]
		y := s.y[off*H : (off+len(rs))*H]
		m.trace("ffn_moe_down", l, y)
		for r, rt := range rs {
			m.expertOut(s, rt, y[r*H:(r+1)*H])
		}
		off += len(rs)
	}
}

// matMuls runs products (macs multiply-adds in all) as one job on as many
// threads as it is worth (see matMul).
func (m *Model) matMuls(ps []tensor.Product, macs int) {
	if m.Exact {
		for _, p := range ps {
			tensor.MatMulRef(p.M, p.X, p.N, p.Y)
		}
		return
	}
	tensor.MatMulsOf(ps, m.threadsWorth(macs/max(ps[0].M.Cols, 1), macs))
}

// expertOut adds expert output y, weighted, to its token's sum in s.tmp,
// in the order llama.cpp adds them: the weighted outputs in slot order
// (the token's first choice first), each product rounded before the add.
// With one or two experts a token the order cannot change the sum, and the
// output goes straight in; with more it waits in s.slots for sumSlots.
func (m *Model) expertOut(s *scratch, rt route, y []float32) {
	H, K := m.Config.Hidden, m.Config.ExpertsUsed
	if K <= 2 {
		axpy(s.tmp[rt.tok*H:(rt.tok+1)*H], y, rt.w)
		return
	}
	dst := s.slots[(rt.tok*K+rt.slot)*H:][:H]
	for j, v := range y[:H] {
		dst[j] = v * rt.w
	}
}

// sumSlots adds up the weighted outputs expertOut kept, token by token in
// slot order, into s.tmp (n tokens).
func (m *Model) sumSlots(s *scratch, n int) {
	H, K := m.Config.Hidden, m.Config.ExpertsUsed
	if K <= 2 {
		return
	}
	for i := 0; i < n; i++ {
		o := s.tmp[i*H : (i+1)*H]
		copy(o, s.slots[i*K*H:(i*K+1)*H])
		for k := 1; k < K; k++ {
			addTo(o, s.slots[(i*K+k)*H:(i*K+k+1)*H])
		}
	}
}

// swiglu computes down(silu(gate(x)) * up(x)) for n rows of x into out;
// each is for routed experts (see matMul).
func (m *Model) swiglu(gate, up, down tensor.Matrix, x []float32, n int, out []float32, s *scratch, each bool) {
	ff := gate.Rows
	s.g, s.u = grow(s.g, n*ff), grow(s.u, n*ff)
	g, u := s.g, s.u
	m.matMul(gate, x, n, g, each)
	m.matMul(up, x, n, u, each)
	tensor.SwiGLU(g, u)
	m.matMul(down, g, n, out, each)
}

// projectQKV computes the query, key and value projections of s.xb, as one
// parallel job when they are split at all: in a decode step each is only a
// few microseconds of work, and three hand-offs cost more than one.
func (m *Model) projectQKV(L *Layer, n int, s *scratch) {
	macs := n * (L.Wq.Rows*L.Wq.Cols + L.Wk.Rows*L.Wk.Cols + L.Wv.Rows*L.Wv.Cols)
	threads := m.threadsWorth(n*L.Wq.Rows, macs)
	if m.Exact || threads <= 1 {
		m.matMul(L.Wq, s.xb, n, s.q, false)
		m.matMul(L.Wk, s.xb, n, s.k, false)
		m.matMul(L.Wv, s.xb, n, s.v, false)
		return
	}
	s.qkv = append(s.qkv[:0], tensor.Product{M: L.Wq, Y: s.q}, tensor.Product{M: L.Wk, Y: s.k}, tensor.Product{M: L.Wv, Y: s.v})
	tensor.MatMuls(s.qkv, s.xb, n, threads)
}

// matMul is a matrix product on as many threads as it is worth. each picks
// tensor.MatMulEach, the order of llama.cpp's expert products, over
// tensor.MatMul.
func (m *Model) matMul(w tensor.Matrix, x []float32, n int, y []float32, each bool) {
	m.matMulT(w, x, n, y, m.threadsWorth(n*w.Rows, n*w.Rows*w.Cols), each)
}

// threadsWorth is how many threads a product of work output values and
// macs multiply-adds is split across: one below minParallelMACs, unless
// it is above minAwakeMACs and a helper is polling already.
func (m *Model) threadsWorth(work, macs int) int {
	threads := m.threadsFor(work)
	if threads > 1 && macs < minParallelMACs && (macs < minAwakeMACs || !tensor.HelpersAwake()) {
		return 1
	}
	return threads
}

// minParallelMACs is the size below which a matmul stays on the calling
// goroutine: a decode step's attention projections (≤ 512×512) finish in
// a few microseconds, about what it takes a parked helper thread to wake.
// (A variable so tests can send tiny models through the parallel paths.)
var minParallelMACs = 1 << 20

// minAwakeMACs is the size above which a matmul is split anyway when a
// helper is already polling for work (tensor.HelpersAwake): handing it a
// job then costs about a microsecond instead of a thread wake-up.
var minAwakeMACs = 1 << 16

func (m *Model) matMulT(w tensor.Matrix, x []float32, n int, y []float32, threads int, each bool) {
	switch {
	case m.Exact:
		tensor.MatMulRef(w, x, n, y)
	case each:
		tensor.MatMulEach(w, x, n, y, threads)
	default:
		tensor.MatMul(w, x, n, y, threads)
	}
}

// threadsFor keeps tiny pieces of work on one goroutine, where spawning
// more costs more than it saves.
func (m *Model) threadsFor(work int) int {
	t := m.Threads
	if t < 1 {
		t = 1
	}
	if work < 64 {
		return 1
	}
	return t
}

// grow returns s resized to n, reallocating only when it is too small; the
// contents are not cleared.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

func axpy(dst, x []float32, a float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}

func addTo(dst, x []float32) { axpy(dst, x, 1) }

func addScaled(dst, x []float32, a float32) { axpy(dst, x, a) }

func scale(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// EmbedText runs tokens through the model in a cache of their own and returns
// the mean of their final hidden states, scaled to unit length: a text's
// embedding (mean pooling, as llama.cpp's --pooling mean).
func (m *Model) EmbedText(ctx context.Context, tokens []int) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("model: embed: no tokens")
	}
	kv, err := NewKVCacheOf(m, 1, len(tokens), CacheF32, CacheF32)
	if err != nil {
		return nil, err
	}
	b := SeqBatch(0, 0, tokens)
	b.Logits = make([]bool, len(tokens))
	for i := range b.Logits {
		b.Logits[i] = true
	}
	b.Hidden = true
	rows, err := m.Forward(ctx, b, kv)
	if err != nil {
		return nil, err
	}
	out := make([]float32, m.Config.Hidden)
	for _, r := range rows {
		for j, v := range r {
			out[j] += v
		}
	}
	var sum float64
	for j := range out {
		out[j] /= float32(len(rows))
		sum += float64(out[j]) * float64(out[j])
	}
	if sum > 0 {
		inv := float32(1 / math.Sqrt(sum))
		for j := range out {
			out[j] *= inv
		}
	}
	return out, nil
}
