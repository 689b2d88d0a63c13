package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/protocol"
)

// Signing out everywhere: every token of the account issued before stops
// working, over REST and WebSocket, on both stores; the caller gets a new
// one, and a new login works.
func TestRevokeTokens(t *testing.T) { onEachStore(t, testRevokeTokens) }

func testRevokeTokens(t *testing.T, base string, ctx context.Context) {
	phone := registerCreator(t, ctx, base, "ada-revoke")
	laptop := &creatorClient{t: t, ctx: ctx, base: base}
	a := laptop.json("POST", "/api/v1/accounts/login", gateway.AccountRequest{Username: "ada-revoke", Password: "a long password"})
	if a.status != http.StatusOK {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	var login gateway.AccountResponse
	a.decode(t, &login)
	laptop.token = login.Token
	for _, c := range []*creatorClient{phone, laptop} {
		if a := c.do("GET", "/api/v1/accounts/me", "", nil); a.status != http.StatusOK {
			t.Fatalf("me before revoking: %d %s", a.status, a.body)
		}
	}

	a = phone.do("POST", "/api/v1/accounts/revoke-tokens", "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("revoke-tokens: %d %s", a.status, a.body)
	}
	var fresh gateway.AccountResponse
	a.decode(t, &fresh)
	oldPhone := phone.token
	phone.token = fresh.Token

	for name, tok := range map[string]string{"phone's old token": oldPhone, "laptop's token": laptop.token} {
		c := &creatorClient{t: t, ctx: ctx, base: base, token: tok}
		if p := c.do("GET", "/api/v1/accounts/me", "", nil).problem(t, http.StatusUnauthorized); p.Code != protocol.CodeBadToken {
			t.Errorf("%s after revoking: code %q", name, p.Code)
		}
		if _, err := chatclient.Dial(ctx, base, tok); !chatclient.IsCode(err, protocol.CodeBadToken) {
			t.Errorf("%s after revoking opened a WebSocket session: %v", name, err)
		}
	}
	if a := phone.do("GET", "/api/v1/accounts/me", "", nil); a.status != http.StatusOK {
		t.Fatalf("the new token: %d %s", a.status, a.body)
	}
	c, err := chatclient.Dial(ctx, base, phone.token)
	if err != nil {
		t.Fatalf("the new token over WebSocket: %v", err)
	}
	c.Close()
	a = laptop.json("POST", "/api/v1/accounts/login", gateway.AccountRequest{Username: "ada-revoke", Password: "a long password"})
	if a.status != http.StatusOK {
		t.Fatalf("login after revoking: %d %s", a.status, a.body)
	}
}
