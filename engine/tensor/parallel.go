package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ParallelFor calls fn(worker, i) for every i in [0, n) on up to threads
// goroutines, handing out i in order as goroutines come free; worker (<
// threads) is distinct among goroutines running at once, for per-worker
// scratch. It returns when all calls are done; like MatMul it never waits
// for a helper goroutine the OS has not yet scheduled.
func ParallelFor(n, threads int, fn func(worker, i int)) {
	if n <= 0 {
		return
	}
	var next atomic.Int64
	var ids atomic.Int32
	parallel(min(threads, n), func() {
		w := int(ids.Add(1)) - 1
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return
			}
			fn(w, i)
		}
	})
}

// HelpersAwake reports whether a helper goroutine is polling for work right
// now, so that a job handed out at once would start within a microsecond or
// so. Callers use it to split work too small to be worth waking a parked
// thread for; the answer may be stale by the time they act on it, which
// costs only time.
func HelpersAwake() bool { return pool.spinning.Load() > 0 }

// parallel runs work on up to `threads` goroutines (the caller's included)
// and returns when every goroutine that started it has finished. work must
// take its pieces from a shared counter until none are left, so the caller
// alone can finish the job: a helper that the OS has not scheduled by the
// time the caller is done never joins, and the caller does not wait for it.
// On the 2-core target with other processes running, waiting for such
// helpers (dozens of jobs per decoded token) made two threads slower than
// one.
func parallel(threads int, work func()) {
	if threads <= 1 {
		work()
		return
	}
	n := min(threads-1, maxHelpers)
	startHelpers(n)
	j := &job{work: work, g: gate{done: make(chan struct{}, 1)}}
	j.slots.Store(int32(n))
	pool.pending.Store(j)
	if wake := min(n-int(pool.spinning.Load()), int(pool.parked.Load())); wake > 0 {
		for i := 0; i < wake; i++ {
			select {
			case pool.wake <- struct{}{}:
			default:
			}
		}
	}
	work()
	pool.pending.CompareAndSwap(j, nil)
	j.g.close()
}

// Helpers are long-lived goroutines. After each job a helper polls for the
// next one for a while before it parks: a decode step hands out dozens of
// jobs tens of microseconds apart, and waking a parked thread for each (a
// futex call, on a VM an idle vCPU's wake-up) took about as long as the job,
// so two threads decoded no faster than one.
//
// The polling window adapts: it halves (down to minSpin) each time it runs
// out with no job after wastedRun such windows in a row, when jobs come too
// far apart for polling to pay, and is back at maxSpin as soon as a job
// arrives within it. A single miss, as at the end of each decoded token,
// leaves it alone. The window is long enough to span the gap between two
// forward passes of continuous batching (every conversation samples and
// streams its token before the next pass): a helper that parks there is
// woken by the next pass's first job onto its caller's run queue, from
// which Go's scheduler steals it late or not at all, and the second core
// sat idle for much of the pass. With 50 µs, two threads served eight
// chats of the Q4_K_M bench model at 700 tokens/s; with 2 ms, 780–850
// (500 µs was enough without HTTP in between, not with it). At most one
// window is spent polling after the last job of a burst.
//
// Polling pays only while the machine has an idle core. A helper that finds
// itself descheduled mid-poll (a gap over preempted between two looks at the
// clock) stops polling, for itself and the other helpers, for backoffFor:
// they then park at once, as plain goroutines would. The back-off is short
// because a quiet VM trips the detector too (a GC pause, a vCPU stolen for a
// moment): 100 ms left helpers asleep for much of a quiet run (Q4_K_M t=2
// decode 1297 vs 1519 tok/s with 10 ms), while under load the detector
// trips again within a few windows.
const (
	maxSpin    = 2 * time.Millisecond
	minSpin    = 4 * time.Microsecond
	wastedRun  = 4
	preempted  = 200 * time.Microsecond
	backoffFor = 10 * time.Millisecond
	maxHelpers = 64
)

