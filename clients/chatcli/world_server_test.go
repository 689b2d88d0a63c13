package chatcli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/protocol"
)

// startWorldServer runs the whole platform with a tiny random model: its
// lines are gibberish, but they stream like real ones. The tiny model's
// 512-token context is too short for a world's prompts.
func startWorldServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole platform")
	}
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
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the platform: %v", err)
		}
	})
	return srv.URL()
}

// syncBuffer is an output the session writes from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func worldOpts(t *testing.T, url string) (WorldOptions, *syncBuffer, *syncBuffer) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	return WorldOptions{URL: url, IdentityFile: filepath.Join(t.TempDir(), "id.json"), Name: "Ada", World: "misty",
		Settle: 500 * time.Millisecond, Timeout: 90 * time.Second, Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut}, out, errOut
}

// watcher is a second player who sees what the CLI's player says and the
// characters' answers.
func watcher(t *testing.T, ctx context.Context, url, loc string) *chatclient.Client {
	t.Helper()
	tok, _, err := chatclient.NewSession(ctx, url, "Bo")
	if err != nil {
		t.Fatal(err)
	}
	c, err := chatclient.Dial(ctx, url, tok)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.JoinWorld(ctx, characters.SampleWorlds()[0].ID, loc); err != nil {
		t.Fatal(err)
	}
	return c
}

// saidBy waits for a said event matching ok and returns it.
func saidBy(t *testing.T, ctx context.Context, c *chatclient.Client, what string, ok func(protocol.WorldEvent) bool) protocol.WorldEvent {
	t.Helper()
	for {
		ev, err := c.NextWorldEvent(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ev.Kind == protocol.WorldSaid && ok(ev) {
			return ev
		}
	}
}

func TestWorldSayOnce(t *testing.T) {
	url := startWorldServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	xiaoyu := characters.Samples()[0]
	bo := watcher(t, ctx, url, "tea-house")

	// A line to Xiaoyu: her reply streams to stdout, under her name, and
	// is the line the room heard.
	opt, out, errOut := worldOpts(t, url)
	opt.World, opt.Location, opt.To, opt.Say = "Misty Harbour", "xiaoyu's TEA house", "lin", "Good evening, Xiaoyu!"
	if err := RunWorld(ctx, opt); err != nil {
		t.Fatalf("RunWorld: %v\nstderr: %s", err, errOut)
	}
	line := saidBy(t, ctx, bo, "Ada's line", func(ev protocol.WorldEvent) bool { return ev.Actor.Name == "Ada" })
	if line.Text != opt.Say {
		t.Errorf("the room heard %q, want %q", line.Text, opt.Say)
	}
	reply := saidBy(t, ctx, bo, "Xiaoyu's reply", func(ev protocol.WorldEvent) bool { return ev.ReplyTo == line.MessageID && ev.Actor.ID == xiaoyu.ID })
	if got := out.String(); !strings.HasPrefix(got, xiaoyu.Name+": ") || !strings.Contains(got, clean(reply.Text)) || !strings.HasSuffix(got, "\n") {
		t.Errorf("stdout %q; want Xiaoyu's reply %q under her name", got, clean(reply.Text))
	}
	if !strings.Contains(errOut.String(), "Misty Harbour, Xiaoyu's Tea House") {
		t.Errorf("stderr %q does not say where the line was said", errOut)
	}

	// A private line: the answer is marked private, and the other player
	// hears neither.
	opt, out, errOut = worldOpts(t, url)
	opt.Private, opt.Say = "lin x", "PINEAPPLE-42, just between us"
	if err := RunWorld(ctx, opt); err != nil {
		t.Fatalf("RunWorld private: %v\nstderr: %s", err, errOut)
	}
	if !strings.HasPrefix(out.String(), "[private] "+xiaoyu.Name+": ") {
		t.Errorf("private stdout %q", out)
	}
	// Bo's next line is the only thing Bo may hear from here on.
	if _, err := bo.RoomSay(ctx, characters.SampleWorlds()[0].ID, "anyone?", ""); err != nil {
		t.Fatal(err)
	}
	for {
		ev, err := bo.NextWorldEvent(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev.Text, "PINEAPPLE") || ev.PrivateWith != "" {
			t.Fatalf("Bo heard the private exchange: %+v", ev)
		}
		if ev.Kind == protocol.WorldSaid && ev.Text == "anyone?" {
			break
		}
	}

	// Nobody at the pier but Captain Ren; the square is empty at the
	// start of the day: a line there gets no answer in time.
	opt, _, _ = worldOpts(t, url)
	opt.Location, opt.Say, opt.Timeout = "square", "Hello?", 3*time.Second
	err := RunWorld(ctx, opt)
	if err == nil || !strings.Contains(err.Error(), "no reply to your line within 3s") {
		t.Errorf("a line in an empty square: %v, want a timeout naming 3s", err)
	}
}

func TestWorldErrors(t *testing.T) {
	url := startWorldServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := []struct {
		set  func(*WorldOptions)
		want []string
	}{
		{func(o *WorldOptions) { o.World = "Atlantis" }, []string{`no world matches "Atlantis"`, "Misty Harbour (id 00000000-0000-4000-8000-0000000000a1)"}},
		{func(o *WorldOptions) { o.Location = "moon" }, []string{`no place in Misty Harbour matches "moon"`, "The Pier (id pier)"}},
		{func(o *WorldOptions) { o.Say, o.To = "hi", "captain" }, []string{"Captain Ren is not at Xiaoyu's Tea House", "characters here: Lin Xiaoyu"}},
		{func(o *WorldOptions) { o.Say, o.To = "hi", "nobody" }, []string{`no character here matches "nobody"`, "Lin Xiaoyu"}},
		{func(o *WorldOptions) { o.Say, o.Private = "hi", "zed" }, []string{`no character matches "zed"`, "Professor Mei"}},
		{func(o *WorldOptions) { o.Say, o.To, o.Private = "hi", "lin", "lin" }, []string{"--to and --private do not go together"}},
		{func(o *WorldOptions) { o.To = "lin" }, []string{"need --say"}},
	}
	for _, tc := range cases {
		opt, _, _ := worldOpts(t, url)
		opt.Location = "tea-house"
		tc.set(&opt)
		err := RunWorld(ctx, opt)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %v, want it to say %q", opt, err, w)
			}
		}
	}
}

