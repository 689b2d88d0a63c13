package model

import (
	"fmt"
	"math"
	"strings"
)

// QKNorm says whether and how queries and keys are RMS-normalised before RoPE.
type QKNorm int

const (
	QKNormNone    QKNorm = iota
	QKNormPerHead        // qwen3, qwen3moe: one weight vector of head_dim shared by all heads
	QKNormFull           // olmoe: over the whole projection (heads*head_dim)
)

// Config holds the hyper-parameters of a model as read from GGUF metadata.
type Config struct {
	Arch          string
	Vocab         int
	Hidden        int
	Layers        int
	Heads         int
	KVHeads       int
	HeadDim       int
	FF            int // dense feed-forward width (0 for MoE layers)
	Experts       int // 0 = dense
	ExpertsUsed   int
	ExpertFF      int
	SharedFF      int // qwen2moe shared expert width (0 = none)
	ContextLength int
	RMSEps        float32
	RopeBase      float32
	RopeFreqScale float32 // 1/scaling factor (linear or YaRN)
	// YaRN (rope.scaling.type = yarn, as Qwen3 uses for long contexts):
	// the context the model was trained at, and the ramp's bounds.
	RopeYaRN       bool
	RopeOrigCtx    int
	YaRNBetaFast   float32
	YaRNBetaSlow   float32
	YaRNExtFactor  float32
	RopeAttnFactor float32 // rotation magnitude (1 without YaRN)
	RopeDims       int     // rotated dimensions per head
	RopeNeoX       bool    // pair i with i+d/2 instead of 2i with 2i+1
	QKNorm         QKNorm
	QKVBias        bool // qwen2, qwen2moe
	NormTopK       bool // renormalise the top-k routing weights to sum to 1
	// Granite scaling; 1 (and AttnScale 1/sqrt(HeadDim)) elsewhere.
	EmbedScale    float32
	ResidualScale float32
	AttnScale     float32
	LogitScale    float32
}

// archTraits are the per-architecture facts that are not in metadata.
type archTraits struct {
	neox     bool
	qkNorm   QKNorm
	qkvBias  bool
	normTopK bool
	granite  bool
}

var archs = map[string]archTraits{
	"llama":      {normTopK: true},
	"qwen2":      {neox: true, qkvBias: true},
	"qwen2moe":   {neox: true, qkvBias: true, normTopK: false},
	"qwen3":      {neox: true, qkNorm: QKNormPerHead},
	"qwen3moe":   {neox: true, qkNorm: QKNormPerHead, normTopK: true},
	"olmoe":      {neox: true, qkNorm: QKNormFull, normTopK: false},
	"granite":    {granite: true},
	"granitemoe": {granite: true, normTopK: true},
}

// Architectures lists the architectures Load accepts.
func Architectures() []string {
	return []string{"llama", "qwen2", "qwen2moe", "qwen3", "qwen3moe", "olmoe", "granite", "granitemoe"}
}

// meta reads typed values out of GGUF metadata, remembering the first error
// so loading code can read everything and check once.
type meta struct {
	kv   map[string]any
	arch string
	err  error
}

func (m *meta) fail(key, format string, a ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("model: metadata %q: %s", key, fmt.Sprintf(format, a...))
	}
}

func (m *meta) num(key string) (float64, bool) {
	v, ok := m.kv[key]
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case uint8:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	m.fail(key, "is %T, want a number", v)
	return 0, false
}

// int reads <arch>.suffix; def < 0 means required.
func (m *meta) int(suffix string, def int) int {
	key := m.arch + "." + suffix
	f, ok := m.num(key)
	if !ok {
		if def < 0 {
			m.fail(key, "missing")
		}
		return def
	}
	if f < 0 || f > 1<<30 || f != math.Trunc(f) {
		m.fail(key, "value %v out of range", f)
		return 0
	}
	return int(f)
}

func (m *meta) float(suffix string, def float32) float32 {
	key := m.arch + "." + suffix
	f, ok := m.num(key)
	if !ok {
		return def
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		m.fail(key, "value %v is not finite", f)
		return def
	}
	return float32(f)
}

func (m *meta) str(key string) string {
	v, ok := m.kv[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		m.fail(key, "is %T, want a string", v)
	}
	return s
}

