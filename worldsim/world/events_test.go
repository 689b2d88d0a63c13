package world

import (
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func happenedAt(effs []Effect, eventText string) []string {
	var locs []string
	for _, e := range effs {
		if b, ok := e.(Broadcast); ok && b.Event.Kind == EventHappened && b.Event.Text == eventText {
			locs = append(locs, b.LocationID)
		}
	}
	return locs
}

func minute(m int) *int { return &m }

// Scheduled events happen at their time, on an arrival, or when their
// keyword is said; residents there remember them and answer; cooldowns
// and once hold; a replay of the log gives the same world.
func TestScheduledEvents(t *testing.T) {
	def, chars := lane()
	def.Events = []maopao.ScheduledEvent{
		{ID: "bell", Text: "The church bell rings noon.", LocationID: "square", Trigger: maopao.EventTrigger{AtMinute: minute(720)}},
		{ID: "cat", Text: "A black cat runs between the shelves.", Trigger: maopao.EventTrigger{Arrival: "library", Who: "player"}, Once: true},
		{ID: "storm", Text: "Thunder rolls over the lane.", Trigger: maopao.EventTrigger{Keyword: "Storm"}},
	}
	cfg := Config{ConversationPermille: -1}
	s, err := New(cfg, def, chars, 11)
	if err != nil {
		t.Fatal(err)
	}
	var log []Input
	var prompts []string
	e := &autoEngine{say: func(g Generate) string {
		if speech(g.Kind) {
			var b strings.Builder
			for _, m := range g.Request.Messages {
				b.WriteString(m.Content + "\n")
			}
			prompts = append(prompts, b.String())
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
	step(PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "square"})

	// The bell at noon, in the square only, once that day.
	effs := step(Tick{SimMinutes: 720})
	if got := happenedAt(effs, "The church bell rings noon."); len(got) != 1 || got[0] != "square" {
		t.Fatalf("the bell happened at %v, want the square once", got)
	}
	lines := s.Transcript("square")
	if last := lines[len(lines)-1]; last.FromKind != KindEvent || last.Text != "The church bell rings noon." {
		t.Fatalf("the square's last line: %+v", last)
	}
	bellLine := lines[len(lines)-1].ID
	reacting := false
	for _, w := range append(append([]Work(nil), s.Queue...), s.Flight...) {
		reacting = reacting || (w.Kind == WorkReply && w.ReplyTo == bellLine)
	}
	if !reacting {
		t.Fatal("nobody in the square reacts to the bell")
	}
	prompts = nil
	e.drain(step, 20)
	if len(prompts) == 0 || !strings.Contains(prompts[0], "[The church bell rings noon.]") {
		t.Fatalf("the reaction's prompt lacks the event: %q", prompts)
	}
	remembered := false
	for i := range s.Actors {
		for _, m := range s.Actors[i].Stream {
			remembered = remembered || (s.Actors[i].Location == "square" && m.Text == "The church bell rings noon.")
		}
	}
	if !remembered {
		t.Fatal("no resident in the square remembers the bell")
	}
	if got := happenedAt(step(Tick{SimMinutes: 60}), "The church bell rings noon."); len(got) != 0 {
		t.Fatalf("the bell rang again an hour later: %v", got)
	}

	// The cat, on arriving at the library, only once ever.
	effs = step(PlayerMoved{PlayerID: "p1", LocationID: "library"})
	if got := happenedAt(effs, "A black cat runs between the shelves."); len(got) != 1 || got[0] != "library" {
		t.Fatalf("the cat at %v on arrival", got)
	}
	step(PlayerMoved{PlayerID: "p1", LocationID: "square"})
	step(Tick{SimMinutes: 600})
	if got := happenedAt(step(PlayerMoved{PlayerID: "p1", LocationID: "library"}), "A black cat runs between the shelves."); len(got) != 0 {
		t.Fatalf("a once-only event happened twice: %v", got)
	}
	e.drain(step, 50)

	// The storm, where its keyword is said (any case), then not for an hour.
	effs = step(PlayerSaid{MessageID: "m1", PlayerID: "p1", Text: "Is a STORM coming?"})
	if got := happenedAt(effs, "Thunder rolls over the lane."); len(got) != 1 || got[0] != "library" {
		t.Fatalf("the storm at %v, want the library", got)
	}
	if got := happenedAt(step(PlayerSaid{MessageID: "m2", PlayerID: "p1", Text: "What a storm."}), "Thunder rolls over the lane."); len(got) != 0 {
		t.Fatalf("the storm came again within its cooldown: %v", got)
	}
	e.drain(step, 50)
	step(Tick{SimMinutes: 60})
	if got := happenedAt(step(PlayerSaid{MessageID: "m3", PlayerID: "p1", Text: "Another storm?"}), "Thunder rolls over the lane."); len(got) != 1 {
		t.Fatalf("the storm after its cooldown: %v", got)
	}
	e.drain(step, 50)

	// The bell again the next day.
	if got := happenedAt(step(Tick{SimMinutes: 1440 + 720 - int(s.Clock%1440)}), "The church bell rings noon."); len(got) != 1 {
		t.Fatalf("the bell on the next day: %v", got)
	}
	e.drain(step, 50)

	replayed, err := Replay(cfg, def, chars, 11, log)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.Summary() != s.Summary() {
		t.Fatalf("replay differs:\n%s\nlive:\n%s", replayed.Summary(), s.Summary())
	}
}

func TestBadEventsRefused(t *testing.T) {
	cases := []struct {
		ev   maopao.ScheduledEvent
		want string
	}{
		{maopao.ScheduledEvent{ID: "a", Text: "x", Trigger: maopao.EventTrigger{AtMinute: minute(5), Keyword: "k"}}, "2 triggers"},
		{maopao.ScheduledEvent{ID: "a", Text: "x"}, "0 triggers"},
		{maopao.ScheduledEvent{ID: "a", Text: "x", Trigger: maopao.EventTrigger{Arrival: "moon"}}, `unknown location "moon"`},
		{maopao.ScheduledEvent{ID: "a", Text: "x", Trigger: maopao.EventTrigger{AtMinute: minute(1440)}}, "outside 0..1439"},
		{maopao.ScheduledEvent{ID: "", Text: "x", Trigger: maopao.EventTrigger{Keyword: "k"}}, "empty id"},
		{maopao.ScheduledEvent{ID: "a", Text: " ", Trigger: maopao.EventTrigger{Keyword: "k"}}, "no text"},
		{maopao.ScheduledEvent{ID: "a", Text: "x", Trigger: maopao.EventTrigger{Keyword: "k", Who: "nobody"}}, `who "nobody"`},
	}
	for _, tc := range cases {
		def, chars := lane()
		def.Events = []maopao.ScheduledEvent{tc.ev}
		if _, err := New(Config{}, def, chars, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.ev, err, tc.want)
		}
	}
}
