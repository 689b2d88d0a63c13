package gateway

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/maopao/maopao"
)

// An account is deleted with its password, and takes with it everything
// that is its player's alone; everyone else's things stay.
func TestDeleteAccount(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	st := a.s.Store
	// Alice was a guest first, then registered.
	guestTok := a.guestNamed("alice-player")
	r := a.do("POST", "/api/v1/accounts/register", guestTok, AccountRequest{Username: "alice", Password: "correct horse"})
	var acc AccountResponse
	r.json(t, &acc)
	if r.status != http.StatusCreated || acc.PlayerID != "alice-player" {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
	bob, _ := a.register("bob")
	public := a.create(acc.Token, map[string]any{"name": "Public Pat", "visibility": "public"})
	private := a.create(acc.Token, map[string]any{"name": "Private Pia"})
	bobs := a.create(bob, map[string]any{"name": "Bob's Ben", "visibility": "public"})
	chat, err := st.OpenConversation(ctx, acc.PlayerID, bobs.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AppendMessage(ctx, maopao.Message{ID: "m1", ConversationID: chat.ID, Role: maopao.RoleUser, Content: "my address is ..."}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutWorld(ctx, maopao.World{ID: "alices-world", Name: "Alice's", OwnerID: acc.PlayerID, Visibility: maopao.VisibilityPrivate,
		Locations: []maopao.Location{{ID: "home", Name: "Home"}}}); err != nil {
		t.Fatal(err)
	}

	// Without the password, or with a wrong one, nothing happens.
	a.do("DELETE", "/api/v1/accounts/me", acc.Token, map[string]any{}).problem(t, http.StatusUnprocessableEntity)
	a.do("DELETE", "/api/v1/accounts/me", acc.Token, DeleteAccountRequest{Password: "wrong horse"}).problem(t, http.StatusForbidden)
	a.do("DELETE", "/api/v1/accounts/me", "", DeleteAccountRequest{Password: "correct horse"}).problem(t, http.StatusUnauthorized)
	if _, err := st.GetConversation(ctx, chat.ID); err != nil {
		t.Fatalf("a refused deletion removed a chat: %v", err)
	}
	// A guest has no account to delete.
	a.do("DELETE", "/api/v1/accounts/me", a.guest(), DeleteAccountRequest{Password: "correct horse"}).problem(t, http.StatusForbidden)

	if r := a.do("DELETE", "/api/v1/accounts/me", acc.Token, DeleteAccountRequest{Password: "correct horse"}); r.status != http.StatusNoContent {
		t.Fatalf("delete account: %d %s", r.status, r.body)
	}

	// Every token of hers is dead: the account's and the guest's from
	// before she registered.
	for _, tok := range []string{acc.Token, guestTok} {
		a.do("GET", "/api/v1/accounts/me", tok, nil).problem(t, http.StatusUnauthorized)
	}
	a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "alice", Password: "correct horse"}).problem(t, http.StatusUnauthorized)
	for _, id := range []string{public.ID, private.ID} {
		if _, err := st.GetCharacter(ctx, id); !errors.Is(err, maopao.ErrNotFound) {
			t.Errorf("character %s of a deleted account: %v", id, err)
		}
	}
	if _, err := st.GetWorld(ctx, "alices-world"); !errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("world of a deleted account: %v", err)
	}
	if _, err := st.GetConversation(ctx, chat.ID); !errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("chat of a deleted account: %v", err)
	}
	if _, err := st.GetMessage(ctx, "m1"); !errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("message of a deleted account: %v", err)
	}
	if _, err := st.GetPlayer(ctx, acc.PlayerID); !errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("player of a deleted account: %v", err)
	}
	// Bob keeps his character, and the name is free again.
	if a.do("GET", "/api/v1/characters/"+bobs.ID, bob, nil).status != http.StatusOK {
		t.Error("another creator's character went with the deleted account")
	}
	a.register("alice")
}
