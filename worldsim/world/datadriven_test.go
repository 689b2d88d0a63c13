package world

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of datadriven and replay tests")

// A datadriven file is a list of cases: command lines, a "----" line, then
// the expected output up to a blank line. Lines starting with # are comments.
type ddCase struct {
	pos      string
	comments []string // the comment lines just before the case
	cmds     []string
	expected string
}

func readCases(t *testing.T, path string) []ddCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []ddCase
	var cur *ddCase
	inOut := false
	var out, comments []string
	header := true // the file's leading comments are kept by writeCases
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	flush := func() {
		if cur != nil {
			cur.expected = strings.Join(out, "\n")
			cases = append(cases, *cur)
		}
		cur, inOut, out = nil, false, nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case inOut && line == "":
			flush()
		case inOut:
			out = append(out, line)
		case strings.HasPrefix(line, "#"):
			if !header {
				comments = append(comments, line)
			}
		case line == "":
			header = false
		case line == "----":
			if cur == nil {
				t.Fatalf("%s:%d: ---- without a command", path, n)
			}
			inOut = true
		default:
			header = false
			if cur == nil {
				cur = &ddCase{pos: fmt.Sprintf("%s:%d", path, n), comments: comments}
				comments = nil
			}
			cur.cmds = append(cur.cmds, line)
		}
	}
	flush()
	return cases
}

