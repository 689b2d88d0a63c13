package world

import (
	"errors"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

// laneRevision2 is the lane as its creator edits it: a garden off the
// square, Mira's house gone (her evening step now in the garden), Dana
// moved away, Eve new in the garden.
func laneRevision2() (maopao.World, maopao.Character) {
	def, _ := lane()
	def.Revision = 2
	def.Description = "A quiet lane by the river, with a new garden."
	def.Locations = []maopao.Location{
		{ID: "square", Name: "the Square", Description: "A cobbled square with a fountain.", Connections: []string{"cafe", "library", "garden"}},
		{ID: "cafe", Name: "the Cafe", Description: "Warm bread and strong tea.", Connections: []string{"square"}},
		{ID: "library", Name: "the Library", Description: "Quiet shelves.", Connections: []string{"square"}},
		{ID: "garden", Name: "the Garden", Description: "Roses and a bench.", Connections: []string{"square"}},
	}
	def.Residents[0].Routine[2].LocationID = "garden"
	def.Residents = append(def.Residents[:3:3], maopao.Resident{CharacterID: "eve", LocationID: "garden", Talkativeness: 0.7})
	return def, maopao.Character{ID: "eve", Name: "Eve", Description: "The gardener."}
}

func hasEffect(effs []Effect, match func(Effect) bool) bool {
	for _, e := range effs {
		if match(e) {
			return true
		}
	}
	return false
}

func characterIDs(p Presence) []string {
	var ids []string
	for _, c := range p.Characters {
		ids = append(ids, c.ID)
	}
	return ids
}

// A new revision applies to the running world as an input: a new place
// appears (a player can walk there), a removed place sends the player in
// it to the first place, a removed resident leaves and a new one arrives,
// memories stay, and replaying the log gives the same world.
func TestLiveRevision(t *testing.T) {
	def, chars := lane()
	def.Revision = 1
	cfg := Config{ConversationPermille: -1}
	s, err := New(cfg, def, chars, 7)
	if err != nil {
		t.Fatal(err)
	}
	var log []Input
	e := &autoEngine{say: cannedText}
	step := func(in Input) []Effect {
		log = append(log, in)
		effs := s.Step(in)
		checkInvariants(t, &s)
		e.collect(effs)
		return effs
	}
	step(PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "home"})
	step(PlayerJoined{PlayerID: "p2", Name: "Ben", LocationID: "library"})
	step(PlayerSaid{MessageID: "m1", PlayerID: "p2", Text: "Dana, tell me about the storm!", AddressedTo: "dana"})
	step(PlayerSaid{MessageID: "m0", PlayerID: "p1", Text: "Hello, anyone home?"})
	e.drain(step, 50)
	step(Tick{SimMinutes: 30})
	danaMemories := len(s.Actors[3].Stream)
	miraMemories := len(s.Actors[0].Stream)
	if danaMemories == 0 {
		t.Fatal("Dana remembers nothing of the talk")
	}

	rev, eve := laneRevision2()
	if err := s.CheckRevision(WorldRevised{World: rev}); err == nil || !errors.Is(err, maopao.ErrInvalid) || !strings.Contains(err.Error(), `"eve"`) {
		t.Fatalf("a revision without the new resident's card: %v", err)
	}
	effs := step(WorldRevised{World: rev, Cards: []maopao.Character{eve}})
	if s.World.Revision != 2 || s.World.Description != rev.Description {
		t.Fatalf("world after the revision: revision %d, %q", s.World.Revision, s.World.Description)
	}
	if _, ok := s.location("garden"); !ok {
		t.Fatal("the new place is not in the world")
	}
	if _, ok := s.location("home"); ok {
		t.Fatal("the removed place is still in the world")
	}
	if len(s.Rooms) != 4 || s.Rooms[3].LocationID != "garden" {
		t.Fatalf("rooms %+v", s.Rooms)
	}
	if lines := s.Transcript("library"); len(lines) == 0 {
		t.Fatal("the library's talk was lost in the revision")
	}
	if where, _ := s.WhereIs("p1"); where != "square" {
		t.Fatalf("the player on the removed place is at %q, want the first place", where)
	}
	if !hasEffect(effs, func(e Effect) bool {
		sp, ok := e.(SendPrivate)
		return ok && sp.PlayerID == "p1" && sp.Event.Kind == EventMoved && sp.Event.LocationID == "square"
	}) {
		t.Fatalf("p1 was not told it moved: %s", fmtEffects(effs))
	}
	for _, p := range []string{"p1", "p2"} {
		if !hasEffect(effs, func(e Effect) bool {
			sp, ok := e.(SendPrivate)
			return ok && sp.PlayerID == p && sp.Event.Kind == EventChanged && strings.Contains(sp.Event.Text, "new places: the Garden") &&
				strings.Contains(sp.Event.Text, "places gone: Mira's house") && strings.Contains(sp.Event.Text, "new here: Eve") && strings.Contains(sp.Event.Text, "moved away: Dana")
		}) {
			t.Fatalf("%s was not told what changed: %s", p, fmtEffects(effs))
		}
	}
	if !hasEffect(effs, func(e Effect) bool {
		b, ok := e.(Broadcast)
		return ok && b.LocationID == "library" && b.Event.Kind == EventLeft && b.Event.From == "dana"
	}) {
		t.Fatalf("nobody in the library saw Dana leave: %s", fmtEffects(effs))
	}
	if got := characterIDs(mustPresent(t, &s, "library")); len(got) != 0 {
		t.Fatalf("the library still holds %v", got)
	}
	if got := characterIDs(mustPresent(t, &s, "garden")); len(got) != 1 || got[0] != "eve" {
		t.Fatalf("the garden holds %v, want eve", got)
	}
	if len(s.Actors[3].Stream) != danaMemories {
		t.Fatalf("Dana's memories went from %d to %d", danaMemories, len(s.Actors[3].Stream))
	}
	learnt := false
	for _, m := range s.Actors[0].Stream[miraMemories:] {
		learnt = learnt || strings.Contains(m.Text, "new places: the Garden; places gone: Mira's house")
	}
	if !learnt {
		t.Fatalf("Mira did not learn of the garden: %+v", s.Actors[0].Stream[miraMemories:])
	}
	if s.Actors[0].Routine[2].LocationID != "garden" {
		t.Fatalf("Mira's routine: %+v", s.Actors[0].Routine)
	}

	// The new world works: walk to the garden, talk to Eve; Dana is out.
	step(PlayerMoved{PlayerID: "p1", LocationID: "garden"})
	if where, _ := s.WhereIs("p1"); where != "garden" {
		t.Fatalf("p1 could not walk to the new place: at %q", where)
	}
	effs = step(PrivateSaid{MessageID: "m2", PlayerID: "p2", CharacterID: "dana", Text: "Dana?"})
	if !hasEffect(effs, func(e Effect) bool { sp, ok := e.(SendPrivate); return ok && sp.Event.Code == CodeInvalid }) {
		t.Fatalf("a private line to a resident who left was taken: %s", fmtEffects(effs))
	}
	step(PlayerSaid{MessageID: "m3", PlayerID: "p1", Text: "Eve, what grows here?", AddressedTo: "eve"})
	var eveSpoke bool
	e.say = func(g Generate) string {
		eveSpoke = eveSpoke || (g.CharacterID == "eve" && speech(g.Kind))
		return cannedText(g)
	}
	e.drain(step, 50)
	if !eveSpoke {
		t.Fatal("the new resident never answered")
	}
	// Mira's changed routine takes her to the garden at 20:00.
	step(Tick{SimMinutes: 1200 - int(s.Clock%1440)})
	if where, _ := s.WhereIs("mira"); where != "garden" {
		t.Fatalf("Mira is at %q at 20:00, want the garden", where)
	}

	// A stale revision changes nothing; a later one brings Dana back with
	// her memories.
	before := s.Summary()
	if effs := step(WorldRevised{World: rev, Cards: []maopao.Character{eve}}); len(effs) != 0 || s.Summary() != before {
		t.Fatalf("the same revision applied twice: %s", fmtEffects(effs))
	}
	rev3 := rev
	rev3.Revision = 3
	rev3.Residents = append(append([]maopao.Resident(nil), rev.Residents...), maopao.Resident{CharacterID: "dana", LocationID: "library"})
	step(WorldRevised{World: rev3})
	if where, _ := s.WhereIs("dana"); where != "library" || s.Actors[3].Gone || len(s.Actors[3].Stream) < danaMemories {
		t.Fatalf("Dana came back to %q gone=%v with %d memories", where, s.Actors[3].Gone, len(s.Actors[3].Stream))
	}
	e.drain(step, 100)

	// Replaying the log from the first revision gives the same world, as
	// does a snapshot taken midway and stepped on.
	replayed, err := Replay(cfg, def, chars, 7, log)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Summary() != s.Summary() {
		t.Fatalf("replay differs:\n%s\nlive:\n%s", replayed.Summary(), s.Summary())
	}
	half, err := Replay(cfg, def, chars, 7, log[:len(log)/2])
	if err != nil {
		t.Fatal(err)
	}
	restored, err := half.Clone()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range log[len(log)/2:] {
		restored.Step(in)
	}
	if restored.Summary() != s.Summary() {
		t.Fatalf("snapshot and log differ:\n%s\nlive:\n%s", restored.Summary(), s.Summary())
	}
}

