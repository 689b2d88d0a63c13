package world

import (
	"sort"
	"strconv"

	"github.com/google/uuid"
)

// Work is one engine call the world wants, queued or running.
type Work struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Priority int      `json:"priority"`
	Seq      int64    `json:"seq"`   // arrival order, breaks priority ties
	Actor    int      `json:"actor"` // speaking (or reflecting) actor; -1 for ratings
	Audience Audience `json:"audience"`
	ReplyTo  string   `json:"reply_to,omitempty"` // the line answered
	Chain    int      `json:"chain,omitempty"`    // 1 answers a player, n+1 answers a chain-n character line
	Conv     int64    `json:"conv,omitempty"`
	Query    string   `json:"query,omitempty"`    // what memories are retrieved against
	Targets  []string `json:"targets,omitempty"`  // rate: memories the score applies to
	Evidence []string `json:"evidence,omitempty"` // reflect: the numbered memories, set when it starts
	Pictures []string `json:"pictures,omitempty"` // caption: the pictures to describe
	Covered  int      `json:"covered,omitempty"`  // reflect: importance the reflection accounts for
	// Started is the Generate effect, kept while the work runs so that
	// Resume can repeat it after a restart without rebuilding the prompt.
	Started *Generate `json:"started,omitempty"`
}

var lineNamespace = uuid.MustParse("3b0f6c1e-9a57-4f0e-8d2c-7e41a5b6c9d2")

// lineID is the ID of the line a work produces: a function of the world
// and the work, so a replay or a retried store can only make one line.
func (s *State) lineID(w *Work) string {
	return uuid.NewSHA1(lineNamespace, []byte(s.World.ID+"/"+w.ID)).String()
}

func (s *State) newWork(kind string, prio, actor int) Work {
	s.Next.Work++
	return Work{ID: "w" + strconv.FormatInt(s.Next.Work, 10), Kind: kind, Priority: prio, Seq: s.Next.Work, Actor: actor}
}

// enqueue adds work in priority order. The queue is bounded: when full, the
// newcomer displaces the least urgent queued work if it is more urgent,
// and is dropped otherwise. It reports whether w was queued.
func (s *State) enqueue(w Work) (bool, []Effect) {
	var effs []Effect
	if len(s.Queue) >= s.Config.MaxQueue {
		worst := s.Queue[len(s.Queue)-1]
		if w.Priority >= worst.Priority {
			return false, s.drop(&w)
		}
		s.Queue = s.Queue[:len(s.Queue)-1]
		s.release(&worst)
		effs = s.drop(&worst)
	}
	k := sort.Search(len(s.Queue), func(i int) bool {
		q := &s.Queue[i]
		return q.Priority > w.Priority || (q.Priority == w.Priority && q.Seq > w.Seq)
	})
	s.Queue = append(s.Queue, Work{})
	copy(s.Queue[k+1:], s.Queue[k:])
	s.Queue[k] = w
	if w.Actor >= 0 && w.Kind != WorkReflect {
		s.Actors[w.Actor].Pending++
	}
	return true, effs
}

// release undoes what queuing did for an actor.
func (s *State) release(w *Work) {
	if w.Actor >= 0 && w.Kind != WorkReflect {
		s.Actors[w.Actor].Pending--
	}
}

// drop gives up work that was never started (or is no longer wanted) and
// tells whoever waited for it. w must no longer be in the queue.
func (s *State) drop(w *Work) []Effect {
	switch w.Kind {
	case WorkReply:
		s.Stats.DroppedReplies++
		return []Effect{Broadcast{w.Audience.LocationID, s.errorEvent(w, CodeBusy, "too much is being said here; "+s.Actors[w.Actor].Card.Name+" stays quiet")}}
	case WorkPrivate:
		s.Stats.DroppedReplies++
		return []Effect{SendPrivate{w.Audience.PlayerID, s.errorEvent(w, CodeBusy, s.Actors[w.Actor].Card.Name+" is busy; try again in a moment")}}
	case WorkTalk:
		s.Stats.DroppedTalk++
		s.endConversation(w.Conv)
	case WorkReflect:
		// Try again when the engine has room.
		s.Actors[w.Actor].Reflect = false
		if !s.isDue(w.Actor) {
			s.Due = append(s.Due, w.Actor)
		}
	}
	return nil
}

func (s *State) errorEvent(w *Work, code, text string) Event {
	ev := Event{Kind: EventError, ReplyTo: w.ReplyTo, Code: code, Text: text, SimMinute: s.Clock, LocationID: w.Audience.LocationID}
	if w.Actor >= 0 {
		a := &s.Actors[w.Actor]
		ev.From, ev.FromName, ev.FromKind = a.Card.ID, a.Card.Name, KindCharacter
	}
	return ev
}

