package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Pre-tokenizer regular expressions as llama.cpp applies them for each
// tokenizer.ggml.pre family. When a family has several expressions they are
// applied in turn, each one splitting every fragment the previous one left;
// text between matches stays a fragment of its own.
const (
	reGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// llama.cpp spells the case-insensitive contractions out because not every
	// regex engine supports (?i:...) groups; the meaning is the same.
	reLlama3 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	reQwen2  = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// Qwen3.5 keeps combining marks with the letters before them.
const reQwen35 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// The GPT-2 expression as the multi-expression families use it (text it
// leaves unmatched becomes a fragment anyway).
const reGPT2Core = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`

var defaultExprs = []string{
	`[\p{P}\$\+<=>\^~\|]+`,
	reGPT2Core,
	`\p{N}+`,
	`[0-9][0-9][0-9]`,
}

// preFamily is one pre-tokenizer: how text is cut into words before BPE.
type preFamily struct {
	name  string
	exprs []string
	// ignoreMerges: a word that is itself a vocabulary entry becomes that
	// token without running merges (llama-3 style vocabularies rely on it).
	ignoreMerges bool
	// addBOS is the family's default for tokenizer.ggml.add_bos_token.
	addBOS bool
	// fast, when set, replaces the single expression in exprs.
	fast fastSplitter

	once sync.Once
	res  []*regexp2.Regexp
	err  error
}

var (
	famDefault = &preFamily{name: "default", exprs: defaultExprs}
	famGPT2    = &preFamily{name: "gpt-2", exprs: []string{reGPT2}, fast: fastGPT2}
	famLlama3  = &preFamily{name: "llama3", exprs: []string{reLlama3}, ignoreMerges: true, addBOS: true, fast: fastLlama3}
	famQwen2   = &preFamily{name: "qwen2", exprs: []string{reQwen2}, fast: fastQwen2}
	famQwen35  = &preFamily{name: "qwen35", exprs: []string{reQwen35}}
	// StarCoder-style: every digit alone, then GPT-2.
	famStarcoder = &preFamily{name: "starcoder", exprs: []string{`\p{N}`, reGPT2Core}}
	famFalcon    = &preFamily{name: "falcon", exprs: []string{"[\\p{P}\\$\\+<=>\\^~\\|`]+", reGPT2Core, `[0-9][0-9][0-9]`}}
	// dbrx and smaug-bpe use the llama-3 expression without its other quirks.
	famLlama3Plain = &preFamily{name: "dbrx", exprs: []string{reLlama3}, fast: fastLlama3}
)

var preFamilies = map[string]*preFamily{
	"":                 famDefault,
	"default":          famDefault,
	"gpt-2":            famGPT2,
	"gpt2":             famGPT2,
	"phi-2":            famGPT2,
	"olmo":             famGPT2,
	"mpt":              famGPT2,
	"jais":             famGPT2,
	"roberta-bpe":      famGPT2,
	"llama3":           famLlama3,
	"llama-v3":         famLlama3,
	"llama-bpe":        famLlama3,
	"falcon3":          famLlama3,
	"pixtral":          famLlama3,
	"qwen2":            famQwen2,
	"deepseek-r1-qwen": famQwen2,
	"megrez":           famQwen2,
	"stablelm2":        famQwen2,
	"qwen35":           famQwen35,
	"starcoder":        famStarcoder,
	"refact":           famStarcoder,
	"command-r":        famStarcoder,
	"smollm":           famStarcoder,
	"codeshell":        famStarcoder,
	"exaone":           famStarcoder,
	"minerva-7b":       famStarcoder,
	"falcon":           famFalcon,
	"dbrx":             famLlama3Plain,
	"smaug-bpe":        famLlama3Plain,
}

// PreTokenizers lists the tokenizer.ggml.pre values this package accepts.
func PreTokenizers() []string {
	names := make([]string, 0, len(preFamilies))
	for n := range preFamilies {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func lookupPre(name string) (*preFamily, error) {
	f, ok := preFamilies[name]
	if !ok {
		return nil, fmt.Errorf("tokenizer: metadata %s: unknown pre-tokenizer type %q (known: %s)",
			KeyPre, name, strings.Join(PreTokenizers(), ", "))
	}
	if err := f.compile(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *preFamily) compile() error {
	f.once.Do(func() {
		for _, e := range f.exprs {
			re, err := regexp2.Compile(e, regexp2.None)
			if err != nil {
				f.err = fmt.Errorf("tokenizer: pre-tokenizer %s: %w", f.name, err)
				return
			}
			f.res = append(f.res, re)
		}
	})
	return f.err
}

// split cuts text into words. It works on byte offsets so that invalid UTF-8
// survives unchanged: each invalid byte is one U+FFFD rune for the regex but
// keeps its original byte in the output.
func (f *preFamily) split(text string) []string {
	if text == "" {
		return nil
	}
	runes := make([]rune, 0, len(text))
	offs := make([]int, 0, len(text)+1)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		runes = append(runes, r)
		offs = append(offs, i)
		i += size
	}
	offs = append(offs, len(text))

	frags := [][2]int{{0, len(runes)}}
	if f.fast != nil {
		frags = frags[:0]
		for i := 0; i < len(runes); {
			e := f.fast(runes, i)
			if e <= i { // cannot happen for these expressions; never loop forever
				e = i + 1
			}
			frags = append(frags, [2]int{i, e})
			i = e
		}
		return fragmentsToWords(text, offs, frags)
	}
	return fragmentsToWords(text, offs, f.splitRegex(runes, frags))
}

// splitRegex applies the family's expressions in turn to frags.
func (f *preFamily) splitRegex(runes []rune, frags [][2]int) [][2]int {
	for _, re := range f.res {
		next := make([][2]int, 0, len(frags)*2)
		for _, fr := range frags {
			next = splitOne(re, runes, fr[0], fr[1], next)
		}
		frags = next
	}
	return frags
}

func fragmentsToWords(text string, offs []int, frags [][2]int) []string {
	words := make([]string, len(frags))
	for i, fr := range frags {
		words[i] = text[offs[fr[0]]:offs[fr[1]]]
	}
	return words
}

func splitOne(re *regexp2.Regexp, runes []rune, lo, hi int, out [][2]int) [][2]int {
	last := lo
	m, err := re.FindRunesMatch(runes[lo:hi])
	for err == nil && m != nil {
		start, end := lo+m.Index, lo+m.Index+m.Length
		if end > start {
			if start > last {
				out = append(out, [2]int{last, start})
			}
			out = append(out, [2]int{start, end})
			last = end
		}
		m, err = re.FindNextMatch(m)
	}
	if last < hi {
		out = append(out, [2]int{last, hi})
	}
	return out
}
