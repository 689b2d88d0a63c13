package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/clients/chatcli"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// The memory manager in the terminal: list (one memory a line: id, pinned
// or not, kind, text), add, pin, unpin, edit, forget, with the identity
// `maopao chat` keeps.
func TestMemoryCommands(t *testing.T) {
	url := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token, player, err := chatclient.NewSession(ctx, url, "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ident := filepath.Join(t.TempDir(), "identity.json")
	if err := chatcli.SaveIdentity(ident, chatcli.Identity{URL: url, Token: token, PlayerID: player}); err != nil {
		t.Fatal(err)
	}
	common := []string{"--url", url, "--identity", ident}
	c, err := chatclient.Dial(ctx, url, token)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch := chars[0]
	op, err := c.OpenChat(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The engine is unreachable: the line is stored (and remembered) and
	// its reply retried; the memories do not wait for the reply.
	if err := c.Send(chatSay(op.ConversationID, "I live in Hangzhou.")); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		t.Helper()
		out, _, err := run(t, "", append([]string{"memory", "list", "--character", ch.Name}, common...)...)
		if err != nil {
			t.Fatalf("memory list: %v", err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	var lines []string
	for deadline := time.Now().Add(20 * time.Second); ; {
		lines = list()
		if len(lines) == 2 && lines[0] != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var factID string
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 4 || f[1] != "-" {
			t.Fatalf("memory line %q: want id, -, kind, text", l)
		}
		if f[3] == "They live in Hangzhou." {
			factID = f[0]
		}
	}
	if factID == "" {
		t.Fatalf("no fact among %q", lines)
	}
	if out, _, err := run(t, "", append([]string{"memory", "pin", factID}, common...)...); err != nil || !strings.Contains(out, "pinned") {
		t.Fatalf("pin: %q %v", out, err)
	}
	if l := list(); !strings.HasPrefix(l[0], factID+"\tpinned\t") {
		t.Errorf("after pin, first line %q", l[0])
	}
	out, _, err := run(t, "", append([]string{"memory", "add", "--character", ch.ID, "--pin", "Allergic to peanuts."}, common...)...)
	if err != nil || len(strings.TrimSpace(out)) != 36 {
		t.Fatalf("add: %q %v", out, err)
	}
	note := strings.TrimSpace(out)
	if _, _, err := run(t, "", append([]string{"memory", "edit", note, "Allergic to peanuts and shrimp."}, common...)...); err != nil {
		t.Fatalf("edit: %v", err)
	}
	if _, _, err := run(t, "", append([]string{"memory", "forget", factID}, common...)...); err != nil {
		t.Fatalf("forget: %v", err)
	}
	got := strings.Join(list(), "\n")
	if strings.Contains(got, factID) || !strings.Contains(got, note+"\tpinned\tnote\tAllergic to peanuts and shrimp.") {
		t.Errorf("after edit and forget:\n%s", got)
	}
	if _, _, err := run(t, "", append([]string{"memory", "forget", factID}, common...)...); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("forgetting twice: %v, want the server's 404", err)
	}
	if _, _, err := run(t, "", append([]string{"memory", "list", "--character", "Nobody At All"}, common...)...); err == nil || !strings.Contains(err.Error(), "no character") {
		t.Errorf("an unknown character: %v", err)
	}
}

func chatSay(conv, text string) protocol.Say {
	return protocol.Say{Envelope: protocol.Envelope{Type: protocol.TypeSay, ID: "say-1"}, ConversationID: conv, Text: text}
}
