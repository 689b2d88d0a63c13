package lorebook

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// text is one piece of scanned text, kept in both spellings so that each
// key does not lower-case it again.
type text struct {
	raw, lower string
}

func newText(s string) text { return text{raw: s, lower: strings.ToLower(s)} }

// matcher finds one key.
type matcher struct {
	key   string // as written, for reasons
	lit   string // literal key, lower-cased unless case-sensitive
	cs    bool
	whole bool
	re    *regexp.Regexp
	re2   *regexp2.Regexp
	slow  *slowBudget // shared by the backtracking matchers of one activation
}

// Keys come from cards anyone can upload, and a pathological pattern must
// not stall a prompt: regexTimeout bounds one backtracking match and
// slowRegexBudget all of them in one activation.
const (
	regexTimeout    = 50 * time.Millisecond
	slowRegexBudget = 250 * time.Millisecond
)

// slowBudget is what is left of slowRegexBudget in one activation.
type slowBudget struct {
	left      time.Duration
	exhausted bool
}

type keyMode struct {
	caseSensitive bool
	wholeWords    bool
	useRegex      bool
	slow          *slowBudget
}

// compileKey turns a key into a matcher; ok is false (with a reason) for a
// key that can never match, such as an invalid regular expression.
func compileKey(key string, m keyMode) (*matcher, error) {
	if strings.TrimSpace(key) == "" {
		return nil, fmt.Errorf("is empty")
	}
	if pat, flags, ok := slashRegex(key); ok {
		return compileRegex(key, pat, flags, m.slow)
	}
	if m.useRegex {
		flags := ""
		if !m.caseSensitive {
			flags = "i"
		}
		return compileRegex(key, key, flags, m.slow)
	}
	k := strings.TrimSpace(key)
	mt := &matcher{key: k, lit: k, cs: m.caseSensitive}
	if !m.caseSensitive {
		mt.lit = strings.ToLower(k)
	}
	// Like SillyTavern, whole-word matching applies to single words; a
	// phrase with spaces is matched as written.
	mt.whole = m.wholeWords && !strings.ContainsFunc(k, unicode.IsSpace)
	return mt, nil
}

// slashRegex recognises SillyTavern's /pattern/flags key spelling.
func slashRegex(key string) (pat, flags string, ok bool) {
	k := strings.TrimSpace(key)
	if len(k) < 3 || k[0] != '/' {
		return "", "", false
	}
	end := strings.LastIndexByte(k, '/')
	if end <= 1 {
		return "", "", false
	}
	flags = k[end+1:]
	if strings.Trim(flags, "gimsuyd") != "" {
		return "", "", false
	}
	return k[1:end], flags, true
}

func compileRegex(key, pat, flags string, slow *slowBudget) (*matcher, error) {
	if slow == nil {
		slow = &slowBudget{left: slowRegexBudget}
	}
	mt := &matcher{key: key, slow: slow}
	prefix := ""
	opts := regexp2.None
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "i"
			opts |= regexp2.IgnoreCase
		case 'm':
			prefix += "m"
			opts |= regexp2.Multiline
		case 's':
			prefix += "s"
			opts |= regexp2.Singleline
		}
	}
	goPat := pat
	if prefix != "" {
		goPat = "(?" + prefix + ")" + pat
	}
	// Go's linear-time engine first; patterns it rejects (lookaround,
	// backreferences, which JavaScript allows) go to the backtracking
	// engine with a time limit.
	if re, err := regexp.Compile(goPat); err == nil {
		mt.re = re
		return mt, nil
	}
	re2, err := regexp2.Compile(pat, opts)
	if err != nil {
		return nil, fmt.Errorf("is not a valid regular expression: %v", err)
	}
	mt.re2 = re2
	return mt, nil
}

// in reports whether the key occurs in t.
func (m *matcher) in(t text) bool {
	switch {
	case m.re != nil:
		return m.re.MatchString(t.raw)
	case m.re2 != nil:
		if m.slow.left <= 0 {
			m.slow.exhausted = true
			return false
		}
		m.re2.MatchTimeout = min(regexTimeout, m.slow.left)
		start := time.Now()
		ok, err := m.re2.MatchString(t.raw)
		m.slow.left -= time.Since(start)
		return ok && err == nil
	}
	hay := t.lower
	if m.cs {
		hay = t.raw
	}
	if !m.whole {
		return strings.Contains(hay, m.lit)
	}
	for off := 0; off <= len(hay); {
		i := strings.Index(hay[off:], m.lit)
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(m.lit)
		if wordBoundary(hay, start, end) {
			return true
		}
		_, size := utf8.DecodeRuneInString(hay[start:])
		off = start + max(size, 1)
	}
	return false
}

// wordBoundary reports whether hay[start:end] is not glued to word
// characters on either side.
func wordBoundary(hay string, start, end int) bool {
	if start > 0 {
		r, _ := utf8.DecodeLastRuneInString(hay[:start])
		f, _ := utf8.DecodeRuneInString(hay[start:])
		if isWordRune(r) && isWordRune(f) {
			return false
		}
	}
	if end < len(hay) {
		r, _ := utf8.DecodeRuneInString(hay[end:])
		l, _ := utf8.DecodeLastRuneInString(hay[:end])
		if isWordRune(r) && isWordRune(l) {
			return false
		}
	}
	return true
}

// isWordRune is a letter, digit or underscore of a script that separates
// words with spaces. Chinese, Japanese and Thai write words without
// spaces, so their characters never glue a key to its neighbours: "龙"
// must match in "一条龙飞过".
func isWordRune(r rune) bool {
	if r == '_' {
		return true
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return false
	}
	return !unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}
