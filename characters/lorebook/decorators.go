package lorebook

import (
	"strconv"
	"strings"
)

// Decorator is one Card V3 decorator line at the start of an entry's
// content: "@@name value". Fallbacks are the "@@@name value" lines that
// follow it, tried in order when the decorator itself is unknown or its
// value is invalid.
type Decorator struct {
	Name      string
	Value     string
	Fallbacks []Decorator
}

// SplitDecorators separates the decorator lines at the start of content
// from the text that goes into a prompt. Blank lines before, between and
// right after the decorators are dropped, as the V3 spec asks; content
// without decorators comes back unchanged.
func SplitDecorators(content string) (decs []Decorator, body string) {
	rest := content
	for rest != "" {
		line, next, _ := strings.Cut(rest, "\n")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			// Blank lines only belong to the decorator block when a
			// decorator follows; otherwise they start the body.
			after := skipBlankLines(next)
			if !strings.HasPrefix(strings.TrimSpace(firstLine(after)), "@@") {
				if len(decs) == 0 {
					return nil, content
				}
				return decs, after
			}
			next = after
		case strings.HasPrefix(t, "@@@"):
			d := parseDecoratorLine(t[3:])
			if len(decs) > 0 {
				last := &decs[len(decs)-1]
				last.Fallbacks = append(last.Fallbacks, d)
			}
		case strings.HasPrefix(t, "@@"):
			decs = append(decs, parseDecoratorLine(t[2:]))
		default:
			if len(decs) == 0 {
				return nil, content
			}
			return decs, rest
		}
		rest = next
	}
	if len(decs) == 0 {
		return nil, content
	}
	return decs, ""
}

// skipBlankLines drops the whitespace-only lines at the start of s.
func skipBlankLines(s string) string {
	for s != "" {
		line, next, found := strings.Cut(s, "\n")
		if strings.TrimSpace(line) != "" {
			return s
		}
		if !found {
			return ""
		}
		s = next
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func parseDecoratorLine(s string) Decorator {
	name, value, _ := strings.Cut(s, " ")
	if i := strings.IndexByte(name, '\t'); i >= 0 {
		name, value = name[:i], name[i+1:]+" "+value
	}
	return Decorator{Name: strings.ToLower(strings.TrimSpace(name)), Value: strings.TrimSpace(value)}
}

// settings are what the decorators and SillyTavern's entry extensions
// change about how one entry activates and where it goes.
type settings struct {
	depth         int // -1: not inserted into the chat
	scanDepth     int // -1: the book's
	onlyAfter     int
	onlyEvery     int
	excludeKeys   []string
	additional    []string
	dontActivate  bool
	forceActivate bool
	position      string
	role          string
	positionSet   bool
}

// apply applies one decorator, or the first of its fallbacks that this
// engine understands, to s. seen keeps the spec's "first decorator of a
// name wins" rule. It reports what it could not use.
func (s *settings) apply(d Decorator, seen map[string]bool) (ignored string) {
	for _, c := range append([]Decorator{d}, d.Fallbacks...) {
		if seen[c.Name] {
			return ""
		}
		if s.set(c) {
			seen[c.Name] = true
			return ""
		}
	}
	return d.Name
}

// set applies one decorator and reports whether its name and value were
// understood.
func (s *settings) set(d Decorator) bool {
	num := func(min int) (int, bool) {
		n, err := strconv.Atoi(d.Value)
		if err != nil {
			return 0, false
		}
		return max(n, min), true
	}
	switch d.Name {
	case "depth":
		n, ok := num(0)
		if ok {
			s.depth = n
		}
		return ok
	case "scan_depth":
		n, ok := num(0)
		if ok {
			s.scanDepth = n
		}
		return ok
	case "activate_only_after":
		n, ok := num(0)
		if ok {
			s.onlyAfter = n
		}
		return ok
	case "activate_only_every":
		n, ok := num(1)
		if ok {
			s.onlyEvery = n
		}
		return ok
	case "exclude_keys", "additional_keys":
		keys := splitList(d.Value)
		if len(keys) == 0 {
			return false
		}
		if d.Name == "exclude_keys" {
			s.excludeKeys = keys
		} else {
			s.additional = keys
		}
		return true
	case "dont_activate":
		s.dontActivate = true
		return true
	case "activate":
		s.forceActivate = true
		return true
	case "position":
		p, ok := decoratorPositions[strings.ToLower(d.Value)]
		if ok {
			s.position, s.positionSet = p, true
		}
		return ok
	case "role":
		r := strings.ToLower(d.Value)
		if r == "system" || r == "user" || r == "assistant" {
			s.role = r
			return true
		}
	}
	return false
}

// Positions this engine places content at. V3's before_desc/after_desc
// name the same places as V2's before_char/after_char in our prompt.
const (
	PositionBeforeChar  = "before_char"
	PositionAfterChar   = "after_char"
	PositionPersonality = "personality"
	PositionScenario    = "scenario"
)

var decoratorPositions = map[string]string{
	"before_desc": PositionBeforeChar, "before_char": PositionBeforeChar,
	"after_desc": PositionAfterChar, "after_char": PositionAfterChar,
	"personality": PositionPersonality, "scenario": PositionScenario,
}

// splitList splits a comma-separated decorator value; "\," keeps a comma.
func splitList(v string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if t := strings.TrimSpace(cur.String()); t != "" {
			out = append(out, t)
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			flush()
		default:
			cur.WriteByte(v[i])
		}
	}
	flush()
	return out
}
