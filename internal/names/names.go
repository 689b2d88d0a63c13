// Package names checks the names people give themselves and characters:
// text in Unicode's composed form (NFC), without control characters,
// without bidirectional overrides (which make text read other than it is
// stored), and not made only of invisible characters.
package names

import (
	"errors"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Clean returns name trimmed and in NFC, or an error saying what is wrong.
func Clean(name string) (string, error) {
	name = strings.TrimSpace(norm.NFC.String(strings.ToValidUTF8(name, "\uFFFD")))
	if name == "" {
		return "", errors.New("is empty")
	}
	visible := false
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return "", errors.New("has control characters (line breaks, tabs, NUL)")
		case isBidiControl(r):
			return "", errors.New("has bidirectional control characters, which make it read other than it is")
		case unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r == '\u3164' || r == '\u115F' || r == '\u1160':
			// Invisible formatting, spaces, and Hangul fillers show nothing.
		default:
			visible = true
		}
	}
	if !visible {
		return "", errors.New("has nothing visible")
	}
	return name, nil
}

// isBidiControl reports the explicit directional formatting characters.
func isBidiControl(r rune) bool {
	switch {
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069', r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	}
	return false
}

// Same reports whether two names would be taken for one another: equal
// after NFC, case folding and dropping what does not show.
func Same(a, b string) bool { return key(a) == key(b) }

func key(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	for _, r := range s {
		if unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || isBidiControl(r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
