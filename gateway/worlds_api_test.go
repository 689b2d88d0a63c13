package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/storage/bolt"
)

// FuzzWorldBody: any body gives either a valid world or a client-error
// problem with paths on its field errors, never a panic.
func FuzzWorldBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"W","locations":[{"id":"a","name":"A","connections":["b"]},{"id":"b","name":"B","connections":["a"]}],"residents":[{"character_id":"00000000-0000-4000-8000-000000000001","location_id":"a","talkativeness":0.5,"routine":[{"at_minute":60,"location_id":"b","activity":"walk"}]}]}`,
		`{"name":"","locations":[{"id":"a b","name":""}],"residents":[{"character_id":"x","location_id":"zz","talkativeness":9}]}`,
		`{"name":"W","locations":[],"sim_minutes_per_second":-1,"visibility":"secret"}`,
		`{"name":"W","locations":[{"id":"a","name":"A","connections":["a"]}],"residents":[{"routine":[{"at_minute":99999}]}]}`,
		`{"name":1}`, `[]`, `null`, `{`, `{"name":"W","unknown":true}`, ``,
	} {
		f.Add([]byte(seed))
	}
	st, err := bolt.Open(filepath.Join(f.TempDir(), "maopao.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close(context.Background()) })
	for _, c := range characters.Samples() {
		if err := st.PutCharacter(context.Background(), c); err != nil {
			f.Fatal(err)
		}
	}
	api := newCreatorAPI(&Server{Store: st, Log: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, data []byte) {
		var body WorldBody
		e := decodeJSON(bytes.NewReader(data), MaxWorldBodyBytes, &body)
		if e == nil {
			e = api.validateWorld(httptest.NewRequest("POST", "/api/v1/worlds", nil), "p1", &body)
		}
		if e == nil {
			if body.Name == "" || len(body.Locations) == 0 || body.SimMinutesPerSecond <= 0 || body.Visibility == "" {
				t.Fatalf("accepted a world without its essentials: %+v", body)
			}
			return
		}
		if e.status < 400 || e.status > 499 || e.detail == "" || e.code == "" {
			t.Fatalf("problem %+v is not a client error with a detail", e)
		}
		for _, fe := range e.errs {
			if fe.Path == "" || fe.Message == "" {
				t.Fatalf("field error without a path or message: %+v", fe)
			}
		}
	})
}

// Events, map positions and the world's lorebook are checked field by
// field, each problem at its path.
func TestWorldBodyChecksEventsMapAndLore(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "maopao.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	api := newCreatorAPI(&Server{Store: st, Log: slog.New(slog.DiscardHandler)})
	check := func(body string, want ...string) {
		t.Helper()
		var b WorldBody
		if e := decodeJSON(bytes.NewReader([]byte(body)), MaxWorldBodyBytes, &b); e != nil {
			t.Fatalf("decode %s: %+v", body, e)
		}
		e := api.validateWorld(httptest.NewRequest("POST", "/api/v1/worlds", nil), "p1", &b)
		var got []string
		if e != nil {
			for _, fe := range e.errs {
				got = append(got, fe.Path)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n errors at %v, want %v", body, got, want)
		}
	}
	const places = `"locations":[{"id":"a","name":"A","connections":["b"],"map":{"x":10,"y":90}},{"id":"b","name":"B","connections":["a"]}]`
	check(`{"name":"W",` + places + `,"events":[{"id":"bell","text":"A bell rings.","location_id":"a","trigger":{"at_minute":720}},
		{"id":"cat","text":"A cat.","trigger":{"arrival":"b","who":"player"},"once":true},{"id":"storm","text":"Thunder.","trigger":{"keyword":"storm"},"cooldown_minutes":30}],
		"lorebook":{"entries":[{"keys":["bell"],"content":"The bell is old.","enabled":true}]}}`)
	check(`{"name":"W","locations":[{"id":"a","name":"A","map":{"x":101,"y":-1}}]}`, "locations[0].map")
	check(`{"name":"W",`+places+`,"events":[
		{"id":"bad id","text":"x","trigger":{"keyword":"k"}},
		{"id":"e2","text":"","trigger":{"at_minute":1440}},
		{"id":"e3","text":"x","location_id":"moon","trigger":{}},
		{"id":"e4","text":"x","trigger":{"arrival":"moon","keyword":"k","who":"ghost"}},
		{"id":"e4","text":"x","trigger":{"keyword":"k"},"cooldown_minutes":-1}]}`,
		"events[0].id", "events[1].text", "events[1].trigger.at_minute", "events[2].location_id", "events[2].trigger",
		"events[3].trigger.arrival", "events[3].trigger", "events[3].trigger.who", "events[4].id", "events[4].cooldown_minutes")
	check(`{"name":"W",`+places+`,"lorebook":{"entries":[{"keys":["k"],"content":"x","position":"sideways"}]}}`, "lorebook.entries[0].position")
}
