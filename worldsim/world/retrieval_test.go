package world

import (
	"math"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

// oneActor is a state with a single resident and hand-placed memories.
func oneActor(t *testing.T, w Weights) *State {
	t.Helper()
	def := maopao.World{ID: "w", Locations: []maopao.Location{{ID: "l"}}, Residents: []maopao.Resident{{CharacterID: "c", LocationID: "l"}}}
	s, err := New(Config{Weights: w}, def, []maopao.Character{{ID: "c", Name: "Cleo"}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &s.Actors[0]
	a.Stream = []Memory{
		{Seq: 1, Kind: maopao.MemoryObservation, Text: "The river flooded the mill", Importance: 8, LastAccess: 0},
		{Seq: 2, Kind: maopao.MemoryObservation, Text: "bread at the cafe", Importance: 2, LastAccess: 600},
		{Seq: 3, Kind: maopao.MemoryObservation, Text: "the mill wheel broke", Importance: 5, LastAccess: 1200},
	}
	a.NextMem = 3
	s.Clock = 1200
	return &s
}

func TestRetrievalRanking(t *testing.T) {
	// Recency: 0.995^hours since access: 20 h, 10 h, 0 h.
	r1, r2 := math.Pow(0.995, 20), math.Pow(0.995, 10)
	recN := []float64{0, (r2 - r1) / (1 - r1), 1}
	impN := []float64{1, 0, 0.5} // 8, 2, 5 min-max normalised
	// Relevance of "mill": docs [river flooded mill] [bread cafe] [mill wheel broke];
	// both mill documents score the same BM25, the bread one 0.
	relN := []float64{1, 0, 1}
	idf := math.Log(1 + (3-2+0.5)/(2+0.5))
	bm := idf * 2.2 / (1 + 1.2*(0.25+0.75*3/(8.0/3)))

	cases := []struct {
		name  string
		w     Weights
		order []int64 // expected Seq order
	}{
		{"all weights 1", Weights{1, 1, 1}, []int64{3, 1, 2}},
		{"importance only", Weights{0, 1, 0}, []int64{1, 3, 2}},
		{"relevance only, tie to newer", Weights{0, 0, 1}, []int64{3, 1, 2}},
		{"recency only", Weights{1, 0, 0}, []int64{3, 2, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := oneActor(t, tc.w)
			c := s.candidates(0, "mill", Audience{LocationID: "l"})
			if len(c) != 3 {
				t.Fatalf("%d candidates", len(c))
			}
			for k, want := range tc.order {
				if c[k].m.Seq != want {
					t.Fatalf("rank %d: seq %d, want %d (order %v)", k, c[k].m.Seq, want, seqs(c))
				}
			}
			for _, x := range c {
				j := x.m.Seq - 1
				want := tc.w.Recency*recN[j] + tc.w.Importance*impN[j] + tc.w.Relevance*relN[j]
				if math.Abs(x.total-want) > 1e-9 {
					t.Errorf("seq %d: score %.12f, want %.12f", x.m.Seq, x.total, want)
				}
			}
		})
	}
	// The raw BM25 score, before normalisation.
	got := bm25([]string{"mill"}, []string{"The river flooded the mill", "bread at the cafe", "the mill wheel broke"})
	if math.Abs(got[0]-bm) > 1e-12 || got[1] != 0 || math.Abs(got[2]-bm) > 1e-12 {
		t.Fatalf("bm25 %v, want [%v 0 %v]", got, bm, bm)
	}
}

func seqs(c []scored) []int64 {
	var out []int64
	for _, x := range c {
		out = append(out, x.m.Seq)
	}
	return out
}

func TestRetrieveMarksAccess(t *testing.T) {
	s := oneActor(t, Weights{})
	got := s.retrieve(0, "mill", Audience{LocationID: "l"}, 2)
	if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 1 {
		t.Fatalf("retrieved %+v", got)
	}
	a := s.Actors[0]
	if a.Stream[0].LastAccess != 1200 || a.Stream[2].LastAccess != 1200 {
		t.Fatalf("retrieved memories not marked: %+v", a.Stream)
	}
	if a.Stream[1].LastAccess != 600 {
		t.Fatalf("a memory not retrieved was marked: %+v", a.Stream[1])
	}
}

func TestTokensCJK(t *testing.T) {
	got := strings.Join(tokens("小陈喜欢喝茶, and Mira's BREAD!"), "|")
	want := "小|陈|小陈|喜|陈喜|欢|喜欢|喝|欢喝|茶|喝茶|mira|bread"
	if got != want {
		t.Fatalf("tokens: %s\nwant    %s", got, want)
	}
	// A CJK query finds the document sharing a two-character word first.
	docs := []string{"他喜欢喝咖啡", "她喜欢喝茶", "今天下雨"}
	sc := bm25(tokens("喝茶"), docs)
	if !(sc[1] > sc[0] && sc[0] > sc[2] && sc[2] == 0) {
		t.Fatalf("CJK scores %v", sc)
	}
}

func TestNormaliseFlat(t *testing.T) {
	c := []scored{{imp: 3}, {imp: 3}}
	normalise(c, func(x *scored) *float64 { return &x.imp })
	if c[0].imp != 0 || c[1].imp != 0 {
		t.Fatalf("flat part should normalise to 0: %+v", c)
	}
}
