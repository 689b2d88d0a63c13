package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
)

func writeModel(t *testing.T, s modelgen.Spec) *gguf.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), s.Arch+".gguf")
	if err := modelgen.Write(path, s); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func loadModel(t *testing.T, s modelgen.Spec) (*Model, *gguf.File) {
	t.Helper()
	f := writeModel(t, s)
	m, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return m, f
}

// relErr is max |a-b| over the logits relative to the largest |b|.
func relErr(a []float32, b []float64) float64 {
	var d, mx float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
		mx = math.Max(mx, math.Abs(b[i]))
	}
	return d / mx
}

var testPrompt = []int{5, 17, 300, 42, 42, 7, 99, 120, 3, 250, 11, 64, 1, 200, 33, 18, 77, 5, 390}

func TestForwardMatchesReference(t *testing.T) {
	cases := []struct {
		arch string
		typ  tensor.Type
		tol  float64
	}{
		{"qwen3moe", tensor.F32, 1e-4},
		{"llama", tensor.F32, 1e-4},
		{"qwen2moe", tensor.F32, 1e-4},
		{"olmoe", tensor.F32, 1e-4},
		{"granitemoe", tensor.F32, 1e-4},
		{"qwen3", tensor.F32, 1e-4},
		{"qwen2", tensor.F32, 1e-4},
		{"granite", tensor.F32, 1e-4},
		// F16 products round their activations to F16, as ggml does (2^-11
		// relative per activation).
		{"qwen3moe", tensor.F16, 3e-3},
		{"llama", tensor.BF16, 1e-4},
		{"qwen3moe", tensor.Q8_0, 0.03},
		{"llama", tensor.Q8_0, 0.03},
		{"qwen2moe", tensor.Q8_0, 0.03},
		{"olmoe", tensor.Q4_0, 0.05},
	}
	for _, c := range cases {
		t.Run(c.arch+"/"+c.typ.String(), func(t *testing.T) {
			s := modelgen.Tiny(c.arch)
			s.Type = c.typ
			m, f := loadModel(t, s)
			ref := newRef(t, f)
			want := ref.forward(testPrompt)
			checkForward(t, m, want, c.tol)
		})
	}
}

func TestForwardKQuants(t *testing.T) {
	if testing.Short() {
		t.Skip("K-quant models need 256-wide rows")
	}
	for _, typ := range []tensor.Type{tensor.Q4_K, tensor.Q6_K} {
		t.Run(typ.String(), func(t *testing.T) {
			s := modelgen.Tiny("qwen3moe")
			s.Hidden, s.HeadDim, s.ExpertFF, s.Layers = 256, 64, 256, 1
			s.Type = typ
			m, f := loadModel(t, s)
			want := newRef(t, f).forward(testPrompt[:8])
			checkForward(t, m, want, 0.05)
		})
	}
}

// checkForward compares the prompt in one batch, and token by token through
// the KV cache, against the reference logits of every position. With
// Exact set the only difference from the reference is float32 rounding, so
// the tolerance is tight for every weight type. The fast kernels quantize
// activations to 8 bits (as llama.cpp does), which moves logits by a few
// percent and can flip a near-tied expert choice at some position, so there
// the median error and the agreement of the top token are checked.
// A file with YaRN scaling (as Qwen3's long-context files have) gives the
// reference's logits, and not the unscaled ones.
func TestYaRNMatchesReference(t *testing.T) {
	for _, arch := range []string{"qwen3moe", "llama"} {
		t.Run(arch, func(t *testing.T) {
			w, err := modelgen.Build(modelgen.Tiny(arch))
			if err != nil {
				t.Fatal(err)
			}
			plainPath := filepath.Join(t.TempDir(), "plain.gguf")
			if err := w.WriteFile(plainPath); err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]any{
				arch + ".rope.scaling.type":                    "yarn",
				arch + ".rope.scaling.factor":                  float32(4),
				arch + ".rope.scaling.original_context_length": uint32(128),
			} {
				if err := w.SetKV(k, v); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "yarn.gguf")
			if err := w.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Config.RopeYaRN || m.Config.RopeFreqScale != 0.25 || m.Config.RopeOrigCtx != 128 {
				t.Fatalf("config %+v", m.Config)
			}
			want := newRef(t, f).forward(testPrompt)
			pf, err := gguf.Open(plainPath)
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			plain := newRef(t, pf).forward(testPrompt)
			m.Exact = true
			got := runBatched(t, m, len(want))
			worst, worstPlain := 0.0, 0.0
			for i := range want {
				worst = math.Max(worst, relErr(got[i], want[i]))
				worstPlain = math.Max(worstPlain, relErr(got[i], plain[i]))
			}
			t.Logf("max relative logit error %.3g against YaRN, %.3g against unscaled", worst, worstPlain)
			if worst > 1e-4 || worstPlain < 100*worst {
				t.Fatalf("max relative logit error %.3g against the YaRN reference (%.3g against unscaled)", worst, worstPlain)
			}
		})
	}
}

