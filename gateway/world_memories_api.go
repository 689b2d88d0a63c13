package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

// The memory manager in worlds (?world=ID): what a resident remembers
// about the caller there (records whose About or PrivateTo is the
// caller), pinned, rewritten or forgotten. The store is changed at once,
// and the change goes into the world's log so the running world (and
// every replay of it) holds it too.

// maxWorldTextRunes matches what a world takes as one line.
const maxWorldTextRunes = 2000

// WorldMemoryList answers GET /api/v1/memories?world=ID&character=ID.
type WorldMemoryList struct {
	Memories []maopao.MemoryRecord `json:"memories"`
	Next     *int                  `json:"next,omitempty"`
}

// isWorldMemoryRequest: the memory manager asked about a world.
func isWorldMemoryRequest(r *http.Request) bool { return r.URL.Query().Get("world") != "" }

// memoryWorld reads ?world= and checks the caller may see it.
func (a *creatorAPI) memoryWorld(r *http.Request, player string) (maopao.World, *apiError) {
	id := r.URL.Query().Get("world")
	w, err := a.s.Store.GetWorld(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || errors.Is(err, maopao.ErrInvalid) || (err == nil && w.Visibility == maopao.VisibilityPrivate && w.OwnerID != player) {
		return w, problemf(http.StatusNotFound, codeNotFound, "no world %q", id)
	}
	if err != nil {
		return w, a.storeError("read world", err)
	}
	return w, nil
}

func (a *creatorAPI) handleListWorldMemories(w http.ResponseWriter, r *http.Request, player string) *apiError {
	wd, e := a.memoryWorld(r, player)
	if e != nil {
		return e
	}
	charID := r.URL.Query().Get("character")
	if charID == "" {
		return invalidFields([]FieldError{{Path: "character", Message: "required: the resident whose memories of you to list"}})
	}
	limit, offset, e := pageParams(r)
	if e != nil {
		return e
	}
	all, err := a.s.Store.MemoryRecordsAbout(r.Context(), wd.ID, charID, player)
	if err != nil {
		return a.storeError("list memories", err)
	}
	page, next := pinnedFirstPage(all, func(m maopao.MemoryRecord) bool { return m.Pinned }, limit, offset)
	writeJSON(w, http.StatusOK, WorldMemoryList{Memories: page, Next: next})
	return nil
}

// loadOwnWorldMemory finds memory {id} (a world memory's ID is the
// resident's ID, '#', and a number) among those about the caller.
func (a *creatorAPI) loadOwnWorldMemory(r *http.Request, player string) (maopao.World, maopao.MemoryRecord, *apiError) {
	wd, e := a.memoryWorld(r, player)
	if e != nil {
		return wd, maopao.MemoryRecord{}, e
	}
	id := r.PathValue("id")
	notFound := problemf(http.StatusNotFound, codeNotFound, "no memory %q of you in world %q", id, wd.ID)
	k := strings.LastIndexByte(id, '#')
	if k <= 0 {
		return wd, maopao.MemoryRecord{}, notFound
	}
	all, err := a.s.Store.MemoryRecordsAbout(r.Context(), wd.ID, id[:k], player)
	if err != nil {
		return wd, maopao.MemoryRecord{}, a.storeError("read memory", err)
	}
	for _, m := range all {
		if m.ID == id {
			return wd, m, nil
		}
	}
	return wd, maopao.MemoryRecord{}, notFound
}

func (a *creatorAPI) handleEditWorldMemory(w http.ResponseWriter, r *http.Request, player string) *apiError {
	wd, m, e := a.loadOwnWorldMemory(r, player)
	if e != nil {
		return e
	}
	var body MemoryBody
	if e := decodeJSONBody(w, r, maxMemoryBody, &body); e != nil {
		return e
	}
	change := protocol.WorldMemoryChanged{PlayerID: player, MemoryID: m.ID, Pinned: body.Pinned}
	var errs []FieldError
	if body.Text != nil {
		t := strings.TrimSpace(*body.Text)
		if t == "" || utf8.RuneCountInString(t) > maxWorldTextRunes || !utf8.ValidString(t) {
			errs = append(errs, FieldError{Path: "text", Message: "must be 1 to 2000 characters"})
		}
		m.Text, change.Text = t, &t
	}
	if body.Importance != nil {
		errs = append(errs, FieldError{Path: "importance", Message: "a world rates its memories itself"})
	}
	if len(errs) > 0 {
		return invalidFields(errs)
	}
	if body.Pinned != nil {
		m.Pinned = *body.Pinned
	}
	if err := a.s.Store.PutMemoryRecord(r.Context(), m); err != nil {
		return a.storeError("store memory", err)
	}
	if e := a.logMemoryChange(r.Context(), wd.ID, change); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, m)
	return nil
}

func (a *creatorAPI) handleForgetWorldMemory(w http.ResponseWriter, r *http.Request, player string) *apiError {
	wd, m, e := a.loadOwnWorldMemory(r, player)
	if e != nil {
		return e
	}
	if err := a.s.Store.DeleteMemoryRecord(r.Context(), wd.ID, m.CharacterID, m.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
		return a.storeError("forget memory", err)
	}
	if e := a.logMemoryChange(r.Context(), wd.ID, protocol.WorldMemoryChanged{PlayerID: player, MemoryID: m.ID, Forget: true}); e != nil {
		return e
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// logMemoryChange puts the change into the world's log: the world holds
// the memory in its state too, and a memory only the store still had
// (older than the world keeps) is changed there alone.
func (a *creatorAPI) logMemoryChange(ctx context.Context, worldID string, in protocol.WorldMemoryChanged) *apiError {
	b, err := protocol.PlayerLogEntry(in)
	if err != nil {
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "encode the change: %v", err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.s.Bus.Append(actx, protocol.WorldInputSubject(worldID), uuid.NewString(), b); err != nil {
		a.s.Log.Warn("log a memory change", "world", worldID, "err", err)
		return problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "the world could not take the change just now; try again")
	}
	return nil
}
