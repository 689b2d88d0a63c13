package lorebook

import (
	"reflect"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func TestSplitDecorators(t *testing.T) {
	cases := []struct {
		in   string
		decs []Decorator
		body string
	}{
		{"plain text", nil, "plain text"},
		{"\n\nplain", nil, "\n\nplain"},
		{"email me @@ noon\n@@depth 2", nil, "email me @@ noon\n@@depth 2"},
		{"@@depth 4\nBody", []Decorator{{Name: "depth", Value: "4"}}, "Body"},
		{"\n@@depth 4\r\n\n@@role  user \n\nBody\n\nmore", []Decorator{{Name: "depth", Value: "4"}, {Name: "role", Value: "user"}}, "Body\n\nmore"},
		{"@@Exclude_Keys a, b\\,c\nX", []Decorator{{Name: "exclude_keys", Value: "a, b\\,c"}}, "X"},
		{"@@dont_activate", []Decorator{{Name: "dont_activate"}}, ""},
		{"@@x 1\n@@@y 2\n@@@z 3\n@@w\nB", []Decorator{
			{Name: "x", Value: "1", Fallbacks: []Decorator{{Name: "y", Value: "2"}, {Name: "z", Value: "3"}}},
			{Name: "w"},
		}, "B"},
		{"@@@orphan 1\nB", nil, "@@@orphan 1\nB"},
		{"@@depth\t3\nB", []Decorator{{Name: "depth", Value: "3"}}, "B"},
	}
	for _, c := range cases {
		decs, body := SplitDecorators(c.in)
		if !reflect.DeepEqual(decs, c.decs) || body != c.body {
			t.Errorf("SplitDecorators(%q) = %+v, %q; want %+v, %q", c.in, decs, body, c.decs, c.body)
		}
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(` a, b\,c ,,d `)
	want := []string{"a", "b,c", "d"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func FuzzSplitDecorators(f *testing.F) {
	for _, s := range []string{"", "@@depth 4\nx", "\n\n@@a\n@@@b 1\n\nbody", "@@", "@@@", "@@x\n\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		decs, body := SplitDecorators(s)
		if len(decs) == 0 && body != s {
			t.Fatalf("no decorators but body changed: %q -> %q", s, body)
		}
		if !strings.HasSuffix(s, body) {
			t.Fatalf("body %q is not a suffix of %q", body, s)
		}
		var st settings
		seen := map[string]bool{}
		for _, d := range decs {
			st.apply(d, seen)
		}
	})
}

func FuzzActivate(f *testing.F) {
	f.Add("@@depth 2\n@@@role user\nThe {{char}} keeps a dragon.", "dragon", "/dra(?=g)on/i", "a DRAGON sleeps", uint8(3))
	f.Add("{{hidden_key:x}}", "x", "", "x x x", uint8(0))
	f.Add("@@activate_only_every 0\n@@scan_depth -4\nA", "(", "[", "(((", uint8(255))
	f.Fuzz(func(t *testing.T, content, key, key2, msg string, flags uint8) {
		b := maopao.Lorebook{Entries: []maopao.LoreEntry{
			{Content: content, Keys: []string{key}, SecondaryKeys: []string{key2}, Enabled: true,
				Selective: ptr(flags&1 != 0), UseRegex: ptr(flags&2 != 0), Constant: ptr(flags&4 != 0),
				Extensions: map[string]any{"selectiveLogic": float64(flags >> 6), "match_whole_words": flags&8 != 0}},
			{Content: msg + " " + key, Keys: []string{key2}, Enabled: true, Priority: ptr(int(flags))},
		}, RecursiveScanning: ptr(flags&16 != 0)}
		budget := int(flags>>5) * 3
		r := Activate(&b, []Message{{Role: "user", Text: msg}, {Role: "assistant", Text: content}}, Options{CountTokens: words, TokenBudget: budget})
		seen := map[int]bool{}
		used := 0
		for _, a := range append(append([]Activated{}, r.Entries...), r.Dropped...) {
			if seen[a.Index] {
				t.Fatalf("entry %d reported twice", a.Index)
			}
			seen[a.Index] = true
		}
		for _, a := range r.Entries {
			used += a.Tokens
		}
		if used != r.TokensUsed || (budget > 0 && used > budget) {
			t.Fatalf("used %d reported %d budget %d", used, r.TokensUsed, budget)
		}
	})
}
