package sample

import (
	"math"
	"testing"
)

func TestGreedy(t *testing.T) {
	s := New(Params{})
	if got := s.Sample([]float32{0.1, 2, -3, 1.9}, nil); got != 1 {
		t.Errorf("argmax: %d", got)
	}
	if got := s.Sample([]float32{1, 5, 5, 2}, nil); got != 1 {
		t.Errorf("ties go to the lowest id: %d", got)
	}
	nan := float32(math.NaN())
	if got := s.Sample([]float32{nan, -1, nan}, nil); got != 1 {
		t.Errorf("NaN never wins: %d", got)
	}
	if got := s.Sample(nil, nil); got != -1 {
		t.Errorf("empty logits: %d", got)
	}
}

func TestPenalties(t *testing.T) {
	cases := []struct {
		name    string
		p       Params
		logits  []float32
		history []int
		want    int
	}{
		// 2/1.1 = 1.82 < 1.9
		{"repeat divides positive", Params{RepeatPenalty: 1.1}, []float32{2, 1.9}, []int{0}, 1},
		// -1 × 1.1 = -1.1 < -1.05
		{"repeat multiplies negative", Params{RepeatPenalty: 1.1}, []float32{-1, -1.05}, []int{0}, 1},
		{"repeat 1 is off", Params{RepeatPenalty: 1}, []float32{2, 1.9}, []int{0}, 0},
		// 3 - 3×0.2 = 2.4 < 2.5
		{"frequency", Params{FrequencyPenalty: 0.2}, []float32{3, 2.5}, []int{0, 0, 0}, 1},
		// Only the last 2 ids count: 3 - 2×0.2 = 2.6 > 2.5
		{"window", Params{FrequencyPenalty: 0.2, PenaltyLastN: 2}, []float32{3, 2.5}, []int{0, 0, 0}, 0},
		// 1 - 0.2 = 0.8 < 0.9, however often it appeared
		{"presence", Params{PresencePenalty: 0.2}, []float32{1, 0.9}, []int{0, 0, 0, 0}, 1},
		{"presence once", Params{PresencePenalty: 0.05}, []float32{1, 0.9}, []int{0, 0, 0, 0}, 0},
		{"default window is 64", Params{PresencePenalty: 1}, []float32{1, 1.5}, append([]int{0}, make64(1)...), 0},
		{"negative window is everything", Params{PresencePenalty: 1, PenaltyLastN: -1}, []float32{1, 1.5}, append([]int{0}, make64(1)...), 1},
		{"ids outside logits are ignored", Params{PresencePenalty: 1}, []float32{1, 0.9}, []int{-1, 7}, 0},
	}
	for _, c := range cases {
		logits := append([]float32(nil), c.logits...)
		if got := New(c.p).Sample(logits, c.history); got != c.want {
			t.Errorf("%s: got %d want %d", c.name, got, c.want)
		}
		for i := range logits {
			if logits[i] != c.logits[i] {
				t.Fatalf("%s: Sample modified the caller's logits", c.name)
			}
		}
	}
}

func make64(id int) []int {
	h := make([]int, 64)
	for i := range h {
		h[i] = id
	}
	return h
}

func randomLogits(seed uint64, n int) []float32 {
	r := splitMix64{state: seed}
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.float64()*8 - 4)
	}
	return l
}

func TestDeterministicBySeed(t *testing.T) {
	logits := randomLogits(1, 200)
	run := func(seed uint64) []int {
		s := New(Params{Temperature: 1, Seed: seed})
		out := make([]int, 50)
		for i := range out {
			out[i] = s.Sample(logits, out[:i])
		}
		return out
	}
	a, b, c := run(42), run(42), run(43)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("same seed gave different tokens")
	}
	if same(a, c) {
		t.Error("different seeds gave the same 50 tokens")
	}
}

func TestTopKOneIsGreedy(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		logits := randomLogits(seed, 500)
		g := New(Params{}).Sample(logits, nil)
		if got := New(Params{Temperature: 1.5, TopK: 1, Seed: seed}).Sample(logits, nil); got != g {
			t.Errorf("seed %d: top-k 1 picked %d, greedy %d", seed, got, g)
		}
	}
}

// counts draws n tokens with a fresh sampler.
func counts(p Params, logits []float32, n int) []int {
	s := New(p)
	c := make([]int, len(logits))
	for i := 0; i < n; i++ {
		c[s.Sample(logits, nil)]++
	}
	return c
}

// chiSquare compares counts with expected probabilities.
func chiSquare(c []int, probs []float64) float64 {
	n := 0
	for _, x := range c {
		n += x
	}
	var chi float64
	for i, p := range probs {
		e := p * float64(n)
		if e == 0 {
			if c[i] != 0 {
				return math.Inf(1)
			}
			continue
		}
		d := float64(c[i]) - e
		chi += d * d / e
	}
	return chi
}

func logs(p ...float64) []float32 {
	l := make([]float32, len(p))
	for i, x := range p {
		l[i] = float32(math.Log(x))
	}
	return l
}

// 3 degrees of freedom: chi-square above 16.27 has probability 0.001.
const chi3 = 16.27

