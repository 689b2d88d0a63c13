package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
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
