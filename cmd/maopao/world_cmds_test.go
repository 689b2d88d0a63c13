package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/card"
)

// The world commands against a running server: create from a body, list,
// edit from a file and in $EDITOR (a stale edit refused), export as a
// world file with the residents' cards, import it as a new world with new
// characters, and clear errors for files that are not worlds.
func TestWorldCommands(t *testing.T) {
	url := startServer(t)
	dir := t.TempDir()
	common := []string{"--url", url, "--identity", filepath.Join(dir, "identity.json")}
	t.Setenv("MAOPAO_PASSWORD", "a long password")
	if _, _, err := run(t, "", append([]string{"account", "register", "--user", "builder"}, common...)...); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "", append([]string{"card", "import", filepath.Join("..", "..", "characters", "card", "testdata", "full_v3.json"), "--visibility", "public"}, common...)...)
	if err != nil {
		t.Fatal(err)
	}
	oriel := strings.TrimSpace(out)

	body := fmt.Sprintf(`{"name": "Night Market", "description": "Lanterns.", "visibility": "public",
		"locations": [{"id": "gate", "name": "Market gate", "connections": ["stalls"], "map": {"x": 10, "y": 50}},
		              {"id": "stalls", "name": "Noodle stalls", "connections": ["gate"]}],
		"residents": [{"character_id": %q, "location_id": "stalls", "routine": [{"at_minute": 1200, "location_id": "gate", "activity": "haggling"}]}],
		"lorebook": {"entries": [{"keys": ["lantern"], "content": "The lanterns never go out.", "enabled": true}]}}`, oriel)
	bodyFile := filepath.Join(dir, "market.json")
	if err := os.WriteFile(bodyFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "", append([]string{"world", "create", bodyFile}, common...)...)
	if err != nil {
		t.Fatalf("world create: %v", err)
	}
	worldID := strings.TrimSpace(out)
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(worldID) {
		t.Fatalf("world create printed %q, want the id alone", out)
	}
	out, _, err = run(t, "", append([]string{"world", "list"}, common...)...)
	if err != nil || !strings.Contains(out, worldID+"\tpublic\t1\tNight Market *") {
		t.Fatalf("world list: %q %v", out, err)
	}

	// $EDITOR edits the body; a run that changes nothing saves nothing.
	t.Setenv("EDITOR", "sed -i s/Night\\sMarket/Dawn\\x20Market/")
	out, _, err = run(t, "", append([]string{"world", "edit", worldID}, common...)...)
	if err != nil || !strings.Contains(out, "revision 2") {
		t.Fatalf("world edit in $EDITOR: %q %v", out, err)
	}
	t.Setenv("EDITOR", "true")
	_, errOut, err := run(t, "", append([]string{"world", "edit", worldID}, common...)...)
	if err != nil || !strings.Contains(errOut, "no changes") {
		t.Fatalf("world edit without changes: %q %v", errOut, err)
	}
	// A file based on revision 1 no longer applies.
	stale := strings.Replace(body, `"name": "Night Market"`, `"revision": 1, "name": "Stale Market"`, 1)
	if err := os.WriteFile(bodyFile, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", append([]string{"world", "edit", worldID, bodyFile}, common...)...); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("a stale edit: %v, want the server's 409", err)
	}

	worldFileName := filepath.Join(dir, "market.world.json")
	if _, _, err := run(t, "", append([]string{"world", "export", worldID, "-o", worldFileName}, common...)...); err != nil {
		t.Fatalf("world export: %v", err)
	}
	data, err := os.ReadFile(worldFileName)
	if err != nil {
		t.Fatal(err)
	}
	var f worldFile
	if err := json.Unmarshal(data, &f); err != nil || f.Format != WorldFileFormat || f.World.Name != "Dawn Market" || len(f.Cards) != 1 {
		t.Fatalf("exported file: %v %+v", err, f)
	}
	imp, err := card.Decode(f.Cards[oriel])
	if err != nil || imp.Character.Name != "Oriel" || !strings.Contains(string(f.Cards[oriel]), `"chara_card_v3"`) {
		t.Fatalf("the resident's card in the file: %v %+v", err, imp)
	}
	if f.World.Locations[0].Map == nil || f.World.Lorebook == nil || len(f.World.Lorebook.Entries) != 1 {
		t.Fatalf("the file lost the map or the lore: %+v", f.World)
	}

	out, _, err = run(t, "", append([]string{"world", "import", worldFileName, "--visibility", "unlisted"}, common...)...)
	if err != nil {
		t.Fatalf("world import: %v", err)
	}
	copyID := strings.TrimSpace(out)
	if copyID == worldID || copyID == "" {
		t.Fatalf("world import printed %q", out)
	}
	var copied maopao.World
	if err := authedJSONForTest(t, common, "/api/v1/worlds/"+copyID, &copied); err != nil {
		t.Fatal(err)
	}
	if copied.Name != "Dawn Market" || copied.Visibility != maopao.VisibilityUnlisted || len(copied.Residents) != 1 ||
		copied.Residents[0].CharacterID == oriel || len(copied.Residents[0].Routine) != 1 || copied.Lorebook == nil {
		t.Fatalf("the imported world: %+v", copied)
	}
	var resident struct{ Name string } // the test card's extensions hold numbers Go cannot read (1e400)
	if err := authedJSONForTest(t, common, "/api/v1/characters/"+copied.Residents[0].CharacterID, &resident); err != nil || resident.Name != "Oriel" {
		t.Fatalf("the imported resident: %v %+v", err, resident)
	}

	// Files that are not worlds say so.
	if _, _, err := run(t, "", append([]string{"world", "import", bodyFile}, common...)...); err == nil || !strings.Contains(err.Error(), "not a Maopao world file") {
		t.Errorf("import of a body: %v", err)
	}
	if err := os.WriteFile(bodyFile, []byte(`{"name": "x", "colour": "red"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", append([]string{"world", "create", bodyFile}, common...)...); err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Errorf("create with an unknown field: %v", err)
	}
	if err := os.WriteFile(bodyFile, []byte(`{"name": "x", "locations": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", append([]string{"world", "create", bodyFile}, common...)...); err == nil || !strings.Contains(err.Error(), "locations") {
		t.Errorf("create without places: %v, want the server to name the field", err)
	}
}

// authedJSONForTest GETs path with the identity the commands keep.
func authedJSONForTest(t *testing.T, common []string, path string, dst any) error {
	t.Helper()
	cmd := newWorldCmd()
	cmd.SetContext(t.Context())
	var o serverOpts
	o.url, o.identity = common[1], common[3]
	return authedJSON(cmd, o, "GET", path, nil, dst)
}

// A world file is outside input: whatever it holds, parsing it returns a
// file or an error, and a file it accepts has a card for every resident.
func FuzzWorldFile(f *testing.F) {
	f.Add([]byte(`{"format":"maopao-world","version":1,"world":{"name":"x","locations":[{"id":"a","name":"A"}],"residents":[{"character_id":"c","location_id":"a"}]},"characters":{"c":{"spec":"chara_card_v3"}}}`))
	f.Add([]byte(`{"format":"maopao-world","version":2}`))
	f.Add([]byte(`{"format":"maopao-world","version":1,"world":{"residents":[{"character_id":"c"}]},"characters":{}}`))
	f.Add([]byte(`{"name":"a body"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wf, err := parseWorldFile(data)
		if err != nil {
			return
		}
		for _, r := range wf.World.Residents {
			if len(wf.Cards[r.CharacterID]) == 0 {
				t.Fatalf("accepted a resident without a card: %q", r.CharacterID)
			}
		}
	})
}
