package storagetest

import (
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

func chatMemory(id, player, char, text string, at time.Time) maopao.ChatMemory {
	return maopao.ChatMemory{ID: id, PlayerID: player, CharacterID: char, Kind: maopao.ChatMemoryFact, Text: text, Importance: 5, CreatedAt: at, UpdatedAt: at}
}

// Chat memories: stored per pair, listed newest first, replaced by ID,
// deleted, kept apart between pairs, refused when invalid.
func testChatMemories(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	base := oddTime()
	mems := []maopao.ChatMemory{
		chatMemory("m1", "p1", "c1", "They live in Hangzhou. 住在杭州", base),
		chatMemory("m2", "p1", "c1", "They like green tea.", base.Add(time.Minute)),
		chatMemory("m3", "p1", "c2", "Another character's memory.", base),
		chatMemory("m4", "p2", "c1", "Another player's memory.", base),
		// Pairs that would collide if the two IDs were simply joined.
		chatMemory("m5", "p1c", "1", "A pair that joins like p1+c1.", base),
	}
	mems[1].Pinned, mems[1].Source = true, "msg-9"
	// The engine's fields: a rated reflection with its evidence, a summary's cover.
	mems[1].Kind, mems[1].Rated, mems[1].Evidence, mems[1].Covers = maopao.ChatMemoryReflection, true, []string{"m1", "m0"}, 42
	for _, m := range mems {
		must(t, s.PutChatMemory(ctx, m))
	}
	got, err := s.ChatMemories(ctx, "p1", "c1")
	must(t, err)
	if len(got) != 2 || got[0].ID != "m2" || got[1].ID != "m1" {
		t.Fatalf("ChatMemories(p1, c1) = %+v, want m2 then m1", got)
	}
	want := mems[1]
	want.CreatedAt, want.UpdatedAt = msUTC(want.CreatedAt), msUTC(want.UpdatedAt)
	equal(t, "pinned memory", got[0], want)
	checkUTC(t, "chat memory CreatedAt", got[0].CreatedAt)
	one, err := s.GetChatMemory(ctx, "m1")
	must(t, err)
	if one.Text != mems[0].Text || one.PlayerID != "p1" {
		t.Errorf("GetChatMemory(m1) = %+v", one)
	}

	// Replace by ID: the text and the pin change, the pair stays.
	edited := mems[0]
	edited.Text, edited.Pinned, edited.UpdatedAt = "They moved to Suzhou.", true, base.Add(time.Hour)
	must(t, s.PutChatMemory(ctx, edited))
	one, err = s.GetChatMemory(ctx, "m1")
	must(t, err)
	if one.Text != "They moved to Suzhou." || !one.Pinned {
		t.Errorf("edited memory read back as %+v", one)
	}
	moved := edited
	moved.PlayerID = "p2"
	isErr(t, "PutChatMemory(an ID of another pair)", s.PutChatMemory(ctx, moved), maopao.ErrConflict)

	must(t, s.DeleteChatMemory(ctx, "m1"))
	isErr(t, "DeleteChatMemory(again)", s.DeleteChatMemory(ctx, "m1"), maopao.ErrNotFound)
	_, err = s.GetChatMemory(ctx, "m1")
	isErr(t, "GetChatMemory(deleted)", err, maopao.ErrNotFound)
	got, err = s.ChatMemories(ctx, "p1", "c1")
	must(t, err)
	if len(got) != 1 || got[0].ID != "m2" {
		t.Errorf("after deleting m1: %+v", got)
	}
	for _, pair := range [][2]string{{"p1", "c2"}, {"p2", "c1"}, {"p1c", "1"}} {
		got, err := s.ChatMemories(ctx, pair[0], pair[1])
		must(t, err)
		if len(got) != 1 {
			t.Errorf("ChatMemories(%s, %s) = %+v, want its one memory", pair[0], pair[1], got)
		}
	}
	empty, err := s.ChatMemories(ctx, "nobody", "c1")
	must(t, err)
	if empty == nil || len(empty) != 0 {
		t.Errorf("ChatMemories of a pair with none = %#v, want an empty list", empty)
	}

	bad := chatMemory("m9", "p1", "c1", "", base)
	isErr(t, "PutChatMemory(empty text)", s.PutChatMemory(ctx, bad), maopao.ErrInvalid)
	bad = chatMemory("m9", "p1", "c1", strings.Repeat("x", storage.MaxChatMemoryBytes+1), base)
	isErr(t, "PutChatMemory(too long)", s.PutChatMemory(ctx, bad), maopao.ErrInvalid)
	bad = chatMemory("m9", "p1", "c1", "ok", base)
	bad.Importance = 0
	isErr(t, "PutChatMemory(importance 0)", s.PutChatMemory(ctx, bad), maopao.ErrInvalid)
	bad = chatMemory("m9", "p1", "c1", "ok", base)
	bad.Kind = "rumour"
	isErr(t, "PutChatMemory(unknown kind)", s.PutChatMemory(ctx, bad), maopao.ErrInvalid)
	bad = chatMemory("", "p1", "c1", "ok", base)
	isErr(t, "PutChatMemory(no ID)", s.PutChatMemory(ctx, bad), maopao.ErrInvalid)
}
