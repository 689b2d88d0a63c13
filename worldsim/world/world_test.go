package world

import (
	"errors"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func TestNewRefusesBadWorlds(t *testing.T) {
	cases := []struct {
		name string
		edit func(*maopao.World, *[]maopao.Character)
		want string
	}{
		{"no locations", func(w *maopao.World, _ *[]maopao.Character) { w.Locations = nil }, "no locations"},
		{"duplicate location", func(w *maopao.World, _ *[]maopao.Character) { w.Locations[1].ID = "square" }, `duplicate id "square"`},
		{"bad connection", func(w *maopao.World, _ *[]maopao.Character) { w.Locations[0].Connections = []string{"moon"} }, `unknown location "moon"`},
		{"bad start", func(w *maopao.World, _ *[]maopao.Character) { w.Residents[0].LocationID = "moon" }, `unknown start location "moon"`},
		{"bad minute", func(w *maopao.World, _ *[]maopao.Character) { w.Residents[0].Routine[0].AtMinute = 1440 }, "at_minute 1440 outside 0..1439"},
		{"bad routine place", func(w *maopao.World, _ *[]maopao.Character) { w.Residents[1].Routine[0].LocationID = "" }, `routine step 0: unknown location ""`},
		{"twice", func(w *maopao.World, _ *[]maopao.Character) { w.Residents[1].CharacterID = "mira" }, `"mira" placed twice`},
		{"no card", func(_ *maopao.World, c *[]maopao.Character) { *c = (*c)[1:] }, `no character card for "mira"`},
	}
	for _, tc := range cases {
		def, chars := lane()
		tc.edit(&def, &chars)
		_, err := New(Config{}, def, chars, 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
		if tc.name != "no card" && !errors.Is(err, maopao.ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tc.name, err)
		}
	}
}

func TestRealTimeClock(t *testing.T) {
	def, chars := lane()
	def.SimMinutesPerSecond = 0.4 // a sim minute every 2.5 s
	s, err := New(Config{ConversationPermille: -1}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 25; k++ {
		s.Step(Tick{RealMillis: 1000})
	}
	if s.Clock != 10 {
		t.Fatalf("25 s at 0.4 sim min/s: clock %d, want 10", s.Clock)
	}
	s.Step(Tick{RealMillis: 1 << 62}) // absurd: capped at a day
	if s.Clock != 10+maxTickMinutes {
		t.Fatalf("clock %d after a huge tick", s.Clock)
	}
	s.Step(Tick{SimMinutes: -5})
	if s.Clock != 10+maxTickMinutes {
		t.Fatalf("negative tick moved the clock to %d", s.Clock)
	}
	if got := TimeOfDay(1450); got != "day 2 00:10" {
		t.Fatalf("TimeOfDay(1450) = %q", got)
	}
}

func TestMemoryBounds(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{MemoryCap: 8, ReflectionCap: 4}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 100; k++ {
		s.remember(0, Memory{Kind: maopao.MemoryObservation, Text: "x", Importance: 1})
		if k%3 == 0 {
			s.remember(0, Memory{Kind: maopao.MemoryReflection, Text: "r", Importance: 1})
		}
		a := &s.Actors[0]
		if len(a.Stream) > 10 || len(a.Insights) > 5 {
			t.Fatalf("stream %d, insights %d beyond cap+cap/4", len(a.Stream), len(a.Insights))
		}
	}
	a := &s.Actors[0]
	if a.Stream[len(a.Stream)-1].Seq != a.NextMem-1 || len(a.Stream) < 8 {
		t.Fatalf("newest kept? last seq %d next %d len %d", a.Stream[len(a.Stream)-1].Seq, a.NextMem, len(a.Stream))
	}
	// Records stay findable by ID, old ones are gone.
	if _, m := s.findMemory(memoryID("mira", a.Stream[0].Seq)); m == nil {
		t.Fatal("kept record not found by ID")
	}
	if _, m := s.findMemory("mira#1"); m != nil {
		t.Fatal("dropped record still found")
	}
	for _, bad := range []string{"", "#", "mira#", "mira#x", "mira#-1", "nobody#1"} {
		if _, m := s.findMemory(bad); m != nil {
			t.Fatalf("%q found a record", bad)
		}
	}
}

func TestQueries(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library"})
	s.Step(PlayerSaid{MessageID: "m", PlayerID: "p", Text: "Dana?"})
	s.Step(PrivateSaid{MessageID: "n", PlayerID: "p", CharacterID: "mira", Text: "psst"})
	before, _ := s.Clone()
	p, ok := s.Present("library")
	if !ok || len(p.Characters) != 1 || p.Characters[0].ID != "dana" || len(p.Players) != 1 || p.Players[0].ID != "p" {
		t.Fatalf("presence %+v", p)
	}
	if _, ok := s.Present("moon"); ok {
		t.Fatal("unknown location present")
	}
	if l := s.Transcript("library"); len(l) != 1 || l[0].Text != "Dana?" {
		t.Fatalf("transcript %+v", l)
	}
	if l := s.PrivateTranscript("p", "mira"); len(l) != 1 || l[0].Text != "psst" {
		t.Fatalf("private transcript %+v", l)
	}
	if loc, ok := s.WhereIs("mira"); !ok || loc != "square" {
		t.Fatalf("mira at %q", loc)
	}
	if loc, ok := s.WhereIs("p"); !ok || loc != "library" {
		t.Fatalf("p at %q", loc)
	}
	if before.Summary() != s.Summary() {
		t.Fatal("queries changed the state")
	}
}

func TestZeroStateDoesNotPanic(t *testing.T) {
	var s State
	for _, in := range []Input{
		Tick{SimMinutes: 3}, Tick{RealMillis: 5000}, PlayerJoined{PlayerID: "p", Name: "A", LocationID: "x"},
		PlayerMoved{PlayerID: "p", LocationID: "x"}, PlayerSaid{MessageID: "m", PlayerID: "p", Text: "hi"},
		PrivateSaid{MessageID: "n", PlayerID: "p", CharacterID: "c", Text: "hi"}, Generated{WorkID: "w1"},
		ImportanceRated{MemoryID: "c#1", Score: 5}, ReflectionWritten{WorkID: "w1"}, PlayerLeft{PlayerID: "p"}, nil,
	} {
		s.Step(in)
	}
	if s.Clock != 8 {
		t.Fatalf("clock %d", s.Clock)
	}
}

// A player with several tabs is in the world until the last tab leaves;
// the others coming and going make no arrivals or departures. A leave
// without a connection (as older logs have it) still makes the player leave.
func TestTabsArePresence(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	departs := func(effs []Effect) int {
		n := 0
		for _, e := range effs {
			if ev, ok := e.(Broadcast); ok && ev.Event.Kind == "left" {
				n++
			}
		}
		return n
	}
	here := func() bool { _, ok := s.WhereIs("p"); return ok }
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library", Conn: "tab1"})
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library", Conn: "tab2"})
	if effs := s.Step(PlayerLeft{PlayerID: "p", Conn: "tab1"}); departs(effs) != 0 || !here() {
		t.Fatalf("closing one of two tabs: %d departures, present %v", departs(effs), here())
	}
	if effs := s.Step(PlayerLeft{PlayerID: "p", Conn: "tab1"}); len(effs) != 0 || !here() {
		t.Fatalf("the same tab leaving again: %v, present %v", effs, here())
	}
	effs := s.Step(PlayerLeft{PlayerID: "p", Conn: "tab2"})
	if here() || departs(effs) != 1 {
		t.Fatalf("the last tab: %d departures, present %v", departs(effs), here())
	}
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library", Conn: "tab3"})
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library", Conn: "tab4"})
	if s.Step(PlayerLeft{PlayerID: "p"}); here() {
		t.Fatal("a leave without a connection (older logs) left the player in")
	}
}