// ConfigFromMetadata reads the hyper-parameters of a supported architecture.
func ConfigFromMetadata(kv map[string]any) (Config, error) {
	m := &meta{kv: kv}
	arch := m.str("general.architecture")
	if m.err != nil {
		return Config{}, m.err
	}
	if arch == "" {
		return Config{}, fmt.Errorf("model: metadata %q missing", "general.architecture")
	}
	tr, ok := archs[arch]
	if !ok {
		return Config{}, fmt.Errorf("model: unsupported architecture %q (supported: %s)", arch, strings.Join(Architectures(), ", "))
	}
	m.arch = arch
	c := Config{
		Arch:          arch,
		Hidden:        m.int("embedding_length", -1),
		Layers:        m.int("block_count", -1),
		Heads:         m.int("attention.head_count", -1),
		ContextLength: m.int("context_length", -1),
		Experts:       m.int("expert_count", 0),
		ExpertsUsed:   m.int("expert_used_count", 0),
		RMSEps:        m.float("attention.layer_norm_rms_epsilon", 1e-6),
		RopeBase:      m.float("rope.freq_base", 10000),
		RopeNeoX:      tr.neox,
		QKNorm:        tr.qkNorm,
		QKVBias:       tr.qkvBias,
		NormTopK:      tr.normTopK,
		EmbedScale:    1,
		ResidualScale: 1,
		LogitScale:    1,
	}
	c.KVHeads = m.int("attention.head_count_kv", c.Heads)
	hd := 0
	if c.Heads > 0 {
		hd = c.Hidden / c.Heads
	}
	c.HeadDim = m.int("attention.key_length", hd)
	if v := m.int("attention.value_length", c.HeadDim); v != c.HeadDim && m.err == nil {
		m.fail(arch+".attention.value_length", "%d differs from the key length %d, which is not supported", v, c.HeadDim)
	}
	c.RopeDims = m.int("rope.dimension_count", c.HeadDim)
	c.RopeFreqScale, c.RopeAttnFactor = 1, 1
	scaling := m.str(arch + ".rope.scaling.type")
	switch scaling {
	case "", "linear", "none", "yarn":
	default:
		m.fail(arch+".rope.scaling.type", "%q is not supported (linear, yarn or none)", scaling)
	}
	if f := m.float("rope.scaling.factor", 0); f > 0 && scaling != "none" {
		c.RopeFreqScale = 1 / f
	}
	if scaling == "yarn" {
		c.RopeYaRN = true
		c.RopeOrigCtx = m.int("rope.scaling.original_context_length", c.ContextLength)
		c.YaRNBetaFast = m.float("rope.scaling.yarn_beta_fast", 32)
		c.YaRNBetaSlow = m.float("rope.scaling.yarn_beta_slow", 1)
		c.YaRNExtFactor = m.float("rope.scaling.yarn_ext_factor", 1)
		c.RopeAttnFactor = yarnAttnFactor(c.RopeFreqScale, c.YaRNExtFactor, m.float("rope.scaling.yarn_log_multiplier", 0))
	}
	c.RopeAttnFactor *= m.float("rope.scaling.attn_factor", 1)
	if c.Experts > 0 {
		if arch == "llama" || arch == "granitemoe" {
			c.ExpertFF = m.int("expert_feed_forward_length", 0)
			if c.ExpertFF == 0 {
				c.ExpertFF = m.int("feed_forward_length", -1)
			}
		} else {
			c.ExpertFF = m.int("expert_feed_forward_length", -1)
		}
		c.SharedFF = m.int("expert_shared_feed_forward_length", 0)
	} else {
		c.FF = m.int("feed_forward_length", -1)
	}
	if tr.granite {
		c.EmbedScale = m.float("embedding_scale", 1)
		c.ResidualScale = m.float("residual_scale", 1)
		c.AttnScale = m.float("attention.scale", 0)
		c.LogitScale = m.float("logit_scale", 1)
	}
	if m.err != nil {
		return Config{}, m.err
	}
	if c.AttnScale == 0 && c.HeadDim > 0 {
		c.AttnScale = 1 / float32(math.Sqrt(float64(c.HeadDim))) // 1.0f/sqrtf(n), as llama.cpp
	}
	return c, c.validate()
}

func (c Config) validate() error {
	bad := func(what string, v int) error {
		return fmt.Errorf("model: %s: %s = %d is not valid", c.Arch, what, v)
	}
	switch {
	case c.Hidden <= 0:
		return bad("embedding_length", c.Hidden)
	case c.Layers <= 0:
		return bad("block_count", c.Layers)
	case c.Heads <= 0:
		return bad("attention.head_count", c.Heads)
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return fmt.Errorf("model: %s: attention.head_count_kv = %d must divide head_count %d", c.Arch, c.KVHeads, c.Heads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0:
		return bad("attention.key_length", c.HeadDim)
	case c.RopeDims <= 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0:
		return bad("rope.dimension_count", c.RopeDims)
	case c.ContextLength <= 0:
		return bad("context_length", c.ContextLength)
	case c.Experts > 0 && (c.ExpertsUsed <= 0 || c.ExpertsUsed > c.Experts):
		return fmt.Errorf("model: %s: expert_used_count = %d must be in 1..expert_count (%d)", c.Arch, c.ExpertsUsed, c.Experts)
	case c.Experts > 0 && c.ExpertFF <= 0:
		return bad("expert_feed_forward_length", c.ExpertFF)
	case c.Experts == 0 && c.FF <= 0:
		return bad("feed_forward_length", c.FF)
	case c.RMSEps <= 0:
		return fmt.Errorf("model: %s: attention.layer_norm_rms_epsilon = %v must be positive", c.Arch, c.RMSEps)
	case c.LogitScale == 0:
		return fmt.Errorf("model: %s: logit_scale must not be 0", c.Arch)
	}
	return nil
}

// MoE reports whether the model routes its feed-forward through experts.
func (c Config) MoE() bool { return c.Experts > 0 }

// yarnAttnFactor is the magnitude llama.cpp gives YaRN's rotations before
// the rope itself multiplies in 1 + 0.1·ln(factor), in float32 step by step
// as llama.cpp computes it (llama_context's yarn_attn_factor).
func yarnAttnFactor(freqScale, extFactor, logMul float32) float32 {
	if extFactor == 0 {
		return 1
	}
	mscale := func(scale, m float32) float32 {
		if scale <= 1 {
			return 1
		}
		return 0.1*m*logf(scale) + 1
	}
	factor := 1 / freqScale
	attn := mscale(factor, 1)
	if logMul != 0 {
		attn = mscale(factor, 1) / mscale(factor, logMul)
	}
	return attn * (1 / (1 + 0.1*logf(factor)))
}

func logf(x float32) float32 { return float32(math.Log(float64(x))) }
