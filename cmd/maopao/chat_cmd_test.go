package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/modelgen"
)

// startWorldServe runs a whole server on a tiny random model (with a
// context long enough for a world's prompts), so characters answer.
func startWorldServe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	spec := modelgen.Tiny("qwen3moe")
	spec.ContextLength = 4096
	if err := modelgen.Write(model, spec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: dir, ModelPath: model, Threads: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL()
}

func runChat(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "maopao", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newChatCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"chat"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestChatWorldCommand(t *testing.T) {
	url := startWorldServe(t)
	common := []string{"--url", url, "--identity", filepath.Join(t.TempDir(), "id.json"), "--name", "Ada"}

	out, errOut, err := runChat(t, "", append([]string{"--world", "misty", "--location", "tea-house", "--to", "xiaoyu", "--say", "Good evening!"}, common...)...)
	if err != nil || !strings.HasPrefix(out, "Lin Xiaoyu: ") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("a line to Xiaoyu: out %q, stderr %q, err %v", out, errOut, err)
	}
	// The server runs an untrained model: the player is told, in words.
	if strings.Count(errOut, "replies are random text") != 1 || !strings.Contains(errOut, "maopao model pull") {
		t.Errorf("stderr %q lacks the one-line hint about the untrained model", errOut)
	}
	out, _, err = runChat(t, "", append([]string{"-w", "Misty Harbour", "--private", "Lin Xiaoyu", "--say", "psst"}, common...)...)
	if err != nil || !strings.HasPrefix(out, "[private] Lin Xiaoyu: ") {
		t.Fatalf("a private line: out %q, err %v", out, err)
	}
	// Interactive: the session shows the place and ends at end of input.
	out, _, err = runChat(t, "/who\n", append([]string{"--world", "misty"}, common...)...)
	if err != nil || !strings.Contains(out, "You are in Misty Harbour.") || !strings.Contains(out, "Here: Lin Xiaoyu, you") {
		t.Fatalf("interactive: out %q, err %v", out, err)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "xiaoyu", "--say", "hi"}, "--to needs --world"},
		{[]string{"--location", "pier"}, "--location needs --world"},
		{[]string{"--world", "misty", "--character", "lin", "--say", "hi"}, "in a world use --to or --private"},
		{[]string{"--world", "nowhere", "--say", "hi"}, `no world matches "nowhere"; choices: Misty Harbour`},
		{[]string{"--world", "misty", "--location", "tea-house", "--to", "mei", "--say", "hi"}, "Professor Mei is not at Xiaoyu's Tea House"},
	} {
		_, _, err := runChat(t, "", append(tc.args, common...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("chat %v: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}
