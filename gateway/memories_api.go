package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// The memory manager: what a character remembers about the calling player
// from their one-to-one chats (worldsim's recall), to see, pin, edit and
// forget. Memories are the player's own: nobody else sees them, and a
// memory of another player answers 404 as if it were not there.

// MaxChatMemoriesPerPair bounds the memories one player keeps with one
// character; past it, notes are refused (lines said still become
// memories, and recall reads the newest).
const MaxChatMemoriesPerPair = 10000

const maxMemoryBody = 8 << 10

func (a *creatorAPI) registerMemories(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/memories", a.handleListMemories)
	a.handle(mux, "POST /api/v1/memories", a.handleAddMemory)
	a.handle(mux, "PATCH /api/v1/memories/{id}", a.handleEditMemory)
	a.handle(mux, "DELETE /api/v1/memories/{id}", a.handleForgetMemory)
}

// MemoryList answers GET /api/v1/memories.
type MemoryList struct {
	Memories []maopao.ChatMemory `json:"memories"`
	// Next is the offset of the next page, when there is one.
	Next *int `json:"next,omitempty"`
}

// MemoryBody is the body of POST and PATCH: a new note, or what changes.
type MemoryBody struct {
	Text       *string `json:"text,omitempty"`
	Pinned     *bool   `json:"pinned,omitempty"`
	Importance *int    `json:"importance,omitempty"`
}

// memoryCharacter reads ?character= and checks the player may see it.
func (a *creatorAPI) memoryCharacter(r *http.Request, player string) (maopao.Character, *apiError) {
	id := r.URL.Query().Get("character")
	if id == "" {
		e := invalidFields([]FieldError{{Path: "character", Message: "required: the character whose memories of you to list"}})
		e.status = http.StatusBadRequest
		return maopao.Character{}, e
	}
	return a.visibleCharacter(r, id, player)
}

// handleListMemories answers GET /api/v1/memories?character=ID: pinned
// ones first, then newest first, paged by limit and offset.
func (a *creatorAPI) handleListMemories(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	if isWorldMemoryRequest(r) {
		return a.handleListWorldMemories(w, r, player)
	}
	c, e := a.memoryCharacter(r, player)
	if e != nil {
		return e
	}
	limit, offset, e := pageParams(r)
	if e != nil {
		return e
	}
	all, err := a.s.Store.ChatMemories(r.Context(), player, c.ID)
	if err != nil {
		return a.storeError("list memories", err)
	}
	// Pinned first; ChatMemories gives newest first within each.
	page, next := pinnedFirstPage(all, func(m maopao.ChatMemory) bool { return m.Pinned }, limit, offset)
	for i := range page {
		page[i].Embedding = nil // the store's, not the player's
	}
	writeJSON(w, http.StatusOK, MemoryList{Memories: page, Next: next})
	return nil
}

// pinnedFirstPage orders memories pinned first (keeping their order
// otherwise) and returns the page at offset, with the next page's offset
// when there is one.
func pinnedFirstPage[T any](all []T, pinned func(T) bool, limit, offset int) ([]T, *int) {
	ordered := make([]T, 0, len(all))
	for _, want := range []bool{true, false} {
		for _, m := range all {
			if pinned(m) == want {
				ordered = append(ordered, m)
			}
		}
	}
	if offset >= len(ordered) {
		return []T{}, nil
	}
	end := min(offset+limit, len(ordered))
	if end < len(ordered) {
		return ordered[offset:end], &end
	}
	return ordered[offset:end], nil
}

// handleAddMemory answers POST /api/v1/memories?character=ID: a note the
// player writes for the character to remember.
func (a *creatorAPI) handleAddMemory(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	if isWorldMemoryRequest(r) {
		return problemf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "a world's residents remember what happens there; notes are for one-to-one chats (?character=ID)")
	}
	c, e := a.memoryCharacter(r, player)
	if e != nil {
		return e
	}
	var body MemoryBody
	if e := decodeJSONBody(w, r, maxMemoryBody, &body); e != nil {
		return e
	}
	if body.Text == nil {
		return invalidFields([]FieldError{{Path: "text", Message: "required: what the character should remember"}})
	}
	all, err := a.s.Store.ChatMemories(r.Context(), player, c.ID)
	if err != nil {
		return a.storeError("count memories", err)
	}
	if len(all) >= MaxChatMemoriesPerPair {
		return problemf(http.StatusForbidden, codeQuota, "%s already remembers %d things about you; forget some first", c.Name, len(all))
	}
	now := time.Now().UTC()
	m := maopao.ChatMemory{ID: uuid.NewString(), PlayerID: player, CharacterID: c.ID, Kind: maopao.ChatMemoryNote,
		Importance: 7, CreatedAt: now, UpdatedAt: now}
	if e := applyMemoryBody(&m, body); e != nil {
		return e
	}
	if err := a.s.Store.PutChatMemory(r.Context(), m); err != nil {
		return a.storeError("store memory", err)
	}
	w.Header().Set("Location", "/api/v1/memories/"+m.ID)
	writeJSON(w, http.StatusCreated, m)
	return nil
}

