package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

// Limits of authored worlds.
const (
	MaxWorldBodyBytes   = 4 << 20
	MaxWorldLocations   = 200
	MaxWorldResidents   = 1000
	MaxRoutineSteps     = 48
	MaxSimMinutesPerSec = 600
	MaxWorldEvents      = 100
)

// locationIDRE keeps location ids usable as NATS subject tokens.
var locationIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// WorldBody is the JSON a creator sends to create or replace a world.
type WorldBody struct {
	Name                string                  `json:"name"`
	Description         string                  `json:"description"`
	Locations           []maopao.Location       `json:"locations"`
	Residents           []maopao.Resident       `json:"residents"`
	SimMinutesPerSecond float64                 `json:"sim_minutes_per_second"`
	Visibility          maopao.Visibility       `json:"visibility"`
	Lorebook            *maopao.Lorebook        `json:"lorebook,omitempty"`
	Events              []maopao.ScheduledEvent `json:"events,omitempty"`
	// Revision is the revision the edit is based on (PUT only).
	Revision int `json:"revision"`
}

// WorldList answers GET /api/v1/worlds.
type WorldList struct {
	Worlds []maopao.World `json:"worlds"`
}

func (a *creatorAPI) registerWorlds(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/worlds", a.handleListWorlds)
	a.handle(mux, "POST /api/v1/worlds", a.handleCreateWorld)
	a.handle(mux, "GET /api/v1/worlds/{id}", a.handleGetWorld)
	a.handle(mux, "PUT /api/v1/worlds/{id}", a.handlePutWorld)
	a.handle(mux, "DELETE /api/v1/worlds/{id}", a.handleDeleteWorld)
}

func worldVisible(w maopao.World, viewer string) bool {
	return w.Visibility != maopao.VisibilityPrivate || (viewer != "" && w.OwnerID == viewer)
}

func (a *creatorAPI) handleListWorlds(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	all, err := a.s.Store.ListWorlds(r.Context())
	if err != nil {
		return a.storeError("list worlds", err)
	}
	owner := r.URL.Query().Get("owner")
	out := []maopao.World{}
	for _, wd := range all {
		if !worldVisible(wd, viewer) || (wd.Visibility == maopao.VisibilityUnlisted && wd.OwnerID != viewer) {
			continue
		}
		if owner != "" && wd.OwnerID != owner {
			continue
		}
		out = append(out, wd)
	}
	writeJSON(w, http.StatusOK, WorldList{Worlds: out})
	return nil
}

func (a *creatorAPI) loadWorld(r *http.Request, viewer string) (maopao.World, *apiError) {
	id := r.PathValue("id")
	wd, err := a.s.Store.GetWorld(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || (err == nil && !worldVisible(wd, viewer)) {
		// A private world is as absent as a missing one to others.
		return maopao.World{}, problemf(http.StatusNotFound, codeNotFound, "no world %q", id)
	}
	if err != nil {
		return maopao.World{}, a.storeError("load world", err)
	}
	return wd, nil
}

func (a *creatorAPI) handleGetWorld(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	wd, e := a.loadWorld(r, viewer)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, wd)
	return nil
}

func (a *creatorAPI) handleCreateWorld(w http.ResponseWriter, r *http.Request) *apiError {
	acc, e := a.s.creator(r)
	if e != nil {
		return e
	}
	var body WorldBody
	if e := decodeJSONBody(w, r, MaxWorldBodyBytes, &body); e != nil {
		return e
	}
	if e := a.validateWorld(r, acc.PlayerID, &body); e != nil {
		return e
	}
	// Every world runs a simulation: a quota per account.
	all, err := a.s.Store.ListWorlds(r.Context())
	if err != nil {
		return a.storeError("count worlds", err)
	}
	owned := 0
	for _, w := range all {
		if w.OwnerID == acc.PlayerID {
			owned++
		}
	}
	if owned >= MaxWorldsPerAccount {
		return problemf(http.StatusForbidden, codeQuota, "an account may have %d worlds; delete one first", MaxWorldsPerAccount)
	}
	now := time.Now().UTC()
	wd := maopao.World{ID: uuid.NewString(), OwnerID: acc.PlayerID, Revision: 1, CreatedAt: now, UpdatedAt: now}
	apply(&wd, body)
	if err := a.s.Store.PutWorld(r.Context(), wd); err != nil {
		return a.storeError("store world", err)
	}
	w.Header().Set("Location", "/api/v1/worlds/"+url.PathEscape(wd.ID))
	writeJSON(w, http.StatusCreated, wd)
	return nil
}

func apply(wd *maopao.World, b WorldBody) {
	wd.Name, wd.Description = strings.TrimSpace(b.Name), b.Description
	wd.Locations, wd.Residents = b.Locations, b.Residents
	wd.SimMinutesPerSecond, wd.Visibility = b.SimMinutesPerSecond, b.Visibility
	wd.Lorebook, wd.Events = b.Lorebook, b.Events
}

