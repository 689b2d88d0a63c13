package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPathAtOffset(t *testing.T) {
	for _, c := range []struct {
		body, want string
	}{
		{`{"tags": "x"}`, "tags"},
		{`{"character_book": {"entries": [{"keys": ["a"]}, {"keys": "b"}]}}`, "character_book.entries[1].keys"},
		{`{"character_book": {"entries": [{}, {}, {"priority": "high"}]}}`, "character_book.entries[2].priority"},
		{`{"assets": [{"uri": "u"}, {"uri": 5}]}`, "assets[1].uri"},
		{`{"alternate_greetings": ["a", 7]}`, "alternate_greetings[1]"},
		{`{"character_book": []}`, "character_book"},
	} {
		var b characterBody
		e := decodeJSON(strings.NewReader(c.body), 1<<20, &b)
		if e == nil || len(e.errs) != 1 || e.errs[0].Path != c.want {
			t.Errorf("%s: problem %+v, want path %s", c.body, e, c.want)
		}
	}
}

// FuzzCharacterBody checks the REST body decoder on any input: it never
// panics, and always gives either a problem with a 4xx status and a detail,
// or a character whose fields pass validation and can be stored (valid
// UTF-8, encodable as JSON).
func FuzzCharacterBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Mira","tags":["fox"],"revision":2}`,
		`{"name":"x","character_book":{"entries":[{"keys":["a"],"content":"c","extensions":{"a.b":1,"$ref":"x"},"id":3}],"extensions":{}}}`,
		`{"name":"x","character_book":{"entries":[{"keys":"a"}]}}`,
		`{"name":"","visibility":"nope","tags":[" "]}`,
		`{"name":"x","extensions":{"deep":[[[[{"a":null}]]]]},"card_extra":{"k":1e308}}`,
		`{"name":"x","avatar":"aGk="}`,
		`{"name":"x","unknown":1}`,
		`{"name":"\ud800 broken surrogate","creator_notes_multilingual":{"zh.cn":"x"}}`,
		`{"name":"x"} trailing`,
		`[]`, `null`, `"str"`, ``, `{`, `{"name":1}`,
		`{"name":"x","character_book":{"entries":[{"id":[1]}]}}`,
		`{"name":"x","assets":[{"type":"icon","uri":"embeded://a.png","name":"main","ext":"png"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		body, e := decodeCharacterBody(bytes.NewReader(data), 1<<16)
		if (body == nil) == (e == nil) {
			t.Fatalf("want exactly one of a body and a problem, got %v and %v", body, e)
		}
		if e != nil {
			if e.status < 400 || e.status > 499 || e.detail == "" || e.code == "" {
				t.Fatalf("problem %+v is not a client error with a detail", e)
			}
			for _, fe := range e.errs {
				if fe.Path == "" || fe.Message == "" {
					t.Fatalf("field error without a path or message: %+v", fe)
				}
			}
			return
		}
		c := body.Character
		if errs := validateCharacter(&c); len(errs) > 0 {
			t.Fatalf("accepted body fails validation: %+v", errs)
		}
		if strings.TrimSpace(c.Name) == "" || utf8.RuneCountInString(c.Name) > MaxNameRunes {
			t.Fatalf("accepted name %q", c.Name)
		}
		for _, s := range append([]string{c.Name, c.Description, c.FirstMes, c.Creator, string(c.Visibility)}, c.Tags...) {
			if !utf8.ValidString(s) {
				t.Fatalf("accepted invalid UTF-8 %q", s)
			}
		}
		if _, err := json.Marshal(c); err != nil {
			t.Fatalf("accepted character cannot be encoded: %v", err)
		}
	})
}

func TestJSONProblemStatuses(t *testing.T) {
	for body, status := range map[string]int{
		``:               http.StatusBadRequest,
		`{"name":`:       http.StatusBadRequest,
		`{"name":"a"}{}`: http.StatusBadRequest,
		`{"nombre":"a"}`: http.StatusBadRequest,
		`{"name":"` + strings.Repeat("x", 100) + `"}`: http.StatusRequestEntityTooLarge,
	} {
		_, e := decodeCharacterBody(strings.NewReader(body), 64)
		if e == nil || e.status != status {
			t.Errorf("%.30q: %+v, want status %d", body, e, status)
		}
	}
}
