package world

import (
	"strings"
	"testing"
)

// A picture shown in a room: everyone there sees it with the line, the
// residents' replies are asked with it, and they remember it in the words
// the engine found for it; an engine that cannot see says so to the room.
func TestPicturesShownInARoom(t *testing.T) {
	def, chars := lane()
	s, err := New(Config{ConversationPermille: -1}, def, chars, 9)
	if err != nil {
		t.Fatal(err)
	}
	s.Step(PlayerJoined{PlayerID: "A", Name: "Ada", LocationID: "library"})
	effs := s.Step(PlayerSaid{MessageID: "m1", PlayerID: "A", Text: "Dana, look at this!", AddressedTo: "dana", Pictures: []string{"pic-1"}})
	var said *Event
	var reply, caption *Generate
	for _, e := range effs {
		switch e := e.(type) {
		case Broadcast:
			if e.Event.Kind == EventSaid && e.Event.ID == "m1" {
				said = &e.Event
			}
		case Generate:
			switch e.Kind {
			case WorkReply:
				reply = &e
			case WorkCaption:
				caption = &e
			}
		}
	}
	if said == nil || len(said.Pictures) != 1 || said.Pictures[0] != "pic-1" {
		t.Fatalf("the room's said event: %+v", said)
	}
	if reply == nil {
		t.Fatalf("no reply asked: %s", fmtEffects(effs))
	}
	last := reply.Request.Messages[len(reply.Request.Messages)-1]
	if len(last.Pictures) != 1 || last.Pictures[0].ID != "pic-1" || !strings.Contains(last.Content, "Ada shows a picture: Dana, look at this!") {
		t.Fatalf("the reply's prompt does not carry the picture: %+v", last)
	}
	if caption == nil {
		// The engine's two slots: the caption waits for the reply.
		effs = s.Step(Generated{WorkID: reply.WorkID, Text: "Oh, lovely!"})
		for _, e := range effs {
			if g, ok := e.(Generate); ok && g.Kind == WorkCaption {
				caption = &g
			}
		}
	}
	if caption == nil || len(caption.Request.Messages[1].Pictures) != 1 {
		t.Fatalf("no caption asked with the picture: %+v", caption)
	}
	s.Step(Generated{WorkID: caption.WorkID, Text: "A red kite over the sea."})
	dana, _ := s.actorByID("dana")
	found := false
	for _, m := range s.Actors[dana].Stream {
		found = found || (m.Text == "Ada showed a picture: A red kite over the sea." && m.About == "A")
	}
	if !found {
		t.Fatalf("Dana does not remember the picture: %+v", s.Actors[dana].Stream)
	}

	// A picture alone is a line; five are too many.
	if effs := s.Step(PlayerSaid{MessageID: "m2", PlayerID: "A", Pictures: []string{"pic-2"}}); !hasEffect(effs, func(e Effect) bool { a, ok := e.(Ack); return ok && a.MessageID == "m2" }) {
		t.Fatalf("a picture alone was refused: %s", fmtEffects(effs))
	}
	if effs := s.Step(PlayerSaid{MessageID: "m3", PlayerID: "A", Text: "x", Pictures: []string{"a", "b", "c", "d", "e"}}); !hasEffect(effs, func(e Effect) bool { sp, ok := e.(SendPrivate); return ok && sp.Event.Code == CodeInvalid }) {
		t.Fatalf("five pictures taken: %s", fmtEffects(effs))
	}

	// An engine that cannot see: the room is told.
	var second *Generate
	for _, w := range s.Flight {
		if w.Kind == WorkCaption {
			second = w.Started
		}
	}
	for second == nil && len(s.Flight) > 0 {
		effs := s.Step(Generated{WorkID: s.Flight[0].ID, Text: "ok"})
		for _, e := range effs {
			if g, ok := e.(Generate); ok && g.Kind == WorkCaption {
				second = &g
			}
		}
	}
	if second == nil {
		t.Fatal("no caption asked for the second picture")
	}
	effs = s.Step(Generated{WorkID: second.WorkID, Code: CodeNoVision})
	if !hasEffect(effs, func(e Effect) bool {
		b, ok := e.(Broadcast)
		return ok && b.LocationID == "library" && b.Event.Code == CodeNoVision && strings.Contains(b.Event.Text, "cannot see pictures")
	}) {
		t.Fatalf("the room was not told: %s", fmtEffects(effs))
	}
}
