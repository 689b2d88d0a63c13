package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/openai/openaitest"
)

// The chat command's one-shot forms, as the README shows them.
func TestChatCommandForms(t *testing.T) {
	llm := openaitest.Start(t)
	llm.Prefix = "answer "
	hs := llm
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LLMURL: hs.URL, LineBurst: 100,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	common := []string{"--url", srv.URL(), "--identity", filepath.Join(dir, "id.json")}
	chat := func(args ...string) string {
		t.Helper()
		out, errOut, err := runChat(t, "", append(args, common...)...)
		if err != nil {
			t.Fatalf("chat %v: %v (stderr %q)", args, err, errOut)
		}
		return out
	}

	if out := chat("--character", "Captain Ren", "--say", "Hello, captain.", "--persona-name", "Ada", "--persona-description", "Ada mends sails."); out != "answer 1\n" {
		t.Fatalf("--say printed %q", out)
	}
	if !strings.Contains(llm.Last(), "Ada mends sails.") || !strings.Contains(llm.Last(), "Welcome aboard the Long Wind, Ada") {
		t.Errorf("the prompt lacks the persona or the greeting:\n%s", llm.Last())
	}
	if out := chat("--character", "Captain Ren", "--regenerate"); out != "answer 2\n" {
		t.Fatalf("--regenerate printed %q", out)
	}
	if out := chat("--character", "Captain Ren", "--swipe", "1"); out != "answer 1\n" {
		t.Fatalf("--swipe 1 printed %q", out)
	}
	if out := chat("--character", "Captain Ren", "--swipe", "3"); out != "answer 3\n" {
		t.Fatalf("--swipe 3 (a new one) printed %q", out)
	}
	if out := chat("--character", "Captain Ren", "--new", "--say", "Let's start over."); out != "answer 4\n" {
		t.Fatalf("--new --say printed %q", out)
	}
	lines := strings.Split(strings.TrimSpace(chat("--character", "Captain Ren", "--list-chats")), "\n")
	if len(lines) != 2 {
		t.Fatalf("--list-chats printed %q", lines)
	}
	fields := strings.Split(lines[1], "\t")
	if len(fields) != 4 || fields[2] != "3" || !strings.Contains(fields[1], "answer 3") {
		t.Fatalf("a --list-chats line is id, title, messages, updated: %q", lines[1])
	}
	first := fields[0]
	if out := chat("--chat", first, "--say", "Back to the first chat."); out != "answer 5\n" {
		t.Fatalf("--chat --say printed %q", out)
	}
	file := filepath.Join(dir, "chat.jsonl")
	chat("--chat", first, "--export", file)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	exported := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(exported) != 6 || !strings.Contains(exported[0], `"user_name":"Ada"`) || !strings.Contains(exported[3], `"swipes":["answer 1","answer 2","answer 3"]`) {
		t.Fatalf("exported file:\n%s", data)
	}
	imported := strings.TrimSpace(chat("--character", "Captain Ren", "--import", file))
	if imported == "" || imported == first {
		t.Fatalf("--import printed %q", imported)
	}
	file2 := filepath.Join(dir, "again.jsonl")
	chat("--chat", imported, "--export", file2)
	again, _ := os.ReadFile(file2)
	if stripDates(string(again)) != stripDates(string(data)) {
		t.Fatalf("an imported chat exports differently:\n%s\nwas\n%s", again, data)
	}

	// A chat as SillyTavern writes it keeps its messages and swipes.
	st := filepath.Join(dir, "st.jsonl")
	stChat := `{"user_name":"Bo","character_name":"Captain Ren","create_date":"2024-5-1 @12h 34m 56s 789ms","chat_metadata":{"integrity":"x"}}
{"name":"Captain Ren","is_user":false,"is_system":false,"send_date":"May 1, 2024 12:34pm","mes":"Ahoy.","extra":{},"swipes":["Welcome aboard.","Ahoy."],"swipe_id":1,"swipe_info":[]}
{"name":"Bo","is_user":true,"is_system":false,"send_date":"2024-05-01T12:35:00.000Z","mes":"Hello, captain.","extra":{}}
{"name":"Captain Ren","is_user":false,"is_system":false,"send_date":1714567000000,"mes":"Stow your gear.","extra":{},"swipes":["Sit down.","Stow your gear.","Later."],"swipe_id":1,"swipe_info":[{},{},{}]}
`
	if err := os.WriteFile(st, []byte(stChat), 0o600); err != nil {
		t.Fatal(err)
	}
	stID := strings.TrimSpace(chat("--character", "Captain Ren", "--import", st))
	stBack := filepath.Join(dir, "st-back.jsonl")
	chat("--chat", stID, "--export", stBack)
	back, _ := os.ReadFile(stBack)
	type msg struct {
		Name    string   `json:"name"`
		IsUser  bool     `json:"is_user"`
		Mes     string   `json:"mes"`
		Swipes  []string `json:"swipes"`
		SwipeID int      `json:"swipe_id"`
	}
	read := func(s string) []msg {
		var out []msg
		for _, l := range strings.Split(strings.TrimSpace(s), "\n")[1:] {
			var m msg
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Swipes) == 1 {
				m.Swipes = nil // SillyTavern writes a lone swipe or none alike
			}
			out = append(out, m)
		}
		return out
	}
	if got, want := read(string(back)), read(stChat); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("a SillyTavern chat came back as\n%v\nwant\n%v", got, want)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--character", "Captain Ren", "--regenerate", "--say", "x"}, "give one of"},
		{[]string{"--list-chats"}, "required"},
		{[]string{"--chat", "no-such-chat", "--say", "x"}, "unknown_chat"},
	} {
		_, _, err := runChat(t, "", append(tc.args, common...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chat %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// stripDates blanks create_date and send_date values, which an import
// keeps but normalises.
func stripDates(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			out = append(out, line)
			continue
		}
		delete(m, "create_date")
		delete(m, "send_date")
		delete(m, "swipe_info")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}
