package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// runSummary prints, per scenario, the median of each metric for Maopao and
// Centrifugo and their ratio, from result lines in files (or stdin).
func runSummary(args []string, w io.Writer) error {
	var results []Result
	read := func(name string, r io.Reader) error {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if !strings.HasPrefix(line, "{") {
				continue // logs interleaved with results
			}
			var res Result
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return fmt.Errorf("%s:%d: not a result line: %w", name, n, err)
			}
			results = append(results, res)
		}
		return sc.Err()
	}
	if len(args) == 0 {
		if err := read("stdin", os.Stdin); err != nil {
			return err
		}
	}
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return writeSummary(w, results)
}

type metric struct {
	name  string
	get   func(Result) float64
	idle  bool // also meaningful for idle-only runs
	digit int
}

var metrics = []metric{
	{"runs", func(Result) float64 { return 1 }, true, 0},
	{"1-min load average before the run", func(r Result) float64 { return r.Load1 }, true, 1},
	{"connections set up per second", func(r Result) float64 { return r.ConnectPerS }, true, 0},
	{"RSS per connection, KB", func(r Result) float64 { return r.RSSPerConnKB }, true, 1},
	{"goroutines per connection", func(r Result) float64 { return r.GoroutinesPC }, true, 2},
	{"Go stack per connection, KB", func(r Result) float64 { return r.StackKBPC }, true, 1},
	{"Go heap in use per connection, KB (garbage included)", func(r Result) float64 { return r.HeapKBPC }, true, 1},
	{"server CPU with the connections idle, % of a core", func(r Result) float64 { return r.IdleCPUPct }, true, 1},
	{"deliveries/s achieved", func(r Result) float64 { return r.DeliveriesPS }, false, 0},
	{"deliveries lost", func(r Result) float64 { return float64(r.Expected - r.Delivered) }, false, 0},
	{"latency p50, ms", func(r Result) float64 { return r.P50ms }, false, 2},
	{"latency p90, ms", func(r Result) float64 { return r.P90ms }, false, 2},
	{"latency p99, ms", func(r Result) float64 { return r.P99ms }, false, 2},
	{"latency max, ms", func(r Result) float64 { return r.MaxMs }, false, 1},
	{"server CPU per delivery, µs", func(r Result) float64 { return r.CPUusPerDel }, false, 1},
}

func writeSummary(w io.Writer, results []Result) error {
	by := map[string]map[string][]Result{}
	var scenarios []string
	for _, r := range results {
		if by[r.Scenario] == nil {
			by[r.Scenario] = map[string][]Result{}
			scenarios = append(scenarios, r.Scenario)
		}
		by[r.Scenario][r.System] = append(by[r.Scenario][r.System], r)
	}
	sort.Strings(scenarios)
	for _, sc := range scenarios {
		m, c := by[sc]["maopao"], by[sc]["centrifugo"]
		idle := true
		for _, r := range append(append([]Result{}, m...), c...) {
			if r.TargetRate > 0 {
				idle = false
			}
		}
		fmt.Fprintf(w, "\n**%s** (medians)\n\n| metric | Maopao | Centrifugo | Maopao/Centrifugo |\n|---|---|---|---|\n", sc)
		for _, mt := range metrics {
			if idle && !mt.idle {
				continue
			}
			mv, cv := median(m, mt.get), median(c, mt.get)
			if mt.name == "runs" {
				mv, cv = float64(len(m)), float64(len(c))
			}
			ratio := "—"
			if cv != 0 && mt.name != "runs" && mt.name != "deliveries lost" && !strings.HasPrefix(mt.name, "1-min") {
				ratio = fmt.Sprintf("%.2f", mv/cv)
			}
			fmt.Fprintf(w, "| %s | %.*f | %.*f | %s |\n", mt.name, mt.digit, mv, mt.digit, cv, ratio)
		}
	}
	return nil
}

func median(rs []Result, get func(Result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = get(r)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
