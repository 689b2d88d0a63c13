package local_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
)

// TestLlamaCppGreedy compares greedy decoding with llama.cpp on the same
// GGUF files. It needs llama.cpp's tools, so it skips unless
// MAOPAO_LLAMA_CPP_BIN names the directory holding llama-completion.
//
// MAOPAO_LLAMA_CPP_MODELS (space-separated GGUF paths) picks the models;
// without it the test writes tiny Mixtral- and Qwen3-MoE-shaped models.
// MAOPAO_LLAMA_CPP_CACHE (f32, f16, q8_0 or "K,V"; default f32) is the KV
// cache type of both engines, with flash attention off in llama.cpp;
// MAOPAO_LLAMA_CPP_ARGS replaces llama-completion's extra flags instead.
// MAOPAO_LLAMA_CPP_STEPS sets the generated length (default 64) and
// MAOPAO_LLAMA_CPP_MIN_TOP1 the teacher-forced top-1 agreement a model must
// reach (default 0.99 for the weight types whose rounding the engine
// mirrors — F32, F16, Q8_0, Q4_K, Q5_K, Q6_K — and 0.6 for the others, BF16
// and Q4_0, where random-weight models amplify every last-bit difference).
//
// llama-completion cannot print token ids, but with --prompt-cache-all it
// saves every decoded token in its session file, which begins with the
// magic "ggsn", a version and a u32 count of int32 tokens.
func TestLlamaCppGreedy(t *testing.T) {
	bin := os.Getenv("MAOPAO_LLAMA_CPP_BIN")
	if bin == "" {
		t.Skip("set MAOPAO_LLAMA_CPP_BIN to the directory of llama.cpp's tools (llama-completion)")
	}
	completion := filepath.Join(bin, "llama-completion")
	if _, err := os.Stat(completion); err != nil {
		t.Fatalf("MAOPAO_LLAMA_CPP_BIN: %v", err)
	}
	steps := envInt(t, "MAOPAO_LLAMA_CPP_STEPS", 64)

	models := strings.Fields(os.Getenv("MAOPAO_LLAMA_CPP_MODELS"))
	if len(models) == 0 {
		dir := t.TempDir()
		for _, arch := range []string{"llama", "qwen3moe"} {
			for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0} {
				s := modelgen.Tiny(arch)
				s.Type = typ
				p := filepath.Join(dir, fmt.Sprintf("%s-%s.gguf", arch, typ))
				if err := modelgen.Write(p, s); err != nil {
					t.Fatal(err)
				}
				models = append(models, p)
			}
		}
	}
	const prompt = "Once upon a time, in a quiet village by the sea, there lived a"
	for _, path := range models {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cmp := compareGreedy(t, completion, path, prompt, steps)
			t.Logf("%s: prompt %d tokens identical; greedy %d steps (%d distinct ids, llama.cpp starts %v): %s; teacher-forced top-1 %d/%d (%.1f%%), largest logit gap at a disagreement %.4g",
				filepath.Base(path), cmp.promptLen, cmp.steps, distinct(cmp.theirs), cmp.theirs[:min(8, len(cmp.theirs))],
				cmp.divergence(), cmp.agree, cmp.forced, 100*float64(cmp.agree)/float64(cmp.forced), cmp.maxGap)
			minTop1 := envFloat(t, "MAOPAO_LLAMA_CPP_MIN_TOP1", byWeightType(cmp.weights, 0.99, 0.6))
			if frac := float64(cmp.agree) / float64(cmp.forced); frac < minTop1 {
				t.Errorf("teacher-forced top-1 agreement %.3f < %.3f", frac, minTop1)
			}
		})
	}
}

type greedyComparison struct {
	weights          tensor.Type
	promptLen, steps int
	firstDiff        int // -1 when all steps agree
	ours, theirs     []int
	agree, forced    int
	maxGap           float32 // our logit(our top) - our logit(llama.cpp's token), worst case
}

func (c greedyComparison) divergence() string {
	if c.firstDiff < 0 {
		return "identical"
	}
	return fmt.Sprintf("first divergence at step %d (ours %d, llama.cpp %d)", c.firstDiff, c.ours[c.firstDiff], c.theirs[c.firstDiff])
}

