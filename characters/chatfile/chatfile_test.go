package chatfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A chat as SillyTavern writes it: header, greeting with an alternate,
// a user line, a reply with three swipes (the second chosen).
const stChat = `{"user_name":"Ada","character_name":"Captain Ren","create_date":"2024-5-1 @12h 34m 56s 789ms","chat_metadata":{"integrity":"abc","note_prompt":"x"}}
{"name":"Captain Ren","is_user":false,"is_system":false,"send_date":"May 1, 2024 12:34pm","mes":"Welcome aboard.","extra":{},"swipes":["Welcome aboard.","Ahoy."],"swipe_id":0,"swipe_info":[]}
{"name":"Ada","is_user":true,"is_system":false,"send_date":"2024-05-01T12:35:00.000Z","mes":"Hello, captain.","extra":{"bias":null}}
{"name":"Captain Ren","is_user":false,"is_system":false,"send_date":1714567000000,"mes":"Stow your gear.","extra":{"api":"openai","model":"x"},"swipes":["Sit down.","Stow your gear.","Later."],"swipe_id":1,"swipe_info":[{},{},{}]}
`

func TestReadSillyTavernChat(t *testing.T) {
	c, err := Read(strings.NewReader(stChat))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "Ada" || c.CharacterName != "Captain Ren" || len(c.Messages) != 3 {
		t.Fatalf("chat %+v", c)
	}
	if want := time.Date(2024, 5, 1, 12, 34, 56, 789e6, time.UTC); !c.Created.Equal(want) {
		t.Errorf("created %v, want %v", c.Created, want)
	}
	g, u, r := c.Messages[0], c.Messages[1], c.Messages[2]
	if g.IsUser || g.Text != "Welcome aboard." || !reflect.DeepEqual(g.Swipes, []string{"Welcome aboard.", "Ahoy."}) {
		t.Errorf("greeting %+v", g)
	}
	if !u.IsUser || u.Text != "Hello, captain." || u.Swipes != nil || !u.SentAt.Equal(time.Date(2024, 5, 1, 12, 35, 0, 0, time.UTC)) {
		t.Errorf("user line %+v", u)
	}
	if r.SwipeID != 1 || r.Text != "Stow your gear." || len(r.Swipes) != 3 || !r.SentAt.Equal(time.UnixMilli(1714567000000)) {
		t.Errorf("reply %+v", r)
	}
}

func TestRoundTrip(t *testing.T) {
	c, err := Read(strings.NewReader(stChat))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, c); err != nil {
		t.Fatal(err)
	}
	written := buf.String()
	back, err := Read(&buf)
	if err != nil {
		t.Fatalf("reading what Write wrote: %v\n%s", err, written)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip changed the chat:\n got %+v\nwant %+v", back, c)
	}
	// Every written line has what SillyTavern reads.
	lines := strings.Split(strings.TrimSpace(written), "\n")
	var h map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &h); err != nil || h["user_name"] != "Ada" || h["chat_metadata"].(map[string]any)["integrity"] != "abc" {
		t.Fatalf("header %s", lines[0])
	}
	for _, l := range lines[1:] {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "is_user", "is_system", "send_date", "mes", "extra", "swipes", "swipe_id", "swipe_info"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line lacks %q: %s", k, l)
			}
		}
	}
}

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "empty"},
		{"no header", `{"name":"A","is_user":true,"mes":"hi"}`, "header"},
		{"not json", "{\"user_name\":\"A\"}\nnot json", "line 2"},
		{"no mes", "{\"user_name\":\"A\"}\n{\"name\":\"A\"}", "no mes"},
		{"bad swipe", "{\"user_name\":\"A\"}\n{\"name\":\"A\",\"mes\":\"x\",\"swipes\":[\"a\",\"b\"],\"swipe_id\":5}", "swipe_id"},
		{"deep", "{\"user_name\":\"A\"}\n{\"mes\":\"x\",\"extra\":" + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}", "nests"},
		{"bad utf8", "{\"user_name\":\"A\"}\n{\"mes\":\"\xff\"}", "UTF-8"},
	} {
		_, err := Read(strings.NewReader(tc.file))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an *Error saying %q", tc.name, err, tc.want)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add([]byte(stChat))
	f.Add([]byte("{\"user_name\":\"A\"}\n{\"mes\":\"x\",\"swipes\":[\"a\",\"b\"],\"swipe_id\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, c); err != nil {
			t.Fatalf("write a chat that was read: %v", err)
		}
		back, err := Read(&buf)
		if err != nil {
			t.Fatalf("read back what was written: %v", err)
		}
		if len(back.Messages) != len(c.Messages) {
			t.Fatalf("%d messages became %d", len(c.Messages), len(back.Messages))
		}
		for i := range c.Messages {
			if back.Messages[i].Text != c.Messages[i].Text || back.Messages[i].SwipeID != c.Messages[i].SwipeID {
				t.Fatalf("message %d changed: %+v → %+v", i, c.Messages[i], back.Messages[i])
			}
		}
	})
}

// Files SillyTavern 1.12 wrote itself (a chat built with /send, /sendas and
// /addswipe, and one of ours it re-saved) read as they are.
func TestReadSillyTavernWrittenFiles(t *testing.T) {
	f, err := os.Open("testdata/sillytavern-native.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserName != "Ada" || c.CharacterName != "Greeter" || len(c.Messages) != 5 || c.Created.IsZero() {
		t.Fatalf("chat %+v", c)
	}
	g, r := c.Messages[0], c.Messages[2]
	if len(g.Swipes) != 3 || g.Text != "Hello there." || g.IsUser {
		t.Errorf("greeting %+v", g)
	}
	if r.IsSystem || r.Text != "Reply one." || len(r.Swipes) != 2 || r.SentAt.IsZero() {
		t.Errorf("a /sendas reply (is_system \"\") %+v", r)
	}
	if u := c.Messages[1]; !u.IsUser || u.Text != "Hi, greeter. 你好" || u.Swipes != nil {
		t.Errorf("user line %+v", u)
	}
	resaved, err := os.Open("testdata/sillytavern-resaved.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer resaved.Close()
	if c, err := Read(resaved); err != nil || len(c.Messages) != 5 || len(c.Messages[2].Swipes) != 3 {
		t.Fatalf("a chat of ours re-saved by SillyTavern: %v %+v", err, c)
	}
}
