package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/protocol"
)

// A creator edits a world while a player is in it: the player is told,
// gets the new map and can walk to the new place, without a restart; and
// the world's lorebook fires in the prompt the engine receives.
func TestWorldEditedWhileRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL = hs.URL; c.ModelPath = "" })
	defer srv.Close()
	xiaoyu := characters.Samples()[0]

	creator := registerCreator(t, ctx, srv.URL(), "builder")
	body := gateway.WorldBody{
		Name: "Lantern Town", Description: "A town of paper lanterns.", Visibility: maopao.VisibilityPublic, SimMinutesPerSecond: 1,
		Locations: []maopao.Location{
			{ID: "gate", Name: "the Gate", Connections: []string{"inn"}, Map: &maopao.MapPoint{X: 20, Y: 50}},
			{ID: "inn", Name: "the Inn", Connections: []string{"gate"}, Map: &maopao.MapPoint{X: 80, Y: 50}},
		},
		Residents: []maopao.Resident{{CharacterID: xiaoyu.ID, LocationID: "inn"}},
		Lorebook: &maopao.Lorebook{Entries: []maopao.LoreEntry{
			{Keys: []string{"lantern"}, Content: "WORLD-LORE: the lanterns are lit by the river spirits.", Enabled: true},
		}},
	}
	a := creator.json("POST", "/api/v1/worlds", body)
	if a.status != http.StatusCreated {
		t.Fatalf("create world: %d %s", a.status, a.body)
	}
	var wd maopao.World
	a.decode(t, &wd)

	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	ada := &worldPlayer{t: t, c: dial(t, ctx, srv, token), name: "Ada"}
	ada.send(protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: "jw"}, WorldID: wd.ID, LocationID: "inn"})
	ada.until(ctx, "world_joined", func(env protocol.Envelope, raw []byte) bool { return env.Type == protocol.TypeWorldJoined })
	// A line answered proves the world runs; its prompt carries the lore.
	ada.send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r1"}, WorldID: wd.ID, Text: "Xiaoyu, who lights the lantern by the door?", To: xiaoyu.ID})
	ada.until(ctx, "Xiaoyu's reply", func(env protocol.Envelope, raw []byte) bool {
		ev := event(raw)
		return env.Type == protocol.TypeWorldEvent && ev.Kind == protocol.WorldSaid && ev.Actor.ID == xiaoyu.ID
	})
	lore := false
	for _, req := range llm.all() {
		for _, m := range req {
			lore = lore || strings.Contains(m.Content, "World lore:\nWORLD-LORE: the lanterns are lit by the river spirits.")
		}
	}
	if !lore {
		t.Fatalf("the world's lorebook entry is in no prompt: %v", llm.all())
	}

	// The creator adds a garden next to the inn.
	body.Revision = wd.Revision
	body.Locations[1].Connections = []string{"gate", "garden"}
	body.Locations = append(body.Locations, maopao.Location{ID: "garden", Name: "the Garden", Description: "Roses.", Connections: []string{"inn"}, Map: &maopao.MapPoint{X: 80, Y: 90}})
	if a := creator.json("PUT", "/api/v1/worlds/"+wd.ID, body); a.status != http.StatusOK {
		t.Fatalf("edit world: %d %s", a.status, a.body)
	}
	told, mapped := false, false
	ada.until(ctx, "the changed world", func(env protocol.Envelope, raw []byte) bool {
		switch env.Type {
		case protocol.TypeWorldEvent:
			ev := event(raw)
			told = told || (ev.Kind == protocol.WorldChanged && strings.Contains(ev.Text, "new places: the Garden"))
		case protocol.TypeWorldJoined:
			var j protocol.WorldJoined
			_ = json.Unmarshal(raw, &j)
			for _, l := range j.World.Locations {
				mapped = mapped || (l.ID == "garden" && l.Map != nil && l.Map.Y == 90)
			}
		}
		return told && mapped
	})
	ada.send(protocol.Move{Envelope: protocol.Envelope{Type: protocol.TypeMove, ID: "mv"}, WorldID: wd.ID, LocationID: "garden"})
	ada.until(ctx, "the garden", func(env protocol.Envelope, raw []byte) bool {
		var j protocol.WorldJoined
		_ = json.Unmarshal(raw, &j)
		return env.Type == protocol.TypeWorldJoined && env.Ref == "mv" && j.LocationID == "garden"
	})
	// The world itself has Ada in the garden.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ada.send(protocol.Move{Envelope: protocol.Envelope{Type: protocol.TypeMove, ID: "look"}, WorldID: wd.ID, LocationID: "garden"})
		var j protocol.WorldJoined
		ada.until(ctx, "a look at the garden", func(env protocol.Envelope, raw []byte) bool {
			_ = json.Unmarshal(raw, &j)
			return env.Type == protocol.TypeWorldJoined && env.Ref == "look"
		})
		here := false
		for _, p := range j.Present {
			here = here || p.Name == "Ada"
		}
		if here {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the world does not have Ada in the garden: %+v", j)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// A creator edits a resident's card while its world runs: the resident's
// next prompt uses the new card, with no restart.
func TestResidentCardEditedWhileRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL, c.ModelPath, c.MemoryWorkAfter = hs.URL, "", -1 })
	defer srv.Close()
	creator := registerCreator(t, ctx, srv.URL(), "keeper")
	a := creator.json("POST", "/api/v1/characters", map[string]any{"name": "Rosa", "description": "Keeper of the lighthouse.", "visibility": "public"})
	if a.status != http.StatusCreated {
		t.Fatalf("create character: %d %s", a.status, a.body)
	}
	var rosa gateway.CharacterView
	a.decode(t, &rosa)
	a = creator.json("POST", "/api/v1/worlds", gateway.WorldBody{Name: "Cape", Visibility: maopao.VisibilityPublic,
		Locations: []maopao.Location{{ID: "tower", Name: "the Tower"}}, Residents: []maopao.Resident{{CharacterID: rosa.ID, LocationID: "tower"}}})
	if a.status != http.StatusCreated {
		t.Fatalf("create world: %d %s", a.status, a.body)
	}
	var wd maopao.World
	a.decode(t, &wd)

	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	if _, err := c.JoinWorld(ctx, wd.ID, "tower"); err != nil {
		t.Fatal(err)
	}
	talk := func(text string) string {
		t.Helper()
		n := len(llm.all())
		if _, err := c.RoomSay(ctx, wd.ID, text, rosa.ID); err != nil {
			t.Fatal(err)
		}
		for {
			ev, err := c.NextWorldEvent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Kind == protocol.WorldSaid && ev.Actor.ID == rosa.ID {
				break
			}
		}
		for _, req := range llm.all()[n:] {
			if strings.Contains(req[0].Content, "You are Rosa") {
				return req[0].Content
			}
		}
		t.Fatalf("no prompt for Rosa after %q", text)
		return ""
	}
	if p := talk("Rosa, is the lamp lit?"); !strings.Contains(p, "Keeper of the lighthouse.") {
		t.Fatalf("first prompt:\n%s", p)
	}
	a = creator.json("PUT", "/api/v1/characters/"+rosa.ID, map[string]any{"name": "Rosa", "description": "Keeper of the lighthouse, and of BEES-ON-THE-ROOF.", "visibility": "public", "revision": rosa.Revision})
	if a.status != http.StatusOK {
		t.Fatalf("edit character: %d %s", a.status, a.body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for p := talk("Rosa, anything new?"); !strings.Contains(p, "BEES-ON-THE-ROOF"); p = talk("Rosa, anything new now?") {
		if time.Now().After(deadline) {
			t.Fatalf("the resident still talks from the old card:\n%s", p)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