// loadOwnMemory reads memory {id} if it is the caller's.
func (a *creatorAPI) loadOwnMemory(r *http.Request) (maopao.ChatMemory, *apiError) {
	player, e := a.s.player(r)
	if e != nil {
		return maopao.ChatMemory{}, e
	}
	id := r.PathValue("id")
	m, err := a.s.Store.GetChatMemory(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || (err == nil && m.PlayerID != player) {
		return maopao.ChatMemory{}, problemf(http.StatusNotFound, codeNotFound, "no memory %q", id)
	}
	if err != nil {
		return maopao.ChatMemory{}, a.storeError("read memory", err)
	}
	return m, nil
}

// handleEditMemory answers PATCH /api/v1/memories/{id}: pin or unpin it,
// rewrite it (it becomes the player's note; a rewritten chat summary stays
// the summary, which the engine goes on from), change its importance.
func (a *creatorAPI) handleEditMemory(w http.ResponseWriter, r *http.Request) *apiError {
	if isWorldMemoryRequest(r) {
		player, e := a.s.player(r)
		if e != nil {
			return e
		}
		return a.handleEditWorldMemory(w, r, player)
	}
	m, e := a.loadOwnMemory(r)
	if e != nil {
		return e
	}
	var body MemoryBody
	if e := decodeJSONBody(w, r, maxMemoryBody, &body); e != nil {
		return e
	}
	if body.Text != nil && *body.Text != m.Text {
		m.Embedding = nil // of the old text; the engine embeds the new one
		if m.Kind != maopao.ChatMemorySummary {
			m.Kind = maopao.ChatMemoryNote
		}
	}
	if e := applyMemoryBody(&m, body); e != nil {
		return e
	}
	m.UpdatedAt = time.Now().UTC()
	if err := a.s.Store.PutChatMemory(r.Context(), m); err != nil {
		return a.storeError("store memory", err)
	}
	m.Embedding = nil
	writeJSON(w, http.StatusOK, m)
	return nil
}

// handleForgetMemory answers DELETE /api/v1/memories/{id}: the memory
// leaves the store, and with it every later prompt.
func (a *creatorAPI) handleForgetMemory(w http.ResponseWriter, r *http.Request) *apiError {
	if isWorldMemoryRequest(r) {
		player, e := a.s.player(r)
		if e != nil {
			return e
		}
		return a.handleForgetWorldMemory(w, r, player)
	}
	m, e := a.loadOwnMemory(r)
	if e != nil {
		return e
	}
	if err := a.s.Store.DeleteChatMemory(r.Context(), m.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
		return a.storeError("forget memory", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func applyMemoryBody(m *maopao.ChatMemory, b MemoryBody) *apiError {
	var errs []FieldError
	if b.Text != nil {
		t := strings.TrimSpace(*b.Text)
		switch {
		case t == "":
			errs = append(errs, FieldError{Path: "text", Message: "empty"})
		case len(t) > storage.MaxChatMemoryBytes:
			errs = append(errs, FieldError{Path: "text", Message: fmt.Sprintf("%d bytes; at most %d", len(t), storage.MaxChatMemoryBytes)})
		case !utf8.ValidString(t):
			errs = append(errs, FieldError{Path: "text", Message: "not valid UTF-8"})
		default:
			m.Text = t
		}
	}
	if b.Pinned != nil {
		m.Pinned = *b.Pinned
	}
	if b.Importance != nil {
		if *b.Importance < 1 || *b.Importance > 10 {
			errs = append(errs, FieldError{Path: "importance", Message: "from 1 to 10"})
		} else {
			m.Importance = *b.Importance
		}
	}
	if len(errs) > 0 {
		return invalidFields(errs)
	}
	return nil
}
