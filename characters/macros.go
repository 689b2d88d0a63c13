package characters

import (
	"hash/fnv"
	"math/bits"
	"strconv"
	"strings"
)

// MacroEnv is what card macros expand to. Random macros draw from a seeded
// generator, so a world simulation that records its seeds replays the
// same prompts.
type MacroEnv struct {
	Char, User string
	// Seed fixes the random choices. {{pick}} depends only on Seed, the
	// text and the macro's place in it, so it stays put for a whole chat.
	Seed uint64
	// Turn varies {{random}} and {{roll}} from one generation to the next
	// (a message count, say) while each turn stays replayable.
	Turn uint64
}

// ExpandMacros replaces the card macros for the character's and the
// player's names, in both the {{...}} and the older <BOT>/<USER>
// spellings, and the other macros MacroEnv knows with a zero seed.
func ExpandMacros(text, charName, userName string) string {
	return MacroEnv{Char: charName, User: userName}.Expand(text)
}

// maxMacroNesting bounds {{...}} nesting; deeper text is left as written.
const maxMacroNesting = 32

// Expand runs one macro pass over text:
//
//   - {{char}}, {{user}} (any case) and <BOT>, <CHAR>, <USER>;
//   - {{random:a,b,c}} or {{random::a::b}}: a fresh choice each turn;
//   - {{pick:a,b}} or {{pick::a::b}}: the same choice for the same seed
//     and place in the text;
//   - {{roll:N}}, {{roll:dN}}, {{roll:2d6}}, {{roll:d20+3}};
//   - {{// note}}, {{comment: note}}, {{hidden_key: k}}, {{noop}}: removed;
//   - {{newline}}: a line break; {{trim}}: removes the line breaks around it.
//
// {{original}} and macros it does not know are left as written, with the
// macros inside them expanded. "\," is a literal comma inside a list.
// What a macro expands to is never expanded again, so a player named
// "{{char}}" stays "{{char}}".
func (e MacroEnv) Expand(text string) string {
	if !strings.ContainsAny(text, "{<") {
		return text
	}
	h := fnv.New64a()
	h.Write([]byte(text))
	textHash := h.Sum64()
	x := &expander{env: e, s: text, textHash: textHash, rng: mix(e.Seed ^ mix(e.Turn+0x9e3779b97f4a7c15) ^ textHash)}
	x.matchBraces()
	var b macroBuf
	x.expand(&b, 0, len(text), 0, false)
	return b.String()
}

type expander struct {
	env      MacroEnv
	s        string
	closeOf  map[int]int // index of "{{" -> index of its "}}"
	textHash uint64
	rng      uint64
}

// macroBuf is the output of one nesting level; trimNext makes the next
// literal text drop its leading line breaks (after {{trim}}).
type macroBuf struct {
	buf      []byte
	trimNext bool
}

func (b *macroBuf) write(s string)   { b.buf = append(b.buf, s...) }
func (b *macroBuf) writeByte(c byte) { b.buf = append(b.buf, c) }
func (b *macroBuf) String() string   { return string(b.buf) }

// trimEnd drops trailing line breaks in place, so many {{trim}}s stay
// linear.
func (b *macroBuf) trimEnd() {
	for n := len(b.buf); n > 0 && (b.buf[n-1] == '\n' || b.buf[n-1] == '\r'); n-- {
		b.buf = b.buf[:n-1]
	}
}

// put writes a macro's value, which is final text: never expanded again.
func (b *macroBuf) put(v string) {
	if v != "" {
		b.trimNext = false
	}
	b.write(v)
}

// matchBraces pairs every "{{" with its "}}" in one pass; unpaired ones
// stay literal text.
func (x *expander) matchBraces() {
	x.closeOf = map[int]int{}
	var stack []int
	s := x.s
	for i := 0; i+1 < len(s); {
		switch {
		case s[i] == '{' && s[i+1] == '{':
			stack = append(stack, i)
			i += 2
		case s[i] == '}' && s[i+1] == '}' && len(stack) > 0:
			x.closeOf[stack[len(stack)-1]] = i
			stack = stack[:len(stack)-1]
			i += 2
		default:
			i++
		}
	}
}

// expand writes s[lo:hi] with its macros expanded to b.
func (x *expander) expand(b *macroBuf, lo, hi, depth int, unescape bool) {
	lit := lo
	for i := lo; i < hi; i++ {
		if x.s[i] != '{' {
			continue
		}
		c, ok := x.closeOf[i]
		if !ok || c+2 > hi {
			continue
		}
		x.literal(b, x.s[lit:i], unescape)
		if depth >= maxMacroNesting {
			x.literal(b, x.s[i:c+2], false)
		} else {
			x.macro(b, i, c, depth)
		}
		i = c + 1
		lit = c + 2
	}
	x.literal(b, x.s[lit:hi], unescape)
}

// literal writes plain text, replacing the angle-bracket name macros.
func (x *expander) literal(b *macroBuf, t string, unescape bool) {
	if b.trimNext {
		t = strings.TrimLeft(t, "\r\n")
		b.trimNext = t == ""
	}
	if unescape {
		t = strings.ReplaceAll(t, `\,`, ",")
	}
	for {
		i := strings.IndexByte(t, '<')
		if i < 0 {
			break
		}
		b.write(t[:i])
		t = t[i:]
		if n, v := x.angle(t); n > 0 {
			b.put(v)
			t = t[n:]
			continue
		}
		b.writeByte('<')
		t = t[1:]
	}
	b.write(t)
}

