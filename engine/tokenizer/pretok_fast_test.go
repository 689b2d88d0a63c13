package tokenizer

import (
	"reflect"
	"strings"
	"testing"
)

// regexSplit runs a family's regexp2 expressions, bypassing its fast path.
func regexSplit(f *preFamily, text string) []string {
	saved := f.fast
	defer func() { f.fast = saved }()
	g := &preFamily{name: f.name, exprs: f.exprs}
	if err := g.compile(); err != nil {
		panic(err)
	}
	return g.split(text)
}

var fastFamilies = []*preFamily{famGPT2, famLlama3, famQwen2}

// palette holds runes from every class the expressions distinguish,
// including the awkward ones: Unicode spaces, non-ASCII digits and letters,
// combining marks, contraction letters in both cases, an invalid byte.
var palette = []string{
	" ", " ", " ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\v",
	"'", "'", "s", "S", "t", "r", "R", "e", "E", "v", "l", "L", "d", "m", "M",
	"a", "Z", "é", "冒", "ǅ", "ʰ", "1", "7", "٣", "Ⅻ", "½",
	"!", ",", ".", "😀", "\u200b", "\u0301", "\xff", "$", "_",
}

func TestFastPreTokenizersMatchRegex(t *testing.T) {
	r := splitMixForTest(1)
	for trial := 0; trial < 4000; trial++ {
		var b strings.Builder
		n := 1 + int(r()%24)
		for i := 0; i < n; i++ {
			b.WriteString(palette[r()%uint64(len(palette))])
		}
		s := b.String()
		for _, f := range fastFamilies {
			if err := f.compile(); err != nil {
				t.Fatal(err)
			}
			got, want := f.split(s), regexSplit(f, s)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %q:\nfast  %q\nregex %q", f.name, s, got, want)
			}
		}
	}
}

func FuzzFastPreTokenizers(f *testing.F) {
	for _, s := range roundTrip {
		f.Add(s)
	}
	f.Add("I'M  'll\r\n \t x٣Ⅻ½ 😀\u0301")
	f.Fuzz(func(t *testing.T, s string) {
		for _, fam := range fastFamilies {
			if err := fam.compile(); err != nil {
				t.Fatal(err)
			}
			got, want := fam.split(s), regexSplit(fam, s)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %q:\nfast  %q\nregex %q", fam.name, s, got, want)
			}
		}
	})
}

func splitMixForTest(seed uint64) func() uint64 {
	return func() uint64 {
		seed += 0x9E3779B97F4A7C15
		z := seed
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
}
