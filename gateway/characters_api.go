package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/card"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

// MaxAvatarBytes bounds a character's picture.
const MaxAvatarBytes = 2 << 20

// List paging.
const (
	DefaultListLimit = 100
	// MaxCharactersPerAccount and MaxWorldsPerAccount are the quotas of one
	// account.
	MaxCharactersPerAccount = 200
	MaxWorldsPerAccount     = 10
	// MaxAvatarBytesPerAccount bounds the pictures of an account's
	// characters together (as stored, after re-encoding).
	MaxAvatarBytesPerAccount = 64 << 20
	MaxListLimit             = 200
)

// CharacterView is a character as the API shows it: every stored field but
// the avatar bytes, which are at AvatarURL.
type CharacterView struct {
	maopao.Character
	AvatarURL string `json:"avatar_url,omitempty"`
}

func view(c maopao.Character) CharacterView {
	v := CharacterView{Character: c}
	v.Avatar = nil
	if c.AvatarType != "" {
		v.AvatarURL = "/api/v1/characters/" + url.PathEscape(c.ID) + "/avatar"
	}
	return v
}

// CharacterHistory answers GET /api/v1/characters/{id}/history: every
// revision, newest first.
type CharacterHistory struct {
	Revisions []CharacterView `json:"revisions"`
}