// TestWorldInteractive drives a session line by line: the feed shows the
// place and who is there, another player's words and arrival, the answer
// to a line addressed with /to, a move with /go, and a private answer.
func TestWorldInteractive(t *testing.T) {
	url := startWorldServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	xiaoyu := characters.Samples()[0]
	opt, out, errOut := worldOpts(t, url)
	opt.Location = "tea-house"
	stdin, typed := io.Pipe()
	opt.Stdin = stdin
	done := make(chan error, 1)
	go func() { done <- RunWorld(ctx, opt) }()
	waitOut := func(what string, ok func(string) bool) {
		t.Helper()
		for end := time.Now().Add(2 * time.Minute); !ok(out.String()); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("timed out waiting for %s; output:\n%s\nstderr:\n%s", what, out, errOut)
			}
		}
	}
	has := func(s string) func(string) bool { return func(o string) bool { return strings.Contains(o, s) } }
	typeLine := func(s string) {
		t.Helper()
		if _, err := io.WriteString(typed, s+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	waitOut("the place", has("At Xiaoyu's Tea House — Steam, lanterns"))
	waitOut("who is here", has("Here: Lin Xiaoyu, you"))
	waitOut("the help", has("/private <name> <text>"))

	bo := watcher(t, ctx, url, "tea-house")
	waitOut("Bo's arrival", has("* Bo arrived at Xiaoyu's Tea House."))
	if _, err := bo.RoomSay(ctx, characters.SampleWorlds()[0].ID, "Hi Ada", ""); err != nil {
		t.Fatal(err)
	}
	waitOut("Bo's line", has("Bo: Hi Ada\n"))
	typeLine("/who")
	waitOut("Bo in /who", has("Here: Bo (player), Lin Xiaoyu, you"))

	typeLine("/to Lin Xiaoyu  a pot of longjing, please")
	line := saidBy(t, ctx, bo, "Ada's line", func(ev protocol.WorldEvent) bool { return ev.Actor.Name == "Ada" })
	if line.Text != "a pot of longjing, please" {
		t.Errorf("/to said %q", line.Text)
	}
	reply := saidBy(t, ctx, bo, "Xiaoyu's reply", func(ev protocol.WorldEvent) bool { return ev.ReplyTo == line.MessageID && ev.Actor.ID == xiaoyu.ID })
	// The streamed line shows the reply; when the world tidied it (a reply
	// longer than a line may be is cut), a "(final)" line follows.
	final := strings.TrimSpace(clean(reply.Text))
	waitOut("Xiaoyu's reply", func(o string) bool {
		return has(xiaoyu.Name+": "+final)(o) || has(xiaoyu.Name+" (final): "+final)(o)
	})

	typeLine("/to captain ahoy")
	waitOut("an addressee who is elsewhere", has("maopao: Captain Ren is not at Xiaoyu's Tea House"))
	typeLine("/dance")
	waitOut("an unknown command", has("maopao: unknown command /dance"))
	typeLine("/go pier")
	waitOut("a move that is not possible", has(`cannot be reached from`))

	typeLine("/go Town Square")
	waitOut("the square", has("At Town Square — A fountain"))
	waitOut("the way on", has("From here: Xiaoyu's Tea House (tea-house), The Pier (pier), Hill Academy (academy)"))
	for {
		ev, err := bo.NextWorldEvent(ctx)
		if err != nil {
			t.Fatalf("Bo waiting for Ada to leave: %v", err)
		}
		if ev.Kind == protocol.WorldLeft && ev.Actor.Name == "Ada" {
			break
		}
	}

	typeLine("/private xiaoyu can you keep a secret?")
	waitOut("the private answer", has("[private] "+xiaoyu.Name+": "))
	typeLine("/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunWorld after /quit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/quit did not end the session")
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("an escape character reached the terminal")
	}
}
