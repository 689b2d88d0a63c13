package local_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
)

// TestLlamaCppLogits compares our next-token distributions with llama.cpp's
// under teacher forcing on the same text. It skips unless
// MAOPAO_LLAMA_CPP_BIN names the directory holding llama-perplexity.
//
// llama-perplexity --kl-divergence-base saves, for the second half of each
// context-sized chunk, llama.cpp's log-probabilities of every vocabulary
// entry (16-bit, over the 16 nats below the maximum). We run the same chunks
// through our model and report top-1 agreement, the mean and largest
// KL(llama.cpp ‖ ours) (resolution ~1e-6: the file rounds log-probabilities
// to steps of 16/65535 nats) and the largest difference in the log-probability of
// llama.cpp's top token, for the fast kernels and for the float reference
// path (Model.Exact), which shows how much of the distance is the 8-bit
// activation quantization both fast paths use.
//
// MAOPAO_LLAMA_CPP_MODELS and MAOPAO_LLAMA_CPP_ARGS work as in
// TestLlamaCppGreedy; MAOPAO_LLAMA_CPP_EXACT=0 skips the slow float
// reference pass. MAOPAO_LLAMA_CPP_MAX_KLD (default, in nats: 1e-4 for the
// weight types the engine mirrors, see byWeightType, 0.05 for the others)
// and MAOPAO_LLAMA_CPP_MIN_TOP1 (default 0.99 / 0.8) bound the result.
func TestLlamaCppLogits(t *testing.T) {
	bin := os.Getenv("MAOPAO_LLAMA_CPP_BIN")
	if bin == "" {
		t.Skip("set MAOPAO_LLAMA_CPP_BIN to the directory of llama.cpp's tools (llama-perplexity)")
	}
	ppl := filepath.Join(bin, "llama-perplexity")
	if _, err := os.Stat(ppl); err != nil {
		t.Fatalf("MAOPAO_LLAMA_CPP_BIN: %v", err)
	}
	models := strings.Fields(os.Getenv("MAOPAO_LLAMA_CPP_MODELS"))
	if len(models) == 0 {
		dir := t.TempDir()
		for _, arch := range []string{"llama", "qwen3moe"} {
			for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_K} {
				// Rows of 256 so Q4_K does not fall back to Q8_0.
				s := modelgen.Tiny(arch)
				s.Hidden, s.ExpertFF, s.Type = 256, 256, typ
				p := filepath.Join(dir, fmt.Sprintf("%s-%s.gguf", arch, typ))
				if err := modelgen.Write(p, s); err != nil {
					t.Fatal(err)
				}
				models = append(models, p)
			}
		}
	}
	// Enough text for 4 chunks of 128 tokens with any of the generated
	// vocabularies; what it says does not matter to a random model.
	text := strings.Repeat("The lighthouse keeper counted the ships that passed in the night, "+
		"and wrote each name in a small blue book. 灯塔守护者数着夜里经过的船只。 ", 40)
	textFile := filepath.Join(t.TempDir(), "text.txt")
	if err := os.WriteFile(textFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range models {
		t.Run(filepath.Base(path), func(t *testing.T) {
			base := filepath.Join(t.TempDir(), "base.bin")
			cmd := exec.Command(ppl, "-m", path, "-f", textFile, "-c", "128", "--chunks", "4", "-b", "128",
				"-t", "1", "--kl-divergence-base", base)
			cmd.Args = append(cmd.Args, llamaArgs()...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", cmd, err, tail(out, 3000))
			}
			ref, err := readLogitsFile(base)
			if err != nil {
				t.Fatal(err)
			}
			ck, cv := cacheTypes(t)
			e, err := local.Open(path, local.Options{Threads: 1, ContextSize: 512, MaxConcurrent: 1, CacheTypeK: ck, CacheTypeV: cv})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			m := e.Model()
			if m.Config.Vocab != ref.vocab {
				t.Fatalf("vocabulary: ours %d, llama.cpp %d", m.Config.Vocab, ref.vocab)
			}
			maxKLD := byWeightType(m.WeightType(), 1e-4, 0.05)
			if s := os.Getenv("MAOPAO_LLAMA_CPP_MAX_KLD"); s != "" {
				if _, err := fmt.Sscan(s, &maxKLD); err != nil {
					t.Fatalf("MAOPAO_LLAMA_CPP_MAX_KLD=%q: %v", s, err)
				}
			}
			minTop1 := envFloat(t, "MAOPAO_LLAMA_CPP_MIN_TOP1", byWeightType(m.WeightType(), 0.99, 0.8))
			fast := compareLogits(t, m, ref)
			exact := "skipped (MAOPAO_LLAMA_CPP_EXACT=0)"
			if os.Getenv("MAOPAO_LLAMA_CPP_EXACT") != "0" {
				m.Exact = true
				exact = compareLogits(t, m, ref).String()
				m.Exact = false
			}
			t.Logf("%s (%s): %d positions; fast kernels: %s; float reference: %s",
				filepath.Base(path), m.WeightType(), fast.n, fast, exact)
			if fast.top1() < minTop1 {
				t.Errorf("top-1 agreement %.3f < %.3f", fast.top1(), minTop1)
			}
			if fast.meanKLD() > maxKLD {
				t.Errorf("mean KL divergence %.4g > %.4g", fast.meanKLD(), maxKLD)
			}
		})
	}
}

