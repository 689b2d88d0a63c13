package world

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/maopao/maopao"
)

// Replay rebuilds a world from its definition, seed and input log. The
// effects are dropped: a replay recovers state, it does not redo I/O.
func Replay(cfg Config, def maopao.World, chars []maopao.Character, seed uint64, inputs []Input) (State, error) {
	s, err := New(cfg, def, chars, seed)
	if err != nil {
		return State{}, err
	}
	for _, in := range inputs {
		s.Step(in)
	}
	return s, nil
}

// Clone is a deep copy made through JSON, the same path a snapshot takes.
// A State must not be shared by value: copies share slices and indexes.
func (s *State) Clone() (State, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return State{}, fmt.Errorf("world: clone: %w", err)
	}
	var out State
	if err := json.Unmarshal(data, &out); err != nil {
		return State{}, fmt.Errorf("world: clone: %w", err)
	}
	return out, nil
}

// Summary describes the state in stable text: clock, PRNG word, where every
// resident is, memory counts, players, engine work and a hash of all talk.
// Two states that summarise alike behaved alike; tests keep expected
// summaries of recorded logs.
func (s *State) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clock %d (%s) rng %016x\n", s.Clock, TimeOfDay(s.Clock), s.Rng)
	for i := range s.Actors {
		a := &s.Actors[i]
		fmt.Fprintf(&b, "actor %s at %s (%s) mem %d refl %d imp %d conv %d pending %d\n",
			a.Card.ID, a.Location, a.Activity, len(a.Stream), len(a.Insights), a.ImpSum, a.Conv, a.Pending)
	}
	for _, p := range s.People {
		fmt.Fprintf(&b, "player %s %q at %s\n", p.ID, p.Name, p.Location)
	}
	var q, f []string
	for _, w := range s.Queue {
		q = append(q, w.ID+":"+w.Kind)
	}
	for _, w := range s.Flight {
		f = append(f, w.ID+":"+w.Kind)
	}
	fmt.Fprintf(&b, "queue [%s] flight [%s] convs %d due %v\n", strings.Join(q, " "), strings.Join(f, " "), len(s.Convos), s.Due)
	fmt.Fprintf(&b, "stats %+v\n", s.Stats)
	fmt.Fprintf(&b, "talk %s memories %s\n", s.TalkHash(), s.MemoryHash())
	return b.String()
}

// TalkHash hashes every room transcript and private thread, in order.
func (s *State) TalkHash() string {
	h := sha256.New()
	write := func(tag string, lines []Line) {
		fmt.Fprintf(h, "%s\x00%d\x00", tag, len(lines))
		for _, l := range lines {
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00%s\x00%s\x00", l.ID, l.From, l.FromKind, l.SimMinute, l.ReplyTo, l.Text)
		}
	}
	for _, r := range s.Rooms {
		write("room "+r.LocationID, r.Lines)
	}
	for _, t := range s.Thread {
		write("thread "+t.PlayerID+" "+t.CharacterID, t.Lines)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// MemoryHash hashes every memory stream: texts, importance, access times,
// privacy and evidence, in order.
func (s *State) MemoryHash() string {
	h := sha256.New()
	for i := range s.Actors {
		a := &s.Actors[i]
		fmt.Fprintf(h, "%s\x00%d\x00", a.Card.ID, a.NextMem)
		for _, l := range [][]Memory{a.Stream, a.Insights} {
			for _, m := range l {
				fmt.Fprintf(h, "%d\x00%s\x00%s\x00%d\x00%t\x00%d\x00%d\x00%s\x00%s\x00%s\x00", m.Seq, m.Kind, m.Text, m.Importance, m.Rated,
					m.SimMinute, m.LastAccess, m.LocationID, m.PrivateTo, strings.Join(m.Evidence, ","))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
