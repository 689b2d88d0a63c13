package world

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
)

// World events: happenings the creator scheduled in the definition
// (maopao.ScheduledEvent), at a time of the sim day, when someone arrives
// at a place, or when a keyword is said. An event is a line in the room of
// the place it happens at (so prompts there carry it), seen by the
// players there, remembered by the residents there, and answered by them
// as a player's line would be.

// KindEvent marks a line that is a world event rather than speech.
const KindEvent = "event"

// defaultEventCooldown keeps an event from happening again for an hour of
// sim time unless the creator says otherwise.
const defaultEventCooldown = 60

// mayHappen says whether an event is free to happen now.
func (s *State) mayHappen(ev *maopao.ScheduledEvent) bool {
	last, ok := s.Happened[ev.ID]
	if !ok {
		return true
	}
	if ev.Once {
		return false
	}
	cd := ev.CooldownMinutes
	if cd <= 0 {
		cd = defaultEventCooldown
	}
	return s.Clock-last >= int64(cd)
}

// timedEvents are those due at this minute of the sim day.
func (s *State) timedEvents(minute int) []Effect {
	var effs []Effect
	for k := range s.World.Events {
		ev := &s.World.Events[k]
		if ev.Trigger.AtMinute != nil && *ev.Trigger.AtMinute == minute && s.mayHappen(ev) {
			effs = append(effs, s.happen(*ev, "")...)
		}
	}
	return effs
}

// counts says whether someone (of kind, with id) is who the trigger
// waits for.
func counts(t maopao.EventTrigger, kind, id string) bool {
	switch t.Who {
	case "":
		return true
	case KindPlayer:
		return kind == KindPlayer
	}
	return kind == KindCharacter && id == t.Who
}

// arrivalEvents are those someone's arrival at loc sets off.
func (s *State) arrivalEvents(loc, kind, id string) []Effect {
	var effs []Effect
	for k := range s.World.Events {
		ev := &s.World.Events[k]
		if ev.Trigger.Arrival == loc && counts(ev.Trigger, kind, id) && s.mayHappen(ev) {
			effs = append(effs, s.happen(*ev, loc)...)
		}
	}
	return effs
}

// keywordEvents are those a line said at loc sets off.
func (s *State) keywordEvents(loc string, line Line) []Effect {
	text := line.Text
	var effs []Effect
	low := strings.ToLower(text)
	for k := range s.World.Events {
		ev := &s.World.Events[k]
		kw := strings.ToLower(strings.TrimSpace(ev.Trigger.Keyword))
		if kw == "" || (ev.LocationID != "" && ev.LocationID != loc) || !strings.Contains(low, kw) || !counts(ev.Trigger, line.FromKind, line.From) || !s.mayHappen(ev) {
			continue
		}
		effs = append(effs, s.happen(*ev, loc)...)
	}
	return effs
}

// happen makes an event happen at its place, or at "at" when it names
// none (an arrival or a keyword), or everywhere.
func (s *State) happen(ev maopao.ScheduledEvent, at string) []Effect {
	if s.Happened == nil {
		s.Happened = map[string]int64{}
	}
	s.Happened[ev.ID] = s.Clock
	var locs []string
	switch {
	case ev.LocationID != "":
		locs = []string{ev.LocationID}
	case at != "":
		locs = []string{at}
	default:
		for _, l := range s.World.Locations {
			locs = append(locs, l.ID)
		}
	}
	var effs []Effect
	for _, loc := range locs {
		r := s.room(loc)
		if r == nil {
			continue
		}
		line := Line{ID: s.eventLineID(ev.ID, loc), From: ev.ID, FromKind: KindEvent, Text: ev.Text, SimMinute: s.Clock}
		r.Lines = appendLine(r.Lines, line, s.Config.TranscriptCap)
		effs = append(effs, Broadcast{loc, Event{Kind: EventHappened, ID: line.ID, From: ev.ID, FromKind: KindEvent, LocationID: loc, Text: ev.Text, SimMinute: s.Clock}})
		var heard []string
		for _, i := range s.actorsAt(loc) {
			id, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: ev.Text, LocationID: loc, Importance: guessImportance(3, ev.Text, "", false)})
			heard = append(heard, id)
			effs = append(effs, e)
		}
		for _, i := range s.responders(loc, ev.Text, -1, -1, 0) {
			w := s.newWork(WorkReply, PriorityReply, i)
			w.Audience = Audience{LocationID: loc}
			w.ReplyTo, w.Chain, w.Query = line.ID, 1, ev.Text
			_, e := s.enqueue(w)
			effs = append(effs, e...)
		}
		effs = append(effs, s.askRating(ev.Text, heard)...)
	}
	return effs
}

// eventLineID is a function of the world, the event, the minute and the
// place: a replay makes the same line, and one event makes one line per
// place and minute.
func (s *State) eventLineID(eventID, loc string) string {
	return uuid.NewSHA1(lineNamespace, []byte(s.World.ID+"/event/"+eventID+"/"+strconv.FormatInt(s.Clock, 10)+"/"+loc)).String()
}

// validateEvents checks a definition's events against its places.
func validateEvents(def maopao.World, locs map[string]bool) error {
	residents := map[string]bool{}
	for _, r := range def.Residents {
		residents[r.CharacterID] = true
	}
	ids := map[string]bool{}
	for i, ev := range def.Events {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("world %q: event %d: %s: %w", def.ID, i, fmt.Sprintf(format, args...), maopao.ErrInvalid)
		}
		switch {
		case strings.TrimSpace(ev.ID) == "":
			return bad("empty id")
		case ids[ev.ID]:
			return bad("duplicate id %q", ev.ID)
		case strings.TrimSpace(ev.Text) == "":
			return bad("no text")
		case ev.LocationID != "" && !locs[ev.LocationID]:
			return bad("unknown location %q", ev.LocationID)
		}
		ids[ev.ID] = true
		set := 0
		if t := ev.Trigger.AtMinute; t != nil {
			set++
			if *t < 0 || *t > 1439 {
				return bad("at_minute %d outside 0..1439", *t)
			}
		}
		if ev.Trigger.Arrival != "" {
			set++
			if !locs[ev.Trigger.Arrival] {
				return bad("arrival at unknown location %q", ev.Trigger.Arrival)
			}
		}
		if strings.TrimSpace(ev.Trigger.Keyword) != "" {
			set++
		}
		if set != 1 {
			return bad("%d triggers; want exactly one of at_minute, arrival, keyword", set)
		}
		if w := ev.Trigger.Who; w != "" && w != KindPlayer && !residents[w] {
			return bad("who %q: want \"player\", a resident's character id, or nothing", w)
		}
	}
	return nil
}
