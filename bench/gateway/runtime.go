package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// goRuntime is what a Go server's Prometheus Go collector says about its
// goroutines and memory; the per-connection deltas explain RSS.
type goRuntime struct {
	goroutines float64
	heapInuse  float64 // bytes, garbage not yet collected included
	stackInuse float64 // bytes
}

var runtimeMetrics = []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes"}

func scrapeRuntime(ctx context.Context, url string) (goRuntime, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return goRuntime{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return goRuntime{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return goRuntime{}, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	v, err := parseMetrics(io.LimitReader(resp.Body, 16<<20), runtimeMetrics)
	if err != nil {
		return goRuntime{}, fmt.Errorf("GET %s: %w", url, err)
	}
	return goRuntime{goroutines: v[0], heapInuse: v[1], stackInuse: v[2]}, nil
}

// parseMetrics finds the values of unlabelled samples in the Prometheus
// text format; every name asked for must be present.
func parseMetrics(r io.Reader, names []string) ([]float64, error) {
	want := map[string]int{}
	for i, n := range names {
		want[n] = i
	}
	out := make([]float64, len(names))
	found := make([]bool, len(names))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		f := strings.Fields(string(b))
		i, ok := want[f[0]]
		if !ok {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("metrics line %d: %q has no value", line, trunc(b))
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: value of %s: %w", line, f[0], err)
		}
		out[i], found[i] = v, true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("no %s sample (is the Go collector registered?)", names[i])
		}
	}
	return out, nil
}