func (x *expander) angle(t string) (int, string) {
	for _, m := range [...]struct{ tok, val string }{
		{"<bot>", x.env.Char}, {"<char>", x.env.Char}, {"<user>", x.env.User},
	} {
		if len(t) >= len(m.tok) && strings.EqualFold(t[:len(m.tok)], m.tok) {
			return len(m.tok), m.val
		}
	}
	return 0, ""
}

// macro expands the macro whose "{{" is at open and "}}" at close.
func (x *expander) macro(b *macroBuf, open, close, depth int) {
	lo, hi := open+2, close
	raw := x.s[lo:hi]
	if strings.HasPrefix(strings.TrimSpace(raw), "//") {
		return
	}
	name, argLo := raw, hi
	if i := strings.IndexByte(raw, ':'); i >= 0 {
		name, argLo = raw[:i], lo+i+1
	}
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "char":
		if argLo == hi {
			b.put(x.env.Char)
			return
		}
	case "user":
		if argLo == hi {
			b.put(x.env.User)
			return
		}
	case "newline":
		b.put("\n")
		return
	case "trim":
		b.trimEnd()
		b.trimNext = true
		return
	case "noop", "comment", "hidden_key":
		return
	case "random", "pick":
		args := x.splitArgs(argLo, hi)
		if len(args) == 0 {
			return
		}
		var r uint64
		if strings.EqualFold(strings.TrimSpace(name), "pick") {
			r = mix(x.env.Seed ^ mix(x.textHash^uint64(open)))
		} else {
			r = x.next()
		}
		a := args[bounded(r, uint64(len(args)))]
		x.expand(b, a[0], a[1], depth+1, a[2] == 1)
		return
	case "roll":
		if argLo < hi {
			var arg macroBuf
			x.expand(&arg, argLo, hi, depth+1, false)
			if v, ok := x.roll(arg.String()); ok {
				b.put(strconv.Itoa(v))
				return
			}
		}
	}
	// Unknown (or {{original}}, which the caller fills): keep it, with
	// the macros inside it expanded.
	b.write("{{")
	x.expand(b, lo, hi, depth+1, false)
	b.write("}}")
}

// splitArgs splits a list argument at top level (not inside nested
// macros): on "::" when the list uses it, else on commas. Each result is
// {lo, hi, unescapeCommas}.
func (x *expander) splitArgs(lo, hi int) [][3]int {
	if lo < hi && x.s[lo] == ':' {
		lo++ // {{random::a::b}}
	}
	sep := ","
	if x.topLevelIndex(lo, hi, "::") >= 0 {
		sep = "::"
	}
	var out [][3]int
	start := lo
	for i := lo; i < hi; {
		if c, ok := x.closeOf[i]; ok && c+2 <= hi {
			i = c + 2
			continue
		}
		if sep == "," && x.s[i] == '\\' && i+1 < hi && x.s[i+1] == ',' {
			i += 2
			continue
		}
		if strings.HasPrefix(x.s[i:hi], sep) {
			out = append(out, [3]int{start, i, b2i(sep == ",")})
			i += len(sep)
			start = i
			continue
		}
		i++
	}
	return append(out, [3]int{start, hi, b2i(sep == ",")})
}

func (x *expander) topLevelIndex(lo, hi int, sub string) int {
	for i := lo; i < hi; {
		if c, ok := x.closeOf[i]; ok && c+2 <= hi {
			i = c + 2
			continue
		}
		if strings.HasPrefix(x.s[i:hi], sub) {
			return i
		}
		i++
	}
	return -1
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roll evaluates dice like "6", "d6", "2d6", "d20+3".
func (x *expander) roll(spec string) (int, bool) {
	spec = strings.ToLower(strings.ReplaceAll(spec, " ", ""))
	mod := 0
	if i := strings.LastIndexAny(spec, "+-"); i > 0 {
		m, err := strconv.Atoi(spec[i:])
		if err != nil || m < -1_000_000 || m > 1_000_000 {
			return 0, false
		}
		spec, mod = spec[:i], m
	}
	count, sides := 1, spec
	if c, s, ok := strings.Cut(spec, "d"); ok {
		sides = s
		if c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 || n > 100 {
				return 0, false
			}
			count = n
		}
	}
	n, err := strconv.Atoi(sides)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, false
	}
	total := mod
	for range count {
		total += 1 + int(bounded(x.next(), uint64(n)))
	}
	return total, true
}

func (x *expander) next() uint64 {
	x.rng += 0x9e3779b97f4a7c15
	return mix(x.rng)
}

// mix is the splitmix64 finaliser: a cheap, well-spread 64-bit hash.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// bounded maps r onto [0, n) by multiplication, which keeps the result
// unbiased enough for dice and picks and needs no retry loop.
func bounded(r, n uint64) uint64 {
	hi, _ := bits.Mul64(r, n)
	return hi
}
