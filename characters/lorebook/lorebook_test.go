package lorebook

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
)

func ptr[T any](v T) *T { return &v }

// words counts whitespace-separated words, so budgets in tests are easy
// to reason about.
func words(s string) int { return len(strings.Fields(s)) }

type entryOpt func(*maopao.LoreEntry)

func ent(content string, keys string, opts ...entryOpt) maopao.LoreEntry {
	e := maopao.LoreEntry{Content: content, Enabled: true, InsertionOrder: 100, Extensions: map[string]any{}}
	if keys != "" {
		e.Keys = strings.Split(keys, "¦")
	}
	for _, o := range opts {
		o(&e)
	}
	return e
}

func constant(e *maopao.LoreEntry) { e.Constant = ptr(true) }
func disabled(e *maopao.LoreEntry) { e.Enabled = false }
func caseSens(e *maopao.LoreEntry) { e.CaseSensitive = ptr(true) }
func useRegex(e *maopao.LoreEntry) { e.UseRegex = ptr(true) }
func order(n int) entryOpt         { return func(e *maopao.LoreEntry) { e.InsertionOrder = n } }
func priority(n int) entryOpt      { return func(e *maopao.LoreEntry) { e.Priority = ptr(n) } }
func ext(k string, v any) entryOpt { return func(e *maopao.LoreEntry) { e.Extensions[k] = v } }
func position(p string) entryOpt   { return func(e *maopao.LoreEntry) { e.Position = p } }
func secondary(logic int, keys ...string) entryOpt {
	return func(e *maopao.LoreEntry) {
		e.Selective = ptr(true)
		e.SecondaryKeys = keys
		if logic >= 0 {
			e.Extensions["selectiveLogic"] = float64(logic) // as JSON decodes it
		}
	}
}

func chat(texts ...string) []Message {
	var out []Message
	for i, t := range texts {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		out = append(out, Message{Role: role, Text: t})
	}
	return out
}

type tcase struct {
	name     string
	book     maopao.Lorebook
	chat     []Message
	opt      Options
	fired    []int          // entry indexes in result order
	dropped  []int          // entry indexes in Dropped order
	reasons  map[int]string // substring of the reason per entry
	contents map[int]string // exact content per entry
	check    func(*testing.T, Result)
	warn     string // substring of some warning
}

func book(entries ...maopao.LoreEntry) maopao.Lorebook {
	return maopao.Lorebook{Entries: entries, Extensions: map[string]any{}}
}

