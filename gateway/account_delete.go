package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// DeleteAccountRequest is the body of DELETE /api/v1/accounts/me: the
// password again, so a token left on a shared computer cannot erase the
// account.
type DeleteAccountRequest struct {
	Password string `json:"password"`
}

// handleDeleteAccount erases the caller's account and everything that is
// theirs alone: chats, messages, characters' memories of them, their
// characters (public ones too) and worlds, their player record. Tokens are
// revoked first, so a deletion cut short by a failure leaves an account
// nobody is signed in to, which the owner can log in to and delete again.
func (a *creatorAPI) handleDeleteAccount(w http.ResponseWriter, r *http.Request) *apiError {
	acc, e := a.s.creator(r)
	if e != nil {
		return e
	}
	var req DeleteAccountRequest
	if e := decodeJSONBody(w, r, maxAccountBody, &req); e != nil {
		return e
	}
	if req.Password == "" {
		return invalidFields([]FieldError{{Path: "password", Message: "required: confirm the deletion with the account's password"}})
	}
	// Wrong passwords count with failed logins, so this is no way round
	// their limit.
	key := strings.ToLower(acc.Username) + "\x00" + clientIP(r)
	if wait, ok := a.logins.check(key); !ok {
		return retryAfter(wait, "password attempts")
	}
	ok, err := a.verifyPassword(r.Context(), acc.PasswordHash, req.Password)
	if err != nil || !ok {
		a.logins.failed(key)
		return problemf(http.StatusForbidden, codeBadCredentials, "wrong password: the account was not deleted")
	}
	if err := a.eraseAccount(r, acc.PlayerID); err != nil {
		return err
	}
	a.s.Log.Info("account deleted", "player", acc.PlayerID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *creatorAPI) eraseAccount(r *http.Request, playerID string) *apiError {
	ctx := r.Context()
	st := a.s.Store
	if _, err := st.RevokeTokens(ctx, playerID); err != nil {
		return a.storeError("revoke tokens", err)
	}
	owned, err := st.SearchCharacters(ctx, storage.CharacterQuery{OwnerID: playerID, ViewerID: playerID})
	if err != nil {
		return a.storeError("list characters", err)
	}
	for _, c := range owned {
		if err := st.DeleteCharacter(ctx, c.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
			return a.storeError("delete character", err)
		}
	}
	if len(owned) > 0 {
		a.s.charactersChanged()
	}
	worlds, err := st.ListWorlds(ctx)
	if err != nil {
		return a.storeError("list worlds", err)
	}
	for _, wd := range worlds {
		if wd.OwnerID != playerID {
			continue
		}
		if err := st.DeleteWorld(ctx, wd.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
			return a.storeError("delete world", err)
		}
	}
	if err := st.DeletePlayer(ctx, playerID); err != nil {
		return a.storeError("delete player", err)
	}
	// Last: until now the owner can log in and try again.
	if err := st.DeleteAccount(ctx, playerID); err != nil {
		return a.storeError("delete account", err)
	}
	return nil
}