// Keys and values stored as float16 or q8_0 give the reference's logits
// when the reference rounds what it stores the same way, and not the
// float32 cache's.
func TestKVCacheTypesMatchReference(t *testing.T) {
	for _, arch := range []string{"qwen3moe", "llama"} {
		for _, c := range []struct {
			k, v    CacheType
			headDim int
		}{{CacheF16, CacheF16, 32}, {CacheQ8_0, CacheQ8_0, 32}, {CacheF32, CacheF16, 32}, {CacheQ8_0, CacheF32, 32},
			// 64: quantized keys and values are rotated (rotate.go)
			{CacheQ8_0, CacheQ8_0, 64}, {CacheQ8_0, CacheF16, 64}} {
			t.Run(fmt.Sprintf("%s/k=%v,v=%v,hd=%d", arch, c.k, c.v, c.headDim), func(t *testing.T) {
				spec := modelgen.Tiny(arch)
				spec.HeadDim = c.headDim // q8_0 rows are whole 32-blocks
				m, f := loadModel(t, spec)
				ref := newRef(t, f)
				plain := ref.forward(testPrompt)
				ref.kCache, ref.vCache = c.k, c.v
				want := ref.forward(testPrompt)
				for _, exact := range []bool{true, false} {
					m.Exact = exact
					for _, stepwise := range []bool{false, true} {
						kv, err := NewKVCacheOf(m, 64, 0, c.k, c.v)
						if err != nil {
							t.Fatal(err)
						}
						got := runWith(t, m, kv, len(want), stepwise)
						worst, worstPlain := 0.0, 0.0
						for i := range want {
							worst = math.Max(worst, relErr(got[i], want[i]))
							worstPlain = math.Max(worstPlain, relErr(got[i], plain[i]))
						}
						t.Logf("exact=%v stepwise=%v: max relative error %.3g against the rounding reference, %.3g against float32", exact, stepwise, worst, worstPlain)
						// float32 and float64 land on opposite sides of a
						// rounding boundary now and then: one value moves
						// by a float16 or int8 step.
						limit := 1e-3
						if !exact {
							limit = 5e-3
						}
						if worst > limit {
							t.Errorf("exact=%v stepwise=%v: max relative logit error %.3g > %.3g", exact, stepwise, worst, limit)
						}
						if exact && worst*3 > worstPlain {
							t.Errorf("the cache's rounding is not visible: error %.3g against the rounding reference, %.3g against float32", worst, worstPlain)
						}
					}
				}
				m.Exact = false
			})
		}
	}
}

// The packed types take the memory they promise.
func TestKVCacheTypeMemory(t *testing.T) {
	m, _ := loadModel(t, modelgen.Tiny("qwen3moe"))
	for _, c := range []struct {
		typ   CacheType
		bytes int
	}{{CacheF32, 4}, {CacheF16, 2}} {
		kv, err := NewKVCacheOf(m, 64, 0, c.typ, c.typ)
		if err != nil {
			t.Fatal(err)
		}
		b, err := kv.alloc()
		if err != nil {
			t.Fatal(err)
		}
		per := 0
		if c.typ == CacheF32 {
			per = 4 * (len(kv.k.f32[b]) + len(kv.v.f32[b]))
		} else {
			per = len(kv.k.raw[b]) + len(kv.v.raw[b])
		}
		want := 2 * m.Config.Layers * m.Config.KVHeads * m.Config.HeadDim * BlockSize * c.bytes
		if per != want {
			t.Errorf("%v: a block takes %d bytes, want %d", c.typ, per, want)
		}
	}
	if _, err := NewKVCacheOf(m, 64, 0, CacheQ8_0, CacheF16); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
		t.Errorf("q8_0 keys for head size %d: %v", m.Config.HeadDim, err)
	}
	if _, err := ParseCacheType("q4_0"); err == nil || !strings.Contains(err.Error(), "f32, f16, q8_0") {
		t.Errorf("ParseCacheType(q4_0) = %v", err)
	}
}

func runWith(t *testing.T, m *Model, kv *KVCache, n int, stepwise bool) [][]float32 {
	t.Helper()
	if !stepwise {
		b := SeqBatch(0, 0, testPrompt[:n])
		b.Logits = make([]bool, n)
		for i := range b.Logits {
			b.Logits[i] = true
		}
		got, err := m.Forward(context.Background(), b, kv)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	var out [][]float32
	for i, tok := range testPrompt[:n] {
		o, err := m.Forward(context.Background(), SeqBatch(3, i, []int{tok}), kv)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o[0])
	}
	return out
}

