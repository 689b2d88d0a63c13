package chatcli_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/clients/chatcli"
	"github.com/maopao/maopao/clients/internal/fakegw"
	"github.com/maopao/maopao/protocol"
)

func TestResolve(t *testing.T) {
	chars := []protocol.CharacterSummary{
		{ID: "a1", Name: "Mira"}, {ID: "a2", Name: "Miranda"}, {ID: "a3", Name: "老王"},
		{ID: "a4", Name: "Orin"}, {ID: "Orin", Name: "Decoy"}, {ID: "a6", Name: "Twin"}, {ID: "a7", Name: "twin"},
	}
	cases := []struct{ q, want, err string }{
		{"a2", "a2", ""},
		{"Orin", "Orin", ""}, // an id wins over a name
		{"mira", "a1", ""},   // exact name wins over a prefix of Miranda
		{"miran", "a2", ""},
		{"老", "a3", ""},
		{" orin ", "a4", ""}, // ids match exactly, names ignore case
		{"mi", "", "ambiguous"},
		{"twin", "", "ambiguous"},
		{"zed", "", `no character matches "zed"`},
		{"", "", "--character is required"},
	}
	for _, tc := range cases {
		got, err := chatcli.Resolve(chars, tc.q)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "(id a") {
				t.Errorf("Resolve(%q) = %v, %v; want error %q listing choices", tc.q, got.ID, err, tc.err)
			}
			continue
		}
		if err != nil || got.ID != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.q, got.ID, err, tc.want)
		}
	}
}

type run struct {
	stdout, stderr bytes.Buffer
}

func runCLI(t *testing.T, opt chatcli.Options, stdin string) (*run, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := &run{}
	opt.Stdin, opt.Stdout, opt.Stderr = strings.NewReader(stdin), &r.stdout, &r.stderr
	return r, chatcli.Run(ctx, opt)
}

func TestSayContinuesConversation(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: time.Millisecond})
	defer srv.Close()
	idFile := filepath.Join(t.TempDir(), "sub", "id.json")
	opt := chatcli.Options{URL: srv.URL, Character: "mir", Say: "hello there", IdentityFile: idFile}
	r, err := runCLI(t, opt, "")
	if err != nil {
		t.Fatalf("first --say: %v (stderr %q)", err, r.stderr.String())
	}
	if got, want := r.stdout.String(), "Mira heard you say: hello there\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	st, err := os.Stat(idFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, mode %v", err, st.Mode())
	}
	id1, err := chatcli.LoadIdentity(idFile)
	if err != nil || id1.Token == "" || id1.PlayerID == "" || id1.URL != srv.URL {
		t.Fatalf("identity = %+v, %v", id1, err)
	}

	opt.Say = "again"
	if r, err = runCLI(t, opt, ""); err != nil {
		t.Fatalf("second --say: %v", err)
	}
	// The fake numbers conversations; the same identity reopens the same one.
	r, err = runCLI(t, chatcli.Options{URL: srv.URL, Character: "Mira", IdentityFile: idFile}, "")
	if err != nil {
		t.Fatal(err)
	}
	out := r.stdout.String()
	for _, want := range []string{"you: hello there\n", "Mira: Mira heard you say: again\n", "[engine: " + fakegw.Engine} {
		if !strings.Contains(out, want) {
			t.Errorf("history view lacks %q:\n%s", want, out)
		}
	}
	// The greeting is the chat's first message: shown once, first.
	if strings.Count(out, "You're new on this ship") != 1 || strings.Index(out, "You're new on this ship") > strings.Index(out, "you: hello there") {
		t.Errorf("the greeting should open the history, once:\n%s", out)
	}
	if r.stderr.Len() != 0 {
		t.Errorf("stderr: %s", r.stderr.String())
	}
}

func TestRejectedIdentityIsReplaced(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: time.Millisecond})
	defer srv.Close()
	idFile := filepath.Join(t.TempDir(), "id.json")
	if err := chatcli.SaveIdentity(idFile, chatcli.Identity{URL: srv.URL, Token: "stale", PlayerID: "p0"}); err != nil {
		t.Fatal(err)
	}
	r, err := runCLI(t, chatcli.Options{URL: srv.URL, Character: "orin", Say: "hi", IdentityFile: idFile}, "")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "rejected") || !strings.Contains(r.stderr.String(), "new guest session") {
		t.Errorf("stderr does not explain the new session: %q", r.stderr.String())
	}
	if id, _ := chatcli.LoadIdentity(idFile); id.Token == "stale" || id.Token == "" {
		t.Errorf("identity not replaced: %+v", id)
	}
}

