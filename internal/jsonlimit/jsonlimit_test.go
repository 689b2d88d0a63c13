package jsonlimit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	l := Limits{MaxDepth: 3, MaxValues: 10}
	for _, tc := range []struct {
		doc  string
		what string // "" when within the limits
	}{
		{`{}`, ""},
		{`{"a":[1,2,{"b":null}]}`, ""},
		{`{"a":[[[]]]}`, "nests"},
		{`[1,2,3,4,5,6,7,8,9,10]`, "holds"},
		{`"[[[[[[[[[[[[["`, ""},              // brackets inside a string are text
		{`["a\"[[[[[[[[[[", 1]`, ""},         // so are escaped quotes
		{`[true,false,null,-1.5e3,"x"]`, ""}, // six values
		{`[{},{},{},{},{},{},{},{},{},{}]`, "holds"},
	} {
		err := l.Check([]byte(tc.doc))
		var le *Error
		switch {
		case tc.what == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.doc, err)
		case tc.what != "" && (!errors.As(err, &le) || le.What != tc.what):
			t.Errorf("%s: %v, want a %q error", tc.doc, err, tc.what)
		}
	}
}

// The count agrees with a real decoder's tokens on valid JSON.
func TestCountsTokens(t *testing.T) {
	doc := `{"name":"Ren","tags":["sea","tea"],"n":[1,2.5,-3e2],"ok":true,"x":null,"o":{"k":{"l":"\"}"}}}`
	dec := json.NewDecoder(strings.NewReader(doc))
	tokens := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			continue
		}
		tokens++
	}
	if err := (Limits{MaxValues: tokens}).Check([]byte(doc)); err != nil {
		t.Fatalf("limit %d (the token count): %v", tokens, err)
	}
	if err := (Limits{MaxValues: tokens - 1}).Check([]byte(doc)); err == nil {
		t.Fatalf("limit %d passed a document of %d tokens", tokens-1, tokens)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c\\"d"}]}`))
	f.Add([]byte(`[[[[`))
	f.Add([]byte(`"\`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Default.Check(data)
		if err == nil || !json.Valid(data) {
			return
		}
		// A valid document refused: it must really break a limit.
		var le *Error
		if !errors.As(err, &le) {
			t.Fatalf("%v is not a *Error", err)
		}
	})
}