func checkForward(t *testing.T, m *Model, want [][]float64, fastTol float64) {
	t.Helper()
	for _, exact := range []bool{true, false} {
		m.Exact = exact
		got := runBatched(t, m, len(want))
		step := runStepwise(t, m, len(want))
		var errs []float64
		agree := 0
		for i := range want {
			errs = append(errs, relErr(got[i], want[i]))
			if argmax(got[i]) == argmax64(want[i]) {
				agree++
			}
			// Batching changes results only by rounding: like llama.cpp,
			// attention and float matrix products sum in one order for a
			// batch and another for a single token. Where activations are
			// rounded to int8 afterwards, a last-bit difference can move a
			// value across a rounding boundary, so the fast path on
			// quantized weights gets a looser bound, and on F16 weights
			// (activations rounded to F16, 2^-11) one in between.
			bound := 1e-5
			switch {
			case !exact && quantized(m):
				bound = 5e-3
			case !exact && m.WeightType() == tensor.F16:
				bound = 1e-3
			}
			if e := relErr(step[i], f64(got[i])); e > bound {
				t.Errorf("exact=%v position %d: token-by-token differs from batched by %.3g", exact, i, e)
			}
		}
		sort.Float64s(errs)
		med, worst := errs[len(errs)/2], errs[len(errs)-1]
		t.Logf("exact=%v: relative logit error median %.3g max %.3g, top token agrees at %d/%d", exact, med, worst, agree, len(want))
		if exact && worst > 1e-4 {
			t.Errorf("exact kernels: max relative logit error %.3g > 1e-4", worst)
		}
		if !exact && (med > fastTol || agree*4 < len(want)*3) {
			t.Errorf("fast kernels: median relative error %.3g (limit %.3g), top token agrees at %d/%d", med, fastTol, agree, len(want))
		}
	}
	m.Exact = false
}

func runBatched(t *testing.T, m *Model, n int) [][]float32 {
	t.Helper()
	return runWith(t, m, NewKVCache(m, 64, 0), n, false)
}

func runStepwise(t *testing.T, m *Model, n int) [][]float32 {
	t.Helper()
	return runWith(t, m, NewKVCache(m, 64, 0), n, true)
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestGreedyGolden checks greedy decoding through the cache against the
// reference's greedy sequence for the same seeded model.
func TestGreedyGolden(t *testing.T) {
	for _, arch := range []string{"qwen3moe", "llama"} {
		t.Run(arch, func(t *testing.T) {
			m, f := loadModel(t, modelgen.Tiny(arch))
			want := newRef(t, f).greedy(testPrompt[:6], 12)
			kv := NewKVCache(m, 64, 0)
			out, err := m.Forward(context.Background(), SeqBatch(0, 0, testPrompt[:6]), kv)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := 0; i < len(want); i++ {
				next := argmax(out[len(out)-1])
				got = append(got, next)
				out, err = m.Forward(context.Background(), SeqBatch(0, 6+i, []int{next}), kv)
				if err != nil {
					t.Fatal(err)
				}
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("greedy tokens %v, reference %v", got, want)
				}
			}
			distinct := map[int]bool{}
			for _, x := range want {
				distinct[x] = true
			}
			t.Logf("greedy %v (%d distinct)", want, len(distinct))
		})
	}
}

// TestMultiSequenceBatch runs two sequences in one batch and checks each
// against running it alone, including a fork that shares a prefix.
func TestMultiSequenceBatch(t *testing.T) {
	m, f := loadModel(t, modelgen.Tiny("qwen2moe"))
	ref := newRef(t, f)
	ctx := context.Background()
	a, bb := testPrompt[:10], testPrompt[5:19]
	kv := NewKVCache(m, 128, 0)
	var batch Batch
	for i, tok := range a {
		batch.Tokens, batch.Pos, batch.Seq = append(batch.Tokens, tok), append(batch.Pos, i), append(batch.Seq, 1)
	}
	for i, tok := range bb {
		batch.Tokens, batch.Pos, batch.Seq = append(batch.Tokens, tok), append(batch.Pos, i), append(batch.Seq, 2)
	}
	batch.Logits = make([]bool, len(batch.Tokens))
	batch.Logits[len(a)-1], batch.Logits[len(batch.Tokens)-1] = true, true
	out, err := m.Forward(ctx, batch, kv)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(out[len(a)-1], ref.forward(a)[len(a)-1]); e > 1e-4 {
		t.Errorf("sequence 1 error %.3g", e)
	}
	if e := relErr(out[len(out)-1], ref.forward(bb)[len(bb)-1]); e > 1e-4 {
		t.Errorf("sequence 2 error %.3g", e)
	}
	if out[0] != nil {
		t.Errorf("logits returned for a token that did not ask for them")
	}

	// Fork 7 positions of sequence 1 (inside its first block) and continue
	// both: the fork must not disturb sequence 1, nor see its later tokens.
	if err := kv.Fork(1, 5, 7); err != nil {
		t.Fatal(err)
	}
	c := append(append([]int(nil), a[:7]...), 301, 302)
	out, err = m.Forward(ctx, SeqBatch(5, 7, c[7:]), kv)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(out[1], ref.forward(c)[len(c)-1]); e > 1e-4 {
		t.Errorf("forked sequence error %.3g", e)
	}
	a2 := append(append([]int(nil), a...), 9)
	out, err = m.Forward(ctx, SeqBatch(1, len(a), []int{9}), kv)
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(out[0], ref.forward(a2)[len(a2)-1]); e > 1e-4 {
		t.Errorf("sequence 1 after fork error %.3g", e)
	}
}

