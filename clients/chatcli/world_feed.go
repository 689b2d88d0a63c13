package chatcli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/maopao/maopao/protocol"
)

// feed prints world events to a terminal. Characters' lines stream: the
// oldest unfinished one prints as its pieces come, later ones wait their
// turn, so two characters talking at once never mix within a line.
type feed struct {
	mu    sync.Mutex
	out   io.Writer
	lines []*streamLine // unfinished or unprinted character lines, oldest first
	byID  map[string]*streamLine
}

// streamLine is a character's line while it streams.
type streamLine struct {
	id, name string
	text     strings.Builder // as received; printed through clean as a whole
	shown    int             // bytes of text already printed
	started  bool            // head printed on the current terminal line
	done     bool
	final    string
	failed   bool // ended before it was said
}

func newFeed(out io.Writer) *feed { return &feed{out: out, byID: map[string]*streamLine{}} }

// Clean is clean, for the other commands that print server text.
func Clean(s string) string { return clean(s) }

// clean makes server text safe for a terminal: escape sequences (CSI,
// OSC and the rest: they could clear, recolour or retitle the screen) are
// removed, and other control characters too, except newline and tab.
// Invalid UTF-8 shows as U+FFFD.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == 0x1b || r == 0x9b || r == 0x9d:
			i = skipEscape(rs, i)
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// skipEscape returns the index of the last rune of the escape sequence
// starting at rs[i] (ESC, or the 8-bit CSI/OSC introducers).
func skipEscape(rs []rune, i int) int {
	kind := rs[i]
	if kind == 0x1b {
		if i+1 >= len(rs) {
			return i
		}
		i++
		switch rs[i] {
		case '[':
			kind = 0x9b
		case ']', 'P', '_', '^', 'X':
			kind = 0x9d
		default:
			// A two-character sequence (ESC c, ESC 7, …); ESC ( B and
			// friends take one more.
			if rs[i] >= 0x20 && rs[i] <= 0x2f && i+1 < len(rs) {
				i++
			}
			return i
		}
	}
	for i++; i < len(rs); i++ {
		r := rs[i]
		if kind == 0x9b && r >= 0x40 && r <= 0x7e {
			return i // CSI ends with its final byte
		}
		if kind == 0x9d {
			if r == 0x07 || r == 0x9c {
				return i // OSC/DCS end with BEL or ST
			}
			if r == 0x1b && i+1 < len(rs) && rs[i+1] == '\\' {
				return i + 1
			}
		}
	}
	return len(rs) - 1
}

// label is how an event's speaker is shown; private lines say so.
func label(ev protocol.WorldEvent) string {
	name := clean(ev.Actor.Name)
	if name == "" {
		name = "someone"
	}
	if ev.PrivateWith != "" {
		return "[private] " + name
	}
	return name
}

// speaking, delta and said feed a character's line.
func (f *feed) speaking(ev protocol.WorldEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.line(ev)
	f.flush()
}

func (f *feed) delta(ev protocol.WorldEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.line(ev)
	if !l.done {
		// Cleaned as a whole when printed: an escape sequence may be split
		// between pieces.
		l.text.WriteString(ev.Text)
	}
	f.flush()
}

func (f *feed) said(ev protocol.WorldEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.line(ev)
	// Trimmed after cleaning: what clean removes may have stood before a space.
	l.done, l.final = true, strings.TrimSpace(clean(ev.Text))
	f.flush()
}

// failed ends the lines a character had begun in answer to replyTo.
func (f *feed) failed(actorID, replyTo string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.lines {
		if strings.HasPrefix(l.id, actorID+"\x00"+replyTo+"\x00") && !l.done {
			l.done, l.failed, l.final = true, true, strings.TrimSpace(clean(l.text.String()))
		}
	}
	f.flush()
}

func (f *feed) line(ev protocol.WorldEvent) *streamLine {
	if l := f.byID[ev.MessageID]; l != nil {
		return l
	}
	// The id also carries who and what it answers, for failed.
	l := &streamLine{id: ev.Actor.ID + "\x00" + ev.ReplyTo + "\x00" + ev.MessageID, name: label(ev)}
	if ev.MessageID != "" {
		f.byID[ev.MessageID] = l
	}
	f.lines = append(f.lines, l)
	return l
}

// flush prints what can be printed: the oldest line's new pieces, and
// each finished line in turn.
func (f *feed) flush() {
	for len(f.lines) > 0 {
		l := f.lines[0]
		// clean of a prefix is a prefix of clean of the whole, so what was
		// shown stays shown.
		text := strings.TrimLeft(clean(l.text.String()), " \t\n")
		if !l.started && (len(text) > l.shown || l.done) {
			io.WriteString(f.out, l.name+": ")
			l.started = true
		}
		if len(text) > l.shown {
			io.WriteString(f.out, text[l.shown:])
			l.shown = len(text)
		}
		if !l.done {
			return
		}
		switch streamed := strings.TrimSpace(text); {
		case l.failed && streamed == "":
			io.WriteString(f.out, "[no answer]")
		case l.failed:
			io.WriteString(f.out, " [unfinished]")
		case streamed == "":
			io.WriteString(f.out, l.final)
		case streamed != l.final:
			// The world tidied the line (a leading "Name:", say): show
			// what was finally said.
			fmt.Fprintf(f.out, "\n%s (final): %s", l.name, l.final)
		}
		io.WriteString(f.out, "\n")
		f.lines = f.lines[1:]
		for k, v := range f.byID {
			if v == l {
				delete(f.byID, k)
			}
		}
	}
}

// note prints a line of its own (an arrival, a player's words), breaking
// into a line that is streaming; that line's rest goes on under its name
// again.
func (f *feed) note(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lines) > 0 && f.lines[0].started {
		io.WriteString(f.out, "\n")
		f.lines[0].started = false
	}
	fmt.Fprintf(f.out, format+"\n", args...)
}
