package characters

import (
	"strconv"
	"strings"
	"testing"
)

func TestMacroEnvExpand(t *testing.T) {
	env := MacroEnv{Char: "Ren", User: "Ada", Seed: 7}
	cases := []struct{ in, want string }{
		{"no macros", "no macros"},
		{"{{char}} greets {{user}}; <BOT> and <USER>.", "Ren greets Ada; Ren and Ada."},
		{"{{Char}}/{{USER}}/<bot>/<Char>/<user>", "Ren/Ada/Ren/Ren/Ada"},
		{"{{ char }}", "Ren"},
		{"a{{// a comment, with {{user}} inside}}b", "ab"},
		{"a{{comment: note}}{{hidden_key: basement}}{{noop}}b", "ab"},
		{"line{{newline}}next", "line\nnext"},
		{"top\n\n{{trim}}\n\nbottom", "topbottom"},
		{"keep {{original}} for the caller", "keep {{original}} for the caller"},
		{"{{unknown::{{user}}}}", "{{unknown::Ada}}"},
		{"unpaired {{ and }} and {{user}", "unpaired {{ and }} and {{user}"},
		{"<b>bold</b> <userx>", "<b>bold</b> <userx>"},
		{"{{random:only}}", "only"},
		{`{{random:a\,b}}`, "a,b"},
		{"{{roll:0}} {{roll:d}} {{roll:x}}", "{{roll:0}} {{roll:d}} {{roll:x}}"},
	}
	for _, c := range cases {
		if got := env.Expand(c.in); got != c.want {
			t.Errorf("Expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMacroOutputIsNotReexpanded(t *testing.T) {
	got := MacroEnv{Char: "Ren", User: "{{char}} <BOT>"}.Expand("hi {{user}}")
	if got != "hi {{char}} <BOT>" {
		t.Fatalf("got %q", got)
	}
}

func TestRandomAndPick(t *testing.T) {
	choices := map[string]bool{"red": true, "green": true, "blue": true}
	seen := map[string]bool{}
	for turn := range uint64(60) {
		env := MacroEnv{Seed: 1, Turn: turn}
		for _, in := range []string{"{{random:red,green,blue}}", "{{random::red::green::blue}}", "{{RANDOM: red , green , blue }}"} {
			got := strings.TrimSpace(env.Expand(in))
			if !choices[got] {
				t.Fatalf("%s gave %q", in, got)
			}
			seen[got] = true
			if again := strings.TrimSpace(env.Expand(in)); again != got {
				t.Fatalf("same seed and turn gave %q then %q", got, again)
			}
		}
	}
	if len(seen) != 3 {
		t.Fatalf("60 turns of {{random}} only ever gave %v", seen)
	}

	// {{pick}} ignores the turn: stable for the whole chat.
	const in = "{{pick:red,green,blue}} and {{pick::red::green::blue}}"
	first := MacroEnv{Seed: 42}.Expand(in)
	for turn := range uint64(20) {
		if got := (MacroEnv{Seed: 42, Turn: turn}).Expand(in); got != first {
			t.Fatalf("pick changed with the turn: %q then %q", first, got)
		}
	}
	// ...but differs across chats (seeds).
	differs := false
	for seed := range uint64(40) {
		if (MacroEnv{Seed: seed}).Expand(in) != first {
			differs = true
		}
	}
	if !differs {
		t.Fatal("pick never changed across 40 seeds")
	}
}

func TestNestedMacroArguments(t *testing.T) {
	env := MacroEnv{Char: "Ren", User: "A,da"}
	// The user name holds a comma; it must not split the list.
	for turn := range uint64(30) {
		env.Turn = turn
		got := env.Expand("{{random:{{user}},{{char}}}}")
		if got != "A,da" && got != "Ren" {
			t.Fatalf("got %q", got)
		}
	}
}

func TestRoll(t *testing.T) {
	for _, c := range []struct {
		spec     string
		min, max int
	}{{"6", 1, 6}, {"d6", 1, 6}, {"D20", 1, 20}, {"2d6", 2, 12}, {"d20+3", 4, 23}, {"3d4-2", 1, 10}} {
		seen := map[int]bool{}
		for turn := range uint64(300) {
			got := MacroEnv{Seed: 3, Turn: turn}.Expand("{{roll:" + c.spec + "}}")
			n, err := strconv.Atoi(got)
			if err != nil || n < c.min || n > c.max {
				t.Fatalf("roll:%s gave %q, want %d..%d", c.spec, got, c.min, c.max)
			}
			seen[n] = true
		}
		if !seen[c.min] || !seen[c.max] {
			t.Errorf("roll:%s never reached its bounds in 300 turns: %v", c.spec, seen)
		}
	}
}

func FuzzMacroExpand(f *testing.F) {
	for _, s := range []string{"{{char}}", "{{random:a,{{user}},c}}", "{{{{{{", "}}}}{{", "{{pick::a::b}}{{trim}}\n",
		"{{roll:100d1000000+5}}", `{{random:\,}}`, "<BOT><user", "{{//{{x}}}}"} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		env := MacroEnv{Char: "C", User: "U", Seed: seed, Turn: seed >> 3}
		a := env.Expand(s)
		if b := env.Expand(s); a != b {
			t.Fatalf("not deterministic: %q vs %q", a, b)
		}
		if !strings.ContainsAny(s, "{<") && a != s {
			t.Fatalf("text without macros changed: %q -> %q", s, a)
		}
	})
}
