package tokenizer

import "unicode"

// Hand-written matchers for the single-expression families the engine's
// models use. They implement the same expressions as the regexp2 versions
// (which stay the reference, compared in tests and fuzzing) without
// backtracking, which makes pre-tokenizing several times faster.

// isSpace is \s as the .NET-style regexp2 engine defines it.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x85:
		return true
	}
	return r > 0x7f && unicode.In(r, unicode.Z)
}

func isL(r rune) bool {
	if r < 0x80 {
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isOther(r rune) bool { return !isSpace(r) && !isL(r) && !isN(r) }

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// spaceMatch handles the shared tail "\s+(?!\S)|\s+" at a whitespace rune:
// a run of whitespace before a non-space gives up its last rune to that
// word unless the run is a single rune.
func spaceMatch(r []rune, i int) int {
	k := i
	for k < len(r) && isSpace(r[k]) {
		k++
	}
	if k == len(r) || k-i == 1 {
		return k
	}
	return k - 1
}

// run extends j over runes of class c.
func run(r []rune, j int, c func(rune) bool) int {
	for j < len(r) && c(r[j]) {
		j++
	}
	return j
}

// optSpaceRun matches " ?c+" at i, or returns -1.
func optSpaceRun(r []rune, i int, c func(rune) bool) int {
	if r[i] == ' ' && i+1 < len(r) && c(r[i+1]) {
		return run(r, i+1, c)
	}
	if c(r[i]) {
		return run(r, i, c)
	}
	return -1
}

// matchGPT2 returns the end of the match of reGPT2 starting at i.
func matchGPT2(r []rune, i int) int {
	if r[i] == '\'' && i+1 < len(r) {
		switch r[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v', 'l':
			if i+2 < len(r) {
				if s := string(r[i+1 : i+3]); s == "re" || s == "ve" || s == "ll" {
					return i + 3
				}
			}
		}
	}
	for _, c := range []func(rune) bool{isL, isN, isOther} {
		if e := optSpaceRun(r, i, c); e >= 0 {
			return e
		}
	}
	return spaceMatch(r, i)
}

// contraction matches the case-insensitive contractions of the llama-3 and
// Qwen2 expressions at i, or returns -1.
func contraction(r []rune, i int) int {
	if r[i] != '\'' || i+1 >= len(r) {
		return -1
	}
	switch r[i+1] | 0x20 {
	case 's', 't', 'm', 'd':
		if r[i+1] < 0x80 {
			return i + 2
		}
	case 'r', 'v', 'l':
		if i+2 < len(r) && r[i+1] < 0x80 && r[i+2] < 0x80 {
			a, b := r[i+1]|0x20, r[i+2]|0x20
			if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
				return i + 3
			}
		}
	}
	return -1
}

// matchLlama3Like returns the end of the match of the llama-3 expression
// (maxDigits 3) or the Qwen2 one (maxDigits 1) starting at i.
func matchLlama3Like(r []rune, i, maxDigits int) int {
	if e := contraction(r, i); e >= 0 {
		return e
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	c := r[i]
	if isL(c) {
		return run(r, i, isL)
	}
	if !isCRLF(c) && !isN(c) && i+1 < len(r) && isL(r[i+1]) {
		return run(r, i+1, isL)
	}
	// \p{N}{1,maxDigits}
	if isN(c) {
		j := i
		for j < len(r) && j-i < maxDigits && isN(r[j]) {
			j++
		}
		return j
	}
	// " ?[^\s\p{L}\p{N}]+[\r\n]*"
	if e := optSpaceRun(r, i, isOther); e >= 0 {
		return run(r, e, isCRLF)
	}
	// \s*[\r\n]+ : up to and including the last \r or \n of the run.
	k := run(r, i, isSpace)
	for j := k - 1; j >= i; j-- {
		if isCRLF(r[j]) {
			return j + 1
		}
	}
	return spaceMatch(r, i)
}

// fastSplitter cuts runes into matches for one of the expressions above.
type fastSplitter func(r []rune, i int) int

var (
	fastGPT2   fastSplitter = matchGPT2
	fastLlama3 fastSplitter = func(r []rune, i int) int { return matchLlama3Like(r, i, 3) }
	fastQwen2  fastSplitter = func(r []rune, i int) int { return matchLlama3Like(r, i, 1) }
)
