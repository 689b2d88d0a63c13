package chatcli

import (
	"bytes"
	"strings"
	"testing"
	"unicode"

	"github.com/maopao/maopao/protocol"
)

func TestResolveNamed(t *testing.T) {
	items := []named{{"w1", "Misty Harbour"}, {"w2", "Misty Peaks"}, {"tea-house", "Xiaoyu's Tea House"}, {"w4", "老城"}, {"W4", "Decoy"}}
	cases := []struct{ q, want, err string }{
		{"w1", "w1", ""},
		{"W4", "W4", ""},               // an exact id wins
		{"TEA-HOUSE", "tea-house", ""}, // ids also match in any case
		{"misty harbour", "w1", ""},
		{"misty p", "w2", ""},
		{"xiaoyu", "tea-house", ""},
		{"tea", "tea-house", ""}, // a later word of the name
		{"harb", "w1", ""},
		{"peak", "w2", ""},
		{"老", "w4", ""},
		{"misty", "", `world "misty" is ambiguous; it matches: Misty Harbour (id w1), Misty Peaks (id w2)`},
		{"moon", "", `no world here matches "moon"; choices: `},
		{"  ", "", "no world given; choices here: "},
	}
	for _, tc := range cases {
		got, err := resolveNamed("world", " here", items, tc.q)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "(id w1)") {
				t.Errorf("resolveNamed(%q) = %v, %v; want an error %q listing the choices", tc.q, got, err, tc.err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("resolveNamed(%q) = %v, %v; want %s", tc.q, got, err, tc.want)
		}
	}
}

func TestSplitName(t *testing.T) {
	items := []named{{"c1", "Lin Xiaoyu"}, {"c2", "Lin"}, {"c3", "Professor Mei"}}
	cases := []struct{ in, name, rest string }{
		{"Lin Xiaoyu how are you?", "Lin Xiaoyu", "how are you?"},
		{"lin hello", "lin", "hello"},
		{"professor mei  is class over?", "professor mei", "is class over?"},
		{"prof is class over?", "prof", "is class over?"},
		{"c3 hi", "c3", "hi"},
		{"Mei", "Mei", ""},
		{"", "", ""},
	}
	for _, tc := range cases {
		name, rest := splitName(items, tc.in)
		if name != tc.name || rest != tc.rest {
			t.Errorf("splitName(%q) = %q, %q; want %q, %q", tc.in, name, rest, tc.name, tc.rest)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ok\x1b[2Jhi\tthere\nnext\x00\x7f\u0085\xff end 你好", "okhi\tthere\nnext\uFFFD end 你好"},
		{"\x1b[2J\x1b[41mred\x1b[0m", "red"},
		{"title\x1b]0;pwned\x07 after", "title after"},
		{"osc\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osclink"},
		{"\x1b(Bcharset \x1bcreset", "charset reset"},
		{"8-bit \u009b31mcsi", "8-bit csi"},
		{"cut at the end \x1b[", "cut at the end "},
	} {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func ev(kind, actor, id, replyTo, text string) protocol.WorldEvent {
	return protocol.WorldEvent{Kind: kind, Actor: protocol.Actor{Kind: "character", ID: actor, Name: actor}, MessageID: id, ReplyTo: replyTo, Text: text}
}

// TestFeedInterleaving: two characters answering at once print one after
// the other, each line whole under its name; a note breaks in cleanly.
func TestFeedInterleaving(t *testing.T) {
	var out bytes.Buffer
	f := newFeed(&out)
	f.speaking(ev("speaking", "Ana", "a", "l", ""))
	f.speaking(ev("speaking", "Bo", "b", "l", ""))
	f.delta(ev("delta", "Ana", "a", "", "Ana: Hel"))
	f.delta(ev("delta", "Bo", "b", "", "Yo "))
	f.note("* Cy arrived.")
	f.delta(ev("delta", "Ana", "a", "", "lo"))
	f.delta(ev("delta", "Bo", "b", "", "there"))
	f.said(ev("said", "Bo", "b", "l", "Yo there"))
	if strings.Contains(out.String(), "Bo") {
		t.Fatalf("Bo printed before Ana finished:\n%s", out.String())
	}
	f.said(ev("said", "Ana", "a", "l", "Hello")) // tidied by the world
	f.said(ev("said", "Cy", "c", "l", "Hi all")) // never streamed
	f.speaking(ev("speaking", "Dee", "d", "l", ""))
	f.delta(ev("delta", "Dee", "d", "", "Wai"))
	f.failed("Dee", "l")
	f.speaking(ev("speaking", "Eve", "e", "l", ""))
	f.failed("Eve", "l")
	want := "Ana: Ana: Hel\n* Cy arrived.\nAna: lo\nAna (final): Hello\nBo: Yo there\nCy: Hi all\nDee: Wai [unfinished]\nEve: [no answer]\n"
	if out.String() != want {
		t.Errorf("feed printed\n%q\nwant\n%q", out.String(), want)
	}
}

// FuzzFeed: any sequence of events prints without panicking and without a
// control character other than newline and tab.
func FuzzFeed(f *testing.F) {
	f.Add([]byte("sdsdx"), "a", "b", "hi\x1b[31m")
	f.Add([]byte("xxxx"), "", "", "")
	f.Fuzz(func(t *testing.T, ops []byte, id1, id2, text string) {
		var out bytes.Buffer
		fd := newFeed(&out)
		for i, op := range ops {
			id := id1
			if i%2 == 1 {
				id = id2
			}
			switch op % 5 {
			case 0:
				fd.speaking(ev("speaking", id, id, "r", ""))
			case 1:
				fd.delta(ev("delta", id, id, "", text))
			case 2:
				fd.said(ev("said", id, id, "r", text))
			case 3:
				fd.failed(id, "r")
			case 4:
				fd.note("%s", clean(text))
			}
		}
		for _, r := range out.String() {
			if unicode.IsControl(r) && r != '\n' && r != '\t' {
				t.Fatalf("control character %U in output %q", r, out.String())
			}
		}
	})
}

// Cleaning a prefix gives a prefix of cleaning the whole, so streamed
// pieces can be cleaned as they accumulate.
func TestCleanPrefixes(t *testing.T) {
	for _, s := range []string{"a\x1b[2Jb\x1b]0;t\x07c\x1b(Bd\x1bce\x00f\u009b1mg", "plain 你好", "\x1b]unterminated title and more"} {
		whole := clean(s)
		rs := []rune(s)
		for i := range rs {
			if p := clean(string(rs[:i])); !strings.HasPrefix(whole, p) {
				t.Fatalf("clean(%q) = %q is not a prefix of clean(%q) = %q", string(rs[:i]), p, s, whole)
			}
		}
	}
}

// What clean removes at the start of a line leaves no stray space: the
// streamed line and the final one agree.
func TestFeedTrimsAfterCleaning(t *testing.T) {
	var out bytes.Buffer
	f := newFeed(&out)
	f.speaking(ev("speaking", "Ana", "a", "l", ""))
	f.delta(ev("delta", "Ana", "a", "", "\x1b[1m  Hel"))
	f.delta(ev("delta", "Ana", "a", "", "lo"))
	f.said(ev("said", "Ana", "a", "l", "\x1b[1m  Hello"))
	if got := out.String(); got != "Ana: Hello\n" {
		t.Fatalf("feed printed %q", got)
	}
}
