package world

import (
	"fmt"
	"math"
	"strings"

	"github.com/maopao/maopao"
)

// maxTickMinutes bounds one Tick, so a runner that fell far behind (or a
// bad log entry) cannot stall the world for long.
const maxTickMinutes = 1440

func (s *State) tick(t Tick) []Effect {
	minutes := int64(max(t.SimMinutes, 0))
	if t.RealMillis > 0 {
		// Integer arithmetic keeps the clock exact on every machine: the rate
		// is in thousandths of a sim minute per real second, the remainder
		// in millionths of a sim minute.
		// Unset, zero, negative or NaN rates mean one sim minute per second;
		// the rate is capped at 1000 sim minutes per second.
		sps := s.World.SimMinutesPerSecond
		rate := int64(1000)
		switch {
		case sps > 1000:
			rate = 1_000_000
		case sps > 0:
			rate = max(int64(math.Round(sps*1000)), 1)
		}
		ms := min(t.RealMillis, 86_400_000)
		s.SubMin += ms * rate
		minutes += s.SubMin / 1_000_000
		s.SubMin %= 1_000_000
	}
	minutes = min(minutes, maxTickMinutes)
	var effs []Effect
	for range minutes {
		effs = append(effs, s.minute()...)
	}
	return effs
}

// TimeOfDay renders a sim minute as "day D HH:MM", day 1 being the first.
func TimeOfDay(minute int64) string {
	d, m := minute/1440, minute%1440
	return fmt.Sprintf("day %d %02d:%02d", d+1, m/60, m%60)
}

// minute is one sim minute of autonomous life: residents follow their
// routines, idle pairs may strike up a conversation.
func (s *State) minute() []Effect {
	s.Clock++
	var effs []Effect
	x := s.index()
	at := int(s.Clock % 1440)
	for _, i := range x.sched[at] {
		a := &s.Actors[i]
		var step *RoutineStep
		for k := range a.Routine {
			if a.Routine[k].AtMinute == at {
				step = &a.Routine[k] // the last one wins
			}
		}
		if step == nil {
			continue
		}
		if step.LocationID != a.Location {
			effs = append(effs, s.walk(i, step.LocationID, step.Activity)...)
		} else {
			a.Activity = step.Activity
		}
	}
	effs = append(effs, s.timedEvents(at)...)
	if !s.queueShort(s.Config.TalkQueueMax) {
		return effs
	}
	// Start the round at a different place each minute: when the engine
	// is the bottleneck, no place should always be first to talk.
	n := len(x.byLoc)
	for j := range n {
		li := (int(s.Clock%int64(n)) + j) % n
		here := x.byLoc[li]
		if len(here) < 2 || !s.permille(s.Config.ConversationPermille) {
			continue
		}
		idle := 0
		for _, i := range here {
			if s.idle(i) {
				idle++
			}
		}
		if idle < 2 {
			continue
		}
		p := s.intn(idle)
		q := s.intn(idle - 1)
		if q >= p {
			q++
		}
		var pair [2]int
		n := 0
		for _, i := range here {
			if s.idle(i) {
				if n == p {
					pair[0] = i
				}
				if n == q {
					pair[1] = i
				}
				n++
			}
		}
		effs = append(effs, s.startConversation(pair, s.World.Locations[li].ID)...)
		if !s.queueShort(s.Config.TalkQueueMax) {
			break
		}
	}
	return effs
}

func (s *State) idle(i int) bool {
	a := &s.Actors[i]
	return a.Conv == 0 && a.Pending == 0
}

// walk moves a resident: the place it leaves and the place it reaches
// both see it, and it remembers where it went and whom it found there.
func (s *State) walk(i int, to, activity string) []Effect {
	a := &s.Actors[i]
	if a.Conv != 0 {
		s.endConversation(a.Conv)
	}
	from := a.Location
	effs := s.depart(KindCharacter, a.Card.ID, a.Card.Name, from, to)
	s.moveActor(i, to)
	a.Activity = activity
	effs = append(effs, s.arrive(KindCharacter, a.Card.ID, a.Card.Name, to, from)...)
	var b strings.Builder
	b.WriteString("I went to ")
	b.WriteString(s.locName(to))
	if activity != "" {
		b.WriteString(" (" + activity + ")")
	}
	b.WriteString(".")
	first := false
	var names []string
	for _, j := range s.actorsAt(to) {
		if j != i {
			names = append(names, s.Actors[j].Card.Name)
		}
	}
	for _, p := range s.playersAt(to) {
		names = append(names, p.Name)
		first = meet(a, p.ID) || first
	}
	const list = 6
	if len(names) > list {
		names = append(names[:list], "others")
	}
	switch len(names) {
	case 0:
	case 1:
		b.WriteString(" " + names[0] + " was there.")
	default:
		b.WriteString(" " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " were there.")
	}
	_, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: b.String(), LocationID: to,
		Importance: guessImportance(1, "", "", first)})
	return append(effs, e)
}

func (s *State) conversation(id int64) *Conversation {
	for k := range s.Convos {
		if s.Convos[k].ID == id {
			return &s.Convos[k]
		}
	}
	return nil
}

func (s *State) startConversation(pair [2]int, loc string) []Effect {
	s.Next.Conv++
	c := Conversation{ID: s.Next.Conv, Members: pair, Location: loc, MaxTurns: s.Config.ConversationTurns}
	s.Convos = append(s.Convos, c)
	s.Actors[pair[0]].Conv, s.Actors[pair[1]].Conv = c.ID, c.ID
	s.Stats.Conversations++
	return s.queueTurn(&s.Convos[len(s.Convos)-1], "")
}

// queueTurn asks the next speaker for a line; when the engine is too busy
// the conversation simply ends (autonomous talk never waits in line).
func (s *State) queueTurn(c *Conversation, last string) []Effect {
	speaker := c.Members[c.Turns%2]
	other := s.Actors[c.Members[(c.Turns+1)%2]].Card.Name
	if !s.queueShort(s.Config.TalkQueueMax) {
		s.Stats.DroppedTalk++
		s.endConversation(c.ID)
		return nil
	}
	w := s.newWork(WorkTalk, PriorityTalk, speaker)
	w.Audience = Audience{LocationID: c.Location}
	w.Conv, w.Query = c.ID, strings.TrimSpace(other+" "+last)
	_, effs := s.enqueue(w)
	return effs
}

func (s *State) nextTurn(id int64, line Line) []Effect {
	c := s.conversation(id)
	if c == nil {
		return nil
	}
	c.Turns++
	if c.Turns >= c.MaxTurns {
		s.endConversation(id)
		return nil
	}
	return s.queueTurn(c, line.Text)
}

func (s *State) endConversation(id int64) {
	for k := range s.Convos {
		if c := s.Convos[k]; c.ID == id {
			for _, i := range c.Members {
				if s.Actors[i].Conv == id {
					s.Actors[i].Conv = 0
				}
			}
			s.Convos = append(s.Convos[:k], s.Convos[k+1:]...)
			return
		}
	}
}
