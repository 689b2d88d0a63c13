package local

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/maopao/maopao/engine"
)

// BenchmarkConcurrentGenerate is the serving benchmark without HTTP:
// chats conversations with distinct short prompts each generate 64
// tokens at once through the continuous batcher (bench/engine/serving.sh
// measures the same through `engine serve`). MAOPAO_BENCH_MODEL names the
// GGUF file; without it the benchmark is skipped.
func BenchmarkConcurrentGenerate(b *testing.B) {
	path := os.Getenv("MAOPAO_BENCH_MODEL")
	if path == "" {
		b.Skip("MAOPAO_BENCH_MODEL not set")
	}
	for _, chats := range []int{8, 32} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("chats=%d/threads=%d", chats, threads), func(b *testing.B) {
				e, err := Open(path, Options{Threads: threads, MaxConcurrent: chats, ContextSize: 2048, PrefixCacheBytes: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				const tokens = 64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					var wg sync.WaitGroup
					errs := make(chan error, chats)
					for c := 0; c < chats; c++ {
						prompt := make([]int, 36)
						for j := range prompt {
							prompt[j] = (i*chats*131+c*977+j*7919+13)%(e.model.Config.Vocab-1) + 1
						}
						wg.Go(func() {
							_, err := e.GenerateTokens(context.Background(), prompt,
								engine.Request{MaxTokens: tokens, IgnoreEOS: true}, func(engine.Token) error { return nil })
							if err != nil {
								errs <- err
							}
						})
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(chats*tokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
