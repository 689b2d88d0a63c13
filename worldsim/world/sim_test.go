package world

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

// checkInvariants verifies what must hold after every Step.
func checkInvariants(t testing.TB, s *State) {
	t.Helper()
	if len(s.Flight) > s.Config.MaxInFlight {
		t.Fatalf("%d engine calls in flight, limit %d", len(s.Flight), s.Config.MaxInFlight)
	}
	if len(s.Queue) > s.Config.MaxQueue {
		t.Fatalf("queue %d, limit %d", len(s.Queue), s.Config.MaxQueue)
	}
	pending := make([]int, len(s.Actors))
	for k, w := range s.Queue {
		if k > 0 {
			p := s.Queue[k-1]
			if p.Priority > w.Priority || (p.Priority == w.Priority && p.Seq > w.Seq) {
				t.Fatalf("queue out of order at %d: %+v before %+v", k, p, w)
			}
		}
	}
	for _, l := range [][]Work{s.Queue, s.Flight} {
		for _, w := range l {
			if w.Chain > s.Config.MaxChain {
				t.Fatalf("work %s has chain %d > %d", w.ID, w.Chain, s.Config.MaxChain)
			}
			if w.Actor >= 0 && w.Kind != WorkReflect {
				pending[w.Actor]++
			}
		}
	}
	x := s.index()
	placed := 0
	for i, a := range s.Actors {
		if a.Pending != pending[i] {
			t.Fatalf("actor %s pending %d, counted %d", a.Card.ID, a.Pending, pending[i])
		}
		if a.Gone {
			if a.Location != "" || a.Conv != 0 {
				t.Fatalf("actor %s left the world but is at %q in conversation %d", a.Card.ID, a.Location, a.Conv)
			}
			continue
		}
		placed++
		li := x.loc[a.Location]
		found := false
		for _, j := range x.byLoc[li] {
			found = found || j == i
		}
		if !found {
			t.Fatalf("actor %s missing from index of %s", a.Card.ID, a.Location)
		}
		if len(a.Stream) > s.Config.MemoryCap+s.Config.MemoryCap/4 || len(a.Insights) > s.Config.ReflectionCap+s.Config.ReflectionCap/4 {
			t.Fatalf("actor %s memory beyond its bound: %d, %d", a.Card.ID, len(a.Stream), len(a.Insights))
		}
		if a.Conv != 0 && s.conversation(a.Conv) == nil {
			t.Fatalf("actor %s in ended conversation %d", a.Card.ID, a.Conv)
		}
	}
	n := 0
	for _, l := range x.byLoc {
		n += len(l)
	}
	if n != placed {
		t.Fatalf("location index holds %d actors, world has %d", n, placed)
	}
}

// autoEngine answers Generate effects with canned text; say(w) decides it.
type autoEngine struct {
	pending []Generate
	say     func(g Generate) string
}

func (e *autoEngine) collect(effs []Effect) {
	for _, x := range effs {
		if g, ok := x.(Generate); ok {
			e.pending = append(e.pending, g)
		}
	}
}

// drain answers pending work, including what the answers start; step must
// pass its effects to collect.
func (e *autoEngine) drain(step func(Input) []Effect, limit int) int {
	n := 0
	for len(e.pending) > 0 && n < limit {
		g := e.pending[0]
		e.pending = e.pending[1:]
		step(Generated{WorkID: g.WorkID, Text: e.say(g)})
		n++
	}
	return n
}

func cannedText(g Generate) string {
	switch g.Kind {
	case WorkRate:
		return fmt.Sprint(3 + len(g.WorkID)%5)
	case WorkReflect:
		return "1. Life in the lane is busy (because of 1, 2)\n2. People come and go (because of 3)"
	}
	return "Line " + g.WorkID + " from " + g.CharacterID + "."
}

func TestChainsAreBounded(t *testing.T) {
	for _, chain := range []int{1, 2, 3} {
		def, chars := lane()
		s, err := New(Config{MaxChain: chain, MaxResponders: 3, ConversationPermille: -1}, def, chars, 9)
		if err != nil {
			t.Fatal(err)
		}
		// Every character line names everyone, itself included: only the
		// chain limit can stop the talk.
		e := &autoEngine{say: func(g Generate) string { return "Mira, Bob, Chen and Dana: listen to me!" }}
		step := func(in Input) []Effect {
			effs := s.Step(in)
			checkInvariants(t, &s)
			e.collect(effs)
			for _, x := range effs {
				if g, ok := x.(Generate); ok && g.Kind == WorkReply {
					for _, w := range s.Flight {
						if w.ID == g.WorkID && w.Chain > chain {
							t.Fatalf("chain %d reply with limit %d", w.Chain, chain)
						}
					}
				}
			}
			return effs
		}
		step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "square"})
		step(PlayerSaid{MessageID: "m", PlayerID: "p", Text: "Hello everyone"})
		if n := e.drain(step, 1000); n >= 1000 {
			t.Fatalf("chain %d: talk did not stop", chain)
		}
		// Count the replies by depth: every line said in the square.
		lines := s.Rooms[0].Lines
		if len(lines) < 2 {
			t.Fatalf("chain %d: only %d lines", chain, len(lines))
		}
		for k := 1; k < len(lines); k++ {
			if lines[k].FromKind == KindCharacter && lines[k].ReplyTo != "" {
				var parent *Line
				for j := range lines[:k] {
					if lines[j].ID == lines[k].ReplyTo {
						parent = &lines[j]
					}
				}
				if parent != nil && parent.From == lines[k].From {
					t.Fatalf("%s answered itself", lines[k].From)
				}
			}
		}
	}
}

