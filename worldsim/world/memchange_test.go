package world

import (
	"fmt"
	"strings"
	"testing"
)

func promptsOf(gs []Generate) string {
	var b strings.Builder
	for _, g := range gs {
		for _, m := range g.Request.Messages {
			b.WriteString(m.Content + "\n")
		}
	}
	return b.String()
}

// The memory manager in a world: a player sees what a resident remembers
// about them, pins one (in every prompt while they are there), rewrites
// one, forgets one (gone from the state and from every later prompt);
// another player can do none of it; a replay agrees.
func TestWorldMemoryManager(t *testing.T) {
	def, chars := lane()
	cfg := Config{ConversationPermille: -1, RetrieveK: 2}
	s, err := New(cfg, def, chars, 5)
	if err != nil {
		t.Fatal(err)
	}
	var log []Input
	var asked []Generate
	e := &autoEngine{say: func(g Generate) string {
		if g.CharacterID == "dana" && speech(g.Kind) {
			asked = append(asked, g)
		}
		return cannedText(g)
	}}
	step := func(in Input) []Effect {
		log = append(log, in)
		effs := s.Step(in)
		checkInvariants(t, &s)
		e.collect(effs)
		return effs
	}
	step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "library"})
	step(PlayerJoined{PlayerID: "B", Name: "Bo", LocationID: "library"})
	step(PlayerSaid{MessageID: "m1", PlayerID: "A", Text: "My cat is called Biscuit.", AddressedTo: "dana"})
	step(PrivateSaid{MessageID: "m2", PlayerID: "A", CharacterID: "dana", Text: "My locker code is 4242."})
	e.drain(step, 50)
	dana, _ := s.actorByID("dana")
	var cat, code string
	for _, m := range s.Actors[dana].Stream {
		switch {
		case strings.Contains(m.Text, "Biscuit") && m.About == "A":
			cat = memoryID("dana", m.Seq)
		case strings.Contains(m.Text, "4242") && m.About == "A" && m.PrivateTo == "A":
			code = memoryID("dana", m.Seq)
		}
	}
	if cat == "" || code == "" {
		t.Fatalf("Dana's memories of Ada lack About: %+v", s.Actors[dana].Stream)
	}
	// Lots of talk buries the cat line under fresher memories.
	for i := 0; i < 30; i++ {
		step(PlayerSaid{MessageID: "f" + string(rune('a'+i)), PlayerID: "B", Text: "Dana, the sea is calm today, is it not?", AddressedTo: "dana"})
		e.drain(step, 20)
	}

	yes := true
	if effs := step(MemoryChanged{PlayerID: "B", MemoryID: cat, Pinned: &yes}); len(effs) != 0 {
		t.Fatalf("another player pinned Ada's memory: %s", fmtEffects(effs))
	}
	effs := step(MemoryChanged{PlayerID: "A", MemoryID: cat, Pinned: &yes})
	if len(effs) != 1 {
		t.Fatalf("pin: %s", fmtEffects(effs))
	}
	if rec := effs[0].(MemoryAdded).Record; !rec.Pinned || rec.About != "A" {
		t.Fatalf("the stored record after the pin: %+v", rec)
	}
	asked = nil
	step(PlayerSaid{MessageID: "q1", PlayerID: "A", Text: "Dana, what a storm last night!", AddressedTo: "dana"})
	e.drain(step, 20)
	if p := promptsOf(asked); !strings.Contains(p, "Biscuit") {
		t.Fatalf("the pinned memory is not in the prompt while Ada is there:\n%s", p)
	}
	// Ada leaves: her pin no longer rides along.
	step(PlayerLeft{PlayerID: "A"})
	asked = nil
	step(PlayerSaid{MessageID: "q2", PlayerID: "B", Text: "Dana, any news of ships?", AddressedTo: "dana"})
	e.drain(step, 20)
	if p := promptsOf(asked); strings.Contains(p, "Biscuit") {
		t.Fatalf("Ada's pin reached a prompt after she left:\n%s", p)
	}
	step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "library"})

	// Rewritten, then forgotten.
	text := "Ada's cat is called Biscuit and hates rain."
	step(MemoryChanged{PlayerID: "A", MemoryID: cat, Text: &text})
	if _, m := s.findMemory(cat); m == nil || m.Text != text {
		t.Fatalf("rewrite: %+v", m)
	}
	effs = step(MemoryChanged{PlayerID: "A", MemoryID: code, Forget: true})
	if len(effs) != 1 || effs[0].(MemoryRemoved).ID != code {
		t.Fatalf("forget: %s", fmtEffects(effs))
	}
	if _, m := s.findMemory(code); m != nil {
		t.Fatal("a forgotten memory is still held")
	}
	asked = nil
	step(PrivateSaid{MessageID: "q3", PlayerID: "A", CharacterID: "dana", Text: "Do you remember my locker code?"})
	e.drain(step, 20)
	if len(asked) == 0 {
		t.Fatal("Dana was not asked to answer in private")
	}
	// Nowhere in the prompt: not recalled, and not in the private thread's
	// recent lines either, though the line is still among them.
	if p := promptsOf(asked); strings.Contains(p, "4242") {
		t.Fatalf("a forgotten memory reached a prompt:\n%s", p)
	}
	if tr := s.PrivateTranscript("A", "dana"); !strings.Contains(fmt.Sprint(tr), "4242") {
		t.Fatalf("the player's own thread lost the line (only Dana forgot it): %v", tr)
	}

	// A line said in the room, forgotten by Dana: her next prompts skip it
	// while it is still among the room's recent lines.
	step(PlayerSaid{MessageID: "r1", PlayerID: "A", Text: "My boat is the Gull.", AddressedTo: "dana"})
	e.drain(step, 20)
	dana, _ = s.actorByID("dana")
	var boat string
	for _, m := range s.Actors[dana].Stream {
		if strings.Contains(m.Text, "Gull") && m.About == "A" {
			boat = memoryID("dana", m.Seq)
		}
	}
	step(MemoryChanged{PlayerID: "A", MemoryID: boat, Forget: true})
	asked = nil
	step(PlayerSaid{MessageID: "r2", PlayerID: "A", Text: "Dana, what is my boat called?", AddressedTo: "dana"})
	e.drain(step, 20)
	if len(asked) == 0 {
		t.Fatal("Dana was not asked to answer in the room")
	}
	if p := promptsOf(asked); strings.Contains(p, "Gull") {
		t.Fatalf("a forgotten room line reached a prompt:\n%s", p)
	}
	if !strings.Contains(fmt.Sprint(s.Transcript("library")), "Gull") {
		t.Fatal("the room's transcript lost the line for everyone")
	}

	replayed, err := Replay(cfg, def, chars, 5, log)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Summary() != s.Summary() {
		t.Fatalf("replay differs:\n%s\nlive:\n%s", replayed.Summary(), s.Summary())
	}
}