func compareGreedy(t *testing.T, completion, path, prompt string, steps int) greedyComparison {
	t.Helper()
	ck, cv := cacheTypes(t)
	e, err := local.Open(path, local.Options{Threads: 1, ContextSize: 512, MaxConcurrent: 1, CacheTypeK: ck, CacheTypeV: cv})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tk := e.Tokenizer()
	ids := tk.Encode(prompt, tk.AddBOS(), true)

	session := filepath.Join(t.TempDir(), "session.bin")
	// One more token than compared: llama-completion never decodes its last
	// sampled token, so that one is missing from the session file.
	cmd := exec.Command(completion, "-m", path, "-p", prompt, "-n", strconv.Itoa(steps+1),
		"-t", "1", "-c", "512", "-no-cnv", "--ignore-eos", "--no-warmup",
		"--samplers", "top_k", "--top-k", "1", "--temp", "0",
		"--prompt-cache", session, "--prompt-cache-all")
	cmd.Args = append(cmd.Args, llamaArgs()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, tail(out, 3000))
	}
	all, err := readSessionTokens(session)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < len(ids) || !equalInts(all[:len(ids)], ids) {
		t.Fatalf("prompt tokenizes differently: ours %v, llama.cpp's session starts %v", ids, all[:min(len(all), len(ids)+4)])
	}
	theirs := all[len(ids):]
	if len(theirs) < steps {
		t.Fatalf("llama.cpp decoded only %d of %d tokens", len(theirs), steps)
	}
	theirs = theirs[:steps]

	// llama-completion, saving a session, decodes all but the prompt's last
	// token as one batch and then that token alone
	// (common_prompt_batch_decode). A first request for the shorter prompt
	// leaves those tokens in our cache, so the real one computes only the
	// last prompt token, alone, as llama.cpp did.
	if _, err := e.GenerateTokens(context.Background(), ids[:len(ids)-1], engine.Request{MaxTokens: 1, IgnoreEOS: true}, func(engine.Token) error { return nil }); err != nil {
		t.Fatal(err)
	}
	var ours []int
	_, err = e.GenerateTokens(context.Background(), ids, engine.Request{MaxTokens: steps, IgnoreEOS: true}, func(tok engine.Token) error {
		if tok.ID >= 0 {
			ours = append(ours, tok.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := greedyComparison{weights: e.Model().WeightType(), promptLen: len(ids), steps: steps, firstDiff: -1, ours: ours, theirs: theirs}
	for i := range theirs {
		if i >= len(ours) || ours[i] != theirs[i] {
			c.firstDiff = i
			break
		}
	}
	if c.firstDiff >= len(ours) {
		t.Fatalf("our engine stopped after %d tokens (EOS?) where llama.cpp went on", len(ours))
	}

	// Teacher forcing: feed llama.cpp's tokens through our model the way
	// llama.cpp produced them (the prompt but its last token as one batch,
	// then one token per step) and ask whether our argmax at each position
	// is the token llama.cpp chose.
	m := e.Model()
	seq := append(append([]int(nil), ids...), theirs...)
	kv, err := model.NewKVCacheOf(m, len(seq)+model.BlockSize, len(seq), ck, cv)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([][]float32, len(seq))
	for pos := 0; pos < len(seq)-1; {
		n := 1
		if pos == 0 && len(ids) > 1 {
			n = len(ids) - 1
		}
		out, err := m.Forward(context.Background(), model.SeqBatch(0, pos, seq[pos:pos+n]), kv)
		if err != nil {
			t.Fatal(err)
		}
		logits[pos+n-1] = out[n-1]
		pos += n
	}
	// Both generations ran with end-of-generation tokens banned
	// (--ignore-eos, IgnoreEOS), so the argmax leaves them out too.
	for i := len(ids) - 1; i < len(seq)-1; i++ {
		l := append([]float32(nil), logits[i]...)
		for id := range l {
			if tk.IsEOG(id) {
				l[id] = float32(math.Inf(-1))
			}
		}
		top := argmaxOf(l)
		want := seq[i+1]
		c.forced++
		if top == want {
			c.agree++
			continue
		}
		if gap := l[top] - l[want]; gap > c.maxGap || math.IsNaN(float64(gap)) {
			c.maxGap = gap
		}
	}
	return c
}

// llamaArgs are the extra flags for llama.cpp's tools: MAOPAO_LLAMA_CPP_ARGS
// when set (even empty), else attention without flash attention over the
// KV cache type both engines use (cacheType).
func llamaArgs() []string {
	if s, ok := os.LookupEnv("MAOPAO_LLAMA_CPP_ARGS"); ok {
		return strings.Fields(s)
	}
	k, v := cacheNames()
	return []string{"-fa", "off", "-ctk", k, "-ctv", v}
}

// cacheNames reads MAOPAO_LLAMA_CPP_CACHE: the KV cache type of both
// engines, "f32" (the default), "f16" or "q8_0" for keys and values, or
// "K,V" for each (llama.cpp needs flash attention for q8_0 values).
func cacheNames() (k, v string) {
	c := os.Getenv("MAOPAO_LLAMA_CPP_CACHE")
	if c == "" {
		c = "f32"
	}
	k, v, ok := strings.Cut(c, ",")
	if !ok {
		v = k
	}
	return k, v
}

// cacheTypes are cacheNames for our engine.
func cacheTypes(t *testing.T) (model.CacheType, model.CacheType) {
	kn, vn := cacheNames()
	k, err := model.ParseCacheType(kn)
	if err != nil {
		t.Fatal(err)
	}
	v, err := model.ParseCacheType(vn)
	if err != nil {
		t.Fatal(err)
	}
	return k, v
}

// byWeightType picks a default bound for a model's dominant weight type:
// mirrored for the types whose products the engine sums exactly as
// llama.cpp does (docs/engine.md), other for the rest.
func byWeightType(t tensor.Type, mirrored, other float64) float64 {
	switch t {
	case tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K:
		return mirrored
	}
	return other
}

func readSessionTokens(path string) ([]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 12 || binary.LittleEndian.Uint32(data) != 0x6767736e {
		return nil, fmt.Errorf("%s: not a llama.cpp session file", path)
	}
	n := int(binary.LittleEndian.Uint32(data[8:]))
	if n < 0 || 12+4*n > len(data) {
		return nil, fmt.Errorf("%s: token count %d does not fit in %d bytes", path, n, len(data))
	}
	toks := make([]int, n)
	for i := range toks {
		toks[i] = int(int32(binary.LittleEndian.Uint32(data[12+4*i:])))
	}
	return toks, nil
}

func distinct(xs []int) int {
	seen := map[int]bool{}
	for _, x := range xs {
		seen[x] = true
	}
	return len(seen)
}

func argmaxOf(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func equalInts(a, b []int) bool {
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

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

func envFloat(t *testing.T, name string, def float64) float64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 1 {
		t.Fatalf("%s=%q: want a fraction between 0 and 1", name, s)
	}
	return v
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
