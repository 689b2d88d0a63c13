package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/gateway"
)

func TestWorldsAPIAuthoringAndAuthorization(t *testing.T) {
	base, ctx := startCreatorServer(t)
	alice := registerCreator(t, ctx, base, "alice")
	bob := registerCreator(t, ctx, base, "bob")
	guest := &creatorClient{t: t, ctx: ctx, base: base}
	ren := characters.Samples()[1]

	body := gateway.WorldBody{
		Name: "Night Market", Description: "Lanterns and noodle stalls.",
		Locations: []maopao.Location{
			{ID: "gate", Name: "Market gate", Connections: []string{"stalls"}},
			{ID: "stalls", Name: "Noodle stalls", Connections: []string{"gate"}},
		},
		Residents: []maopao.Resident{{CharacterID: ren.ID, LocationID: "stalls", Talkativeness: 0.5,
			Routine: []maopao.RoutineStep{{AtMinute: 1200, LocationID: "gate", Activity: "haggling"}}}},
	}
	if a := guest.json("POST", "/api/v1/worlds", body); a.status != http.StatusUnauthorized {
		t.Fatalf("guest create: %d", a.status)
	}
	bad := body
	bad.Locations = []maopao.Location{{ID: "has space", Name: ""}, {ID: "x", Name: "X", Connections: []string{"nowhere"}}}
	bad.Residents = []maopao.Resident{{CharacterID: "no-such", LocationID: "void", Talkativeness: 2, Routine: []maopao.RoutineStep{{AtMinute: 2000, LocationID: "x"}}}}
	p := alice.json("POST", "/api/v1/worlds", bad).problem(t, http.StatusUnprocessableEntity)
	for _, path := range []string{"locations[0].id", "locations[0].name", "locations[1].connections[0]", "residents[0].character_id",
		"residents[0].location_id", "residents[0].talkativeness", "residents[0].routine[0].at_minute"} {
		found := false
		for _, e := range p.Errors {
			found = found || e.Path == path
		}
		if !found {
			t.Errorf("no error for %s in %+v", path, p.Errors)
		}
	}

	a := alice.json("POST", "/api/v1/worlds", body)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var w maopao.World
	a.decode(t, &w)
	if w.Visibility != maopao.VisibilityPrivate || w.Revision != 1 || w.SimMinutesPerSecond != 1 || w.OwnerID == "" {
		t.Fatalf("defaults: %+v", w)
	}
	// Private: invisible to others, visible to the owner.
	if a := bob.do("GET", "/api/v1/worlds/"+w.ID, "", nil); a.status != http.StatusNotFound {
		t.Fatalf("bob reads a private world: %d", a.status)
	}
	var list gateway.WorldList
	bob.do("GET", "/api/v1/worlds", "", nil).decode(t, &list)
	for _, x := range list.Worlds {
		if x.ID == w.ID {
			t.Fatal("a private world is listed for another creator")
		}
	}
	alice.do("GET", "/api/v1/worlds?owner="+w.OwnerID, "", nil).decode(t, &list)
	if len(list.Worlds) != 1 || list.Worlds[0].ID != w.ID {
		t.Fatalf("owner's list: %+v", list.Worlds)
	}

	// Edits: owner only, based on the current revision.
	edit := body
	edit.Name, edit.Visibility, edit.Revision = "Night Market (open)", maopao.VisibilityPublic, 1
	if a := bob.json("PUT", "/api/v1/worlds/"+w.ID, edit); a.status != http.StatusNotFound {
		t.Fatalf("bob edits alice's private world: %d", a.status)
	}
	if a := alice.json("PUT", "/api/v1/worlds/"+w.ID, edit); a.status != http.StatusOK {
		t.Fatalf("edit: %d %s", a.status, a.body)
	}
	if a := alice.json("PUT", "/api/v1/worlds/"+w.ID, edit); a.status != http.StatusConflict {
		t.Fatalf("stale edit: %d", a.status)
	}
	if a := bob.json("PUT", "/api/v1/worlds/"+w.ID, edit); a.status != http.StatusForbidden {
		t.Fatalf("bob edits alice's public world: %d", a.status)
	}
	if a := bob.do("DELETE", "/api/v1/worlds/"+w.ID, "", nil); a.status != http.StatusForbidden {
		t.Fatalf("bob deletes alice's world: %d", a.status)
	}
	builtin := characters.SampleWorlds()[0]
	if a := alice.do("DELETE", "/api/v1/worlds/"+builtin.ID, "", nil); a.status != http.StatusForbidden {
		t.Fatalf("delete a built-in world: %d", a.status)
	}
	if a := alice.do("DELETE", "/api/v1/worlds/"+w.ID, "", nil); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d", a.status)
	}
	if a := alice.do("GET", "/api/v1/worlds/"+w.ID, "", nil); a.status != http.StatusNotFound {
		t.Fatalf("deleted world still there: %d", a.status)
	}
}

// One account may have only so many worlds (each runs a simulation) and
// characters: past the quota, a clear problem.
func TestQuotas(t *testing.T) {
	base, ctx := startCreatorServer(t)
	alice := registerCreator(t, ctx, base, "alice")
	ren := characters.Samples()[1]
	body := gateway.WorldBody{
		Name: "Pocket world", Locations: []maopao.Location{{ID: "room", Name: "Room"}},
		Residents: []maopao.Resident{{CharacterID: ren.ID, LocationID: "room", Talkativeness: 0.5}},
	}
	for i := range gateway.MaxWorldsPerAccount {
		if a := alice.json("POST", "/api/v1/worlds", body); a.status != http.StatusCreated {
			t.Fatalf("world %d: %d %s", i, a.status, a.body)
		}
	}
	p := alice.json("POST", "/api/v1/worlds", body).problem(t, http.StatusForbidden)
	if p.Code != "quota_exceeded" || !strings.Contains(p.Detail, "worlds") {
		t.Fatalf("world past the quota: %+v", p)
	}
	for i := range gateway.MaxCharactersPerAccount {
		if a := alice.json("POST", "/api/v1/characters", map[string]any{"name": fmt.Sprintf("Extra %d", i)}); a.status != http.StatusCreated {
			t.Fatalf("character %d: %d %s", i, a.status, a.body)
		}
	}
	p = alice.json("POST", "/api/v1/characters", map[string]any{"name": "One too many"}).problem(t, http.StatusForbidden)
	if p.Code != "quota_exceeded" {
		t.Fatalf("character past the quota: %+v", p)
	}
}
