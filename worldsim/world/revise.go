package world

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/maopao/maopao"
)

// WorldRevised: the creator published a new revision of the world's
// definition, to apply to the running world. It carries the cards of the
// residents the state has no actor for yet, so that a replay needs nothing
// but the log.
type WorldRevised struct {
	World maopao.World       `json:"world"`
	Cards []maopao.Character `json:"cards,omitempty"`
}

// CardsStaged: cards for the next revision, logged ahead of it when they
// are too many for one log entry with the definition.
type CardsStaged struct {
	Cards []maopao.Character `json:"cards"`
}

// stage keeps cards for the next revision (a later card with the same ID
// replaces an earlier one).
func (s *State) stage(in CardsStaged) []Effect {
	for _, c := range in.Cards {
		c.Avatar, c.AvatarType, c.Assets = nil, "", nil
		if k := slices.IndexFunc(s.Staged, func(x maopao.Character) bool { return x.ID == c.ID }); k >= 0 {
			s.Staged[k] = c
		} else {
			s.Staged = append(s.Staged, c)
		}
	}
	return nil
}

// CardsUpdated: residents' cards were edited by their creators; the
// residents go on with the new cards (name, description, lorebook…) and
// keep their memories, place and routine.
type CardsUpdated struct {
	Cards []maopao.Character `json:"cards"`
}

func (s *State) cardsUpdated(in CardsUpdated) []Effect {
	for _, c := range in.Cards {
		i, ok := s.actorByID(c.ID)
		if !ok || c.Revision <= s.Actors[i].Card.Revision {
			continue // not a resident, or not newer: a redelivery
		}
		c.Avatar, c.AvatarType, c.Assets = nil, "", nil
		s.Actors[i].Card = c
	}
	return nil
}

// StaleCards lists the residents whose cards in cards are newer than the
// ones the world holds.
func (s *State) StaleCards(cards []maopao.Character) []maopao.Character {
	var out []maopao.Character
	for _, c := range cards {
		if i, ok := s.actorByID(c.ID); ok && c.Revision > s.Actors[i].Card.Revision {
			out = append(out, c)
		}
	}
	return out
}

// NewResidents lists the residents of def the state has never had: the
// cards a WorldRevised for def must carry.
func (s *State) NewResidents(def maopao.World) []string {
	var ids []string
	for _, r := range def.Residents {
		if _, ok := s.actorByID(r.CharacterID); !ok {
			ids = append(ids, r.CharacterID)
		}
	}
	return ids
}

// CheckRevision says why rev cannot apply to the world, or nil: it must be
// a later revision of this world, valid, with a card for every resident
// the state has never had.
func (s *State) CheckRevision(rev WorldRevised) error {
	if rev.World.ID != s.World.ID {
		return fmt.Errorf("world %q: revision of another world %q: %w", s.World.ID, rev.World.ID, maopao.ErrInvalid)
	}
	if rev.World.Revision <= s.World.Revision {
		return fmt.Errorf("world %q: revision %d is not after %d: %w", s.World.ID, rev.World.Revision, s.World.Revision, maopao.ErrConflict)
	}
	if err := validate(rev.World); err != nil {
		return err
	}
	cards := cardsByID(append(slices.Clone(s.Staged), rev.Cards...))
	for _, id := range s.NewResidents(rev.World) {
		if _, ok := cards[id]; !ok {
			return fmt.Errorf("world %q: revision %d: no character card for new resident %q: %w", s.World.ID, rev.World.Revision, id, maopao.ErrInvalid)
		}
	}
	return nil
}

func cardsByID(chars []maopao.Character) map[string]maopao.Character {
	m := make(map[string]maopao.Character, len(chars))
	for _, c := range chars {
		m[c.ID] = c
	}
	return m
}

// newActor makes a resident's actor at its start: where its routine puts
// it at the given minute of the day, or its start location.
func newActor(card maopao.Character, r maopao.Resident, minute int) Actor {
	card.Avatar, card.AvatarType, card.Assets = nil, "", nil
	a := Actor{Card: card}
	a.setResident(r)
	a.Location, a.Activity = a.placeAt(r.LocationID, minute)
	return a
}

// setResident takes the resident's settings: talkativeness and routine.
func (a *Actor) setResident(r maopao.Resident) {
	a.Talk = r.Talkativeness
	if a.Talk <= 0 || a.Talk > 1 {
		a.Talk = 0.5
	}
	a.Routine = append([]RoutineStep(nil), r.Routine...)
	sort.SliceStable(a.Routine, func(x, y int) bool { return a.Routine[x].AtMinute < a.Routine[y].AtMinute })
}

// placeAt is where the routine has the actor at a minute of the day: the
// latest step at or before it (the day's last step before the first),
// or start when it has no routine. A fresh world starts at midnight,
// where only a step at minute 0 counts, so it passes minute -1.
func (a *Actor) placeAt(start string, minute int) (loc, activity string) {
	if len(a.Routine) == 0 {
		return start, ""
	}
	if minute < 0 {
		if a.Routine[0].AtMinute == 0 {
			return a.Routine[0].LocationID, a.Routine[0].Activity
		}
		return start, ""
	}
	step := a.Routine[len(a.Routine)-1]
	for _, st := range a.Routine {
		if st.AtMinute <= minute {
			step = st
		}
	}
	return step.LocationID, step.Activity
}