func TestErrorsExitNonZero(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: time.Millisecond, FailReply: "boom"})
	defer srv.Close()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "id.json")
	_, err := runCLI(t, chatcli.Options{URL: srv.URL, Character: "nobody", Say: "hi", IdentityFile: idFile}, "")
	if err == nil || !strings.Contains(err.Error(), "Mira (id c-mira)") {
		t.Errorf("unknown character: %v", err)
	}
	_, err = runCLI(t, chatcli.Options{URL: srv.URL, Character: "mira", Say: "boom", IdentityFile: idFile}, "")
	if err == nil || !strings.Contains(err.Error(), protocol.CodeEngine) {
		t.Errorf("failed reply: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	_, err = runCLI(t, chatcli.Options{URL: srv.URL, Character: "mira", Say: "hi", IdentityFile: bad}, "")
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt identity file: %v", err)
	}
	_, err = runCLI(t, chatcli.Options{URL: "http://127.0.0.1:1", Character: "mira", Say: "hi", IdentityFile: filepath.Join(dir, "x.json")}, "")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestInteractive(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: time.Millisecond, FailReply: "boom"})
	defer srv.Close()
	idFile := filepath.Join(t.TempDir(), "id.json")
	r, err := runCLI(t, chatcli.Options{URL: srv.URL, Character: "老王", IdentityFile: idFile}, "你好\n\nboom\n  面条  \n/quit\nnot sent\n")
	if err != nil {
		t.Fatalf("interactive: %v", err)
	}
	out := r.stdout.String()
	wantSeq := []string{"Chatting with 老王", "老王: 来啦？今天吃点什么？\n", "you> ", "老王: 老王 heard you say: 你好\n", "you> 老王: \n", "老王: 老王 heard you say: 面条\n", "you> "}
	rest := out
	for _, w := range wantSeq {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q in order:\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
	if strings.Contains(out, "not sent") {
		t.Errorf("lines after /quit were sent:\n%s", out)
	}
	if !strings.Contains(r.stderr.String(), protocol.CodeEngine) {
		t.Errorf("failed reply not reported on stderr: %q", r.stderr.String())
	}
	// End of input ends the chat too.
	if _, err := runCLI(t, chatcli.Options{URL: srv.URL, Character: "c-lao", IdentityFile: idFile}, "再见"); err != nil {
		t.Fatalf("interactive until EOF: %v", err)
	}
}

func TestDefaultIdentityPath(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	for url, want := range map[string]string{
		"http://127.0.0.1:8080":  "/cfg/maopao/identity-127.0.0.1_8080.json",
		"https://chat.example/x": "/cfg/maopao/identity-chat.example_443.json",
		"http://[::1]:9000":      "/cfg/maopao/identity-__1_9000.json",
		"http://host":            "/cfg/maopao/identity-host_80.json",
	} {
		got, err := chatcli.DefaultIdentityPath(url)
		if err != nil || got != want {
			t.Errorf("DefaultIdentityPath(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
	if _, err := chatcli.DefaultIdentityPath("127.0.0.1:8080"); err == nil {
		t.Error("DefaultIdentityPath accepted a URL without scheme")
	}
}

func TestInteractiveAwaitsPendingAndStopsOnCancel(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: 30 * time.Millisecond})
	defer srv.Close()
	idFile := filepath.Join(t.TempDir(), "id.json")
	// A first run leaves a line whose reply is still being written.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err := chatcli.Run(ctx, chatcli.Options{URL: srv.URL, Character: "orin", Say: "tell me about the storm", IdentityFile: idFile, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
	cancel()
	if err == nil {
		t.Fatal("the short first run finished; the reply should still be streaming")
	}
	// The next interactive run shows that reply before its prompt, then ends
	// when its context does although stdin stays open.
	stdin, stdinW := io.Pipe()
	defer stdinW.Close()
	ctx, cancel = context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- chatcli.Run(ctx, chatcli.Options{URL: srv.URL, Character: "orin", IdentityFile: idFile, Stdin: stdin, Stdout: &syncBuffer{b: &out}, Stderr: io.Discard})
	}()
	want := "Orin: Orin heard you say: tell me about the storm\nyou> "
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readSync(&out), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output lacks the pending reply %q:\n%s", want, readSync(&out))
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

var outMu sync.Mutex

type syncBuffer struct{ b *bytes.Buffer }

func (s *syncBuffer) Write(p []byte) (int, error) {
	outMu.Lock()
	defer outMu.Unlock()
	return s.b.Write(p)
}

func readSync(b *bytes.Buffer) string {
	outMu.Lock()
	defer outMu.Unlock()
	return b.String()
}

// The connection drops after the gateway stored the line but before its
// ack: the CLI sends it again with the same client id and prints the one
// reply; the line is stored once.
func TestSayResendsALineWhoseAckWasLost(t *testing.T) {
	srv := fakegw.Start(fakegw.Options{DeltaDelay: time.Millisecond, LoseAck: "lost ack"})
	defer srv.Close()
	idFile := filepath.Join(t.TempDir(), "id.json")
	r, err := runCLI(t, chatcli.Options{URL: srv.URL, Character: "mira", Say: "lost ack line", IdentityFile: idFile}, "")
	if err != nil {
		t.Fatalf("--say: %v (stderr %q)", err, r.stderr.String())
	}
	if got := r.stdout.String(); !strings.Contains(got, "Mira heard you say: lost ack line") {
		t.Fatalf("stdout %q lacks the reply", got)
	}
	if !strings.Contains(r.stderr.String(), "sending it again") {
		t.Errorf("stderr %q does not say the line went again", r.stderr.String())
	}
	if n := srv.StoredCount("lost ack line"); n != 1 {
		t.Fatalf("the line was stored %d times, want once", n)
	}
}