func TestActivate(t *testing.T) {
	cases := []tcase{
		// Keys.
		{name: "key in last message", book: book(ent("Dragons hoard gold.", "dragon"), ent("Elves sing.", "elf")),
			chat: chat("hello", "a dragon appears"), fired: []int{0}, reasons: map[int]string{0: `key "dragon" in chat[1]`}},
		{name: "any of several keys", book: book(ent("Wyrm lore.", "wyrm¦drake")),
			chat: chat("a drake!"), fired: []int{0}, reasons: map[int]string{0: `key "drake"`}},
		{name: "no key no fire", book: book(ent("Dragons.", "dragon")), chat: chat("just tea"), fired: nil},
		{name: "disabled never fires, even constant", book: book(ent("A.", "dragon", disabled), ent("B.", "", constant, disabled)),
			chat: chat("dragon"), fired: nil},
		{name: "empty content never fires", book: book(ent("  ", "dragon"), ent("@@depth 2\n", "dragon")),
			chat: chat("dragon"), fired: nil},

		// Case.
		{name: "case-insensitive by default", book: book(ent("D.", "Dragon")), chat: chat("DRAGON!"), fired: []int{0}},
		{name: "case_sensitive field", book: book(ent("D.", "Dragon", caseSens), ent("E.", "dragon", caseSens)),
			chat: chat("DRAGON and dragon"), fired: []int{1}},
		{name: "case_sensitive in extensions", book: book(ent("D.", "Dragon", ext("case_sensitive", true))),
			chat: chat("dragon"), fired: nil},

		// Whole words.
		{name: "whole word by default", book: book(ent("Cats.", "cat"), ent("Dogs.", "dog")),
			chat: chat("concatenate the hotdogs, then the dog."), fired: []int{1}},
		{name: "match_whole_words false matches inside words", book: book(ent("Cats.", "cat", ext("match_whole_words", false))),
			chat: chat("concatenate"), fired: []int{0}},
		{name: "phrase keys match as written", book: book(ent("Red.", "red dragon")),
			chat: chat("a red dragonfly"), fired: []int{0}},
		{name: "punctuation is a boundary", book: book(ent("N.", "neo")), chat: chat(`"Neo," she said`), fired: []int{0}},
		{name: "CJK keys match without spaces", book: book(ent("龙的传说。", "龙"), ent("Ryu.", "竜")),
			chat: chat("一条龙飞过山顶"), fired: []int{0}},
		{name: "latin key next to CJK", book: book(ent("T.", "tea")), chat: chat("我喜欢tea和茶"), fired: []int{0}},

		// Regular expressions.
		{name: "use_regex keys", book: book(ent("R.", `drag(o|i)n\b`, useRegex)), chat: chat("a DRAGIN"), fired: []int{0}},
		{name: "use_regex respects case_sensitive", book: book(ent("R.", `Dragon`, useRegex, caseSens)), chat: chat("dragon"), fired: nil},
		{name: "slash regex with flags", book: book(ent("R.", `/^the (king|queen)$/im`)),
			chat: chat("hello\nThe Queen\nbye"), fired: []int{0}, reasons: map[int]string{0: `key "/^the (king|queen)$/im"`}},
		{name: "slash regex without i is case-sensitive", book: book(ent("R.", `/Queen/`)), chat: chat("queen"), fired: nil},
		{name: "lookbehind falls back to backtracking engine", book: book(ent("R.", `/(?<=red )dragon/`)),
			chat: chat("the red dragon", "blue dragon"), fired: []int{0}, reasons: map[int]string{0: "chat[0]"}},
		{name: "invalid regex never fires and warns", book: book(ent("R.", `/([a-z/`), ent("S.", `(unclosed`, useRegex)),
			chat: chat("([a-z (unclosed"), fired: nil, warn: "entry 0: key"},

		// Selective logic.
		{name: "AND ANY default", book: book(ent("A.", "sword", secondary(-1, "fire", "ice")), ent("B.", "sword", secondary(-1, "wind"))),
			chat: chat("a sword of ice"), fired: []int{0}, reasons: map[int]string{0: `AND ANY "ice" in chat[0]`}},
		{name: "AND ALL", book: book(ent("A.", "sword", secondary(LogicAndAll, "fire", "ice")), ent("B.", "sword", secondary(LogicAndAll, "ice", "old"))),
			chat: chat("an old sword of ice"), fired: []int{1}},
		{name: "NOT ANY", book: book(ent("A.", "sword", secondary(LogicNotAny, "fire", "ice")), ent("B.", "sword", secondary(LogicNotAny, "wind"))),
			chat: chat("a sword of ice"), fired: []int{1}},
		{name: "NOT ALL", book: book(ent("A.", "sword", secondary(LogicNotAll, "fire", "ice")), ent("B.", "sword", secondary(LogicNotAll, "ice", "sword"))),
			chat: chat("a sword of ice"), fired: []int{0}},
		{name: "secondary keys ignored when not selective", book: book(ent("A.", "sword", func(e *maopao.LoreEntry) { e.SecondaryKeys = []string{"fire"} })),
			chat: chat("sword"), fired: []int{0}},
		{name: "selective with no secondary keys is plain", book: book(ent("A.", "sword", secondary(LogicAndAll))),
			chat: chat("sword"), fired: []int{0}},

		// Constant.
		{name: "constant always, reason constant", book: book(ent("World rules.", "", constant), ent("K.", "x")),
			chat: nil, fired: []int{0}, reasons: map[int]string{0: "constant"}},

		// Scan depth.
		{name: "default scan depth is 2", book: book(ent("D.", "dragon")), chat: chat("dragon", "a", "b"), fired: nil},
		{name: "book scan_depth", book: func() maopao.Lorebook { b := book(ent("D.", "dragon")); b.ScanDepth = ptr(3); return b }(),
			chat: chat("dragon", "a", "b"), fired: []int{0}},
		{name: "book scan_depth 0 scans nothing", book: func() maopao.Lorebook { b := book(ent("D.", "dragon")); b.ScanDepth = ptr(0); return b }(),
			chat: chat("dragon"), fired: nil},
		{name: "option overrides book", book: func() maopao.Lorebook { b := book(ent("D.", "dragon")); b.ScanDepth = ptr(1); return b }(),
			chat: chat("dragon", "a", "b"), opt: Options{ScanDepth: 5}, fired: []int{0}},
		{name: "negative option scans none", book: book(ent("D.", "dragon")), chat: chat("dragon"), opt: Options{ScanDepth: -1}, fired: nil},
		{name: "@@scan_depth per entry", book: book(ent("@@scan_depth 4\nD.", "dragon"), ent("@@scan_depth 0\nE.", "b"), ent("F.", "dragon")),
			chat: chat("dragon", "x", "a", "b"), fired: []int{0}, contents: map[int]string{0: "D."}},
		{name: "scan_depth in extensions", book: book(ent("D.", "dragon", ext("scan_depth", float64(3)))),
			chat: chat("dragon", "a", "b"), fired: []int{0}},

		// Recursion.
		{name: "recursion fires entries named in content",
			book:    book(ent("The castle belongs to the king.", "castle", order(1)), ent("The king is old.", "king", order(2))),
			chat:    chat("we reach the castle"),
			fired:   []int{0, 1},
			reasons: map[int]string{1: `key "king" via recursion from entry 0`}},
		{name: "scan depth 0 still recurses from constants",
			book: func() maopao.Lorebook {
				b := book(ent("Everyone fears the witch.", "", constant), ent("The witch lives in the bog.", "witch"))
				b.ScanDepth = ptr(0)
				return b
			}(),
			chat: chat("witch"), fired: []int{0, 1}, reasons: map[int]string{1: "recursion from entry 0"}},
		{name: "recursive_scanning false",
			book: func() maopao.Lorebook {
				b := book(ent("Mentions the king.", "castle"), ent("K.", "king"))
				b.RecursiveScanning = ptr(false)
				return b
			}(),
			chat: chat("castle"), fired: []int{0}},
		{name: "recursion bounded by MaxRecursion",
			book: book(ent("to b1", "a0"), ent("to b2", "b1"), ent("to b3", "b2"), ent("to b4", "b3"), ent("end", "b4")),
			chat: chat("a0"), opt: Options{MaxRecursion: 2}, fired: []int{0, 1, 2}},
		{name: "default recursion is 3 passes",
			book: book(ent("to b1", "a0"), ent("to b2", "b1"), ent("to b3", "b2"), ent("to b4", "b3"), ent("end", "b4")),
			chat: chat("a0"), fired: []int{0, 1, 2, 3}},
		{name: "a cycle terminates, each entry once",
			book: book(ent("ping leads to pong", "ping"), ent("pong leads to ping", "pong")),
			chat: chat("ping"), opt: Options{MaxRecursion: 50}, fired: []int{0, 1}},
		{name: "exclude_recursion: only the chat fires it",
			book: book(ent("Mentions the king.", "castle"), ent("K.", "king", ext("exclude_recursion", true))),
			chat: chat("castle"), fired: []int{0}},
		{name: "prevent_recursion: its content fires nothing",
			book: book(ent("Mentions the king.", "castle", ext("prevent_recursion", true)), ent("K.", "king")),
			chat: chat("castle"), fired: []int{0}},
		{name: "delay_until_recursion: chat alone is not enough",
			book: book(ent("K.", "king", ext("delay_until_recursion", true))),
			chat: chat("king"), fired: nil},
		{name: "delay_until_recursion fires on recursion",
			book: book(ent("Mentions the king.", "castle"), ent("K.", "king", ext("delay_until_recursion", true))),
			chat: chat("castle"), fired: []int{0, 1}},
		{name: "selective completed by recursion",
			book: book(ent("It is winter.", "snow"), ent("Ice sword.", "sword", secondary(LogicAndAny, "winter"))),
			chat: chat("snow on my sword"), fired: []int{0, 1}, reasons: map[int]string{1: `"winter" via recursion from entry 0`}},
		{name: "hidden_key fires by recursion but stays out of the prompt",
			book: book(ent("A door.{{hidden_key:basement}}", "door"), ent("Rats.", "basement")),
			chat: chat("a door"), fired: []int{0, 1}, contents: map[int]string{0: "A door."}},

		// Budget and priority.
		{name: "budget drops lower priority first, constants count",
			book: func() maopao.Lorebook {
				b := book(
					ent("one two three", "", constant, order(50)),
					ent("low low low low", "x", priority(1), order(90)),
					ent("high high high high", "x", priority(9), order(10)),
				)
				b.TokenBudget = ptr(8)
				return b
			}(),
			chat: chat("x"), opt: Options{CountTokens: words},
			fired: []int{2, 0}, dropped: []int{1},
			check: func(t *testing.T, r Result) {
				if r.TokensUsed != 7 {
					t.Errorf("TokensUsed = %d, want 7", r.TokensUsed)
				}
			}},
		{name: "without priority, insertion order ranks",
			book: book(ent("a b c", "x", order(1)), ent("d e f", "x", order(2))),
			chat: chat("x"), opt: Options{CountTokens: words, TokenBudget: 4},
			fired: []int{1}, dropped: []int{0}},
		{name: "a smaller lower-priority entry does not jump the queue",
			book: book(ent("a b c d e", "x", priority(5)), ent("f", "x", priority(1)), ent("g h", "x", priority(9))),
			chat: chat("x"), opt: Options{CountTokens: words, TokenBudget: 4},
			fired: []int{2}, dropped: []int{0, 1}},
		{name: "caller budget smaller than book's wins",
			book: func() maopao.Lorebook {
				b := book(ent("a b c", "x"), ent("d e f", "x"))
				b.TokenBudget = ptr(100)
				return b
			}(),
			chat: chat("x"), opt: Options{CountTokens: words, TokenBudget: 3}, fired: []int{0}, dropped: []int{1}},
		{name: "negative budget: no room", book: book(ent("a", "", constant)),
			opt: Options{TokenBudget: -1}, fired: nil, dropped: []int{0}},
		{name: "output in insertion order",
			book:  book(ent("C.", "x", order(30)), ent("A.", "x", order(10)), ent("B.", "x", order(20)), ent("A2.", "x", order(10))),
			chat:  chat("x"),
			fired: []int{1, 3, 2, 0}},

		// Positions.
		{name: "position field and ST extensions",
			book: book(ent("A.", "x", position("after_char")), ent("B.", "x", position("before_char")), ent("C.", "x"),
				ent("D.", "x", ext("position", float64(4)), ext("depth", float64(2)), ext("role", float64(2)))),
			chat: chat("x"), fired: []int{0, 1, 2, 3},
			check: func(t *testing.T, r Result) {
				want := []string{"after_char/-1/system", "before_char/-1/system", "before_char/-1/system", "before_char/2/assistant"}
				for i, a := range r.Entries {
					if got := fmt.Sprintf("%s/%d/%s", a.Position, a.Depth, a.Role); got != want[i] {
						t.Errorf("entry %d: %s, want %s", a.Index, got, want[i])
					}
				}
			}},

		// Decorators.
		{name: "@@depth and @@role",
			book: book(ent("@@depth 3\n@@role user\n\nInserted.", "x")), chat: chat("x"), fired: []int{0},
			contents: map[int]string{0: "Inserted."},
			check: func(t *testing.T, r Result) {
				if a := r.Entries[0]; a.Depth != 3 || a.Role != "user" {
					t.Errorf("depth/role = %d/%s", a.Depth, a.Role)
				}
			}},
		{name: "@@position wins over @@depth",
			book: book(ent("@@depth 3\n@@position after_desc\nP.", "x"), ent("@@position personality\nQ.", "x")),
			chat: chat("x"), fired: []int{0, 1},
			check: func(t *testing.T, r Result) {
				if a := r.Entries[0]; a.Depth != -1 || a.Position != PositionAfterChar {
					t.Errorf("entry 0: depth %d position %s", a.Depth, a.Position)
				}
				if a := r.Entries[1]; a.Position != PositionPersonality {
					t.Errorf("entry 1: position %s", a.Position)
				}
			}},
		{name: "@@activate_only_after not yet", book: book(ent("@@activate_only_after 3\nA.", "x")),
			chat: chat("x"), opt: Options{MessageIndex: 2}, fired: nil},
		{name: "@@activate_only_after reached", book: book(ent("@@activate_only_after 3\nA.", "x")),
			chat: chat("x"), opt: Options{MessageIndex: 3}, fired: []int{0}},
		{name: "@@activate_only_after defaults to chat length", book: book(ent("@@activate_only_after 3\nA.", "x")),
			chat: chat("a", "b", "x"), fired: []int{0}},
		{name: "@@activate_only_every on the beat", book: book(ent("@@activate_only_every 2\nA.", "", constant)),
			opt: Options{MessageIndex: 4}, fired: []int{0}},
		{name: "@@activate_only_every off the beat", book: book(ent("@@activate_only_every 2\nA.", "", constant)),
			opt: Options{MessageIndex: 5}, fired: nil},
		{name: "@@exclude_keys", book: book(ent("@@exclude_keys ocean, sea\nA.", "ship"), ent("@@exclude_keys desert\nB.", "ship")),
			chat: chat("a ship at SEA"), fired: []int{1}},
		{name: "@@additional_keys", book: book(ent("@@additional_keys night\nA.", "ship"), ent("@@additional_keys day\nB.", "ship")),
			chat: chat("a ship at night"), fired: []int{0}},
		{name: "@@dont_activate", book: book(ent("@@dont_activate\nA.", "ship"), ent("@@dont_activate\nB.", "", constant)),
			chat: chat("ship"), fired: nil},
		{name: "@@activate beats @@dont_activate", book: book(ent("@@dont_activate\n@@activate\nA.", "nothing")),
			chat: chat("ship"), fired: []int{0}, reasons: map[int]string{0: "@@activate"}},
		{name: "@@@ fallback used when the decorator is unknown",
			book: book(ent("@@risu_only 5\n@@@depth 2\nA.", "x")), chat: chat("x"), fired: []int{0},
			check: func(t *testing.T, r Result) {
				if r.Entries[0].Depth != 2 || len(r.Warnings) != 0 {
					t.Errorf("depth %d warnings %v", r.Entries[0].Depth, r.Warnings)
				}
			}},
		{name: "@@@ fallback skipped when the decorator is known",
			book: book(ent("@@depth 1\n@@@depth 7\nA.", "x")), chat: chat("x"), fired: []int{0},
			check: func(t *testing.T, r Result) {
				if r.Entries[0].Depth != 1 {
					t.Errorf("depth %d", r.Entries[0].Depth)
				}
			}},
		{name: "invalid value falls to the fallback",
			book: book(ent("@@depth deep\n@@@scan_depth 5\nA.", "x")), chat: chat("x", "b", "c", "d"), fired: []int{0},
			check: func(t *testing.T, r Result) {
				if r.Entries[0].Depth != -1 {
					t.Errorf("depth %d", r.Entries[0].Depth)
				}
			}},
		{name: "unknown decorator without fallback is ignored with a warning",
			book: book(ent("@@is_user_icon cat\nA.", "x")), chat: chat("x"), fired: []int{0},
			contents: map[int]string{0: "A."}, warn: "@@is_user_icon"},
		{name: "first decorator of a name wins",
			book: book(ent("@@depth 1\n@@depth 5\nA.", "x")), chat: chat("x"), fired: []int{0},
			check: func(t *testing.T, r Result) {
				if r.Entries[0].Depth != 1 {
					t.Errorf("depth %d", r.Entries[0].Depth)
				}
			}},

		// Macros.
		{name: "macros in content and keys",
			book: book(ent("{{char}} trusts {{user}}. <BOT> and <USER>.", "{{user}}")), chat: chat("I am Ada"),
			opt: Options{CharName: "Ren", UserName: "Ada"}, fired: []int{0},
			contents: map[int]string{0: "Ren trusts Ada. Ren and Ada."}},
		{name: "custom expander",
			book: book(ent("Roll: {{roll:6}}", "x")), chat: chat("x"),
			opt: Options{Expand: func(s string) string { return strings.ReplaceAll(s, "{{roll:6}}", "4") }}, fired: []int{0},
			contents: map[int]string{0: "Roll: 4"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.book
			r := Activate(&b, tc.chat, tc.opt)
			if got := indexes(r.Entries); !slices.Equal(got, tc.fired) {
				t.Fatalf("fired %v, want %v (reasons %v, warnings %v)", got, tc.fired, reasons(r.Entries), r.Warnings)
			}
			if got := indexes(r.Dropped); !slices.Equal(got, tc.dropped) {
				t.Errorf("dropped %v, want %v", got, tc.dropped)
			}
			for _, a := range r.Entries {
				if want, ok := tc.reasons[a.Index]; ok && !strings.Contains(a.Reason, want) {
					t.Errorf("entry %d reason %q, want it to contain %q", a.Index, a.Reason, want)
				}
				if want, ok := tc.contents[a.Index]; ok && a.Content != want {
					t.Errorf("entry %d content %q, want %q", a.Index, a.Content, want)
				}
			}
			if tc.warn != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warn) {
				t.Errorf("warnings %q lack %q", r.Warnings, tc.warn)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func indexes(as []Activated) []int {
	var out []int
	for _, a := range as {
		out = append(out, a.Index)
	}
	return out
}

func reasons(as []Activated) []string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%d:%s", a.Index, a.Reason))
	}
	return out
}

func TestActivateNilAndDeterministic(t *testing.T) {
	if r := Activate(nil, chat("x"), Options{}); len(r.Entries)+len(r.Dropped) != 0 {
		t.Fatalf("nil book fired %+v", r)
	}
	b := book(ent("a b", "x", priority(2)), ent("c d", "x", priority(2)), ent("e f", "x", priority(2)), ent("g", "", constant))
	first := Activate(&b, chat("x"), Options{CountTokens: words, TokenBudget: 5})
	for range 20 {
		again := Activate(&b, chat("x"), Options{CountTokens: words, TokenBudget: 5})
		if !slices.Equal(indexes(again.Entries), indexes(first.Entries)) || !slices.Equal(indexes(again.Dropped), indexes(first.Dropped)) {
			t.Fatalf("not deterministic: %v/%v then %v/%v", indexes(first.Entries), indexes(first.Dropped), indexes(again.Entries), indexes(again.Dropped))
		}
	}
	// Ties keep book order: the constant first, then entries 0 and 1.
	if got := indexes(first.Dropped); !slices.Equal(got, []int{2}) {
		t.Fatalf("dropped %v, want [2]", got)
	}
}

func TestProbability(t *testing.T) {
	b := book(
		ent("Sometimes.", "x", ext("useProbability", true), ext("probability", float64(30))),
		ent("Never.", "x", ext("useProbability", true), ext("probability", float64(0))),
		ent("Ignored when unused.", "x", ext("useProbability", false), ext("probability", float64(0))),
	)
	hits := 0
	for turn := 1; turn <= 400; turn++ {
		opt := Options{Seed: 5, MessageIndex: turn}
		r := Activate(&b, chat("x"), opt)
		got := indexes(r.Entries)
		if slices.Contains(got, 1) || !slices.Contains(got, 2) {
			t.Fatalf("turn %d fired %v", turn, got)
		}
		if slices.Contains(got, 0) {
			hits++
			if !strings.Contains(r.Entries[0].Reason, "< 30%") {
				t.Errorf("reason %q does not show the roll", r.Entries[0].Reason)
			}
		}
		if again := indexes(Activate(&b, chat("x"), opt).Entries); !slices.Equal(again, got) {
			t.Fatalf("turn %d not replayable: %v then %v", turn, got, again)
		}
	}
	if hits < 80 || hits > 160 {
		t.Fatalf("30%% entry fired %d times in 400 turns", hits)
	}
}

func TestPathologicalRegexIsBounded(t *testing.T) {
	var entries []maopao.LoreEntry
	for range 40 {
		entries = append(entries, ent("Slow.", `/^(?=a)(a+)+$/`))
	}
	b := book(entries...)
	msg := strings.Repeat("a", 40) + "X"
	start := time.Now()
	r := Activate(&b, chat(msg, msg), Options{})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("activation took %v", took)
	}
	if len(r.Entries) != 0 {
		t.Fatalf("fired %v", indexes(r.Entries))
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "used up") {
		t.Fatalf("no warning about the regex budget: %q", r.Warnings)
	}
}

// TestSillyTavernExport reads a book as SillyTavern exports it inside a
// card: every entry has use_regex true with plain-word keys, and the real
// settings live in extensions.
func TestSillyTavernExport(t *testing.T) {
	data, err := os.ReadFile("testdata/sillytavern_book.json")
	if err != nil {
		t.Fatal(err)
	}
	var b maopao.Lorebook
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	r := Activate(&b, chat(
		"The Lighthouse at night, a stormy night.",
		"I code in C++ daily; concatenate that. The harbor is quiet.",
	), Options{CharName: "Orin", UserName: "Ada"})
	got := map[int]Activated{}
	for _, a := range r.Entries {
		got[a.Index] = a
	}
	if want := []int{4, 2, 0, 1}; !slices.Equal(indexes(r.Entries), want) {
		t.Fatalf("fired %v, want %v (%v; warnings %v)", indexes(r.Entries), want, reasons(r.Entries), r.Warnings)
	}
	if a := got[2]; a.Depth != 2 || a.Role != "user" || a.Content != "A storm is coming; Ada should stay indoors." {
		t.Errorf("depth entry: %+v", a)
	}
	if got[4].Position != PositionBeforeChar || got[0].Position != PositionAfterChar || got[0].Depth != -1 {
		t.Errorf("positions: %+v / %+v", got[4], got[0])
	}
	if got[1].Content != "Orin once wrote the harbour's tide tables in C++." {
		t.Errorf("content: %q", got[1].Content)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings: %v", r.Warnings)
	}
}