// llamaLogits is a --kl-divergence-base file: the tokens of every chunk and,
// per chunk, log-probabilities for the positions from ctx/2 to ctx-2.
type llamaLogits struct {
	ctx, vocab, chunks int
	tokens             []int
	logProbs           [][]float32 // chunk-major, then position
}

func readLogitsFile(path string) (*llamaLogits, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 20 || string(data[:8]) != "_logits_" {
		return nil, fmt.Errorf("%s: not a llama-perplexity logits file", path)
	}
	i32 := func(off int) int { return int(int32(binary.LittleEndian.Uint32(data[off:]))) }
	r := &llamaLogits{ctx: i32(8), vocab: i32(12), chunks: i32(16)}
	if r.ctx <= 2 || r.vocab <= 0 || r.chunks <= 0 {
		return nil, fmt.Errorf("%s: bad header ctx %d vocab %d chunks %d", path, r.ctx, r.vocab, r.chunks)
	}
	off := 20
	nTok := r.ctx * r.chunks
	nv := 2*((r.vocab+1)/2) + 4
	perChunk := r.ctx - 1 - r.ctx/2
	if want := off + 4*nTok + 2*nv*perChunk*r.chunks; len(data) < want {
		return nil, fmt.Errorf("%s: %d bytes, want %d", path, len(data), want)
	}
	for i := 0; i < nTok; i++ {
		r.tokens = append(r.tokens, i32(off+4*i))
	}
	off += 4 * nTok
	for c := 0; c < r.chunks*perChunk; c++ {
		scale := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		minLP := math.Float32frombits(binary.LittleEndian.Uint32(data[off+4:]))
		lp := make([]float32, r.vocab)
		for v := range lp {
			q := binary.LittleEndian.Uint16(data[off+8+2*v:])
			lp[v] = minLP + scale*float32(q)
		}
		r.logProbs = append(r.logProbs, lp)
		off += 2 * nv
	}
	return r, nil
}

type logitStats struct {
	n, agree      int
	kld, maxKLD   float64
	maxTopLPDelta float64
}

func (s logitStats) top1() float64    { return float64(s.agree) / float64(s.n) }
func (s logitStats) meanKLD() float64 { return s.kld / float64(s.n) }
func (s logitStats) String() string {
	return fmt.Sprintf("top-1 %d/%d (%.1f%%), mean KLD %.3g, max KLD %.3g, max |Δ log p(top)| %.3g",
		s.agree, s.n, 100*s.top1(), s.meanKLD(), s.maxKLD, s.maxTopLPDelta)
}

func compareLogits(t *testing.T, m *model.Model, ref *llamaLogits) logitStats {
	t.Helper()
	var s logitStats
	first := ref.ctx / 2
	perChunk := ref.ctx - 1 - first
	for c := 0; c < ref.chunks; c++ {
		toks := ref.tokens[c*ref.ctx : (c+1)*ref.ctx]
		b := model.SeqBatch(0, 0, toks)
		b.Logits = make([]bool, len(toks))
		for i := first; i < ref.ctx-1; i++ {
			b.Logits[i] = true
		}
		kv := model.NewKVCache(m, ref.ctx+model.BlockSize, ref.ctx)
		logits, err := m.Forward(context.Background(), b, kv)
		if err != nil {
			t.Fatal(err)
		}
		for i := first; i < ref.ctx-1; i++ {
			theirs := ref.logProbs[c*perChunk+i-first]
			ours := logSoftmax(logits[i])
			top := argmaxOf(theirs)
			s.n++
			if argmaxOf(ours) == top {
				s.agree++
			}
			// KL(p‖q) with p = llama.cpp; entries stored as the floor of
			// their 16-nat window carry almost no mass and are skipped.
			var kld float64
			floor := theirs[argminOf(theirs)]
			for v, lp := range theirs {
				if lp <= floor {
					continue
				}
				kld += math.Exp(float64(lp)) * float64(lp-ours[v])
			}
			s.kld += kld
			s.maxKLD = max(s.maxKLD, kld)
			s.maxTopLPDelta = max(s.maxTopLPDelta, math.Abs(float64(theirs[top]-ours[top])))
		}
	}
	return s
}

func logSoftmax(x []float32) []float32 {
	mx := x[argmaxOf(x)]
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v - mx))
	}
	lse := mx + float32(math.Log(sum))
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = v - lse
	}
	return out
}

func argminOf(x []float32) int {
	best := 0
	for i, v := range x {
		if v < x[best] {
			best = i
		}
	}
	return best
}
