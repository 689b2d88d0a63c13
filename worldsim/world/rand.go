package world

import "math/bits"

// The world's randomness is a splitmix64 generator whose one word of state
// lives in State.Rng, so a snapshot carries it and a replay draws the same
// numbers in the same order.

func (s *State) next() uint64 {
	s.Rng += 0x9e3779b97f4a7c15
	return mix64(s.Rng)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform number in [0, 1) with 53 random bits, exactly
// representable, so comparisons against it are the same on every machine.
func (s *State) float() float64 {
	return float64(s.next()>>11) / (1 << 53)
}

// intn returns a uniform number in [0, n); n must be positive.
func (s *State) intn(n int) int {
	// Lemire's multiply-shift; the tiny bias for huge n does not matter here.
	hi, _ := bits.Mul64(s.next(), uint64(n))
	return int(hi)
}

// permille rolls a chance given in thousandths.
func (s *State) permille(p int) bool {
	return s.intn(1000) < p
}
