package tensor

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallelConcurrentCallers runs many back-to-back jobs from several
// goroutines at once, as a server decoding for several sequences does: the
// shared helpers must finish every index of every job exactly once, and a
// job replaced in the pending slot by another caller's must still complete.
func TestParallelConcurrentCallers(t *testing.T) {
	const callers, jobs, n = 4, 200, 37
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func(threads int) {
			defer wg.Done()
			for j := 0; j < jobs; j++ {
				var seen [n]atomic.Int32
				ParallelFor(n, threads, func(_, i int) { seen[i].Add(1) })
				for i := range seen {
					if v := seen[i].Load(); v != 1 {
						t.Errorf("threads %d job %d: index %d ran %d times", threads, j, i, v)
						return
					}
				}
			}
		}(2 + c%3)
	}
	wg.Wait()
}

// TestParallelAfterIdle checks that a job handed out after the helpers have
// gone back to sleep still runs to completion (the park/publish hand-shake).
func TestParallelAfterIdle(t *testing.T) {
	for k := 0; k < 20; k++ {
		var sum atomic.Int64
		ParallelFor(64, 2, func(_, i int) { sum.Add(int64(i)) })
		if got := sum.Load(); got != 64*63/2 {
			t.Fatalf("round %d: sum %d", k, got)
		}
		for HelpersAwake() {
			// Let the helper's polling window run out so it parks.
		}
	}
}

// TestMatMulsSameAsMatMul checks that products run as one job give the
// same bits as separate MatMul calls, for mixed weight types (a Q4_K_M
// model keeps V in Q6_K) and batch sizes on both sides of the 4-row kernels.
func TestMatMulsSameAsMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const cols = 256
	ms := []Matrix{randMatrix(t, r, Q4_K, 96, cols), randMatrix(t, r, Q6_K, 32, cols),
		randMatrix(t, r, F16, 40, cols), randMatrix(t, r, Q8_0, 17, cols)}
	for _, n := range []int{1, 3, 5} {
		x := randVec(r, n*cols)
		for _, threads := range []int{1, 2, 3} {
			ps := make([]Product, len(ms))
			for i, m := range ms {
				ps[i] = Product{M: m, Y: make([]float32, n*m.Rows)}
			}
			MatMuls(ps, x, n, threads)
			for i, m := range ms {
				want := make([]float32, n*m.Rows)
				MatMul(m, x, n, want, threads)
				for j := range want {
					if math.Float32bits(ps[i].Y[j]) != math.Float32bits(want[j]) {
						t.Fatalf("n %d threads %d product %d (%v) [%d]: %v, MatMul %v",
							n, threads, i, m.Type, j, ps[i].Y[j], want[j])
					}
				}
			}
		}
	}
}

// TestMatMulsOfSameAsMatMul checks products with activations of their own
// (a layer's experts: different token counts, MatMulEach's order) against
// separate MatMul/MatMulEach calls, bit for bit.
func TestMatMulsOfSameAsMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const cols = 512
	ms := []Matrix{randMatrix(t, r, Q4_K, 64, cols), randMatrix(t, r, Q6_K, 48, cols),
		randMatrix(t, r, Q5_K, 33, cols), randMatrix(t, r, Q8_0, 40, cols), randMatrix(t, r, F16, 24, cols)}
	ns := []int{1, 2, 3, 8, 13, 600} // 600 rows: planned on several threads (parallelPlanWork)
	for _, threads := range []int{1, 2, 3} {
		for _, each := range []bool{false, true} {
			var ps []Product
			for i, m := range ms {
				for k, n := range ns {
					if (i+k)%2 == 0 {
						continue // not every expert gets every count
					}
					ps = append(ps, Product{M: m, X: randVec(r, n*cols), N: n, Y: make([]float32, n*m.Rows), Each: each})
				}
			}
			MatMulsOf(ps, threads)
			for i, p := range ps {
				want := make([]float32, p.N*p.M.Rows)
				if each {
					MatMulEach(p.M, p.X, p.N, want, 1)
				} else {
					MatMul(p.M, p.X, p.N, want, 1)
				}
				for j := range want {
					if math.Float32bits(p.Y[j]) != math.Float32bits(want[j]) {
						t.Fatalf("threads %d each %v product %d (%v, n %d) [%d]: %v, alone %v",
							threads, each, i, p.M.Type, p.N, j, p.Y[j], want[j])
					}
				}
			}
		}
	}
}