// loadOwnWorld loads the world a request names for its creator, who alone
// may change it (built-in worlds are nobody's to change).
func (a *creatorAPI) loadOwnWorld(r *http.Request, verb string) (maopao.Account, maopao.World, *apiError) {
	acc, e := a.s.creator(r)
	if e != nil {
		return acc, maopao.World{}, e
	}
	cur, e := a.loadWorld(r, acc.PlayerID)
	if e != nil {
		return acc, cur, e
	}
	if cur.BuiltIn || cur.OwnerID != acc.PlayerID {
		return acc, cur, problemf(http.StatusForbidden, codeForbidden, "only the world's creator can %s it", verb)
	}
	return acc, cur, nil
}

// handlePutWorld replaces a world. The running simulation applies the new
// revision live (worldsim logs it as an input of the world).
func (a *creatorAPI) handlePutWorld(w http.ResponseWriter, r *http.Request) *apiError {
	acc, cur, e := a.loadOwnWorld(r, "edit")
	if e != nil {
		return e
	}
	var body WorldBody
	if e := decodeJSONBody(w, r, MaxWorldBodyBytes, &body); e != nil {
		return e
	}
	if body.Revision != cur.Revision {
		return problemf(http.StatusConflict, codeConflict, "the world is at revision %d, the edit is based on %d: reload and edit again", cur.Revision, body.Revision)
	}
	if e := a.validateWorld(r, acc.PlayerID, &body); e != nil {
		return e
	}
	apply(&cur, body)
	cur.Revision++
	cur.UpdatedAt = time.Now().UTC()
	if err := a.s.Store.PutWorld(r.Context(), cur); err != nil {
		return a.storeError("store world", err)
	}
	// The running world applies it now (its owner would otherwise find
	// it at its next look at the store, within seconds).
	if err := a.s.Bus.Publish(protocol.WorldRevisedSubject(cur.ID), nil); err != nil {
		a.s.Log.Warn("announce a world revision", "world", cur.ID, "err", err)
	}
	writeJSON(w, http.StatusOK, cur)
	return nil
}

