package world

// Read-only views for the runner and the gateway (room frames, reconnects).
// They copy what they return and never touch the state, so calling them
// between Steps cannot change what a replay computes.

// Presence is who is at a location.
type Presence struct {
	LocationID string      `json:"location_id"`
	Characters []Character `json:"characters"`
	Players    []Player    `json:"players"`
}

// Character is a resident as others see it.
type Character struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Activity string `json:"activity,omitempty"`
	Talking  bool   `json:"talking,omitempty"` // in an autonomous conversation
}

// Present says who is at a location; ok is false for an unknown location.
func (s *State) Present(locationID string) (p Presence, ok bool) {
	if _, ok := s.location(locationID); !ok {
		return Presence{}, false
	}
	p.LocationID = locationID
	for _, i := range s.actorsAt(locationID) {
		a := &s.Actors[i]
		p.Characters = append(p.Characters, Character{ID: a.Card.ID, Name: a.Card.Name, Activity: a.Activity, Talking: a.Conv != 0})
	}
	p.Players = s.playersAt(locationID)
	return p, true
}

// Transcript is a copy of the recent lines said at a location.
func (s *State) Transcript(locationID string) []Line {
	r := s.room(locationID)
	if r == nil {
		return nil
	}
	return append([]Line(nil), r.Lines...)
}

// PrivateTranscript is a copy of the recent private lines between a player
// and a character.
func (s *State) PrivateTranscript(playerID, characterID string) []Line {
	t := s.thread(playerID, characterID)
	if t == nil {
		return nil
	}
	return append([]Line(nil), t.Lines...)
}

// WhereIs says where a character or a player is.
func (s *State) WhereIs(id string) (locationID string, ok bool) {
	if i, ok := s.actorByID(id); ok {
		return s.Actors[i].Location, true
	}
	if k, ok := s.player(id); ok {
		return s.People[k].Location, true
	}
	return "", false
}