// dispatch starts queued work while the engine has free slots, most
// urgent first. Work whose moment has passed (the speaker walked away, the
// conversation ended) is let go without an engine call.
func (s *State) dispatch() []Effect {
	var effs []Effect
	for len(s.Flight) < s.Config.MaxInFlight {
		k := s.nextToStart()
		if k < 0 {
			break
		}
		w := s.Queue[k]
		copy(s.Queue[k:], s.Queue[k+1:])
		s.Queue[len(s.Queue)-1] = Work{}
		s.Queue = s.Queue[:len(s.Queue)-1]
		if !s.stillWanted(&w) {
			s.release(&w)
			if w.Kind == WorkTalk {
				s.endConversation(w.Conv)
			}
			continue
		}
		g := Generate{WorkID: w.ID, Kind: w.Kind, Priority: w.Priority, Audience: w.Audience, ReplyTo: w.ReplyTo}
		if w.Actor >= 0 {
			g.CharacterID, g.CharacterName = s.Actors[w.Actor].Card.ID, s.Actors[w.Actor].Card.Name
		}
		switch w.Kind {
		case WorkReply, WorkTalk, WorkPrivate:
			g.LineID = s.lineID(&w)
			g.Request = s.replyRequest(&w)
		case WorkRate:
			g.Request = s.rateRequest(&w)
		case WorkReflect:
			g.Request = s.reflectRequest(&w)
		case WorkCaption:
			g.Request = s.captionRequest(&w)
		}
		w.Started = &g
		s.Flight = append(s.Flight, w)
		effs = append(effs, g)
		a := s.actorOrNil(w.Actor)
		switch {
		case a != nil && w.Audience.LocationID != "":
			effs = append(effs, Broadcast{w.Audience.LocationID, Event{Kind: EventSpeaking, ID: g.LineID, ReplyTo: w.ReplyTo,
				From: a.Card.ID, FromName: a.Card.Name, FromKind: KindCharacter, LocationID: w.Audience.LocationID, SimMinute: s.Clock}})
		case a != nil && w.Audience.PlayerID != "":
			effs = append(effs, SendPrivate{w.Audience.PlayerID, Event{Kind: EventSpeaking, ID: g.LineID, ReplyTo: w.ReplyTo,
				From: a.Card.ID, FromName: a.Card.Name, FromKind: KindCharacter, SimMinute: s.Clock}})
		}
	}
	return effs
}

func speech(kind string) bool {
	return kind == WorkReply || kind == WorkTalk || kind == WorkPrivate
}

// nextToStart picks the most urgent queued work that may start now, or -1.
// A character speaks one line at a time (its next line should see its
// last), so speech by a character already speaking waits; and one engine
// slot is kept for speech, so a player never waits behind ratings and
// reflections.
func (s *State) nextToStart() int {
	for k := range s.Queue {
		w := &s.Queue[k]
		if w.Priority == PriorityIdle && s.Config.MaxInFlight > 1 && len(s.Flight) >= s.Config.MaxInFlight-1 {
			return -1 // the rest of the queue is idle work too
		}
		if speech(w.Kind) && s.speaking(w.Actor) {
			continue
		}
		return k
	}
	return -1
}

func (s *State) speaking(actor int) bool {
	for k := range s.Flight {
		if s.Flight[k].Actor == actor && speech(s.Flight[k].Kind) {
			return true
		}
	}
	return false
}

func (s *State) actorOrNil(i int) *Actor {
	if i < 0 || i >= len(s.Actors) {
		return nil
	}
	return &s.Actors[i]
}

func (s *State) stillWanted(w *Work) bool {
	switch w.Kind {
	case WorkReply:
		return s.Actors[w.Actor].Location == w.Audience.LocationID
	case WorkTalk:
		c := s.conversation(w.Conv)
		return c != nil && s.Actors[w.Actor].Location == c.Location
	case WorkPrivate:
		_, ok := s.player(w.Audience.PlayerID)
		return ok && !s.Actors[w.Actor].Gone
	}
	return true
}

func (s *State) running(id, kind string) bool {
	for k := range s.Flight {
		if s.Flight[k].ID == id {
			return s.Flight[k].Kind == kind
		}
	}
	return false
}

// finish takes work out of flight; nil when it is not running (a
// redelivered or unknown result).
func (s *State) finish(id string) *Work {
	for k := range s.Flight {
		if s.Flight[k].ID == id {
			w := s.Flight[k]
			s.Flight = append(s.Flight[:k], s.Flight[k+1:]...)
			s.release(&w)
			return &w
		}
	}
	return nil
}

// queueShort says whether optional work of the given kind may be added.
func (s *State) queueShort(limit int) bool {
	return len(s.Queue) < limit
}

// Resume repeats the Generate effects of the work that was running when
// this state was saved: after a restart from a snapshot those engine calls
// are lost and must be made again. It does not change the state.
func (s *State) Resume() []Effect {
	var effs []Effect
	for k := range s.Flight {
		if g := s.Flight[k].Started; g != nil {
			effs = append(effs, *g)
		}
	}
	return effs
}
