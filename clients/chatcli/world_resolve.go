package chatcli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/maopao/maopao/protocol"
)

// named is anything a player picks by id or name: a world, a place, a
// character.
type named struct{ ID, Name string }

// resolveNamed picks what query names among items: an exact id, else a
// case-insensitive exact id or name, else a case-insensitive name prefix
// shared by no other item, else a prefix of a later word of the name
// ("xiaoyu" for "Lin Xiaoyu") shared by no other item. kind ("world", "place", "character") and where
// (" here", "" …) word the errors, which list the choices.
func resolveNamed(kind, where string, items []named, query string) (named, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return named{}, fmt.Errorf("no %s given; choices%s: %s", kind, where, namedChoices(items))
	}
	for _, it := range items {
		if it.ID == q {
			return it, nil
		}
	}
	pick := func(f func(it named) bool) []named {
		var got []named
		for _, it := range items {
			if f(it) {
				got = append(got, it)
			}
		}
		return got
	}
	lq := strings.ToLower(q)
	for _, got := range [][]named{
		pick(func(it named) bool { return strings.EqualFold(it.ID, q) || strings.EqualFold(it.Name, q) }),
		pick(func(it named) bool { return strings.HasPrefix(strings.ToLower(it.Name), lq) }),
		pick(func(it named) bool {
			words := strings.Fields(strings.ToLower(it.Name))
			for _, w := range words[min(1, len(words)):] {
				if strings.HasPrefix(w, lq) {
					return true
				}
			}
			return false
		}),
	} {
		switch len(got) {
		case 0:
			continue
		case 1:
			return got[0], nil
		default:
			return named{}, fmt.Errorf("%s %q is ambiguous; it matches: %s", kind, q, namedChoices(got))
		}
	}
	return named{}, fmt.Errorf("no %s%s matches %q; choices: %s", kind, where, q, namedChoices(items))
}

func namedChoices(items []named) string {
	if len(items) == 0 {
		return "(none)"
	}
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = fmt.Sprintf("%s (id %s)", it.Name, it.ID)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func worldChoices(ws []protocol.WorldSummary) []named {
	out := make([]named, len(ws))
	for i, w := range ws {
		out[i] = named{w.ID, w.Name}
	}
	return out
}

func placeChoices(w protocol.WorldSummary) []named {
	out := make([]named, len(w.Locations))
	for i, l := range w.Locations {
		out[i] = named{l.ID, l.Name}
	}
	return out
}

func characterChoices(cs []protocol.CharacterSummary) []named {
	out := make([]named, len(cs))
	for i, c := range cs {
		out[i] = named{c.ID, c.Name}
	}
	return out
}

// splitName splits "Lin Xiaoyu how are you?" into the longest run of
// leading words that exactly names one of items (by id or name, any case)
// and the rest. Without such a run the first word is the name, to be
// resolved as a prefix.
func splitName(items []named, s string) (name, rest string) {
	words := strings.Fields(s)
	for k := len(words); k >= 1; k-- {
		cand := strings.Join(words[:k], " ")
		for _, it := range items {
			if strings.EqualFold(it.ID, cand) || strings.EqualFold(it.Name, cand) {
				return cand, strings.Join(words[k:], " ")
			}
		}
	}
	if len(words) == 0 {
		return "", ""
	}
	return words[0], strings.Join(words[1:], " ")
}
