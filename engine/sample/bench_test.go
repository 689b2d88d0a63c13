package sample

import (
	"fmt"
	"testing"
)

func BenchmarkSample(b *testing.B) {
	for _, n := range []int{8192, 151936} {
		logits := randomLogits(3, n)
		for _, p := range []Params{
			{},
			{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1.1},
			{Temperature: 0.8, TopP: 0.95},
			{Temperature: 0.8, MinP: 0.05},
		} {
			b.Run(fmt.Sprintf("n=%d/T=%g,k=%d,p=%g,minp=%g", n, p.Temperature, p.TopK, p.TopP, p.MinP), func(b *testing.B) {
				s := New(p)
				hist := []int{1, 2, 3, 4, 5}
				for i := 0; i < b.N; i++ {
					s.Sample(logits, hist)
				}
			})
		}
	}
}
