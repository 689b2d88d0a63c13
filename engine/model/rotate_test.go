package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The fast transform is the orthonormal Hadamard matrix written out, and
// applying it twice gives the input back; the block sizes are llama.cpp's.
func TestHadamard(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{64, 128} {
		x := make([]float32, 3*n)
		want := make([]float64, len(x))
		for i := range x {
			x[i] = float32(r.NormFloat64())
			want[i] = float64(x[i])
		}
		orig := append([]float32(nil), x...)
		hadamard(x, n)
		refHadamard(want, n)
		for i := range x {
			if math.Abs(float64(x[i])-want[i]) > 1e-5 {
				t.Fatalf("n=%d: x[%d] = %v, the dense product gives %v", n, i, x[i], want[i])
			}
		}
		hadamard(x, n)
		for i := range x {
			if math.Abs(float64(x[i]-orig[i])) > 1e-5 {
				t.Fatalf("n=%d: rotating twice gave %v at %d, not %v", n, x[i], i, orig[i])
			}
		}
	}
	for _, c := range []struct {
		t           CacheType
		hd, key, vl int
	}{{CacheQ8_0, 128, 128, 64}, {CacheQ8_0, 64, 64, 64}, {CacheQ8_0, 192, 64, 64}, {CacheQ8_0, 32, 0, 0}, {CacheF16, 128, 0, 0}} {
		if k, v := keyRotation(c.t, c.hd), valueRotation(c.t, c.hd); k != c.key || v != c.vl {
			t.Errorf("%v head %d: rotations %d, %d; want %d, %d", c.t, c.hd, k, v, c.key, c.vl)
		}
	}
}

// Experts' weighted outputs are added in the token's slot order (its first
// choice first), as llama.cpp adds them, whatever order the experts ran
// in: with values whose float sum depends on the order.
func TestExpertOutputsSumInSlotOrder(t *testing.T) {
	m := &Model{Config: Config{Hidden: 1, ExpertsUsed: 4}}
	s := &scratch{tmp: make([]float32, 1), slots: make([]float32, 4)}
	// slot: value (weights 1)
	vals := map[int]float32{0: 1, 1: 1e8, 2: 1, 3: -1e8}
	for _, slot := range []int{3, 1, 0, 2} { // expert order ≠ slot order
		m.expertOut(s, route{tok: 0, slot: slot, w: 1}, []float32{vals[slot]})
	}
	m.sumSlots(s, 1)
	want := ((vals[0] + vals[1]) + vals[2]) + vals[3]
	if s.tmp[0] != want {
		t.Fatalf("sum %v, want %v (slot order)", s.tmp[0], want)
	}
	if alt := ((vals[3] + vals[1]) + vals[0]) + vals[2]; alt == want {
		t.Fatal("the test values do not tell the orders apart")
	}
}