// revise applies a new revision of the definition. Places keep their talk
// when they stay; residents keep their memories, place and conversation
// unless their place is gone; residents taken out leave (and come back
// with their memories if a later revision returns them); players on a
// removed place find themselves on the world's first place. Every player
// is told the world changed, and residents remember new and lost places.
func (s *State) revise(in WorldRevised) []Effect {
	if s.CheckRevision(in) != nil {
		return nil // the runner checks before logging; a bad entry changes nothing
	}
	def := in.World
	had := map[string]string{} // old place ID → name
	for _, l := range s.World.Locations {
		had[l.ID] = l.Name
	}
	has := map[string]bool{}
	var rooms []Room
	var added []string
	for _, l := range def.Locations {
		has[l.ID] = true
		if r := s.room(l.ID); r != nil {
			rooms = append(rooms, *r)
			continue
		}
		rooms = append(rooms, Room{LocationID: l.ID})
		added = append(added, l.Name)
	}
	var removed []string
	for _, l := range s.World.Locations {
		if !has[l.ID] {
			removed = append(removed, l.Name)
		}
	}
	s.World = def
	s.World.Residents = nil // they live on as Actors
	s.Rooms = rooms
	minute := int(s.Clock % 1440)

	type move struct {
		actor    int
		from, to string
	}
	var arrivals, departures []move
	residents := make(map[string]maopao.Resident, len(def.Residents))
	for _, r := range def.Residents {
		residents[r.CharacterID] = r
	}
	known := map[string]bool{}
	for i := range s.Actors {
		a := &s.Actors[i]
		known[a.Card.ID] = true
		r, stays := residents[a.Card.ID]
		switch {
		case !stays && !a.Gone:
			if a.Conv != 0 {
				s.endConversation(a.Conv)
			}
			departures = append(departures, move{i, a.Location, ""})
			a.Gone, a.Location, a.Activity = true, "", ""
		case !stays:
		case a.Gone || !has[a.Location]:
			a.setResident(r)
			if a.Conv != 0 {
				s.endConversation(a.Conv)
			}
			from := a.Location
			a.Gone = false
			a.Location, a.Activity = a.placeAt(r.LocationID, minute)
			arrivals = append(arrivals, move{i, from, a.Location})
		default:
			a.setResident(r) // it goes on where it is until its routine moves it
		}
	}
	cards := cardsByID(append(s.Staged, in.Cards...))
	s.Staged = nil
	for _, r := range def.Residents {
		if known[r.CharacterID] {
			continue
		}
		s.Actors = append(s.Actors, newActor(cards[r.CharacterID], r, minute))
		arrivals = append(arrivals, move{len(s.Actors) - 1, "", s.Actors[len(s.Actors)-1].Location})
	}
	var movedPlayers []int
	for k := range s.People {
		if !has[s.People[k].Location] {
			s.People[k].Location = def.Locations[0].ID
			movedPlayers = append(movedPlayers, k)
		}
	}
	s.idx = nil
	s.index()

	var effs []Effect
	var came, went []string
	for _, m := range departures {
		a := &s.Actors[m.actor]
		went = append(went, a.Card.Name)
		if has[m.from] {
			effs = append(effs, s.depart(KindCharacter, a.Card.ID, a.Card.Name, m.from, "")...)
		}
	}
	for _, m := range arrivals {
		a := &s.Actors[m.actor]
		if m.from == "" {
			came = append(came, a.Card.Name)
		}
		effs = append(effs, s.arrive(KindCharacter, a.Card.ID, a.Card.Name, m.to, "")...)
	}
	for _, k := range movedPlayers {
		p := s.People[k]
		effs = append(effs, s.arrive(KindPlayer, p.ID, p.Name, p.Location, "")...)
		effs = append(effs, SendPrivate{p.ID, Event{Kind: EventMoved, LocationID: p.Location, SimMinute: s.Clock,
			Text: "The place you were in is gone; you are at " + s.locName(p.Location) + " now."}})
	}
	news := changeNews(added, removed, came, went)
	for _, p := range s.People {
		effs = append(effs, SendPrivate{p.ID, Event{Kind: EventChanged, LocationID: p.Location, SimMinute: s.Clock, Text: news}})
	}
	if len(added) > 0 || len(removed) > 0 {
		places := changeNews(added, removed, nil, nil)
		for i := range s.Actors {
			if !s.Actors[i].Gone {
				_, e := s.remember(i, Memory{Kind: maopao.MemoryObservation, Text: places, LocationID: s.Actors[i].Location, Importance: 3})
				effs = append(effs, e)
			}
		}
	}
	return effs
}

// changeNews says in a sentence what a revision changed.
func changeNews(added, removed, came, went []string) string {
	var parts []string
	list := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	list("new places:", added)
	list("places gone:", removed)
	list("new here:", came)
	list("moved away:", went)
	if len(parts) == 0 {
		return "The world has changed."
	}
	return "The world has changed: " + strings.Join(parts, "; ") + "."
}
