package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// FuzzMemoryBody: any body of POST/PATCH /api/v1/memories gives either a
// memory the store accepts or a client-error problem with paths on its
// field errors, never a panic.
func FuzzMemoryBody(f *testing.F) {
	for _, seed := range []string{
		`{"text":"Ada is allergic to peanuts.","pinned":true}`, `{"text":"","importance":11}`, `{"pinned":"yes"}`,
		`{"text":"` + strings.Repeat("x", 3000) + `"}`, `{"importance":0}`, `{"text":"\u202e"}`, `[]`, `null`, `{`, ``,
		`{"text":"ok","extra":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var body MemoryBody
		e := decodeJSON(bytes.NewReader(data), maxMemoryBody, &body)
		m := maopao.ChatMemory{ID: "m", PlayerID: "p", CharacterID: "c", Kind: maopao.ChatMemoryNote, Text: "before", Importance: 7,
			CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(1, 0)}
		if e == nil {
			e = applyMemoryBody(&m, body)
		}
		if e == nil {
			if err := storage.ValidChatMemory(m); err != nil {
				t.Fatalf("a body was accepted but makes a memory the store refuses: %v (%+v)", err, m)
			}
			if !utf8.ValidString(m.Text) {
				t.Fatalf("accepted text is not UTF-8: %q", m.Text)
			}
			return
		}
		if e.status < 400 || e.status > 499 || e.detail == "" || e.code == "" {
			t.Fatalf("problem %+v is not a client error with a detail", e)
		}
		for _, fe := range e.errs {
			if fe.Path == "" || fe.Message == "" {
				t.Fatalf("field error without a path or message: %+v", fe)
			}
		}
	})
}
