package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// RunWorlds is the conformance suite of storage.Worlds. open returns an
// empty store; the suite does not close it.
func RunWorlds(t *testing.T, open func(t *testing.T) storage.Worlds) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s storage.Worlds)
	}{
		{"WorldRoundTripAndList", testWorldRoundTrip},
		{"WorldSnapshotsNeverGoBack", testWorldSnapshots},
		{"MemoryRecords", testMemoryRecords},
		{"DeleteWorldCascades", testDeleteWorld},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func wctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sampleWorld(id, name string) maopao.World {
	at := time.Date(2026, 11, 28, 12, 0, 0, 123_000_000, time.UTC)
	return maopao.World{
		ID: id, Name: name, Description: "雾港 — a harbour town in the mist",
		Locations: []maopao.Location{
			{ID: "tea-house", Name: "Tea house", Description: "warm", Connections: []string{"pier"}},
			{ID: "pier", Name: "Pier", Connections: []string{"tea-house"}},
		},
		Residents: []maopao.Resident{{CharacterID: "c1", LocationID: "tea-house", Talkativeness: 0.7,
			Routine: []maopao.RoutineStep{{AtMinute: 480, LocationID: "pier", Activity: "fishing"}}}},
		SimMinutesPerSecond: 1, Visibility: maopao.VisibilityPublic, OwnerID: "p1", Revision: 3, CreatedAt: at, UpdatedAt: at,
	}
}

func testWorldRoundTrip(t *testing.T, s storage.Worlds) {
	ctx := wctx(t)
	if _, err := s.GetWorld(ctx, "nope"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("get missing world: %v, want ErrNotFound", err)
	}
	if got, err := s.ListWorlds(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty list: %v %v", got, err)
	}
	b := sampleWorld("w-b", "Harbour")
	a := sampleWorld("w-a", "Harbour")
	c := sampleWorld("w-c", "Alpine village")
	for _, w := range []maopao.World{b, a, c} {
		if err := s.PutWorld(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetWorld(ctx, "w-a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, a)
	}
	list, err := s.ListWorlds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range list {
		ids = append(ids, w.ID)
	}
	if fmt.Sprint(ids) != "[w-c w-a w-b]" {
		t.Fatalf("order by name then id: %v", ids)
	}
	a.Name = "Renamed"
	if err := s.PutWorld(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWorld(ctx, "w-a"); got.Name != "Renamed" {
		t.Fatalf("replace: %q", got.Name)
	}
}

func testWorldSnapshots(t *testing.T, s storage.Worlds) {
	ctx := wctx(t)
	if _, err := s.GetWorldSnapshot(ctx, "w1"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("missing snapshot: %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	s10 := maopao.WorldSnapshot{WorldID: "w1", Seq: 10, Epoch: 1 << 40, State: []byte(`{"clock":10}`), SavedAt: at}
	if err := s.PutWorldSnapshot(ctx, s10); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWorldSnapshot(ctx, "w1")
	if err != nil || !reflect.DeepEqual(got, s10) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	old := s10
	old.Seq, old.State = 5, []byte(`{"clock":5}`)
	if err := s.PutWorldSnapshot(ctx, old); err != nil {
		t.Fatalf("an older snapshot is ignored, not an error: %v", err)
	}
	if got, _ := s.GetWorldSnapshot(ctx, "w1"); got.Seq != 10 {
		t.Fatalf("an older snapshot replaced a newer one: seq %d", got.Seq)
	}
	newer := s10
	newer.Seq, newer.State = 20, []byte(`{"clock":20}`)
	if err := s.PutWorldSnapshot(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetWorldSnapshot(ctx, "w1"); got.Seq != 20 || string(got.State) != `{"clock":20}` {
		t.Fatalf("newer snapshot not stored: %+v", got)
	}
}

func testMemoryRecords(t *testing.T, s storage.Worlds) {
	ctx := wctx(t)
	rec := func(id, char string, minute int64) maopao.MemoryRecord {
		return maopao.MemoryRecord{ID: id, WorldID: "w1", CharacterID: char, Kind: maopao.MemoryObservation,
			Text: "saw " + id + " 看见", Importance: 3, SimMinute: minute, LastAccess: minute, LocationID: "pier"}
	}
	for _, r := range []maopao.MemoryRecord{rec("m1", "c1", 10), rec("m2", "c1", 30), rec("m3", "c1", 20), rec("m4", "c2", 40)} {
		if err := s.PutMemoryRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	refl := rec("m5", "c1", 30)
	refl.Kind, refl.Evidence, refl.PrivateTo = maopao.MemoryReflection, []string{"m1", "m2"}, "p9"
	if err := s.PutMemoryRecord(ctx, refl); err != nil {
		t.Fatal(err)
	}
	got, err := s.MemoryRecords(ctx, "w1", "c1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ID)
	}
	if fmt.Sprint(ids) != "[m5 m2 m3 m1]" {
		t.Fatalf("newest first (minute, then id): %v", ids)
	}
	if !reflect.DeepEqual(got[0], refl) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got[0], refl)
	}
	// Upsert by ID: a re-rated record replaces the old copy.
	m1 := rec("m1", "c1", 10)
	m1.Importance = 9
	if err := s.PutMemoryRecord(ctx, m1); err != nil {
		t.Fatal(err)
	}
	top, err := s.MemoryRecords(ctx, "w1", "c1", 2)
	if err != nil || len(top) != 2 {
		t.Fatalf("limit: %v %v", top, err)
	}
	all, _ := s.MemoryRecords(ctx, "w1", "c1", 0)
	if len(all) != 4 || all[3].Importance != 9 {
		t.Fatalf("upsert: %+v", all)
	}
	if err := s.PutMemoryRecord(ctx, maopao.MemoryRecord{ID: "", WorldID: "w1", CharacterID: "c1"}); !errors.Is(err, maopao.ErrInvalid) {
		t.Fatalf("record without id: %v", err)
	}

	// About a player: what the memory manager shows them.
	about := rec("m6", "c1", 50)
	about.About, about.Pinned = "p1", true
	other := rec("m7", "c1", 60)
	other.About = "p2"
	for _, r := range []maopao.MemoryRecord{about, other} {
		if err := s.PutMemoryRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	mine, err := s.MemoryRecordsAbout(ctx, "w1", "c1", "p1")
	if err != nil || len(mine) != 1 || !reflect.DeepEqual(mine[0], about) {
		t.Fatalf("records about p1: %+v %v", mine, err)
	}
	private, err := s.MemoryRecordsAbout(ctx, "w1", "c1", "p9")
	if err != nil || len(private) != 1 || private[0].ID != "m5" {
		t.Fatalf("records private to p9: %+v %v", private, err)
	}
	if err := s.DeleteMemoryRecord(ctx, "w1", "c1", "m6"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteMemoryRecord(ctx, "w1", "c1", "m6"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if err := s.DeleteMemoryRecord(ctx, "w1", "c2", "m7"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("delete under another character: %v", err)
	}
	if mine, _ := s.MemoryRecordsAbout(ctx, "w1", "c1", "p1"); len(mine) != 0 {
		t.Fatalf("a deleted record is still listed: %+v", mine)
	}
}

func testDeleteWorld(t *testing.T, s storage.Worlds) {
	ctx := wctx(t)
	if err := s.DeleteWorld(ctx, "w1"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	w := sampleWorld("w1", "Harbour")
	if err := s.PutWorld(ctx, w); err != nil {
		t.Fatal(err)
	}
	_ = s.PutWorldSnapshot(ctx, maopao.WorldSnapshot{WorldID: "w1", Seq: 1, State: []byte("{}"), SavedAt: time.Now()})
	_ = s.PutMemoryRecord(ctx, maopao.MemoryRecord{ID: "m1", WorldID: "w1", CharacterID: "c1", Text: "x"})
	_ = s.PutMemoryRecord(ctx, maopao.MemoryRecord{ID: "m2", WorldID: "w2", CharacterID: "c1", Text: "other world"})
	if err := s.DeleteWorld(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetWorld(ctx, "w1"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("world still there: %v", err)
	}
	if _, err := s.GetWorldSnapshot(ctx, "w1"); !errors.Is(err, maopao.ErrNotFound) {
		t.Fatalf("snapshot still there: %v", err)
	}
	if recs, _ := s.MemoryRecords(ctx, "w1", "c1", 0); len(recs) != 0 {
		t.Fatalf("records still there: %v", recs)
	}
	if recs, _ := s.MemoryRecords(ctx, "w2", "c1", 0); len(recs) != 1 {
		t.Fatalf("another world's records were deleted: %v", recs)
	}
}
