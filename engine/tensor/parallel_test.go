package tensor

import (
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