func writeCases(t *testing.T, path string, cases []ddCase) {
	t.Helper()
	// Keep the leading comments of the file.
	old, _ := os.ReadFile(path)
	var b strings.Builder
	for _, l := range strings.Split(string(old), "\n") {
		if !strings.HasPrefix(l, "#") {
			break
		}
		b.WriteString(l + "\n")
	}
	for _, c := range cases {
		b.WriteString("\n")
		for _, l := range c.comments {
			b.WriteString(l + "\n")
		}
		for _, cmd := range c.cmds {
			b.WriteString(cmd + "\n")
		}
		b.WriteString("----\n")
		if c.expected != "" {
			b.WriteString(c.expected + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// args splits a command line into words, honouring Go-quoted strings.
func args(t *testing.T, line string) []string {
	t.Helper()
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		if line[0] == '"' {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				t.Fatalf("bad quoted string in %q: %v", line, err)
			}
			s, _ := strconv.Unquote(q)
			out = append(out, s)
			line = line[len(q):]
			continue
		}
		k := strings.IndexByte(line, ' ')
		if k < 0 {
			k = len(line)
		}
		out = append(out, line[:k])
		line = line[k:]
	}
	return out
}

type harness struct {
	t     *testing.T
	s     State
	reqs  map[string]Generate // the Generate effects seen, by work ID
	log   []Input
	auto  bool // answer every Generate with a canned line
	count int
}

func (h *harness) fresh(cfg Config, seed uint64) {
	def, chars := lane()
	s, err := New(cfg, def, chars, seed)
	if err != nil {
		h.t.Fatal(err)
	}
	h.s, h.reqs, h.log = s, map[string]Generate{}, nil
}

func (h *harness) step(in Input) []Effect {
	h.log = append(h.log, in)
	effs := h.s.Step(in)
	for _, e := range effs {
		if g, ok := e.(Generate); ok {
			h.reqs[g.WorkID] = g
		}
	}
	return effs
}

func kv(words []string) map[string]string {
	m := map[string]string{}
	for _, w := range words {
		if k := strings.IndexByte(w, '='); k > 0 {
			m[w[:k]] = w[k+1:]
		}
	}
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad number %q", s)
	}
	return n
}

// run executes one command and returns its output.
func (h *harness) run(cmd string) string {
	t := h.t
	w := args(t, cmd)
	opt := kv(w[1:])
	var effs []Effect
	switch w[0] {
	case "new":
		var cfg Config
		seed := uint64(1)
		for k, v := range opt {
			n := atoi(t, v)
			switch k {
			case "seed":
				seed = uint64(n)
			case "inflight":
				cfg.MaxInFlight = n
			case "queue":
				cfg.MaxQueue = n
			case "talkq":
				cfg.TalkQueueMax = n
			case "idleq":
				cfg.IdleQueueMax = n
			case "chain":
				cfg.MaxChain = n
			case "responders":
				cfg.MaxResponders = n
			case "threshold":
				cfg.ReflectionThreshold = n
			case "convo":
				cfg.ConversationPermille = n
			case "turns":
				cfg.ConversationTurns = n
			case "k":
				cfg.RetrieveK = n
			default:
				t.Fatalf("new: unknown option %q", k)
			}
		}
		h.fresh(cfg, seed)
		return "ok"
	case "join":
		effs = h.step(PlayerJoined{PlayerID: w[1], Name: w[2], LocationID: w[3]})
	case "leave":
		effs = h.step(PlayerLeft{PlayerID: w[1]})
	case "move":
		effs = h.step(PlayerMoved{PlayerID: w[1], LocationID: w[2]})
	case "say": // say <msg> <player> <text> [to=<char>] [at=<loc>]
		effs = h.step(PlayerSaid{MessageID: w[1], PlayerID: w[2], Text: w[3], AddressedTo: opt["to"], LocationID: opt["at"]})
	case "private": // private <msg> <player> <char> <text>
		effs = h.step(PrivateSaid{MessageID: w[1], PlayerID: w[2], CharacterID: w[3], Text: w[4]})
	case "gen": // gen <work> <text>
		effs = h.step(Generated{WorkID: w[1], Text: w[2]})
	case "fail": // fail <work> <code>
		effs = h.step(Generated{WorkID: w[1], Code: w[2]})
	case "rate":
		effs = h.step(ImportanceRated{MemoryID: w[1], Score: atoi(t, w[2])})
	case "reflected": // reflected <work> <insight>...
		effs = h.step(ReflectionWritten{WorkID: w[1], Insights: w[2:]})
	case "tick":
		effs = h.step(Tick{SimMinutes: atoi(t, w[1])})
	case "tickms":
		effs = h.step(Tick{RealMillis: int64(atoi(t, w[1]))})
	case "summary":
		return strings.TrimRight(h.s.Summary(), "\n")
	case "memories": // memories <char> [for=<player>|room=<loc>] [q=<query>]: ranked retrieval
		i, ok := h.s.actorByID(w[1])
		if !ok {
			t.Fatalf("no actor %q", w[1])
		}
		a := &h.s.Actors[i]
		if opt["q"] == "" && opt["for"] == "" && opt["room"] == "" {
			var out []string
			for _, l := range [][]Memory{a.Stream, a.Insights} {
				for _, m := range l {
					out = append(out, fmtMemory(a.Card.ID, m))
				}
			}
			return strings.Join(out, "\n")
		}
		aud := Audience{LocationID: opt["room"], PlayerID: opt["for"]}
		var out []string
		for _, c := range h.s.candidates(i, opt["q"], aud) {
			out = append(out, fmt.Sprintf("%.3f rec=%.3f imp=%.3f rel=%.3f %s", c.total, c.rec, c.imp, c.rel, fmtMemory(a.Card.ID, *c.m)))
		}
		return strings.Join(out, "\n")
	case "request": // request <work>: the prompt of a Generate
		g, ok := h.reqs[w[1]]
		if !ok {
			return "no generate for " + w[1]
		}
		var out []string
		for _, m := range g.Request.Messages {
			out = append(out, fmt.Sprintf("%s: %q", m.Role, m.Content))
		}
		out = append(out, fmt.Sprintf("max_tokens=%d", g.Request.MaxTokens))
		return strings.Join(out, "\n")
	case "queue":
		var out []string
		for _, l := range [][]Work{h.s.Flight, h.s.Queue} {
			for _, w := range l {
				who := "-"
				if w.Actor >= 0 {
					who = h.s.Actors[w.Actor].Card.ID
				}
				out = append(out, fmt.Sprintf("%s %s prio=%d %s chain=%d", w.ID, w.Kind, w.Priority, who, w.Chain))
			}
			out = append(out, "--")
		}
		return strings.Join(out, "\n")
	default:
		t.Fatalf("unknown command %q", w[0])
	}
	return fmtEffects(effs)
}

func fmtMemory(cid string, m Memory) string {
	s := fmt.Sprintf("%s %s imp=%d at=%d access=%d %q", memoryID(cid, m.Seq), m.Kind, m.Importance, m.SimMinute, m.LastAccess, m.Text)
	if m.PrivateTo != "" {
		s += " private_to=" + m.PrivateTo
	}
	if len(m.Evidence) > 0 {
		s += " evidence=" + strings.Join(m.Evidence, ",")
	}
	return s
}

func fmtEvent(e Event) string {
	s := e.Kind
	if e.From != "" {
		s += " " + e.From
	}
	if e.ReplyTo != "" {
		s += " re=" + e.ReplyTo
	}
	if e.Code != "" {
		s += " code=" + e.Code
	}
	if e.Text != "" {
		s += fmt.Sprintf(" %q", e.Text)
	}
	return s
}

func fmtEffects(effs []Effect) string {
	var out []string
	for _, e := range effs {
		switch e := e.(type) {
		case Generate:
			aud := e.Audience.LocationID
			if e.Audience.PlayerID != "" {
				aud = "@" + e.Audience.PlayerID
			}
			out = append(out, fmt.Sprintf("generate %s %s prio=%d %s aud=%s", e.WorkID, e.Kind, e.Priority, e.CharacterID, aud))
		case Broadcast:
			out = append(out, "broadcast "+e.LocationID+" "+fmtEvent(e.Event))
		case SendPrivate:
			out = append(out, "private "+e.PlayerID+" "+fmtEvent(e.Event))
		case MemoryAdded:
			r := e.Record
			s := fmt.Sprintf("memory %s %s imp=%d %q", r.ID, r.Kind, r.Importance, r.Text)
			if r.PrivateTo != "" {
				s += " private_to=" + r.PrivateTo
			}
			if len(r.Evidence) > 0 {
				s += " evidence=" + strings.Join(r.Evidence, ",")
			}
			out = append(out, s)
		case Ack:
			out = append(out, "ack "+e.MessageID)
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, "\n")
}

func TestDatadriven(t *testing.T) {
	files, _ := filepath.Glob("testdata/step/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/step files")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			h := &harness{t: t}
			h.fresh(Config{}, 1)
			cases := readCases(t, path)
			changed := false
			for k := range cases {
				c := &cases[k]
				var outs []string
				for _, cmd := range c.cmds {
					outs = append(outs, h.run(cmd))
				}
				got := strings.Join(outs, "\n")
				if got != c.expected {
					if *rewrite {
						c.expected, changed = got, true
						continue
					}
					t.Errorf("%s: %s\n got:\n%s\nwant:\n%s", c.pos, strings.Join(c.cmds, "; "), got, c.expected)
				}
			}
			if changed {
				writeCases(t, path, cases)
			}
		})
	}
}