func mustPresent(t *testing.T, s *State, loc string) Presence {
	t.Helper()
	p, ok := s.Present(loc)
	if !ok {
		t.Fatalf("no place %q", loc)
	}
	return p
}

// A revision travels in the log like any input.
func TestWorldRevisedRoundTrip(t *testing.T) {
	rev, eve := laneRevision2()
	b, err := EncodeInput(WorldRevised{World: rev, Cards: []maopao.Character{eve}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := DecodeInput(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := in.(WorldRevised)
	if !ok || got.World.Revision != 2 || len(got.World.Locations) != 4 || len(got.Cards) != 1 || got.Cards[0].Name != "Eve" {
		t.Fatalf("decoded %#v", in)
	}
}

// The world's own lorebook fires in every resident's prompts.
func TestWorldLorebook(t *testing.T) {
	def, chars := lane()
	def.Lorebook = &maopao.Lorebook{Entries: []maopao.LoreEntry{
		{Keys: []string{"festival"}, Content: "WORLD-LORE: the lantern festival is on the first full moon.", Enabled: true},
		{Keys: []string{"unicorn"}, Content: "WORLD-LORE-UNSAID", Enabled: true},
	}}
	s, err := New(Config{ConversationPermille: -1}, def, chars, 4)
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	e := &autoEngine{say: func(g Generate) string {
		if speech(g.Kind) {
			prompts = append(prompts, g.Request.Messages[0].Content)
		}
		return cannedText(g)
	}}
	step := func(in Input) []Effect {
		effs := s.Step(in)
		e.collect(effs)
		return effs
	}
	step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "library"})
	step(PlayerSaid{MessageID: "m1", PlayerID: "A", Text: "Dana, when is the festival?", AddressedTo: "dana"})
	e.drain(step, 20)
	if len(prompts) == 0 {
		t.Fatal("nobody was asked to speak")
	}
	if !strings.Contains(prompts[0], "World lore:\nWORLD-LORE: the lantern festival") {
		t.Fatalf("the world's lorebook did not fire:\n%s", prompts[0])
	}
	if strings.Contains(prompts[0], "WORLD-LORE-UNSAID") {
		t.Fatalf("an entry whose key was never said fired:\n%s", prompts[0])
	}
}

// Cards too many for one log entry come first as CardsStaged; the
// revision after them finds them.
func TestRevisionWithStagedCards(t *testing.T) {
	def, chars := lane()
	def.Revision = 1
	s, err := New(Config{ConversationPermille: -1}, def, chars, 7)
	if err != nil {
		t.Fatal(err)
	}
	rev, eve := laneRevision2()
	s.Step(CardsStaged{Cards: []maopao.Character{eve}})
	if err := s.CheckRevision(WorldRevised{World: rev}); err != nil {
		t.Fatalf("staged card not counted: %v", err)
	}
	s.Step(WorldRevised{World: rev})
	if where, _ := s.WhereIs("eve"); where != "garden" || len(s.Staged) != 0 {
		t.Fatalf("eve at %q, %d cards still staged", where, len(s.Staged))
	}
	clone, err := s.Clone()
	if err != nil || clone.Summary() != s.Summary() {
		t.Fatalf("clone: %v", err)
	}
}

// An edited card reaches its resident: newer revisions replace the card
// (memories, place and routine stay), older or equal ones change nothing.
func TestCardsUpdated(t *testing.T) {
	def, chars := lane()
	for i := range chars {
		chars[i].Revision = 1
	}
	s, err := New(Config{ConversationPermille: -1}, def, chars, 3)
	if err != nil {
		t.Fatal(err)
	}
	s.Step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "library"})
	s.Step(PlayerSaid{MessageID: "m1", PlayerID: "A", Text: "Hello Dana!", AddressedTo: "dana"})
	dana, _ := s.actorByID("dana")
	memories := len(s.Actors[dana].Stream)
	edited := chars[3]
	edited.Revision, edited.Description = 2, "A retired sailor who now keeps bees."
	if got := s.StaleCards([]maopao.Character{chars[0], edited}); len(got) != 1 || got[0].ID != "dana" {
		t.Fatalf("stale cards: %+v", got)
	}
	s.Step(CardsUpdated{Cards: []maopao.Character{edited}})
	if a := s.Actors[dana]; a.Card.Description != edited.Description || len(a.Stream) != memories || a.Location != "library" {
		t.Fatalf("after the update: %q, %d memories, at %s", a.Card.Description, len(a.Stream), a.Location)
	}
	old := edited
	old.Revision, old.Description = 2, "something else at the same revision"
	s.Step(CardsUpdated{Cards: []maopao.Character{old}})
	if s.Actors[dana].Card.Description != edited.Description {
		t.Fatal("a card of the same revision replaced the newer one")
	}
	// The work started before the edit finishes; what starts after uses
	// the new card.
	for len(s.Flight) > 0 {
		s.Step(Generated{WorkID: s.Flight[0].ID, Text: "ok"})
	}
	var prompt string
	for _, e := range s.Step(PlayerSaid{MessageID: "m2", PlayerID: "A", Text: "Dana, how are the bees?", AddressedTo: "dana"}) {
		if g, ok := e.(Generate); ok && g.CharacterID == "dana" && speech(g.Kind) {
			prompt = g.Request.Messages[0].Content
		}
	}
	if !strings.Contains(prompt, "keeps bees") {
		t.Fatalf("the prompt does not use the edited card:\n%s", prompt)
	}
}
