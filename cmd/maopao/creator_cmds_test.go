package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters/card"
	"github.com/maopao/maopao/clients/chatcli"
)

// startServer runs a whole server whose engine is never asked for anything
// (an unreachable OpenAI-compatible URL), so no model is loaded.
func startServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), LLMURL: "http://127.0.0.1:9",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL()
}

// run executes a creator command line and returns stdout and the error.
func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "maopao", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newAccountCmd(), newCardCmd(), newMemoryCmd(), newWorldCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestCreatorCommands(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()
	ident := filepath.Join(dir, "identity.json")
	common := []string{"--url", url, "--identity", ident}

	t.Setenv("MAOPAO_PASSWORD", "a long password")
	out, _, err := run(t, "", append([]string{"account", "register", "--user", "ada"}, common...)...)
	if err != nil || !strings.Contains(out, "registered ada") {
		t.Fatalf("register: %q %v", out, err)
	}
	id, err := chatcli.LoadIdentity(ident)
	if err != nil || id.Token == "" || id.URL != url || id.PlayerID == "" || id.Device == "" {
		t.Fatalf("identity after register: %+v %v", id, err)
	}
	_, _, err = run(t, "", append([]string{"account", "register", "--user", "ADA"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("second register of ada: %v, want the server's 'taken'", err)
	}
	_, _, err = run(t, "", append([]string{"account", "login", "--user", "ada", "--password", "wrong password"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "wrong username or password") {
		t.Errorf("login with a wrong password: %v", err)
	}
	_, _, err = run(t, "", append([]string{"account", "register", "--user", "x", "--password", "short"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "username:") || !strings.Contains(err.Error(), "password:") {
		t.Errorf("register with a bad name and password: %v, want both fields named", err)
	}
	// The prompt, when neither flag nor environment gives the password.
	t.Setenv("MAOPAO_PASSWORD", "")
	out, prompt, err := run(t, "a long password\n", append([]string{"account", "login", "--user", "Ada"}, common...)...)
	if err != nil || !strings.Contains(out, "logged in as ada") || !strings.Contains(prompt, "Password") {
		t.Fatalf("login with a prompted password: %q %q %v", out, prompt, err)
	}

	// Signing out everywhere keeps a new token here; the old one is refused.
	before, _ := chatcli.LoadIdentity(ident)
	out, _, err = run(t, "", append([]string{"account", "sign-out-everywhere"}, common...)...)
	if err != nil || !strings.Contains(out, "signed ada out everywhere") {
		t.Fatalf("sign-out-everywhere: %q %v", out, err)
	}
	after, _ := chatcli.LoadIdentity(ident)
	if after.Token == before.Token || after.PlayerID != before.PlayerID {
		t.Fatalf("identity after signing out everywhere: %+v (before %+v)", after, before)
	}
	oldIdent := filepath.Join(dir, "old-identity.json")
	if err := chatcli.SaveIdentity(oldIdent, before); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", "account", "sign-out-everywhere", "--url", url, "--identity", oldIdent); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("the revoked token signed out again: %v", err)
	}

	src := filepath.Join("..", "..", "characters", "card", "testdata", "full_v3.json")
	out, _, err = run(t, "", append([]string{"card", "import", src, "--visibility", "public"}, common...)...)
	if err != nil {
		t.Fatalf("card import: %v", err)
	}
	charID := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(charID) {
		t.Fatalf("card import printed %q, want the new id alone", out)
	}
	for _, format := range []string{"png", "json", "charx"} {
		file := filepath.Join(dir, "out."+format)
		if _, _, err := run(t, "", append([]string{"card", "export", charID, "--format", format, "-o", file}, common...)...); err != nil {
			t.Fatalf("card export as %s: %v", format, err)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		imp, err := card.Decode(data)
		if err != nil || imp.Character.Name != "Oriel" || string(imp.Format) != format {
			t.Fatalf("exported %s does not decode as the card: %v %+v", format, err, imp)
		}
		out, _, err = run(t, "", append([]string{"card", "import", file}, common...)...)
		if err != nil || strings.TrimSpace(out) == charID {
			t.Fatalf("re-import of the %s export: %q %v", format, out, err)
		}
	}
	out, _, err = run(t, "", append([]string{"card", "export", charID, "--format", "json", "-o", "-"}, common...)...)
	if err != nil || !strings.Contains(out, `"chara_card_v3"`) {
		t.Fatalf("export to stdout: %.200q %v", out, err)
	}
	_, _, err = run(t, "", append([]string{"card", "export", "no-such-id", "-o", filepath.Join(dir, "x")}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("export of a missing character: %v", err)
	}

	// Without an account there is nothing to import with.
	fresh := []string{"--url", url, "--identity", filepath.Join(dir, "none.json")}
	if _, _, err := run(t, "", append([]string{"card", "import", src}, fresh...)...); err == nil || !strings.Contains(err.Error(), "not logged in") {
		t.Errorf("import without an identity: %v", err)
	}

	// Deleting the account: a wrong password keeps everything; the right
	// one removes the account, its characters and the identity file.
	_, _, err = run(t, "", append([]string{"account", "delete", "--password", "wrong password"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "wrong password") {
		t.Fatalf("delete with a wrong password: %v", err)
	}
	out, _, err = run(t, "", append([]string{"account", "delete", "--password", "a long password"}, common...)...)
	if err != nil || !strings.Contains(out, "account deleted") {
		t.Fatalf("delete: %q %v", out, err)
	}
	if _, err := os.Stat(ident); !os.IsNotExist(err) {
		t.Errorf("identity file after deleting the account: %v", err)
	}
	_, _, err = run(t, "", append([]string{"card", "export", charID, "--format", "json", "-o", "-"}, fresh...)...)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("export of a deleted account's character: %v", err)
	}
	_, _, err = run(t, "", append([]string{"account", "login", "--user", "ada", "--password", "a long password"}, common...)...)
	if err == nil || !strings.Contains(err.Error(), "wrong username or password") {
		t.Errorf("login to a deleted account: %v", err)
	}
}
