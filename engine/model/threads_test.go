package model

import (
	"math"
	"testing"

	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
)

// TestThreadsSameLogits checks that the thread count changes nothing: rows
// are split among threads but each is computed by the same kernel call,
// and experts run on separate threads (decode) are summed in expert order.
func TestThreadsSameLogits(t *testing.T) {
	defer func(v int) { minParallelMACs = v }(minParallelMACs)
	minParallelMACs = 0
	for _, arch := range []string{"qwen3moe", "qwen2moe", "qwen3"} {
		s := modelgen.Tiny(arch)
		s.Type = tensor.Q8_0
		m, _ := loadModel(t, s)
		n := len(testPrompt)
		m.Threads = 1
		wantB, wantS := runBatched(t, m, n), runStepwise(t, m, n)
		for _, threads := range []int{2, 3} {
			m.Threads = threads
			gotB, gotS := runBatched(t, m, n), runStepwise(t, m, n)
			for i := 0; i < n; i++ {
				for j := range wantB[i] {
					if math.Float32bits(gotB[i][j]) != math.Float32bits(wantB[i][j]) ||
						math.Float32bits(gotS[i][j]) != math.Float32bits(wantS[i][j]) {
						t.Fatalf("%s threads %d token %d logit %d: batched %v/%v, stepwise %v/%v (1 thread/%d)",
							arch, threads, i, j, wantB[i][j], gotB[i][j], wantS[i][j], gotS[i][j], threads)
					}
				}
			}
		}
	}
}
