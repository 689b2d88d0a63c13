package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/protocol"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// tinyModel writes a small random-weight MoE model once per test binary.
var tinyModel = sync.OnceValues(func() (string, error) {
	path := filepath.Join(modelDir, "tiny-qwen3moe.gguf")
	return path, modelgen.Write(path, modelgen.Tiny("qwen3moe"))
})

func startServe(t *testing.T, dataDir string, mod func(*app.Config)) *app.Server {
	t.Helper()
	model, err := tinyModel()
	if err != nil {
		t.Fatalf("write tiny model: %v", err)
	}
	cfg := app.Config{Addr: "127.0.0.1:0", DataDir: dataDir, ModelPath: model, Threads: 1, Log: quietLog()}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return srv
}

func dial(t *testing.T, ctx context.Context, srv *app.Server, token string) *chatclient.Client {
	t.Helper()
	c, err := chatclient.Dial(ctx, srv.URL(), token)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServeEndToEndAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	srv := startServe(t, dir, nil)

	token, playerID, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	c := dial(t, ctx, srv, token)
	if c.Welcome().PlayerID != playerID {
		t.Fatalf("welcome names player %q, session gave %q", c.Welcome().PlayerID, playerID)
	}
	if !strings.Contains(c.Welcome().Engine, "untrained") {
		t.Errorf("engine description %q should say the weights are untrained", c.Welcome().Engine)
	}
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chars) < 3 {
		t.Fatalf("want at least 3 built-in characters, got %d", len(chars))
	}
	for _, ch := range chars {
		if ch.Greeting == "" || ch.Description == "" || ch.Scenario == "" {
			t.Errorf("character %s lacks greeting, description or scenario: %+v", ch.Name, ch)
		}
	}
	opened, err := c.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(opened.History) != 1 || !opened.History[0].Greeting || opened.History[0].Content != opened.Character.Greeting {
		t.Fatalf("a fresh chat's history is its greeting, got %+v", opened.History)
	}
	var deltas []protocol.Delta
	done, err := c.Say(ctx, opened.ConversationID, "Hello! My name is Ada and I like green tea.", func(d protocol.Delta) { deltas = append(deltas, d) })
	if err != nil {
		t.Fatalf("say: %v", err)
	}
	if len(deltas) == 0 {
		t.Fatal("no token deltas before the complete frame")
	}
	var streamed strings.Builder
	for i, d := range deltas {
		if d.Seq != i {
			t.Fatalf("delta %d has seq %d", i, d.Seq)
		}
		if d.MessageID != done.Message.ID {
			t.Fatalf("delta names reply %s, complete names %s", d.MessageID, done.Message.ID)
		}
		streamed.WriteString(d.Text)
	}
	if strings.TrimSpace(streamed.String()) != done.Message.Content {
		t.Errorf("streamed text %q differs from stored reply %q", streamed.String(), done.Message.Content)
	}
	if done.Message.Role != "character" || done.Message.Seq != 3 {
		t.Errorf("reply stored as %+v, want role character, seq 3 (after the greeting and the line)", done.Message)
	}
	c.Close()
	if err := srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// Restart on the same data folder: history and memory are still there.
	srv = startServe(t, dir, nil)
	defer srv.Close()
	c = dial(t, ctx, srv, token)
	reopened, err := c.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if reopened.ConversationID != opened.ConversationID {
		t.Fatalf("restart opened conversation %s, want %s", reopened.ConversationID, opened.ConversationID)
	}
	if len(reopened.History) != 3 || !reopened.History[0].Greeting || reopened.History[1].Content != "Hello! My name is Ada and I like green tea." || reopened.History[2].ID != done.Message.ID {
		t.Fatalf("history after restart: %+v", reopened.History)
	}
	mems, err := srv.Store().ChatMemories(ctx, playerID, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var facts []string
	for _, m := range mems {
		if m.Kind == maopao.ChatMemoryFact {
			facts = append(facts, m.Text)
		}
	}
	joined := strings.Join(facts, " | ")
	if !strings.Contains(joined, "Ada") || !strings.Contains(joined, "green tea") {
		t.Fatalf("memory after restart lacks what the player said about themselves: %q", joined)
	}
	if _, err := c.Say(ctx, reopened.ConversationID, "Do you remember me?", nil); err != nil {
		t.Fatalf("say after restart: %v", err)
	}
	msgs, err := srv.Store().RecentMessages(ctx, opened.ConversationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 5 {
		t.Fatalf("want 5 stored messages after the second exchange (greeting and two exchanges), got %d", len(msgs))
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
}

var modelDir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "maopao-app-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	modelDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}
