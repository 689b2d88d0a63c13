package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMatMul measures a 512×1024 weight matrix (rows × cols) against
// one activation (decode) and 64 activations (prompt processing).
func BenchmarkMatMul(b *testing.B) {
	b.Logf("kernels: %s", Kernels())
	r := rand.New(rand.NewPCG(1, 1))
	for _, typ := range allTypes {
		m := randMatrix(b, r, typ, 512, 1024)
		for _, n := range []int{1, 64} {
			for _, threads := range []int{1, 2} {
				x := randVec(r, n*m.Cols)
				y := make([]float32, n*m.Rows)
				b.Run(fmt.Sprintf("%v/n=%d/t=%d", typ, n, threads), func(b *testing.B) {
					b.SetBytes(int64(len(m.Data)))
					for b.Loop() {
						MatMul(m, x, n, y, threads)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*m.Rows*m.Cols)*1000, "ps/weight")
				})
			}
		}
	}
}

// BenchmarkMatMulVocab is the output projection at a real model's shape
// (Qwen3-30B-A3B: 151,936 × 2,048; 330 MB at Q8_0, 255 MB at Q6_K as a
// Q4_K_M file keeps it, larger than the cache): one activation reads it
// from memory (decode), 32 compute on it (a serving pass with 32
// conversations).
func BenchmarkMatMulVocab(b *testing.B) {
	for _, typ := range []Type{Q8_0, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			m := randMatrix(b, r, typ, 151936, 2048)
			for _, n := range []int{1, 32} {
				for _, threads := range []int{1, 2} {
					x := randVec(r, n*m.Cols)
					y := make([]float32, n*m.Rows)
					b.Run(fmt.Sprintf("n=%d/t=%d", n, threads), func(b *testing.B) {
						b.SetBytes(int64(len(m.Data)))
						for b.Loop() {
							MatMul(m, x, n, y, threads)
						}
						b.ReportMetric(float64(n*m.Rows*m.Cols)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
					})
				}
			}
		})
	}
}

func BenchmarkQuantize(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	x := randVec(r, 4096)
	for _, typ := range []Type{Q4_0, Q8_0, Q4_K, Q5_K, Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			for b.Loop() {
				Quantize(typ, x)
			}
		})
	}
}

// BenchmarkParallelOverhead is the fixed cost of handing work to a second
// goroutine and waiting for it, which decides when splitting a small
// matmul pays.
func BenchmarkParallelOverhead(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("t=%d", threads), func(b *testing.B) {
			for b.Loop() {
				parallel(threads, func() {})
			}
		})
	}
}
