package world

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

const (
	replayLog     = "testdata/replay/session.jsonl"
	replaySummary = "testdata/replay/session.summary"
	replaySeed    = 2026
)

// recordSession plays a scripted day in the lane with a canned engine and
// returns every input, engine results included, in the order stepped.
func recordSession(t *testing.T) []Input {
	def, chars := lane()
	s, err := New(Config{}, def, chars, replaySeed)
	if err != nil {
		t.Fatal(err)
	}
	var log []Input
	e := &autoEngine{say: variedText}
	step := func(in Input) []Effect {
		log = append(log, in)
		effs := s.Step(in)
		checkInvariants(t, &s)
		e.collect(effs)
		return effs
	}
	step(PlayerJoined{PlayerID: "p1", Name: "Ada", LocationID: "square"})
	step(PlayerJoined{PlayerID: "p2", Name: "Ben", LocationID: "cafe"})
	for hour := 0; hour < 24; hour++ {
		for q := 0; q < 4; q++ {
			step(Tick{SimMinutes: 15})
			// The engine keeps up with some of the work each quarter hour.
			e.drain(step, 3)
		}
		switch hour {
		case 7:
			step(PlayerSaid{MessageID: "m1", PlayerID: "p1", Text: "Good morning, Mira! Any bread today?"})
		case 8:
			step(PlayerMoved{PlayerID: "p1", LocationID: "cafe"})
			step(PlayerSaid{MessageID: "m2", PlayerID: "p1", Text: "Mira, the bread smells wonderful."})
			step(PrivateSaid{MessageID: "m3", PlayerID: "p2", CharacterID: "mira", Text: "Mira, I lost my ring by the river."})
		case 10:
			step(PlayerSaid{MessageID: "m5", PlayerID: "p1", Text: "What a lovely warm morning for bread and gossip."})
			step(PlayerSaid{MessageID: "m6", PlayerID: "p2", Text: "Has anyone seen old maps of the river?"})
		case 12:
			step(PlayerSaid{MessageID: "m4", PlayerID: "p1", Text: "Chen, will you paint the fountain?", AddressedTo: "chen"})
			step(PlayerMoved{PlayerID: "p2", LocationID: "library"})
			step(PlayerSaid{MessageID: "m7", PlayerID: "p2", Text: "I am looking for a book about storms at sea."})
			step(PlayerSaid{MessageID: "m2", PlayerID: "p1", Text: "Mira, the bread smells wonderful."}) // redelivered
		case 15:
			step(PlayerLeft{PlayerID: "p2"})
		case 18:
			step(Generated{WorkID: "w999999", Text: "stray result"})
		}
	}
	e.drain(step, 1000)
	return log
}

// variedText gives the canned engine some range: lines that name others,
// that touch the characters' interests, and plain ones.
func variedText(g Generate) string {
	n := 0
	fmt.Sscanf(g.WorkID, "w%d", &n)
	if g.Kind != WorkReply && g.Kind != WorkTalk && g.Kind != WorkPrivate {
		return cannedText(g)
	}
	switch n % 5 {
	case 0:
		return "Bob, have you read the new maps of the river?"
	case 1:
		return "The bread this morning was the best in the lane!"
	case 2:
		return "Mira said a storm is coming over the sea."
	case 3:
		return "小陈说今天的茶很好喝。"
	}
	return "Line " + g.WorkID + " from " + g.CharacterID + "."
}

