package world

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The memory manager in worlds: a player sees what the residents remember
// about them (memories whose About or PrivateTo is the player), and pins,
// rewrites or forgets them. A change is an input like any other, so the
// state and every replay agree; the runner mirrors it in the store
// (MemoryAdded, MemoryRemoved).

// MemoryChanged: a player changed a memory a resident has of them.
type MemoryChanged struct {
	PlayerID string  `json:"player_id"`
	MemoryID string  `json:"memory_id"`
	Forget   bool    `json:"forget,omitempty"`
	Pinned   *bool   `json:"pinned,omitempty"`
	Text     *string `json:"text,omitempty"`
}

// MemoryRemoved deletes a stored memory record (a player forgot it).
type MemoryRemoved struct {
	CharacterID string `json:"character_id"`
	ID          string `json:"id"`
}

func (MemoryRemoved) isEffect() {}

// maxPinned bounds the pinned memories a prompt carries for one player.
const maxPinned = 3

// CheckMemoryChange says why a change cannot apply, or nil: the memory must
// be one of the player's, in the state, and a new text one line of speech.
func (s *State) CheckMemoryChange(in MemoryChanged) error {
	_, m := s.findMemory(in.MemoryID)
	switch {
	case m == nil:
		return fmt.Errorf("memory %q is not held by world %q", in.MemoryID, s.World.ID)
	case m.About != in.PlayerID && m.PrivateTo != in.PlayerID:
		return fmt.Errorf("memory %q is not about player %q", in.MemoryID, in.PlayerID)
	case in.Text != nil && (strings.TrimSpace(*in.Text) == "" || utf8.RuneCountInString(*in.Text) > MaxTextRunes || !utf8.ValidString(*in.Text)):
		return fmt.Errorf("memory %q: text must be 1 to %d characters", in.MemoryID, MaxTextRunes)
	}
	return nil
}

func (s *State) memoryChanged(in MemoryChanged) []Effect {
	if s.CheckMemoryChange(in) != nil {
		return nil
	}
	i, m := s.findMemory(in.MemoryID)
	a := &s.Actors[i]
	if in.Forget {
		seq := m.Seq
		drop := func(l []Memory) []Memory {
			for k := range l {
				if l[k].Seq == seq {
					return append(l[:k:k], l[k+1:]...)
				}
			}
			return l
		}
		if m.Line != "" {
			a.Unheard = s.stillSaid(append(a.Unheard, m.Line))
		}
		a.Stream, a.Insights = drop(a.Stream), drop(a.Insights)
		return []Effect{MemoryRemoved{CharacterID: a.Card.ID, ID: in.MemoryID}}
	}
	if in.Pinned != nil {
		m.Pinned = *in.Pinned
	}
	if in.Text != nil {
		m.Text = strings.TrimSpace(*in.Text)
	}
	return []Effect{MemoryAdded{s.record(a, m)}}
}

// stillSaid keeps the line IDs that are still among some room's or
// thread's recent lines: the others no prompt can reach any more, which
// keeps an actor's Unheard as short as the transcripts.
func (s *State) stillSaid(ids []string) []string {
	keep := ids[:0]
	for _, id := range ids {
		found := false
		has := func(lines []Line) bool {
			return slices.ContainsFunc(lines, func(l Line) bool { return l.ID == id })
		}
		for k := 0; k < len(s.Rooms) && !found; k++ {
			found = has(s.Rooms[k].Lines)
		}
		for k := 0; k < len(s.Thread) && !found; k++ {
			found = has(s.Thread[k].Lines)
		}
		if found && !slices.Contains(keep, id) {
			keep = append(keep, id)
		}
	}
	return keep
}

// heardLines drops from a transcript the lines actor i no longer knows of.
func (s *State) heardLines(i int, lines []Line) []Line {
	unheard := s.Actors[i].Unheard
	if len(unheard) == 0 {
		return lines
	}
	out := make([]Line, 0, len(lines))
	for _, l := range lines {
		if !slices.Contains(unheard, l.ID) {
			out = append(out, l)
		}
	}
	return out
}

// pinnedFor lists actor i's pinned memories about the players a prompt is
// for: the player of a private talk, or those at the place it is said.
func (s *State) pinnedFor(i int, aud Audience) []*Memory {
	who := map[string]bool{}
	if aud.PlayerID != "" {
		who[aud.PlayerID] = true
	} else if aud.LocationID != "" {
		for _, p := range s.playersAt(aud.LocationID) {
			who[p.ID] = true
		}
	}
	var out []*Memory
	a := &s.Actors[i]
	for _, l := range [][]Memory{a.Stream, a.Insights} {
		for k := len(l) - 1; k >= 0 && len(out) < maxPinned*max(len(who), 1); k-- {
			if m := &l[k]; m.Pinned && who[m.About] && visible(m, aud) {
				out = append(out, m)
			}
		}
	}
	return out
}
