// Package model owns the transformer itself: it turns the hyper-parameters
// and weights of a GGUF file into a Model (weights stay in the file mapping;
// on Linux small models are copied into huge pages, see pinWeights) and
// runs the forward pass of the decoder-only Mixture-of-Experts and dense
// architectures the local engine supports (llama/Mixtral, qwen2, qwen2moe,
// qwen3, qwen3moe, olmoe, granite, granitemoe) over batches of tokens from
// many sequences sharing one block-based KV cache.
package model

import (
	"fmt"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/tensor"
)

// Layer holds the weights of one transformer block. Matrices point into the
// GGUF file's data or a huge-page copy of it (see pinWeights); small vectors
// (norms, biases) are decoded to float32.
type Layer struct {
	AttnNorm       []float32
	Wq, Wk, Wv, Wo tensor.Matrix
	Bq, Bk, Bv     []float32 // nil unless the architecture has QKV bias
	QNorm, KNorm   []float32 // nil unless Config.QKNorm != QKNormNone
	FFNNorm        []float32

	// Dense feed-forward (Config.Experts == 0).
	Gate, Up, Down tensor.Matrix

	// Mixture of experts.
	Router                  tensor.Matrix   // Experts × Hidden
	GateExp, UpExp, DownExp []tensor.Matrix // per expert
	ShGate, ShUp, ShDown    tensor.Matrix   // shared expert (Rows == 0 when absent)
	ShGateInp               []float32       // sigmoid gate of the shared expert (nil when absent)
}

// Model is a loaded network. It is safe for concurrent Forward calls on
// different KV caches.
type Model struct {
	Config  Config
	Embed   tensor.Matrix // Vocab × Hidden
	OutNorm []float32
	Output  tensor.Matrix // Vocab × Hidden; the embedding when tied
	Layers  []Layer
	// Threads is how many goroutines the matrix kernels and attention use.
	Threads int
	// Exact runs every projection through the reference kernel, which keeps
	// activations in float instead of quantizing them to 8 bits for
	// quantized weights: slow, for checking the math of quantized models.
	Exact bool
	// Trace, when set, is called with intermediate activations of a forward
	// pass (names follow llama.cpp's graph: "attn_norm", "Qcur", "kq_soft_max",
	// "ffn_moe_probs", "l_out", ...), so a run can be compared tensor by
	// tensor with another engine. x is only valid during the call. Tracing
	// forces one thread for attention.
	Trace func(name string, layer int, x []float32)

	rope ropeTable
}

// tensors indexes a file's tensors by name and checks their shapes.
type tensors struct {
	byName map[string]*gguf.TensorInfo
}

func (t tensors) get(name string, optional bool, shape ...int) (*gguf.TensorInfo, error) {
	ti := t.byName[name]
	if ti == nil {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("model: tensor %q missing", name)
	}
	got := dims(ti.Shape)
	if len(got) != len(shape) {
		// GGUF writers may drop trailing 1 dimensions.
		for len(got) < len(shape) && shape[len(got)] == 1 {
			got = append(got, 1)
		}
	}
	if len(got) != len(shape) {
		return nil, fmt.Errorf("model: tensor %q has shape %v, want %v", name, got, shape)
	}
	for i := range shape {
		if got[i] != shape[i] {
			return nil, fmt.Errorf("model: tensor %q has shape %v, want %v", name, got, shape)
		}
	}
	if !ti.Type.Valid() {
		return nil, fmt.Errorf("model: tensor %q has unsupported type %v", name, ti.Type)
	}
	return ti, nil
}

func dims[T ~int | ~int32 | ~int64 | ~uint32 | ~uint64](s []T) []int {
	out := make([]int, len(s))
	for i, v := range s {
		out[i] = int(v)
	}
	return out
}

// matrix returns a 2-D tensor {cols, rows} as a Matrix over the file's bytes.
func (t tensors) matrix(name string, optional bool, cols, rows int) (tensor.Matrix, error) {
	ti, err := t.get(name, optional, cols, rows)
	if err != nil || ti == nil {
		return tensor.Matrix{}, err
	}
	return matrixOf(name, ti.Type, ti.Data, rows, cols)
}

func matrixOf(name string, typ tensor.Type, data []byte, rows, cols int) (tensor.Matrix, error) {
	rb, err := tensor.RowBytes(typ, cols)
	if err != nil {
		return tensor.Matrix{}, fmt.Errorf("model: tensor %q: %w", name, err)
	}
	if len(data) < rb*rows {
		return tensor.Matrix{}, fmt.Errorf("model: tensor %q holds %d bytes, want %d", name, len(data), rb*rows)
	}
	return tensor.Matrix{Type: typ, Rows: rows, Cols: cols, Data: data[:rb*rows]}, nil
}