func (a *creatorAPI) handleDeleteWorld(w http.ResponseWriter, r *http.Request) *apiError {
	_, cur, e := a.loadOwnWorld(r, "delete")
	if e != nil {
		return e
	}
	if err := a.s.Store.DeleteWorld(r.Context(), cur.ID); err != nil && !errors.Is(err, maopao.ErrNotFound) {
		return a.storeError("delete world", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// maxWorldBytes bounds a world's definition: it travels in one log entry.
func (a *creatorAPI) maxWorldBytes() int {
	payload := int64(1 << 20) // NATS's default
	if a.s.Bus != nil {
		payload = a.s.Bus.MaxPayload()
	}
	return int(payload) - 16<<10
}

// validateWorld checks a world body and fills defaults, reporting every
// problem with its JSON path.
func (a *creatorAPI) validateWorld(r *http.Request, creatorID string, b *WorldBody) *apiError {
	var errs []FieldError
	bad := func(path, format string, args ...any) {
		errs = append(errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(b.Name)); n == 0 || n > 128 {
		bad("name", "must be 1 to 128 characters")
	}
	if len(b.Description) > 64<<10 {
		bad("description", "must be at most 64 KiB")
	}
	if b.SimMinutesPerSecond == 0 {
		b.SimMinutesPerSecond = 1
	}
	if b.SimMinutesPerSecond < 0 || b.SimMinutesPerSecond > MaxSimMinutesPerSec {
		bad("sim_minutes_per_second", "must be between 0 and %d", MaxSimMinutesPerSec)
	}
	switch b.Visibility {
	case "":
		b.Visibility = maopao.VisibilityPrivate
	case maopao.VisibilityPublic, maopao.VisibilityUnlisted, maopao.VisibilityPrivate:
	default:
		bad("visibility", "must be public, unlisted or private")
	}
	if len(b.Locations) == 0 || len(b.Locations) > MaxWorldLocations {
		bad("locations", "a world needs 1 to %d locations", MaxWorldLocations)
	}
	ids := map[string]bool{}
	for i, l := range b.Locations {
		p := fmt.Sprintf("locations[%d]", i)
		switch {
		case !locationIDRE.MatchString(l.ID):
			bad(p+".id", "must be 1 to 64 letters, digits, '-' or '_'")
		case ids[l.ID]:
			bad(p+".id", "%q is used twice", l.ID)
		}
		ids[l.ID] = true
		if n := utf8.RuneCountInString(strings.TrimSpace(l.Name)); n == 0 || n > 128 {
			bad(p+".name", "must be 1 to 128 characters")
		}
		if len(l.Description) > 16<<10 {
			bad(p+".description", "must be at most 16 KiB")
		}
		if m := l.Map; m != nil && (m.X < 0 || m.X > 100 || m.Y < 0 || m.Y > 100 || m.X != m.X || m.Y != m.Y) {
			bad(p+".map", "x and y must be between 0 and 100 (percent of the map)")
		}
	}
	for i, l := range b.Locations {
		for j, c := range l.Connections {
			if !ids[c] || c == l.ID {
				bad(fmt.Sprintf("locations[%d].connections[%d]", i, j), "%q is not another location of this world", c)
			}
		}
	}
	if len(b.Residents) > MaxWorldResidents {
		bad("residents", "at most %d residents", MaxWorldResidents)
	}
	seen := map[string]bool{}
	for i, res := range b.Residents {
		p := fmt.Sprintf("residents[%d]", i)
		if seen[res.CharacterID] {
			bad(p+".character_id", "%q lives here twice", res.CharacterID)
		}
		seen[res.CharacterID] = true
		if c, err := a.s.Store.GetCharacter(r.Context(), res.CharacterID); err != nil || (c.Visibility == maopao.VisibilityPrivate && c.OwnerID != creatorID) {
			bad(p+".character_id", "no character %q you may use", res.CharacterID)
		}
		if !ids[res.LocationID] {
			bad(p+".location_id", "%q is not a location of this world", res.LocationID)
		}
		if res.Talkativeness < 0 || res.Talkativeness > 1 {
			bad(p+".talkativeness", "must be between 0 and 1")
		}
		if len(res.Routine) > MaxRoutineSteps {
			bad(p+".routine", "at most %d steps", MaxRoutineSteps)
		}
		for j, st := range res.Routine {
			q := fmt.Sprintf("%s.routine[%d]", p, j)
			if st.AtMinute < 0 || st.AtMinute > 1439 {
				bad(q+".at_minute", "must be 0 to 1439 (minutes after midnight)")
			}
			if !ids[st.LocationID] {
				bad(q+".location_id", "%q is not a location of this world", st.LocationID)
			}
			if utf8.RuneCountInString(st.Activity) > 200 {
				bad(q+".activity", "must be at most 200 characters")
			}
		}
	}
	errs = append(errs, eventErrors(b.Events, ids, seen)...)
	var lore validator
	lore.lorebook("lorebook", b.Lorebook)
	errs = append(errs, lore.errs...)
	// A revision reaches the running world as one entry of its log.
	if enc, err := json.Marshal(b); err == nil && len(enc) > a.maxWorldBytes() {
		bad("(body)", "the world is %d KiB; at most %d KiB can be applied to a running world: shorten descriptions or lore", len(enc)>>10, a.maxWorldBytes()>>10)
	}
	if len(errs) > 0 {
		return invalidFields(errs)
	}
	return nil
}

// eventErrors checks a world's scheduled events against its places and
// residents, each problem at its path.
func eventErrors(events []maopao.ScheduledEvent, places, residents map[string]bool) []FieldError {
	var v validator
	if len(events) > MaxWorldEvents {
		v.add("events", "at most %d events", MaxWorldEvents)
	}
	eventIDs := map[string]bool{}
	for i, ev := range events {
		p := fmt.Sprintf("events[%d]", i)
		switch {
		case !locationIDRE.MatchString(ev.ID):
			v.add(p+".id", "must be 1 to 64 letters, digits, '-' or '_'")
		case eventIDs[ev.ID]:
			v.add(p+".id", "%q is used twice", ev.ID)
		}
		eventIDs[ev.ID] = true
		if n := utf8.RuneCountInString(strings.TrimSpace(ev.Text)); n == 0 || n > 2000 {
			v.add(p+".text", "must be 1 to 2000 characters")
		}
		if ev.LocationID != "" && !places[ev.LocationID] {
			v.add(p+".location_id", "%q is not a location of this world", ev.LocationID)
		}
		set := 0
		if m := ev.Trigger.AtMinute; m != nil {
			set++
			if *m < 0 || *m > 1439 {
				v.add(p+".trigger.at_minute", "must be 0 to 1439 (minutes after midnight)")
			}
		}
		if ev.Trigger.Arrival != "" {
			set++
			if !places[ev.Trigger.Arrival] {
				v.add(p+".trigger.arrival", "%q is not a location of this world", ev.Trigger.Arrival)
			}
		}
		if kw := strings.TrimSpace(ev.Trigger.Keyword); kw != "" {
			set++
			if utf8.RuneCountInString(kw) > 100 {
				v.add(p+".trigger.keyword", "must be at most 100 characters")
			}
		}
		if set != 1 {
			v.add(p+".trigger", "needs exactly one of at_minute, arrival, keyword")
		}
		if w := ev.Trigger.Who; w != "" && w != "player" && !residents[w] {
			v.add(p+".trigger.who", "must be \"player\", a resident's character id, or empty (anyone)")
		}
		if ev.CooldownMinutes < 0 || ev.CooldownMinutes > 10*1440 {
			v.add(p+".cooldown_minutes", "must be 0 to %d", 10*1440)
		}
	}
	return v.errs
}
