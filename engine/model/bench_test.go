package model

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
)

// benchModel loads the benchmark shape of the reference notes (114M
// parameters, the one measured with llama-bench) at Q8_0, written once to
// the temporary directory and reused by later runs; MAOPAO_BENCH_MODEL
// names another GGUF file instead (to run the same file as llama-bench).
func benchModel(b *testing.B) *Model {
	b.Helper()
	path := os.Getenv("MAOPAO_BENCH_MODEL")
	if path == "" {
		path = filepath.Join(os.TempDir(), "maopao-bench-qwen3moe-q8_0.gguf")
	}
	if _, err := os.Stat(path); err != nil && os.Getenv("MAOPAO_BENCH_MODEL") == "" {
		tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
		if err := modelgen.Write(tmp, modelgen.Bench("qwen3moe", tensor.Q8_0)); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	}
	f, err := gguf.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	m, err := Load(f)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchTokens(n, vocab int) []int {
	t := make([]int, n)
	for i := range t {
		t[i] = (i*7919 + 13) % vocab
	}
	return t
}

// BenchmarkPrompt512 is llama-bench's pp512 at one thread.
func BenchmarkPrompt512(b *testing.B) {
	m := benchModel(b)
	kv := NewKVCache(m, 1024, 1024)
	toks := benchTokens(512, m.Config.Vocab)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kv.Remove(0)
		if _, err := m.Forward(context.Background(), SeqBatch(0, 0, toks), kv); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(512*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecode128 is llama-bench's tg128 at one thread.
func BenchmarkDecode128(b *testing.B) {
	m := benchModel(b)
	kv := NewKVCache(m, 1024, 1024)
	toks := benchTokens(128, m.Config.Vocab)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kv.Remove(0)
		for p, tok := range toks {
			if _, err := m.Forward(context.Background(), SeqBatch(0, p, []int{tok}), kv); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecodeAt2048 is one decode step with 2047 positions cached, where
// attention over the cache matters as much as the weights, for each KV
// cache type.
func BenchmarkDecodeAt2048(b *testing.B) {
	m := benchModel(b)
	for _, ct := range []CacheType{CacheF32, CacheF16, CacheQ8_0} {
		b.Run(ct.String(), func(b *testing.B) {
			kv, err := NewKVCacheOf(m, 4096, 4096, ct, ct)
			if err != nil {
				b.Fatal(err)
			}
			toks := benchTokens(2048, m.Config.Vocab)
			for p := 0; p < 2047; p += 256 {
				end := min(p+256, 2047)
				if _, err := m.Forward(context.Background(), SeqBatch(0, p, toks[p:end]), kv); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Forward(context.Background(), SeqBatch(0, 2047, toks[2047:]), kv); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkDecodeBatch is one continuous-batching decode step: seqs
// sequences with 64 positions cached each decode one token together, as
// `engine serve --parallel seqs` does under load, on 1 and 2 threads.
// MAOPAO_BENCH_MODEL=/path/to/Q4_K_M.gguf measures the serving goal's file.
func BenchmarkDecodeBatch(b *testing.B) {
	m := benchModel(b)
	for _, seqs := range []int{8, 32} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("seqs=%d/threads=%d", seqs, threads), func(b *testing.B) {
				m.Threads = threads
				defer func() { m.Threads = 1 }()
				kv, err := NewKVCacheOf(m, seqs*128, 1024, CacheF16, CacheF16)
				if err != nil {
					b.Fatal(err)
				}
				const prompt = 64
				for s := 0; s < seqs; s++ {
					toks := benchTokens(prompt+s, m.Config.Vocab)[s:]
					if _, err := m.Forward(context.Background(), SeqBatch(s, 0, toks), kv); err != nil {
						b.Fatal(err)
					}
				}
				step := Batch{Tokens: make([]int, seqs), Pos: make([]int, seqs), Seq: make([]int, seqs), Logits: make([]bool, seqs)}
				for s := range step.Tokens {
					step.Tokens[s] = (s*131 + 7) % m.Config.Vocab
					step.Pos[s] = prompt
					step.Seq[s] = s
					step.Logits[s] = true
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := m.Forward(context.Background(), step, kv); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(seqs*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
