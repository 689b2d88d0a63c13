package world

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func started(effs []Effect, kind string) *Generate {
	for _, e := range effs {
		if g, ok := e.(Generate); ok && g.Kind == kind {
			return &g
		}
	}
	return nil
}

func TestEngineFailures(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{ConversationPermille: 1000, ConversationTurns: 8, ReflectionThreshold: 5, MaxInFlight: 4}, def, chars, 3)
	if err != nil {
		t.Fatal(err)
	}
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library"})

	// A failed private reply is reported to its player only.
	g := started(s.Step(PrivateSaid{MessageID: "m1", PlayerID: "p", CharacterID: "mira", Text: "hello"}), WorkPrivate)
	if g == nil {
		t.Fatal("no private reply started")
	}
	got := fmtEffects(s.Step(Generated{WorkID: g.WorkID, Code: "engine_down"}))
	if got != `private p error mira re=m1 code=engine_down` {
		t.Fatalf("failed private reply: %s", got)
	}

	// A failed conversation line ends the conversation.
	g = started(s.Step(Tick{SimMinutes: 1}), WorkTalk)
	if g == nil || len(s.Convos) != 1 {
		t.Fatalf("no conversation started (%d)", len(s.Convos))
	}
	s.Step(Generated{WorkID: g.WorkID, Code: "engine_down"})
	if len(s.Convos) != 0 {
		t.Fatal("conversation survived a failed line")
	}
	checkInvariants(t, &s)

	// A failed reflection gives up what it covered; the flag is cleared.
	dana, _ := s.actorByID("dana")
	s.remember(dana, Memory{Kind: maopao.MemoryObservation, Text: "a storm", Importance: 6})
	g = started(s.Step(Tick{}), WorkReflect)
	if g == nil || g.CharacterID != "dana" || !s.Actors[dana].Reflect {
		t.Fatalf("no reflection started for dana: %+v", g)
	}
	s.Step(Generated{WorkID: g.WorkID, Code: "engine_down"})
	if s.Actors[dana].Reflect || s.Actors[dana].ImpSum != 0 {
		t.Fatalf("after a failed reflection: reflecting %v, sum %d", s.Actors[dana].Reflect, s.Actors[dana].ImpSum)
	}
	checkInvariants(t, &s)
}

func TestEvictionByKind(t *testing.T) {
	def, chars := lane()
	// One engine slot, a queue of two: talk and reflections wait, then a
	// burst of player lines pushes them out.
	s, err := New(Config{MaxInFlight: 1, MaxQueue: 2, TalkQueueMax: 2, IdleQueueMax: 2, ConversationPermille: 1000, ReflectionThreshold: 3}, def, chars, 5)
	if err != nil {
		t.Fatal(err)
	}
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "square"})
	s.Step(PrivateSaid{MessageID: "m0", PlayerID: "p", CharacterID: "dana", Text: "hold the engine"}) // runs
	s.Step(Tick{SimMinutes: 1})                                                                       // a conversation's first line queues
	dana, _ := s.actorByID("dana")
	s.remember(dana, Memory{Kind: maopao.MemoryObservation, Text: "x", Importance: 4})
	s.Step(Tick{}) // dana's reflection queues
	kinds := func() string {
		var k []string
		for _, w := range s.Queue {
			k = append(k, w.Kind)
		}
		return strings.Join(k, " ")
	}
	if kinds() != "talk reflect" {
		t.Fatalf("queue %q", kinds())
	}
	checkInvariants(t, &s)
	// Two player lines naming Bob and Chen: both replies are more urgent.
	effs := s.Step(PlayerSaid{MessageID: "m1", PlayerID: "p", Text: "Bob?", AddressedTo: "bob"})
	effs = append(effs, s.Step(PlayerSaid{MessageID: "m2", PlayerID: "p", Text: "Chen?", AddressedTo: "chen"})...)
	if kinds() != "reply reply" {
		t.Fatalf("queue %q after the burst", kinds())
	}
	if len(s.Convos) != 0 || s.Stats.DroppedTalk != 1 {
		t.Fatalf("evicted talk: %d conversations, %d dropped", len(s.Convos), s.Stats.DroppedTalk)
	}
	if s.Actors[dana].Reflect || !s.isDue(dana) {
		t.Fatal("an evicted reflection is not due again")
	}
	checkInvariants(t, &s)
	// A third line finds the queue full of equally urgent replies: refused with a busy event.
	effs = s.Step(PlayerSaid{MessageID: "m3", PlayerID: "p", Text: "Mira?", AddressedTo: "mira"})
	if got := fmtEffects(effs); !strings.Contains(got, "broadcast square error mira re=m3 code=busy") {
		t.Fatalf("third line: %s", got)
	}
	checkInvariants(t, &s)
}

func TestSeenIsBounded(t *testing.T) {
	def, chars := lane()
	s, _ := New(Config{MaxInFlight: 1, ConversationPermille: -1}, def, chars, 1)
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "library"})
	for k := 0; k < seenCap+10; k++ {
		s.Step(PlayerSaid{MessageID: fmt.Sprint("m", k), PlayerID: "p", Text: "hi"})
	}
	if len(s.Seen) != seenCap || s.Seen[0] != "m10" {
		t.Fatalf("seen holds %d, oldest %q", len(s.Seen), s.Seen[0])
	}
	// A redelivery of a recent message is only acked.
	if got := fmtEffects(s.Step(PlayerSaid{MessageID: "m500", PlayerID: "p", Text: "hi"})); got != "ack m500" {
		t.Fatalf("redelivery: %s", got)
	}
}
