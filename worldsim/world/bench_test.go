package world

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/maopao/maopao"
)

// bigWorld is n residents over m locations, each with a four-step routine
// at random minutes, built from a fixed seed.
func bigWorld(n, m int) (maopao.World, []maopao.Character) {
	r := rand.New(rand.NewSource(42))
	def := maopao.World{ID: "big", Name: "Big Town", SimMinutesPerSecond: 1}
	for l := 0; l < m; l++ {
		def.Locations = append(def.Locations, maopao.Location{ID: fmt.Sprint("loc", l), Name: fmt.Sprint("Place ", l), Description: "A place in town."})
	}
	words := []string{"bread", "maps", "river", "storms", "tea", "painting", "books", "boats", "gardens", "music"}
	chars := make([]maopao.Character, n)
	for i := range chars {
		id := fmt.Sprint("c", i)
		chars[i] = maopao.Character{ID: id, Name: fmt.Sprint("Res", i), Description: "Likes " + words[i%len(words)] + " and " + words[(i/7)%len(words)] + "."}
		res := maopao.Resident{CharacterID: id, LocationID: def.Locations[r.Intn(m)].ID, Talkativeness: r.Float64()}
		for k := 0; k < 4; k++ {
			res.Routine = append(res.Routine, maopao.RoutineStep{AtMinute: r.Intn(1440), LocationID: def.Locations[r.Intn(m)].ID, Activity: "doing " + words[r.Intn(len(words))]})
		}
		def.Residents = append(def.Residents, res)
	}
	return def, chars
}

// BenchmarkTick10k: 10,000 autonomous characters over 500 locations; one
// op is one Tick of one sim minute. With engine=instant the engine answers
// every Generate at once, so prompts, retrieval and the consequences of
// every line are part of the cost; with engine=none nothing answers (the
// routine walks, observations and conversation starts alone).
func BenchmarkTick10k(b *testing.B) {
	for _, answer := range []bool{true, false} {
		name := "engine=none"
		if answer {
			name = "engine=instant"
		}
		b.Run(name, func(b *testing.B) { benchTick(b, answer) })
	}
}

func benchTick(b *testing.B, answer bool) {
	def, chars := bigWorld(10_000, 500)
	s, err := New(Config{}, def, chars, 1)
	if err != nil {
		b.Fatal(err)
	}
	e := &autoEngine{say: variedText}
	step := func(in Input) []Effect {
		effs := s.Step(in)
		if answer {
			e.collect(effs)
		}
		return effs
	}
	// An hour of life first, so streams and rooms are not empty.
	for k := 0; k < 60; k++ {
		step(Tick{SimMinutes: 1})
		e.drain(step, 1<<20)
	}
	gen0, mem0 := s.Stats.Generated, memoryCount(&s)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step(Tick{SimMinutes: 1})
		e.drain(step, 1<<20)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Stats.Generated-gen0)/float64(b.N), "gens/tick")
	b.ReportMetric(float64(memoryCount(&s)-mem0)/float64(b.N), "memories/tick")
}

func memoryCount(s *State) int64 {
	var n int64
	for i := range s.Actors {
		n += s.Actors[i].NextMem
	}
	return n
}

// BenchmarkRetrieve: one prompt's retrieval over a full stream (500
// observations and dialogue plus 100 reflections).
func BenchmarkRetrieve(b *testing.B) {
	def, chars := bigWorld(1, 1)
	s, err := New(Config{}, def, chars, 1)
	if err != nil {
		b.Fatal(err)
	}
	words := []string{"bread", "maps", "river", "storms", "tea", "painting", "books", "boats", "gardens", "music"}
	for k := 0; k < 500; k++ {
		s.Clock = int64(k)
		s.remember(0, Memory{Kind: maopao.MemoryDialogue, Text: fmt.Sprintf("Res%d said: “I saw the %s and the %s near place %d.”", k%40, words[k%10], words[(k/10)%10], k%17), Importance: 1 + k%10})
	}
	for k := 0; k < 100; k++ {
		s.remember(0, Memory{Kind: maopao.MemoryReflection, Text: fmt.Sprintf("Res0 cares about %s", words[k%10]), Importance: 5})
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Clock++
		s.retrieve(0, "Ada asked about the river maps", Audience{LocationID: "loc0"}, 6)
	}
}