// effectsHash hashes the JSON of every effect a replay emits, prompts
// included, so a change in what Step asks of the world shows.
func effectsHash(t *testing.T, s *State, log []Input) string {
	h := sha256.New()
	for _, in := range log {
		for _, e := range s.Step(in) {
			if g, ok := e.(Generate); ok {
				for _, m := range g.Request.Messages {
					if strings.Contains(m.Content, "SECRET-CREATOR-NOTE") {
						t.Fatalf("creator_notes reached the prompt of %s", g.WorkID)
					}
				}
			}
			data, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(h, "%T %s\n", e, data)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func writeLog(t *testing.T, path string, log []Input) {
	var b bytes.Buffer
	for _, in := range log {
		line, err := EncodeInput(in)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLog(t *testing.T, path string) []Input {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var log []Input
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, MaxInputBytes), MaxInputBytes)
	for n := 1; sc.Scan(); n++ {
		in, err := DecodeInput(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		log = append(log, in)
	}
	return log
}

// TestReplay replays the recorded log twice: both runs must reach the same
// state, and its summary must match the one stored when the log was made.
// A change to Step's behaviour changes the summary (or leaves recorded
// engine results unmatched) and fails here; rerun with -rewrite after
// reviewing the difference.
func TestReplay(t *testing.T) {
	if *rewrite {
		writeLog(t, replayLog, recordSession(t))
	}
	log := readLog(t, replayLog)
	def, chars := lane()
	a, err := Replay(Config{}, def, chars, replaySeed, log)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Replay(Config{}, def, chars, replaySeed, log)
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(&a)
	jb, _ := json.Marshal(&b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("two replays of the same log differ")
	}
	fresh, _ := New(Config{}, def, chars, replaySeed)
	got := a.Summary() + "effects " + effectsHash(t, &fresh, log) + "\n"
	if *rewrite {
		if err := os.WriteFile(replaySummary, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(replaySummary)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("replay summary changed:\n got:\n%s\nwant:\n%s", got, want)
	}
	// The recording must still line up with what Step asks for: every
	// engine result in the log answers work that was running.
	s, _ := New(Config{}, def, chars, replaySeed)
	unmatched := 0
	for _, in := range log {
		if g, ok := in.(Generated); ok {
			running := false
			for _, w := range s.Flight {
				running = running || w.ID == g.WorkID
			}
			if !running {
				unmatched++
			}
		}
		s.Step(in)
	}
	if unmatched != 1 { // the one stray result the script sends on purpose
		t.Fatalf("%d recorded engine results answer no running work", unmatched)
	}
}

// TestSnapshotResume cuts the log in two at every tenth input, snapshots
// through JSON, and checks the resumed world ends exactly like the
// uninterrupted one, effects included.
func TestSnapshotResume(t *testing.T) {
	log := readLog(t, replayLog)
	def, chars := lane()
	whole, _ := New(Config{}, def, chars, replaySeed)
	var wholeEffs []string
	for _, in := range log {
		wholeEffs = append(wholeEffs, fmtEffects(whole.Step(in)))
	}
	want, _ := json.Marshal(&whole)
	for cut := 0; cut < len(log); cut += len(log)/10 + 1 {
		s, _ := New(Config{}, def, chars, replaySeed)
		for _, in := range log[:cut] {
			s.Step(in)
		}
		snap, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var r State
		if err := json.Unmarshal(snap, &r); err != nil {
			t.Fatal(err)
		}
		for k, in := range log[cut:] {
			if got := fmtEffects(r.Step(in)); got != wholeEffs[cut+k] {
				t.Fatalf("cut %d, input %d: effects differ after resume:\n%s\nwant\n%s", cut, cut+k, got, wholeEffs[cut+k])
			}
		}
		got, _ := json.Marshal(&r)
		if !bytes.Equal(got, want) {
			t.Fatalf("cut %d: resumed state differs", cut)
		}
	}
}

func TestResumeRepeatsRunningWork(t *testing.T) {
	def, chars := lane()
	s, _ := New(Config{}, def, chars, 1)
	s.Step(PlayerJoined{PlayerID: "p", Name: "Ada", LocationID: "square"})
	effs := s.Step(PlayerSaid{MessageID: "m", PlayerID: "p", Text: "Mira?"})
	c, err := s.Clone()
	if err != nil {
		t.Fatal(err)
	}
	var started []string
	for _, e := range effs {
		if g, ok := e.(Generate); ok {
			started = append(started, fmt.Sprintf("%s %d", g.WorkID, len(g.Request.Messages)))
		}
	}
	var again []string
	for _, e := range c.Resume() {
		g := e.(Generate)
		again = append(again, fmt.Sprintf("%s %d", g.WorkID, len(g.Request.Messages)))
	}
	if len(started) == 0 || strings.Join(started, ",") != strings.Join(again, ",") {
		t.Fatalf("resume %v, started %v", again, started)
	}
}