// pageParams reads a list's limit (1 to MaxListLimit, default
// DefaultListLimit) and offset.
func pageParams(r *http.Request) (limit, offset int, e *apiError) {
	p := r.URL.Query()
	limit = DefaultListLimit
	var errs []FieldError
	for _, f := range []struct {
		name     string
		min, max int
		dst      *int
	}{{"limit", 1, MaxListLimit, &limit}, {"offset", 0, 1 << 30, &offset}} {
		s := p.Get(f.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < f.min || n > f.max {
			errs = append(errs, FieldError{Path: f.name, Message: fmt.Sprintf("%q: want an integer from %d to %d", s, f.min, f.max)})
			continue
		}
		*f.dst = n
	}
	if len(errs) > 0 {
		e = invalidFields(errs)
		e.status = http.StatusBadRequest
	}
	return limit, offset, e
}

// handleList answers GET /api/v1/characters: the characters the viewer may
// see (public ones, and all of their own), filtered by q (name or nickname
// substring), tag, creator and owner, paged by limit and offset.
func (a *creatorAPI) handleList(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	p := r.URL.Query()
	q := storage.CharacterQuery{
		Text: p.Get("q"), Tag: p.Get("tag"), Creator: p.Get("creator"), OwnerID: p.Get("owner"),
		ViewerID: viewer, Limit: DefaultListLimit,
	}
	if q.Limit, q.Offset, e = pageParams(r); e != nil {
		return e
	}
	limit := q.Limit
	q.Limit++ // one more tells whether there is a next page
	found, err := a.s.Store.SearchCharacters(r.Context(), q)
	if err != nil {
		return a.storeError("list characters", err)
	}
	out := CharacterList{Characters: make([]protocol.CharacterSummary, 0, len(found))}
	if len(found) > limit {
		next := q.Offset + limit
		found, out.Next = found[:limit], &next
	}
	for _, c := range found {
		out.Characters = append(out.Characters, listSummary(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadVisible returns the character if viewer may see it. A private
// character of someone else is "not found", exactly like a missing one, so
// that IDs cannot be probed.
func (a *creatorAPI) loadVisible(r *http.Request, viewer string) (maopao.Character, *apiError) {
	return a.visibleCharacter(r, r.PathValue("id"), viewer)
}

// visibleCharacter reads character id if viewer may see it: a private
// character of someone else answers as if it were not there.
func (a *creatorAPI) visibleCharacter(r *http.Request, id, viewer string) (maopao.Character, *apiError) {
	c, err := a.s.Store.GetCharacter(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || (err == nil && c.Visibility == maopao.VisibilityPrivate && (viewer == "" || c.OwnerID != viewer)) {
		return maopao.Character{}, problemf(http.StatusNotFound, codeNotFound, "no character %q", id)
	}
	if err != nil {
		return maopao.Character{}, a.storeError("read character", err)
	}
	return c, nil
}

// loadOwned returns the character if player may change it.
func (a *creatorAPI) loadOwned(r *http.Request, player string) (maopao.Character, *apiError) {
	c, e := a.loadVisible(r, player)
	if e != nil {
		return c, e
	}
	if c.BuiltIn || c.OwnerID == "" {
		return c, problemf(http.StatusForbidden, codeForbidden, "%q is a built-in character and read-only; import a copy to change it", c.Name)
	}
	if c.OwnerID != player {
		return c, problemf(http.StatusForbidden, codeForbidden, "only the creator of %q may change it", c.Name)
	}
	return c, nil
}

func (a *creatorAPI) readCharacterBody(w http.ResponseWriter, r *http.Request) (*characterBody, *apiError) {
	if e := checkJSONType(r); e != nil {
		return nil, e
	}
	return decodeCharacterBody(http.MaxBytesReader(w, r.Body, MaxCharacterBodyBytes), MaxCharacterBodyBytes)
}

// handleCreate answers POST /api/v1/characters.
func (a *creatorAPI) handleCreate(w http.ResponseWriter, r *http.Request) *apiError {
	acc, e := a.s.creator(r)
	if e != nil {
		return e
	}
	body, e := a.readCharacterBody(w, r)
	if e != nil {
		return e
	}
	c := body.Character
	if c.Creator == "" {
		c.Creator = acc.Username
	}
	stored, e := a.createCharacter(r, acc, c)
	if e != nil {
		return e
	}
	w.Header().Set("Location", "/api/v1/characters/"+url.PathEscape(stored.ID))
	writeJSON(w, http.StatusCreated, view(stored))
	return nil
}

// createCharacter stores c as a new character of acc, with the fields the
// server owns set here whatever c says.
func (a *creatorAPI) createCharacter(r *http.Request, acc maopao.Account, c maopao.Character) (maopao.Character, *apiError) {
	// A quota, so one free account cannot fill the store. The count and
	// the insert are not one step: racing creations may pass it by a few.
	mine, err := a.s.Store.SearchCharacters(r.Context(), storage.CharacterQuery{OwnerID: acc.PlayerID, ViewerID: acc.PlayerID, Limit: MaxCharactersPerAccount})
	if err != nil {
		return maopao.Character{}, a.storeError("count characters", err)
	}
	if len(mine) >= MaxCharactersPerAccount {
		return maopao.Character{}, problemf(http.StatusForbidden, codeQuota, "an account may have %d characters; delete one first", MaxCharactersPerAccount)
	}
	if e := avatarRoom(mine, "", len(c.Avatar), a.avatarQuota); e != nil {
		return maopao.Character{}, e
	}
	now := time.Now().UTC()
	c.ID, c.OwnerID, c.BuiltIn, c.Revision = uuid.NewString(), acc.PlayerID, false, 1
	c.CreatedAt, c.UpdatedAt = now, now
	if c.Visibility == "" {
		c.Visibility = maopao.VisibilityPrivate
	}
	stored, err := a.s.Store.CreateCharacter(r.Context(), c)
	if err != nil {
		return stored, a.storeError("create character", err)
	}
	return stored, nil
}

// handleGet answers GET /api/v1/characters/{id}.
func (a *creatorAPI) handleGet(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	c, e := a.loadVisible(r, viewer)
	if e != nil {
		return e
	}
	w.Header().Set("ETag", revisionETag(c))
	writeJSON(w, http.StatusOK, view(c))
	return nil
}

func revisionETag(c maopao.Character) string { return fmt.Sprintf(`"r%d"`, c.Revision) }

// handlePut answers PUT /api/v1/characters/{id}: the body replaces every
// card field; "revision" must be the revision the edit started from.
func (a *creatorAPI) handlePut(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	cur, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	body, e := a.readCharacterBody(w, r)
	if e != nil {
		return e
	}
	return a.update(w, r, cur, body)
}

// handlePatch answers PATCH /api/v1/characters/{id} with a JSON merge patch
// (RFC 7396) of the character's fields; like PUT, it must name the
// revision it was made against.
func (a *creatorAPI) handlePatch(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	cur, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	var patch map[string]any
	if e := decodeJSONBody(w, r, MaxCharacterBodyBytes, &patch); e != nil {
		return e
	}
	if patch == nil {
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "a merge patch is a JSON object")
	}
	base := cur
	base.Revision = 0 // only the patch may say which revision it edits
	var doc map[string]any
	b, err := json.Marshal(view(base))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		err = dec.Decode(&doc)
	}
	if err != nil {
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "encode character: %v", err)
	}
	merged, err := json.Marshal(mergePatch(doc, patch))
	if err != nil {
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "apply patch: %v", err)
	}
	body, e := decodeCharacterBody(bytes.NewReader(merged), int64(len(merged))+1)
	if e != nil {
		return e
	}
	return a.update(w, r, cur, body)
}

// mergePatch applies an RFC 7396 merge patch: objects merge key by key,
// null deletes, anything else replaces.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func (a *creatorAPI) update(w http.ResponseWriter, r *http.Request, cur maopao.Character, body *characterBody) *apiError {
	var errs []FieldError
	if body.Revision <= 0 {
		errs = append(errs, FieldError{Path: "revision", Message: "required: the revision this edit started from (GET shows it)"})
	}
	if body.ID != "" && body.ID != cur.ID {
		errs = append(errs, FieldError{Path: "id", Message: fmt.Sprintf("%q does not match the URL's %q", body.ID, cur.ID)})
	}
	if len(errs) > 0 {
		return invalidFields(errs)
	}
	next := body.Character
	next.ID, next.OwnerID, next.BuiltIn, next.CreatedAt = cur.ID, cur.OwnerID, false, cur.CreatedAt
	next.Avatar, next.AvatarType = cur.Avatar, cur.AvatarType
	next.UpdatedAt = time.Now().UTC()
	if next.Visibility == "" {
		next.Visibility = cur.Visibility
	}
	stored, err := a.s.Store.UpdateCharacter(r.Context(), next, body.Revision)
	switch {
	case errors.Is(err, maopao.ErrConflict):
		now, gerr := a.s.Store.GetCharacter(r.Context(), cur.ID)
		at := "a newer revision"
		if gerr == nil {
			at = fmt.Sprintf("revision %d", now.Revision)
		}
		e := problemf(http.StatusConflict, codeConflict,
			"the character is at %s, and this edit started from revision %d: reload it and apply the edit again", at, body.Revision)
		e.errs = []FieldError{{Path: "revision", Message: "stale"}}
		return e
	case errors.Is(err, maopao.ErrNotFound):
		return problemf(http.StatusNotFound, codeNotFound, "no character %q", cur.ID)
	case err != nil:
		return a.storeError("update character", err)
	}
	w.Header().Set("ETag", revisionETag(stored))
	writeJSON(w, http.StatusOK, view(stored))
	return nil
}

// handleDelete answers DELETE /api/v1/characters/{id}.
func (a *creatorAPI) handleDelete(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	c, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	err := a.s.Store.DeleteCharacter(r.Context(), c.ID)
	if err != nil && !errors.Is(err, maopao.ErrNotFound) {
		return a.storeError("delete character", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleHistory answers GET /api/v1/characters/{id}/history. Earlier
// revisions may hold what a creator removed on purpose, so only the
// creator sees them.
func (a *creatorAPI) handleHistory(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	c, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	hist, err := a.s.Store.CharacterHistory(r.Context(), c.ID)
	if errors.Is(err, maopao.ErrNotFound) {
		return problemf(http.StatusNotFound, codeNotFound, "no character %q", c.ID)
	}
	if err != nil {
		return a.storeError("read history", err)
	}
	out := CharacterHistory{Revisions: make([]CharacterView, 0, len(hist))}
	for i, h := range hist {
		v := view(h)
		if i > 0 {
			v.AvatarURL = "" // the avatar URL serves the current picture only
		}
		out.Revisions = append(out.Revisions, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// handleRevision answers GET /api/v1/characters/{id}/history/{rev}.
func (a *creatorAPI) handleRevision(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	c, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	rev, err := strconv.Atoi(r.PathValue("rev"))
	if err != nil || rev < 1 {
		return problemf(http.StatusNotFound, codeNotFound, "no revision %q of %q", r.PathValue("rev"), c.ID)
	}
	old, err := a.s.Store.GetCharacterRevision(r.Context(), c.ID, rev)
	if errors.Is(err, maopao.ErrNotFound) {
		return problemf(http.StatusNotFound, codeNotFound, "no revision %d of %q", rev, c.ID)
	}
	if err != nil {
		return a.storeError("read revision", err)
	}
	v := view(old)
	if old.Revision != c.Revision {
		v.AvatarURL = ""
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// handleGetAvatar answers GET /api/v1/characters/{id}/avatar with the
// picture's bytes.
func (a *creatorAPI) handleGetAvatar(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	c, e := a.loadVisible(r, viewer)
	if e != nil {
		return e
	}
	if len(c.Avatar) == 0 {
		return problemf(http.StatusNotFound, codeNotFound, "%q has no avatar", c.Name)
	}
	etag := revisionETag(c)
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	ct := c.AvatarType
	if ct == "" {
		ct = http.DetectContentType(c.Avatar)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Avatar)))
	_, _ = w.Write(c.Avatar)
	return nil
}

// handlePutAvatar answers PUT /api/v1/characters/{id}/avatar: the body is
// the picture, a PNG or JPEG of at most 2 MiB (its type is sniffed from the
// bytes; the request's Content-Type is not trusted). It makes a new
// revision.
func (a *creatorAPI) handlePutAvatar(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	cur, e := a.loadOwned(r, player)
	if e != nil {
		return e
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAvatarBytes))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the avatar is larger than %d bytes", MaxAvatarBytes)
	}
	if err != nil {
		return problemf(http.StatusBadRequest, protocol.CodeInvalid, "read the avatar: %v", err)
	}
	data, ct, e := prepareAvatar(data)
	if e != nil {
		return e
	}
	mine, err := a.s.Store.SearchCharacters(r.Context(), storage.CharacterQuery{OwnerID: player, ViewerID: player, Limit: MaxCharactersPerAccount})
	if err != nil {
		return a.storeError("count pictures", err)
	}
	if e := avatarRoom(mine, cur.ID, len(data), a.avatarQuota); e != nil {
		return e
	}
	// The picture is not an edit of the card fields, so it does not race
	// them on the client's revision: it applies to whatever is current.
	for attempt := 0; attempt < 5; attempt++ {
		next := cur
		next.Avatar, next.AvatarType, next.UpdatedAt = data, ct, time.Now().UTC()
		stored, err := a.s.Store.UpdateCharacter(r.Context(), next, cur.Revision)
		if err == nil {
			w.Header().Set("ETag", revisionETag(stored))
			writeJSON(w, http.StatusOK, view(stored))
			return nil
		}
		if !errors.Is(err, maopao.ErrConflict) {
			if errors.Is(err, maopao.ErrNotFound) {
				return problemf(http.StatusNotFound, codeNotFound, "no character %q", cur.ID)
			}
			return a.storeError("store avatar", err)
		}
		if cur, e = a.loadOwned(r, player); e != nil {
			return e
		}
	}
	return problemf(http.StatusConflict, codeConflict, "the character kept changing while the avatar was stored; try again")
}

// avatarRoom refuses a picture of size bytes for the character replacing
// (the new one when "") when the account's pictures would then pass
// MaxAvatarBytesPerAccount. Like the character quota, it is checked before
// the write, so racing uploads may pass it by a picture or two.
func avatarRoom(mine []maopao.Character, replacing string, size, quota int) *apiError {
	if size == 0 {
		return nil
	}
	used := 0
	for _, c := range mine {
		if c.ID != replacing {
			used += c.AvatarSize
		}
	}
	if used+size > quota {
		return problemf(http.StatusForbidden, codeQuota, "an account's character pictures may take %.1f MiB in all; %.1f MiB are in use and this one is %.1f MiB: remove or shrink a picture first",
			float64(quota)/(1<<20), float64(used)/(1<<20), float64(size)/(1<<20))
	}
	return nil
}

// prepareAvatar checks an uploaded picture and returns what to store (a
// JPEG becomes a PNG once, here, rather than on every export).
func prepareAvatar(data []byte) ([]byte, string, *apiError) {
	out, ct, err := card.PrepareAvatar(data)
	var ae *card.AvatarError
	switch {
	case errors.As(err, &ae) && ae.Unsupported:
		return nil, "", problemf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "the avatar: %s", ae.Detail)
	case errors.As(err, &ae):
		return nil, "", problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "the avatar: %s", ae.Detail)
	case err != nil:
		return nil, "", problemf(http.StatusInternalServerError, protocol.CodeInternal, "the avatar: %v", err)
	}
	return out, ct, nil
}
