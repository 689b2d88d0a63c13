package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatcli"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/speech/speechtest"
)

// startWorldServe runs a whole server on a tiny random model (with a
// context long enough for a world's prompts), so characters answer.
func startWorldServe(t *testing.T) string { return startWorldServeWith(t, nil) }

// startWorldServeWith is startWorldServe with the configuration changed by mod.
func startWorldServeWith(t *testing.T, mod func(*app.Config)) string {
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
	cfg := app.Config{Addr: "127.0.0.1:0", DataDir: dir, ModelPath: model, Threads: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := app.Start(ctx, cfg)
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

// `maopao chat --say TEXT --image FILE` uploads the picture and shows it
// with the line; the bundled engine cannot see, which the command says.
func TestChatImage(t *testing.T) {
	url := startWorldServe(t)
	dir := t.TempDir()
	ident := filepath.Join(dir, "identity.json")
	pic := filepath.Join(dir, "cat.png")
	img := image.NewRGBA(image.Rect(0, 0, 16, 9))
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pic, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	char := characters.Samples()[0]
	out, errOut, err := runChat(t, "", "--url", url, "--identity", ident, "--character", char.ID, "--say", "Look at my cat!", "--image", pic)
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("chat with a picture: %q %q %v", out, errOut, err)
	}
	if !strings.Contains(errOut, "cannot see pictures") {
		t.Errorf("stderr does not say the model cannot see: %q", errOut)
	}
	id, err := chatcli.LoadIdentity(ident)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := chatclient.Dial(ctx, url, id.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, err := c.OpenChat(ctx, char.ID)
	if err != nil {
		t.Fatal(err)
	}
	shown := false
	for _, m := range op.History {
		shown = shown || (m.Role == "user" && m.Content == "Look at my cat!" && len(m.Pictures) == 1)
	}
	if !shown {
		t.Fatalf("the history lacks the line with its picture: %+v", op.History)
	}

	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("not a picture"), 0o644)
	if _, _, err := runChat(t, "", "--url", url, "--identity", ident, "--character", char.ID, "--say", "x", "--image", notes); err == nil || !strings.Contains(err.Error(), "send a PNG, JPEG or WebP") {
		t.Errorf("a text file as --image: %v", err)
	}
	if _, _, err := runChat(t, "", "--url", url, "--world", "misty", "--say", "x", "--image", pic); err == nil || !strings.Contains(err.Error(), "--image is for one-to-one chats") {
		t.Errorf("--image in a world: %v", err)
	}
}

// `maopao chat --say TEXT --speak FILE.wav` writes the reply spoken by the
// server's speech backend; without one it says so.
func TestChatSpeak(t *testing.T) {
	tts := speechtest.Start(t)
	url := startWorldServeWith(t, func(c *app.Config) { c.TTSURL = tts.URL })
	dir := t.TempDir()
	ident, wav := filepath.Join(dir, "identity.json"), filepath.Join(dir, "reply.wav")
	char := characters.Samples()[0]
	out, errOut, err := runChat(t, "", "--url", url, "--identity", ident, "--character", char.ID, "--say", "Tell me a story.", "--speak", wav)
	if err != nil {
		t.Fatalf("chat --speak: %v %s", err, errOut)
	}
	data, err := os.ReadFile(wav)
	if err != nil || !bytes.HasPrefix(data, []byte("RIFF")) || len(tts.Asks()) == 0 {
		t.Fatalf("the spoken reply: %d bytes, %v; %d asks", len(data), err, len(tts.Asks()))
	}
	said := ""
	for _, a := range tts.Asks() {
		said += a.Input
	}
	// The random model's reply holds control characters and escape
	// sequences the terminal does not print (chatcli.Clean); the rest is
	// the same text.
	printable := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsControl(r) || unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	if printable(chatcli.Clean(said)) != printable(out) {
		t.Errorf("the speech server said %q, the reply was %q", said, out)
	}
	plain := startWorldServe(t)
	if _, _, err := runChat(t, "", "--url", plain, "--identity", filepath.Join(dir, "other.json"), "--character", char.ID, "--say", "hi", "--speak", wav); err == nil || !strings.Contains(err.Error(), "no speech backend") {
		t.Errorf("--speak without a backend: %v", err)
	}
	if _, _, err := runChat(t, "", "--url", plain, "--character", char.ID, "--speak", wav); err == nil || !strings.Contains(err.Error(), "--speak goes with --say") {
		t.Errorf("--speak without --say: %v", err)
	}
}