func TestDistribution(t *testing.T) {
	logits := logs(0.5, 0.3, 0.15, 0.05)
	if chi := chiSquare(counts(Params{Temperature: 1, Seed: 7}, logits, 20000), []float64{0.5, 0.3, 0.15, 0.05}); chi > chi3 {
		t.Errorf("temperature 1: chi-square %.1f", chi)
	}
	// Temperature 0.5 squares the probabilities before renormalising.
	sq := []float64{0.25, 0.09, 0.0225, 0.0025}
	var sum float64
	for _, x := range sq {
		sum += x
	}
	for i := range sq {
		sq[i] /= sum
	}
	if chi := chiSquare(counts(Params{Temperature: 0.5, Seed: 8}, logits, 20000), sq); chi > chi3 {
		t.Errorf("temperature 0.5: chi-square %.1f", chi)
	}
}

func TestFilters(t *testing.T) {
	logits := logs(0.5, 0.3, 0.15, 0.05)
	cases := []struct {
		name string
		p    Params
		want []float64
	}{
		{"top-k 2", Params{Temperature: 1, TopK: 2, Seed: 1}, []float64{0.625, 0.375, 0, 0}},
		{"top-p 0.75", Params{Temperature: 1, TopP: 0.75, Seed: 2}, []float64{0.625, 0.375, 0, 0}},
		{"top-p 0.9", Params{Temperature: 1, TopP: 0.9, Seed: 3}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		// min-p 0.25: keep p >= 0.125 of the top 0.5.
		{"min-p 0.25", Params{Temperature: 1, MinP: 0.25, Seed: 4}, []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}},
		{"min-p 0.5", Params{Temperature: 1, MinP: 0.5, Seed: 5}, []float64{0.625, 0.375, 0, 0}},
		{"top-k then min-p", Params{Temperature: 1, TopK: 3, MinP: 0.5, Seed: 6}, []float64{0.625, 0.375, 0, 0}},
	}
	for _, c := range cases {
		got := counts(c.p, logits, 10000)
		if chi := chiSquare(got, c.want); chi > chi3 {
			t.Errorf("%s: counts %v, chi-square %.1f", c.name, got, chi)
		}
	}
}

func TestOddInputs(t *testing.T) {
	inf := float32(math.Inf(1))
	ninf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	cases := []struct {
		logits []float32
		p      Params
		valid  func(int) bool
	}{
		{[]float32{ninf, ninf, ninf}, Params{Temperature: 1, MinP: 0.1, TopP: 0.5}, func(id int) bool { return id >= 0 && id < 3 }},
		{[]float32{0, inf, 1}, Params{Temperature: 1}, func(id int) bool { return id == 1 }},
		{[]float32{nan, 2, nan}, Params{Temperature: 1}, func(id int) bool { return id == 1 }},
		{[]float32{1, 2}, Params{Temperature: nan, TopP: nan, MinP: nan}, func(id int) bool { return id == 1 }},
		{[]float32{1, 2}, Params{Temperature: 1e-30}, func(id int) bool { return id == 1 }},
		{[]float32{1, 2}, Params{Temperature: float32(math.Inf(1)), TopK: 5}, func(id int) bool { return id == 0 || id == 1 }},
		{[]float32{1, 2}, Params{Temperature: 1, RepeatPenalty: -3, TopK: -1, MinP: 7}, func(id int) bool { return id == 0 || id == 1 }},
		{[]float32{ninf, 1, 2}, Params{Temperature: inf, MinP: 1}, func(id int) bool { return id == 1 || id == 2 }},
		{[]float32{ninf, 1, 2}, Params{Temperature: inf, TopP: 0.5}, func(id int) bool { return id == 1 || id == 2 }},
		{[]float32{ninf, 1, 2}, Params{Temperature: 1e38}, func(id int) bool { return id == 1 || id == 2 }},
	}
	for i, c := range cases {
		for k := 0; k < 20; k++ {
			if got := New(c.p).Sample(c.logits, []int{0, 1, -9}); !c.valid(got) {
				t.Errorf("case %d: got %d", i, got)
				break
			}
		}
	}
}

func FuzzSample(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200}, float32(1), float32(0.9), float32(0.05), float32(1.1), float32(0.1), float32(0.1), 40, 64, uint64(1))
	f.Add([]byte{}, float32(0), float32(0), float32(0), float32(0), float32(0), float32(0), 0, 0, uint64(0))
	f.Fuzz(func(t *testing.T, raw []byte, temp, topP, minP, rep, pres, freq float32, topK, lastN int, seed uint64) {
		logits := make([]float32, len(raw))
		for i, b := range raw {
			logits[i] = float32(int(b)-128) / 16
		}
		if len(raw) > 2 {
			logits[0] = float32(math.Inf(int(raw[0]%3) - 1))
		}
		history := make([]int, 0, len(raw))
		for _, b := range raw {
			history = append(history, int(b)-5)
		}
		s := New(Params{Temperature: temp, TopP: topP, MinP: minP, RepeatPenalty: rep, PresencePenalty: pres,
			FrequencyPenalty: freq, TopK: topK, PenaltyLastN: lastN, Seed: seed})
		got := s.Sample(logits, history)
		if len(logits) == 0 {
			if got != -1 {
				t.Fatalf("empty logits gave %d", got)
			}
			return
		}
		if got < 0 || got >= len(logits) {
			t.Fatalf("id %d outside %d logits", got, len(logits))
		}
	})
}
