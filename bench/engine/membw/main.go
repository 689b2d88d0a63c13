// Command membw measures read bandwidth from main memory, the ceiling of a
// memory-bound decode step: each goroutine sums its share of a buffer much
// larger than the last-level cache, and the best of several passes counts.
//
//	go run ./bench/engine/membw -t 1 -mib 512
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	threads := flag.Int("t", 1, "goroutines reading at once")
	mib := flag.Int("mib", 512, "buffer size in MiB (well above the L3 cache)")
	passes := flag.Int("passes", 7, "passes over the buffer; the fastest counts")
	flag.Parse()
	if *threads < 1 || *mib < 1 || *passes < 1 {
		fmt.Fprintln(os.Stderr, "membw: -t, -mib and -passes must be positive")
		os.Exit(2)
	}
	buf := make([]uint64, *mib<<20/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	best := 0.0
	var sink uint64
	for p := 0; p < *passes; p++ {
		var wg sync.WaitGroup
		sums := make([]uint64, *threads)
		chunk := len(buf) / *threads
		start := time.Now()
		for t := 0; t < *threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				sums[t] = sum(buf[t*chunk : (t+1)*chunk])
			}(t)
		}
		wg.Wait()
		gbs := float64(chunk**threads*8) / time.Since(start).Seconds() / 1e9
		best = max(best, gbs)
		for _, s := range sums {
			sink += s
		}
	}
	fmt.Printf("read bandwidth, %d thread(s), %d MiB: %.1f GB/s (best of %d; checksum %d)\n", *threads, *mib, best, *passes, sink%10)
}

// sum keeps eight independent accumulators so the loop is limited by loads,
// not by one long dependency chain of adds.
func sum(x []uint64) uint64 {
	var a, b, c, d, e, f, g, h uint64
	for len(x) >= 8 {
		a += x[0]
		b += x[1]
		c += x[2]
		d += x[3]
		e += x[4]
		f += x[5]
		g += x[6]
		h += x[7]
		x = x[8:]
	}
	for _, v := range x {
		a += v
	}
	return a + b + c + d + e + f + g + h
}
