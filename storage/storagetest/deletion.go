package storagetest

import (
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// Deleting a player and their account removes what is theirs alone and
// nothing of anyone else's, and running it again is no error.
func testDeletePlayer(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	for _, p := range []string{"p1", "p2"} {
		must(t, s.PutPlayer(ctx, maopao.Player{ID: p, Name: p}))
		must(t, s.CreateAccount(ctx, sampleAccount(p, "user-"+p)))
	}
	// p1: two chats with c1, one with c2; p2: one with c1.
	c1, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	_, _, err = s.CreateConversation(ctx, maopao.Conversation{ID: "p1-second", PlayerID: "p1", CharacterID: "c1"})
	must(t, err)
	c2, err := s.OpenConversation(ctx, "p1", "c2")
	must(t, err)
	other, err := s.OpenConversation(ctx, "p2", "c1")
	must(t, err)
	for _, m := range []maopao.Message{newMessage(c1.ID, "m1", "my secret"), newMessage("p1-second", "m2", "more"),
		newMessage(c2.ID, "m3", "hi"), newMessage(other.ID, "m4", "not p1's")} {
		_, _, err := s.AppendMessage(ctx, m)
		must(t, err)
	}
	must(t, s.PutMemory(ctx, maopao.Memory{PlayerID: "p1", CharacterID: "c1", Summary: "p1 likes tea"}))
	must(t, s.PutMemory(ctx, maopao.Memory{PlayerID: "p2", CharacterID: "c1", Summary: "p2 likes coffee"}))
	must(t, s.PutChatMemory(ctx, chatMemory("cm1", "p1", "c1", "p1's secret", oddTime())))
	must(t, s.PutChatMemory(ctx, chatMemory("cm2", "p2", "c1", "p2's", oddTime())))
	rec := func(id, privateTo string) maopao.MemoryRecord {
		return maopao.MemoryRecord{ID: id, WorldID: "w1", CharacterID: "c1", Kind: maopao.MemoryObservation,
			Text: id, Importance: 3, PrivateTo: privateTo}
	}
	for _, r := range []maopao.MemoryRecord{rec("r-p1", "p1"), rec("r-p2", "p2"), rec("r-all", "")} {
		must(t, s.PutMemoryRecord(ctx, r))
	}

	must(t, s.DeletePlayer(ctx, "p1"))
	must(t, s.DeleteAccount(ctx, "p1"))

	_, err = s.GetPlayer(ctx, "p1")
	isErr(t, "GetPlayer(deleted)", err, maopao.ErrNotFound)
	for _, id := range []string{c1.ID, "p1-second", c2.ID} {
		_, err := s.GetConversation(ctx, id)
		isErr(t, "GetConversation(chat of a deleted player)", err, maopao.ErrNotFound)
	}
	for _, id := range []string{"m1", "m2", "m3"} {
		_, err := s.GetMessage(ctx, id)
		isErr(t, "GetMessage(message of a deleted player)", err, maopao.ErrNotFound)
	}
	list, err := s.ListConversations(ctx, "p1", "c1")
	must(t, err)
	equal(t, "chats of a deleted player", chatIDs(list), []string{})
	mem, err := s.GetMemory(ctx, "p1", "c1")
	must(t, err)
	equal(t, "memory of a deleted player", mem, maopao.Memory{PlayerID: "p1", CharacterID: "c1"})
	recs, err := s.MemoryRecords(ctx, "w1", "c1", 0)
	must(t, err)
	var left []string
	for _, r := range recs {
		left = append(left, r.ID)
	}
	if len(left) != 2 || !contains(left, "r-p2") || !contains(left, "r-all") {
		t.Errorf("world memories after deleting p1: %v, want r-p2 and r-all", left)
	}
	_, err = s.GetChatMemory(ctx, "cm1")
	isErr(t, "GetChatMemory(a deleted player's)", err, maopao.ErrNotFound)
	if left, err := s.ChatMemories(ctx, "p1", "c1"); err != nil || len(left) != 0 {
		t.Errorf("chat memories of a deleted player: %+v %v", left, err)
	}
	if _, err := s.GetChatMemory(ctx, "cm2"); err != nil {
		t.Errorf("another player's chat memory went with the deleted one: %v", err)
	}
	_, err = s.GetAccount(ctx, "p1")
	isErr(t, "GetAccount(deleted)", err, maopao.ErrNotFound)
	_, err = s.GetAccountByUsername(ctx, "user-p1")
	isErr(t, "GetAccountByUsername(deleted)", err, maopao.ErrNotFound)

	// p2 keeps everything.
	_, err = s.GetPlayer(ctx, "p2")
	must(t, err)
	_, err = s.GetMessage(ctx, "m4")
	must(t, err)
	mem, err = s.GetMemory(ctx, "p2", "c1")
	must(t, err)
	if mem.Summary != "p2 likes coffee" {
		t.Errorf("p2's memory after deleting p1: %+v", mem)
	}
	_, err = s.GetAccountByUsername(ctx, "user-p2")
	must(t, err)

	// Again is no error; the name (and its lookalikes) is free again, and
	// the deleted player's ID starts from nothing.
	must(t, s.DeletePlayer(ctx, "p1"))
	must(t, s.DeleteAccount(ctx, "p1"))
	must(t, s.CreateAccount(ctx, sampleAccount("p3", "USER.p1")))
	fresh, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	if fresh.ID == c1.ID || fresh.ID == "p1-second" {
		t.Errorf("OpenConversation after deleting the player continued the deleted chat %q", fresh.ID)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
