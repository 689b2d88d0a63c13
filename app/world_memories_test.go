package app_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// The memory manager in a world, through the platform: a player lists
// what a resident remembers about them (another player sees none of it),
// pins one and forgets another; the world's later prompts carry the pin
// and never the forgotten memory.
func TestWorldMemoriesInTheManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL, c.ModelPath, c.MemoryWorkAfter = hs.URL, "", -1 })
	defer srv.Close()
	w := characters.SampleWorlds()[0]
	xiaoyu := characters.Samples()[0]

	enter := func(name string) (*chatclient.Client, string) {
		token, _, err := chatclient.NewSession(ctx, srv.URL(), name)
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, ctx, srv, token)
		if _, err := c.JoinWorld(ctx, w.ID, "tea-house"); err != nil {
			t.Fatal(err)
		}
		return c, token
	}
	ada, adaToken := enter("Ada")
	_, boToken := enter("Bo")
	waitReply := func(c *chatclient.Client, private bool) {
		t.Helper()
		for {
			ev, err := c.NextWorldEvent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == protocol.WorldSaid && ev.Actor.ID == xiaoyu.ID && (ev.PrivateWith != "") == private {
				return
			}
		}
	}
	if _, err := ada.RoomSay(ctx, w.ID, "Xiaoyu, my cat is called Biscuit.", xiaoyu.ID); err != nil {
		t.Fatal(err)
	}
	waitReply(ada, false)
	if _, err := ada.PrivateSay(ctx, w.ID, xiaoyu.ID, "Between us: my locker code is 4242."); err != nil {
		t.Fatal(err)
	}
	waitReply(ada, true)

	list := func(token string) []maopao.MemoryRecord {
		var out struct {
			Memories []maopao.MemoryRecord `json:"memories"`
		}
		api := memoryAPI{t: t, base: srv.URL(), token: token}
		q := url.Values{"world": {w.ID}, "character": {xiaoyu.ID}}
		if code := api.do("GET", "/api/v1/memories?"+q.Encode(), nil, &out); code != 200 {
			t.Fatalf("list world memories: %d", code)
		}
		return out.Memories
	}
	var cat, code string
	for deadline := time.Now().Add(20 * time.Second); cat == "" || code == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Xiaoyu's memories of Ada never listed: %+v", list(adaToken))
		}
		for _, m := range list(adaToken) {
			if strings.Contains(m.Text, "Biscuit") {
				cat = m.ID
			}
			if strings.Contains(m.Text, "4242") && m.PrivateTo != "" {
				code = m.ID
			}
		}
	}
	for _, m := range list(boToken) {
		if strings.Contains(m.Text, "Biscuit") || strings.Contains(m.Text, "4242") {
			t.Fatalf("Bo's manager lists Ada's memory %q", m.Text)
		}
	}

	api := memoryAPI{t: t, base: srv.URL(), token: adaToken}
	worldQ := "?world=" + url.QueryEscape(w.ID)
	if st := (memoryAPI{t: t, base: srv.URL(), token: boToken}).do("PATCH", "/api/v1/memories/"+url.PathEscape(cat)+worldQ, map[string]any{"pinned": true}, nil); st != 404 {
		t.Fatalf("Bo pinned Ada's memory: %d", st)
	}
	if st := api.do("PATCH", "/api/v1/memories/"+url.PathEscape(cat)+worldQ, map[string]any{"pinned": true}, nil); st != 200 {
		t.Fatalf("pin: %d", st)
	}
	if st := api.do("DELETE", "/api/v1/memories/"+url.PathEscape(code)+worldQ, nil, nil); st != 204 {
		t.Fatalf("forget: %d", st)
	}
	after := list(adaToken)
	if len(after) == 0 || after[0].ID != cat || !after[0].Pinned {
		t.Fatalf("after the pin, first: %+v", after)
	}
	for _, m := range after {
		if m.ID == code {
			t.Fatal("the forgotten memory is still listed")
		}
	}

	// The world holds the change: a private prompt for Ada recalls the
	// pinned memory and never the forgotten one.
	n := len(llm.all())
	if _, err := ada.PrivateSay(ctx, w.ID, xiaoyu.ID, "Do you remember anything about me?"); err != nil {
		t.Fatal(err)
	}
	waitReply(ada, true)
	var system string
	for _, req := range llm.all()[n:] {
		for _, m := range req {
			if m.Role == "system" && strings.Contains(m.Content, "What "+xiaoyu.Name+" remembers") {
				system = m.Content
			}
		}
	}
	if system == "" {
		t.Fatalf("no prompt with Xiaoyu's memories after the change: %d requests", len(llm.all())-n)
	}
	if !strings.Contains(system, "Biscuit") || strings.Contains(system, "4242") {
		t.Fatalf("the prompt's memories after pin and forget:\n%s", system)
	}
}