// experts splits a 3-D tensor {cols, rows, n} into n matrices.
func (t tensors) experts(name string, cols, rows, n int) ([]tensor.Matrix, error) {
	ti, err := t.get(name, false, cols, rows, n)
	if err != nil {
		return nil, err
	}
	rb, err := tensor.RowBytes(ti.Type, cols)
	if err != nil {
		return nil, fmt.Errorf("model: tensor %q: %w", name, err)
	}
	per := rb * rows
	if len(ti.Data) < per*n {
		return nil, fmt.Errorf("model: tensor %q holds %d bytes, want %d", name, len(ti.Data), per*n)
	}
	out := make([]tensor.Matrix, n)
	for e := range out {
		out[e] = tensor.Matrix{Type: ti.Type, Rows: rows, Cols: cols, Data: ti.Data[e*per : (e+1)*per]}
	}
	return out, nil
}

// vector decodes a 1-D tensor of n values to float32.
func (t tensors) vector(name string, optional bool, n int) ([]float32, error) {
	ti, err := t.get(name, optional, n)
	if err != nil || ti == nil {
		return nil, err
	}
	rb, err := tensor.RowBytes(ti.Type, n)
	if err != nil {
		return nil, fmt.Errorf("model: tensor %q: %w", name, err)
	}
	if len(ti.Data) < rb {
		return nil, fmt.Errorf("model: tensor %q holds %d bytes, want %d", name, len(ti.Data), rb)
	}
	out := make([]float32, n)
	if err := tensor.Dequantize(ti.Type, ti.Data[:rb], out); err != nil {
		return nil, fmt.Errorf("model: tensor %q: %w", name, err)
	}
	return out, nil
}

// Load builds a Model over f's weights. The file's data must stay alive (and
// mapped) as long as the Model is used.
func Load(f *gguf.File) (*Model, error) {
	cfg, err := ConfigFromMetadata(f.Metadata)
	if err != nil {
		return nil, err
	}
	t := tensors{byName: map[string]*gguf.TensorInfo{}}
	for _, ti := range f.Tensors {
		t.byName[ti.Name] = ti
	}
	emb := t.byName["token_embd.weight"]
	if emb == nil {
		return nil, fmt.Errorf("model: tensor %q missing", "token_embd.weight")
	}
	if d := dims(emb.Shape); len(d) == 2 {
		cfg.Vocab = d[1]
	}
	if cfg.Vocab <= 0 {
		return nil, fmt.Errorf("model: tensor %q has shape %v, want {%d, vocab}", "token_embd.weight", dims(emb.Shape), cfg.Hidden)
	}
	m := &Model{Config: cfg, Threads: 1}
	if m.Embed, err = t.matrix("token_embd.weight", false, cfg.Hidden, cfg.Vocab); err != nil {
		return nil, err
	}
	if m.OutNorm, err = t.vector("output_norm.weight", false, cfg.Hidden); err != nil {
		return nil, err
	}
	if m.Output, err = t.matrix("output.weight", true, cfg.Hidden, cfg.Vocab); err != nil {
		return nil, err
	}
	if m.Output.Rows == 0 {
		m.Output = m.Embed
	}
	// Each block has at least six tensors; checking this before allocating
	// keeps a corrupt block_count from asking for absurd memory.
	if cfg.Layers > len(f.Tensors)/6 {
		return nil, fmt.Errorf("model: %s.block_count = %d but the file has only %d tensors", cfg.Arch, cfg.Layers, len(f.Tensors))
	}
	m.Layers = make([]Layer, cfg.Layers)
	for l := range m.Layers {
		if err := m.loadLayer(t, l); err != nil {
			return nil, err
		}
	}
	m.rope = newRope(cfg)
	pinWeights(m, f)
	return m, nil
}

// weightMatrices lists every weight matrix of m (the output projection may
// share the embedding's data).
func (m *Model) weightMatrices() []*tensor.Matrix {
	mats := []*tensor.Matrix{&m.Embed, &m.Output}
	for l := range m.Layers {
		L := &m.Layers[l]
		mats = append(mats, &L.Wq, &L.Wk, &L.Wv, &L.Wo, &L.Gate, &L.Up, &L.Down, &L.Router,
			&L.ShGate, &L.ShUp, &L.ShDown)
		for e := range L.GateExp {
			mats = append(mats, &L.GateExp[e], &L.UpExp[e], &L.DownExp[e])
		}
	}
	return mats
}