func TestMentions(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{MaxResponders: 2}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(l []int) string {
		var out []string
		for _, i := range l {
			out = append(out, s.Actors[i].Card.ID)
		}
		return strings.Join(out, ",")
	}
	// Named order wins over resident order; "Bobby" is not Bob; 小陈 matches inside CJK text.
	cases := []struct{ text, want string }{
		{"Bob, and then Mira: dinner?", "bob,mira"},
		{"小陈你好, Mira", "chen,mira"},
		{"Chen! Mira! Bob!", "chen,mira"},
	}
	for _, c := range cases {
		if got := ids(s.responders("square", c.text, -1, -1, 0)); got != c.want {
			t.Errorf("%q: responders %s, want %s", c.text, got, c.want)
		}
	}
	// A character's own line never selects itself, even when it names itself.
	mira, _ := s.actorByID("mira")
	for k := 0; k < 50; k++ {
		for _, i := range s.responders("square", "Mira thinks Mira is right", mira, -1, 1) {
			if i == mira {
				t.Fatal("Mira answers herself")
			}
		}
	}
	// "Bobby" must not count as naming Bob; nobody is named, so the
	// talkativeness roll (or the random pick) decides, and Bob (0.2) and the
	// others appear over many rolls.
	if mentionAt("bobby is late", &s.Actors[1]) >= 0 {
		t.Fatal("Bobby matched Bob")
	}
}

func TestTalkativeness(t *testing.T) {
	// Over many player lines naming nobody, the chatty Mira (0.9) answers
	// far more often than shy Bob (0.2).
	def, chars := lane()
	s, err := New(Config{MaxResponders: 1}, def, chars, 77)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for k := 0; k < 400; k++ {
		for _, i := range s.responders("square", "what a day", -1, -1, 0) {
			count[s.Actors[i].Card.ID]++
		}
	}
	if count["mira"] < 2*count["bob"] || count["bob"] == 0 {
		t.Fatalf("answers by character: %v", count)
	}
}

func TestPrivacyHardFilter(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{ConversationPermille: -1, RetrieveK: 50}, def, chars, 4)
	if err != nil {
		t.Fatal(err)
	}
	e := &autoEngine{say: cannedText}
	step := func(in Input) []Effect {
		effs := s.Step(in)
		checkInvariants(t, &s)
		e.collect(effs)
		return effs
	}
	const secret = "zebrasecret"
	step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "square"})
	step(PlayerJoined{PlayerID: "B", Name: "Ben", LocationID: "square"})
	for k := 0; k < 20; k++ {
		step(PrivateSaid{MessageID: fmt.Sprint("a", k), PlayerID: "A", CharacterID: "mira", Text: "Mira, the " + secret + " is under the " + secret + " stone!"})
	}
	e.drain(step, 100)
	// Ben asks about it in private and in the room, with the secret's own word.
	var prompts []Generate
	e.say = func(g Generate) string {
		if g.CharacterID == "mira" && speech(g.Kind) {
			prompts = append(prompts, g)
		}
		return cannedText(g)
	}
	step(PrivateSaid{MessageID: "b1", PlayerID: "B", CharacterID: "mira", Text: "Mira, what is the " + secret + "?"})
	step(PlayerSaid{MessageID: "b2", PlayerID: "B", Text: "Mira, tell everyone about the " + secret, AddressedTo: "mira"})
	e.drain(step, 100)
	if len(prompts) != 2 {
		t.Fatalf("want the private and the room reply prompts, got %d", len(prompts))
	}
	for _, g := range prompts {
		for _, m := range g.Request.Messages {
			if strings.Contains(m.Content, "under the "+secret) {
				t.Fatalf("%s prompt for %+v leaks Ada's private memory:\n%s", g.Kind, g.Audience, m.Content)
			}
		}
	}
	// The filter itself, for every memory and audience.
	mira, _ := s.actorByID("mira")
	for _, aud := range []Audience{{PlayerID: "B"}, {LocationID: "square"}, {PlayerID: "A", LocationID: "square"}} {
		for _, c := range s.candidates(mira, secret, aud) {
			if c.m.PrivateTo == "A" {
				t.Fatalf("audience %+v got A's private memory %q", aud, c.m.Text)
			}
		}
	}
	// Ada's own private prompt does see it.
	found := false
	for _, c := range s.candidates(mira, secret, Audience{PlayerID: "A"}) {
		found = found || c.m.PrivateTo == "A"
	}
	if !found {
		t.Fatal("Ada's private prompt cannot see her own private memories")
	}
	// Reflections never quote private memories as evidence.
	s.Step(Tick{SimMinutes: 1})
	for _, m := range s.Actors[mira].Insights {
		for _, ev := range m.Evidence {
			if _, r := s.findMemory(ev); r != nil && r.PrivateTo != "" {
				t.Fatalf("reflection %q rests on private memory %s", m.Text, ev)
			}
		}
	}
}

