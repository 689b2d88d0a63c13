package sample

import (
	"math"
	"slices"
	"testing"
)

// referenceSet is the textbook version of the filter chain: sort the whole
// vocabulary, temper, cut by top-k, by top-p on renormalised probabilities,
// then by min-p. Sample must keep exactly the same candidates.
func referenceSet(logits []float32, p Params) []int32 {
	n := len(logits)
	l := make([]float64, n)
	for i, v := range logits {
		l[i] = float64(v)
		if v != v {
			l[i] = math.Inf(-1)
		}
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if l[a] != l[b] {
			if l[a] > l[b] {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	if p.TopK > 0 && p.TopK < n {
		order = order[:p.TopK]
	}
	probs := func(set []int32) []float64 {
		m := l[set[0]]
		out := make([]float64, len(set))
		var z float64
		for i, id := range set {
			out[i] = math.Exp((l[id] - m) / float64(p.Temperature))
			z += out[i]
		}
		for i := range out {
			out[i] /= z
		}
		return out
	}
	if p.TopP > 0 && p.TopP < 1 {
		var cum float64
		for i, q := range probs(order) {
			cum += q
			if cum >= float64(p.TopP) {
				order = order[:i+1]
				break
			}
		}
	}
	if p.MinP > 0 && p.MinP <= 1 {
		pr := probs(order)
		keep := order[:0:0]
		for i, id := range order {
			if pr[i] >= float64(p.MinP)*pr[0] {
				keep = append(keep, id)
			}
		}
		order = keep
	}
	slices.Sort(order)
	return order
}

func TestFiltersMatchReference(t *testing.T) {
	r := splitMix64{state: 99}
	for trial := 0; trial < 3000; trial++ {
		n := 1 + int(r.next()%300)
		logits := make([]float32, n)
		grid := r.next()%2 == 0 // coarse values make many ties
		for i := range logits {
			v := r.float64()*12 - 6
			if grid {
				v = math.Round(v)
			}
			logits[i] = float32(v)
		}
		p := Params{Temperature: float32(0.2 + r.float64()*2), Seed: r.next()}
		if r.next()%2 == 0 {
			p.TopK = int(r.next() % uint64(n+5))
		}
		if r.next()%2 == 0 {
			p.TopP = float32(r.float64())
		}
		if r.next()%2 == 0 {
			p.MinP = float32(r.float64() * 0.5)
		}
		want := referenceSet(logits, p)
		s := New(p)
		id := s.Sample(logits, nil)
		got := slices.Clone(s.ids)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d n=%d %+v:\n got %v\nwant %v", trial, n, p, got, want)
		}
		if !slices.Contains(want, int32(id)) {
			t.Fatalf("trial %d: drew %d outside the kept set", trial, id)
		}
	}
}