type job struct {
	work  func()
	g     gate
	slots atomic.Int32 // helpers still wanted
}

// run joins j if it still wants a helper and its caller has not finished.
func (j *job) run() {
	if j.slots.Add(-1) >= 0 && j.g.join() {
		j.work()
		j.g.leave()
	}
}

var pool struct {
	mu       sync.Mutex // serialises starting helpers
	started  atomic.Int32
	pending  atomic.Pointer[job] // the newest job; a replaced one is finished by its caller
	parked   atomic.Int32
	spinning atomic.Int32
	backoff  atomic.Int64 // UnixNano until which helpers park instead of polling
	wake     chan struct{}
}

func startHelpers(n int) {
	if int(pool.started.Load()) >= n {
		return
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.wake == nil {
		pool.wake = make(chan struct{}, maxHelpers)
	}
	for int(pool.started.Load()) < n {
		pool.started.Add(1)
		go helper()
	}
}

func helper() {
	var last *job // the job this helper last saw; it never runs one twice
	spin, wasted := maxSpin, 0
	for {
		if j := pool.pending.Load(); j != nil && j != last {
			last = j
			j.run()
			continue
		}
		if time.Now().UnixNano() >= pool.backoff.Load() {
			pool.spinning.Add(1)
			j := poll(spin, last)
			pool.spinning.Add(-1)
			if j != nil {
				spin, wasted = maxSpin, 0
				last = j
				j.run()
				continue
			}
			if wasted++; wasted >= wastedRun {
				spin = max(spin/2, minSpin)
			}
		}
		pool.parked.Add(1)
		// parallel publishes a job before it reads parked, and this helper
		// counts itself parked before it looks for one: one of the two sees
		// the other, so a job is never left with every helper asleep.
		if j := pool.pending.Load(); j == nil || j == last {
			<-pool.wake
		}
		pool.parked.Add(-1)
	}
}

// poll watches for a job other than last for up to d and returns it, or nil
// when d ran out or the OS took the thread away mid-poll.
func poll(d time.Duration, last *job) *job {
	start := time.Now()
	prev := start
	for n := 1; ; n++ {
		if j := pool.pending.Load(); j != nil && j != last {
			return j
		}
		if n%128 != 0 {
			continue
		}
		now := time.Now()
		if now.Sub(prev) > preempted {
			// Other processes want the cores; polling would take them from
			// our own caller too.
			pool.backoff.Store(now.Add(backoffFor).UnixNano())
			return nil
		}
		if now.Sub(start) > d {
			return nil
		}
		runtime.Gosched()
		// Time the scheduler gave to other goroutines is not the OS
		// taking the thread away: only the gaps within polling count.
		// (Counting it tripped the back-off a few times a second under
		// continuous batching, each time leaving helpers parked for
		// backoffFor.)
		prev = time.Now()
	}
}

// gate counts the helpers inside a parallel job; once closed it admits no
// more, and close waits only for those already inside.
type gate struct {
	state atomic.Int64 // helpers inside, plus gateClosed once closed
	done  chan struct{}
}

const gateClosed = 1 << 62

func (g *gate) join() bool {
	for {
		s := g.state.Load()
		if s&gateClosed != 0 {
			return false
		}
		if g.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

func (g *gate) leave() {
	if g.state.Add(-1) == gateClosed {
		g.done <- struct{}{}
	}
}

// close spins a little before it blocks: helpers inside are running and
// usually done within microseconds, and parking the caller would hand its
// goroutine to the last helper's thread (another core, cold caches) when
// that helper wakes it.
func (g *gate) close() {
	if g.state.Or(gateClosed) == 0 {
		return
	}
	for i := 0; i < closeSpins; i++ {
		if g.state.Load() == gateClosed {
			return
		}
	}
	<-g.done
}

// closeSpins bounds close's polling, to some tens of microseconds.
const closeSpins = 1 << 15
