package maopao

import "strings"

// UsernameKey is the form in which usernames must be unique: two names
// with one key could be taken for one another on screen, so only the
// first to register gets it. Usernames are ASCII (letters, digits, '_',
// '-', '.'), so the confusables that matter are few and written out
// here rather than taken from Unicode's full confusables table:
//   - case: "Admin" and "admin";
//   - separators, which readers skip: "admin." and "admin", "j.doe"
//     and "jdoe";
//   - letters and digits drawn alike in common UI fonts: I/l/1/i ("Ilya"
//     and "llya"), O/0, and the pairs "rn"/"m" and "vv"/"w".
//
// The key is for comparing only; the account keeps the name as typed.
func UsernameKey(username string) string {
	var b strings.Builder
	b.Grow(len(username))
	for i := 0; i < len(username); i++ {
		c := username[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case '.', '-', '_':
			continue
		case '1', 'i', '|':
			c = 'l'
		case '0':
			c = 'o'
		}
		b.WriteByte(c)
	}
	k := b.String()
	// After the single letters, so "rn" written "rn" and "Rn" agree.
	k = strings.ReplaceAll(k, "rn", "m")
	return strings.ReplaceAll(k, "vv", "w")
}