func TestReflectionAtThreshold(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{ReflectionThreshold: 10, ConversationPermille: -1}, def, chars, 1)
	if err != nil {
		t.Fatal(err)
	}
	mira, _ := s.actorByID("mira")
	for k := 0; k < 3; k++ {
		s.remember(mira, Memory{Kind: maopao.MemoryObservation, Text: "x", Importance: 3})
	}
	s.remember(mira, Memory{Kind: maopao.MemoryObservation, Text: "x", Importance: 1})
	if len(s.Due) != 0 || s.Actors[mira].ImpSum != 10 {
		t.Fatalf("sum 10 does not exceed 10 but due %v (sum %d)", s.Due, s.Actors[mira].ImpSum)
	}
	s.remember(mira, Memory{Kind: maopao.MemoryReflection, Text: "insight", Importance: 9})
	if len(s.Due) != 0 {
		t.Fatal("a reflection counted towards the next one")
	}
	s.remember(mira, Memory{Kind: maopao.MemoryObservation, Text: "y", Importance: 1})
	if len(s.Due) != 1 || s.Due[0] != mira {
		t.Fatalf("sum 11 exceeds 10, due %v", s.Due)
	}
	effs := s.Step(Tick{})
	var g *Generate
	for _, e := range effs {
		if x, ok := e.(Generate); ok && x.Kind == WorkReflect {
			g = &x
		}
	}
	if g == nil || g.CharacterID != "mira" {
		t.Fatalf("no reflection started: %s", fmtEffects(effs))
	}
	effs = s.Step(Generated{WorkID: g.WorkID, Text: "Mira notices things (because of 1, 5)"})
	if s.Actors[mira].ImpSum != 0 || len(s.Actors[mira].Insights) != 2 {
		t.Fatalf("after reflecting: sum %d, %d insights", s.Actors[mira].ImpSum, len(s.Actors[mira].Insights))
	}
	if got := fmtEffects(effs); !strings.Contains(got, `reflection imp=5 "Mira notices things" evidence=mira#1,mira#6`) {
		t.Fatalf("reflection effects: %s", got)
	}
}

// A resident's card lorebook fires in its world prompts as in a chat: an
// entry whose key is said reaches the prompt, one whose key is not does
// not, and a constant entry always does.
func TestLorebookInWorldPrompts(t *testing.T) {
	def, chars := lane()
	yes := new(bool)
	*yes = true
	for i := range chars {
		if chars[i].ID == "mira" {
			chars[i].CharacterBook = &maopao.Lorebook{Entries: []maopao.LoreEntry{
				{Keys: []string{"dragon"}, Content: "LORE-DRAGON: a dragon sleeps under the mill.", Enabled: true, InsertionOrder: 1},
				{Keys: []string{"unicorn"}, Content: "LORE-UNICORN: never said here.", Enabled: true, InsertionOrder: 2},
				{Constant: yes, Content: "LORE-ALWAYS: {{char}} bakes at dawn.", Enabled: true, InsertionOrder: 3},
			}}
		}
	}
	s, err := New(Config{ConversationPermille: -1}, def, chars, 4)
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	e := &autoEngine{say: func(g Generate) string {
		if g.CharacterID == "mira" && speech(g.Kind) {
			var b strings.Builder
			for _, m := range g.Request.Messages {
				b.WriteString(m.Content + "\n")
			}
			prompts = append(prompts, b.String())
		}
		return cannedText(g)
	}}
	step := func(in Input) []Effect {
		effs := s.Step(in)
		e.collect(effs)
		return effs
	}
	step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "square"})
	step(PlayerSaid{MessageID: "m1", PlayerID: "A", Text: "Mira, is there a dragon in this town?", AddressedTo: "mira"})
	e.drain(step, 100)
	if len(prompts) == 0 {
		t.Fatal("Mira was never asked to speak")
	}
	p := prompts[0]
	for _, want := range []string{"LORE-DRAGON", "LORE-ALWAYS: Mira bakes at dawn."} {
		if !strings.Contains(p, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "LORE-UNICORN") {
		t.Errorf("an entry whose key was never said fired:\n%s", p)
	}
}