func TestBatchErrors(t *testing.T) {
	m, _ := loadModel(t, modelgen.Tiny("qwen3moe"))
	kv := NewKVCache(m, 32, 32)
	ctx := context.Background()
	bad := []struct {
		name string
		b    Batch
		want string
	}{
		{"empty", Batch{}, "empty"},
		{"vocab", SeqBatch(0, 0, []int{m.Config.Vocab}), "vocabulary"},
		{"negative token", SeqBatch(0, 0, []int{-1}), "vocabulary"},
		{"gap", SeqBatch(0, 3, []int{1}), "cache holds only"},
		{"jump", Batch{Tokens: []int{1, 2}, Pos: []int{0, 2}}, "jumps"},
		{"context", SeqBatch(0, 0, make([]int, 33)), "context"},
		{"lengths", Batch{Tokens: []int{1}, Pos: []int{0, 1}}, "positions"},
	}
	for _, c := range bad {
		_, err := m.Forward(ctx, c.b, kv)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
	if err := kv.CheckContext(0, 33); err == nil {
		t.Error("CheckContext accepted 33 positions in a context of 32")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Forward(cctx, SeqBatch(0, 0, []int{1, 2}), kv); err == nil {
		t.Error("Forward ignored a cancelled context")
	}
	if kv.SeqLen(0) != 0 {
		t.Errorf("failed forward left %d positions in the cache", kv.SeqLen(0))
	}
}

func TestLoadErrors(t *testing.T) {
	f := writeModel(t, modelgen.Tiny("qwen3moe"))
	md := map[string]any{}
	for k, v := range f.Metadata {
		md[k] = v
	}
	clone := func(mut func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo) error {
		m2 := map[string]any{}
		for k, v := range md {
			m2[k] = v
		}
		ts := append([]*gguf.TensorInfo(nil), f.Tensors...)
		ts = mut(m2, ts)
		_, err := Load(&gguf.File{Metadata: m2, Tensors: ts})
		return err
	}
	cases := []struct {
		name string
		mut  func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo
		want string
	}{
		{"arch", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			md["general.architecture"] = "mamba"
			return ts
		}, `unsupported architecture "mamba"`},
		{"key", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			delete(md, "qwen3moe.block_count")
			return ts
		}, "qwen3moe.block_count"},
		{"key type", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			md["qwen3moe.embedding_length"] = "wide"
			return ts
		}, "qwen3moe.embedding_length"},
		{"tensor", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			var out []*gguf.TensorInfo
			for _, ti := range ts {
				if ti.Name != "blk.1.ffn_up_exps.weight" {
					out = append(out, ti)
				}
			}
			return out
		}, "blk.1.ffn_up_exps.weight"},
		{"shape", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			md["qwen3moe.expert_count"] = uint32(5)
			return ts
		}, "ffn_gate_inp.weight"},
		{"used", func(md map[string]any, ts []*gguf.TensorInfo) []*gguf.TensorInfo {
			md["qwen3moe.expert_used_count"] = uint32(9)
			return ts
		}, "expert_used_count"},
	}
	for _, c := range cases {
		err := clone(c.mut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestTopK(t *testing.T) {
	p := []float32{0.1, 0.4, 0.05, 0.4, 0.05}
	got := topK(p, 3, nil)
	if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 0 {
		t.Errorf("topK = %v, want [1 3 0] (ties to the lower index)", got)
	}
	// NaN router outputs must still give k distinct experts.
	nan := float32(math.NaN())
	got = topK([]float32{nan, nan, 1}, 2, nil)
	if len(got) != 2 || got[0] == got[1] || got[0] < 0 || got[1] < 0 {
		t.Errorf("topK with NaN = %v", got)
	}
}

func quantized(m *Model) bool {
	switch m.WeightType() {
	case tensor.F32, tensor.F16, tensor.BF16:
		return false
	}
	return true
}