func (m *Model) loadLayer(t tensors, l int) error {
	c := m.Config
	L := &m.Layers[l]
	name := func(s string) string { return fmt.Sprintf("blk.%d.%s", l, s) }
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	var err error
	vec := func(dst *[]float32, s string, optional bool, n int) {
		if err == nil {
			*dst, err = t.vector(name(s), optional, n)
		}
	}
	mat := func(dst *tensor.Matrix, s string, optional bool, cols, rows int) {
		if err == nil {
			*dst, err = t.matrix(name(s), optional, cols, rows)
		}
	}
	vec(&L.AttnNorm, "attn_norm.weight", false, c.Hidden)
	mat(&L.Wq, "attn_q.weight", false, c.Hidden, qDim)
	mat(&L.Wk, "attn_k.weight", false, c.Hidden, kvDim)
	mat(&L.Wv, "attn_v.weight", false, c.Hidden, kvDim)
	mat(&L.Wo, "attn_output.weight", false, qDim, c.Hidden)
	if c.QKVBias {
		vec(&L.Bq, "attn_q.bias", false, qDim)
		vec(&L.Bk, "attn_k.bias", false, kvDim)
		vec(&L.Bv, "attn_v.bias", false, kvDim)
	}
	switch c.QKNorm {
	case QKNormPerHead:
		vec(&L.QNorm, "attn_q_norm.weight", false, c.HeadDim)
		vec(&L.KNorm, "attn_k_norm.weight", false, c.HeadDim)
	case QKNormFull:
		vec(&L.QNorm, "attn_q_norm.weight", false, qDim)
		vec(&L.KNorm, "attn_k_norm.weight", false, kvDim)
	}
	vec(&L.FFNNorm, "ffn_norm.weight", false, c.Hidden)
	if err != nil {
		return err
	}
	if !c.MoE() {
		mat(&L.Gate, "ffn_gate.weight", false, c.Hidden, c.FF)
		mat(&L.Up, "ffn_up.weight", false, c.Hidden, c.FF)
		mat(&L.Down, "ffn_down.weight", false, c.FF, c.Hidden)
		return err
	}
	mat(&L.Router, "ffn_gate_inp.weight", false, c.Hidden, c.Experts)
	if err != nil {
		return err
	}
	if t.byName[name("ffn_gate_exps.weight")] == nil && t.byName[name("ffn_gate.0.weight")] != nil {
		// Older Mixtral conversions store each expert as its own tensor.
		L.GateExp = make([]tensor.Matrix, c.Experts)
		L.UpExp = make([]tensor.Matrix, c.Experts)
		L.DownExp = make([]tensor.Matrix, c.Experts)
		for e := 0; e < c.Experts; e++ {
			mat(&L.GateExp[e], fmt.Sprintf("ffn_gate.%d.weight", e), false, c.Hidden, c.ExpertFF)
			mat(&L.UpExp[e], fmt.Sprintf("ffn_up.%d.weight", e), false, c.Hidden, c.ExpertFF)
			mat(&L.DownExp[e], fmt.Sprintf("ffn_down.%d.weight", e), false, c.ExpertFF, c.Hidden)
		}
		if err != nil {
			return err
		}
	} else {
		if L.GateExp, err = t.experts(name("ffn_gate_exps.weight"), c.Hidden, c.ExpertFF, c.Experts); err != nil {
			return err
		}
		if L.UpExp, err = t.experts(name("ffn_up_exps.weight"), c.Hidden, c.ExpertFF, c.Experts); err != nil {
			return err
		}
		if L.DownExp, err = t.experts(name("ffn_down_exps.weight"), c.ExpertFF, c.Hidden, c.Experts); err != nil {
			return err
		}
	}
	if c.SharedFF > 0 {
		mat(&L.ShGate, "ffn_gate_shexp.weight", false, c.Hidden, c.SharedFF)
		mat(&L.ShUp, "ffn_up_shexp.weight", false, c.Hidden, c.SharedFF)
		mat(&L.ShDown, "ffn_down_shexp.weight", false, c.SharedFF, c.Hidden)
		vec(&L.ShGateInp, "ffn_gate_inp_shexp.weight", true, c.Hidden)
	}
	return err
}

// Params counts the weights of the model (all experts).
func (m *Model) Params() int64 {
	var n int64
	add := func(ms ...tensor.Matrix) {
		for _, x := range ms {
			n += int64(x.Rows) * int64(x.Cols)
		}
	}
	add(m.Embed)
	if m.Output.Data != nil && &m.Output.Data[0] != &m.Embed.Data[0] {
		add(m.Output)
	}
	for _, L := range m.Layers {
		add(L.Wq, L.Wk, L.Wv, L.Wo, L.Gate, L.Up, L.Down, L.Router, L.ShGate, L.ShUp, L.ShDown)
		add(L.GateExp...)
		add(L.UpExp...)
		add(L.DownExp...)
	}
	return n
}

// WeightType is the type of the largest weight matrices (the experts' or
// dense FFN's), which is what people mean by "a Q8_0 model".
func (m *Model) WeightType() tensor.Type {
	L := m.Layers[0]
	if len(L.UpExp) > 0 {
		return L.UpExp[0].Type
	}
	return L.Up.Type
}
