package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/models/hubtest"
	"github.com/maopao/maopao/protocol"
)

// A model installed from the page (the REST API the page uses) replaces
// the untrained one without a restart: players are told, and the next
// reply comes from it.
func TestInstallModelFromThePage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hub := hubtest.Start(t)
	data := hubtest.TinyTrained(t, "granitemoe")
	hub.Add("bartowski/granite-3.1-1b-a400m-instruct-GGUF", "granite-3.1-1b-a400m-instruct-Q4_K_M.gguf", data)
	hub.Use(t)

	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.ModelPath = "" })
	defer srv.Close()
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	if !c.Welcome().Untrained {
		t.Fatalf("welcome %+v: the bundled model is untrained", c.Welcome())
	}
	status := func() protocol.ModelStatus {
		t.Helper()
		resp, err := http.Get(srv.URL() + "/api/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st protocol.ModelStatus
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := status()
	if !st.Untrained || !st.CanInstall || len(st.Catalogue) == 0 {
		t.Fatalf("status before: %+v", st)
	}
	if resp, err := postJSON(ctx, srv.URL()+"/api/v1/models/pull", `{"name":"no-such-model"}`); err != nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("pull of an unknown model: %v %v", resp.StatusCode, err)
	}
	resp, err := postJSON(ctx, srv.URL()+"/api/v1/models/pull", `{"name":"granite-moe-1b"}`)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("pull: %v %v", resp.StatusCode, err)
	}
	// The player hears of the new engine.
	for {
		env, raw, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for engine_changed: %v (status %+v)", err, status().Pull)
		}
		if env.Type != protocol.TypeEngineChanged {
			continue
		}
		var ch protocol.EngineChanged
		_ = json.Unmarshal(raw, &ch)
		if ch.Untrained || !strings.Contains(ch.Engine, "granitemoe") {
			t.Fatalf("engine_changed %+v", ch)
		}
		break
	}
	st = status()
	if st.Untrained || st.Pull == nil || st.Pull.State != "done" {
		t.Fatalf("status after: %+v %+v", st, st.Pull)
	}
	active := ""
	for _, m := range st.Installed {
		if m.Active {
			active = m.Name
		}
	}
	if active != "granite-moe-1b" {
		t.Fatalf("installed %+v: want granite-moe-1b active", st.Installed)
	}
	// A new connection is welcomed with the new engine, and it answers.
	c2 := dial(t, ctx, srv, token)
	if c2.Welcome().Untrained || !strings.Contains(c2.Welcome().Engine, "granitemoe") {
		t.Fatalf("welcome after the switch: %+v", c2.Welcome())
	}
	chars, err := c2.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := c2.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Say(ctx, opened.ConversationID, "Hello there.", nil); err != nil {
		t.Fatalf("a reply from the new model: %v", err)
	}
}
