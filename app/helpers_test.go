package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

func postJSON(ctx context.Context, url, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

func metricsText(t *testing.T, ctx context.Context, baseURL string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// guestChat is a guest player named name, connected, with its chat with
// the first listed character open.
type guestChat struct {
	token, player string
	c             *chatclient.Client
	chars         []protocol.CharacterSummary
	op            protocol.ChatOpened
}

func openGuestChat(t *testing.T, ctx context.Context, srv *app.Server, name string) guestChat {
	t.Helper()
	var g guestChat
	var err error
	if g.token, g.player, err = chatclient.NewSession(ctx, srv.URL(), name); err != nil {
		t.Fatal(err)
	}
	g.c = dial(t, ctx, srv, g.token)
	if g.chars, err = g.c.ListCharacters(ctx); err != nil {
		t.Fatal(err)
	}
	if g.op, err = g.c.OpenChat(ctx, g.chars[0].ID); err != nil {
		t.Fatal(err)
	}
	return g
}
