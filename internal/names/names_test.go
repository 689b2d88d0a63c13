package names

import "testing"

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"  Ada  ", "Ada", false},
		{"Cafe\u0301", "Café", false}, // decomposed é becomes one character
		{"小明", "小明", false},
		{"Ada\nLovelace", "", true},
		{"Ada\x00", "", true},
		{"\u202Eetirw", "", true},
		{"ab\u2066c", "", true},
		{"\u200B\u200C\u200D", "", true},
		{"\u3164", "", true},
		{"", "", true},
		{"Zoë\u200B", "Zoë\u200B", false}, // a stray invisible next to visible text is kept
	} {
		got, err := Clean(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("Clean(%q) = %q, %v", tc.in, got, err)
		}
	}
	if !Same("Captain Ren", "captain\u200bren") || Same("Ada", "Adb") {
		t.Error("Same")
	}
}
