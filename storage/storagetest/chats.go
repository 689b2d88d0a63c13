package storagetest

import (
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

func chatIDs(cs []maopao.Conversation) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// A player has many chats with a character: created, listed most recent
// first, continued by default, renamed, given a persona, deleted.
func testManyChats(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	first, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	_, err = s.OpenConversation(ctx, "p1", "c2") // another character's chat
	must(t, err)

	later := first.UpdatedAt.Add(time.Minute)
	second := maopao.Conversation{ID: "chat-2", PlayerID: "p1", CharacterID: "c1", Title: "By the sea",
		Persona: &maopao.Persona{Name: "Ada", Description: "a sailor"}, CreatedAt: later, UpdatedAt: later,
		ForkOf: &maopao.ForkPoint{ConversationID: first.ID, MessageID: "m0"}}
	stored, created, err := s.CreateConversation(ctx, second)
	must(t, err)
	if !created {
		t.Fatal("CreateConversation of a new ID reported created=false")
	}
	equal(t, "CreateConversation", stored, second)
	again, created, err := s.CreateConversation(ctx, maopao.Conversation{ID: "chat-2", PlayerID: "p1", CharacterID: "c1", Title: "other"})
	must(t, err)
	if created {
		t.Error("CreateConversation of a stored ID reported created=true")
	}
	equal(t, "CreateConversation again", again, second)

	list, err := s.ListConversations(ctx, "p1", "c1")
	must(t, err)
	equal(t, "ListConversations, newest first", chatIDs(list), []string{"chat-2", first.ID})
	equal(t, "listed chat", list[0], second)
	open, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	equal(t, "OpenConversation continues the most recent chat", open.ID, "chat-2")

	// A message makes its chat the most recent one.
	m := newMessage(first.ID, "m-first", "back to the first chat")
	m.CreatedAt = later.Add(time.Hour)
	_, _, err = s.AppendMessage(ctx, m)
	must(t, err)
	list, err = s.ListConversations(ctx, "p1", "c1")
	must(t, err)
	equal(t, "ListConversations after a message", chatIDs(list), []string{first.ID, "chat-2"})
	equal(t, "UpdatedAt after a message", list[0].UpdatedAt, msUTC(m.CreatedAt))

	counts, err := s.ChatCounts(ctx)
	must(t, err)
	equal(t, "ChatCounts", counts, map[string]int{"c1": 2, "c2": 1})

	other, err := s.ListConversations(ctx, "p2", "c1")
	must(t, err)
	equal(t, "another player's chats", chatIDs(other), []string{})

	// Rename and change persona; nothing else changes.
	upd := second
	upd.Title, upd.Persona, upd.PlayerID, upd.CreatedAt = "Storm", nil, "someone-else", time.Time{}
	got, err := s.UpdateConversation(ctx, upd)
	must(t, err)
	want := second
	want.Title, want.Persona = "Storm", nil
	equal(t, "UpdateConversation", got, want)
	got, err = s.GetConversation(ctx, "chat-2")
	must(t, err)
	equal(t, "GetConversation after update", got, want)
	_, err = s.UpdateConversation(ctx, maopao.Conversation{ID: "missing", Title: "x"})
	isErr(t, "UpdateConversation(missing)", err, maopao.ErrNotFound)

	// Deleting a chat deletes its messages.
	must(t, s.DeleteConversation(ctx, first.ID))
	_, err = s.GetConversation(ctx, first.ID)
	isErr(t, "GetConversation(deleted)", err, maopao.ErrNotFound)
	_, err = s.GetMessage(ctx, "m-first")
	isErr(t, "GetMessage of a deleted chat", err, maopao.ErrNotFound)
	msgs, err := s.RecentMessages(ctx, first.ID, 0)
	must(t, err)
	equal(t, "messages of a deleted chat", len(msgs), 0)
	isErr(t, "DeleteConversation twice", s.DeleteConversation(ctx, first.ID), maopao.ErrNotFound)
	list, err = s.ListConversations(ctx, "p1", "c1")
	must(t, err)
	equal(t, "chats after a delete", chatIDs(list), []string{"chat-2"})

	// With every chat gone, opening makes a new one.
	must(t, s.DeleteConversation(ctx, "chat-2"))
	fresh, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	if fresh.ID == first.ID || fresh.ID == "chat-2" {
		t.Fatalf("OpenConversation after deleting every chat returned deleted chat %s", fresh.ID)
	}
	_, _, err = s.CreateConversation(ctx, maopao.Conversation{ID: "", PlayerID: "p1", CharacterID: "c1"})
	isErr(t, "CreateConversation without ID", err, maopao.ErrInvalid)
}

// Swipes, edits, deletions and statuses are stored; what identifies a
// message and where it sits never changes.
func testUpdateMessage(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	conv, err := s.OpenConversation(ctx, "p1", "c1")
	must(t, err)
	line, _, err := s.AppendMessage(ctx, newMessage(conv.ID, "line", "hello"))
	must(t, err)
	reply := maopao.Message{ID: "reply", ConversationID: conv.ID, Role: maopao.RoleCharacter, Content: "first", ReplyTo: "line", CreatedAt: oddTime()}
	reply, _, err = s.AppendMessage(ctx, reply)
	must(t, err)

	edited := reply
	at := oddTime()
	edited.Swipes = []maopao.Swipe{{Text: "first", CreatedAt: at}, {Text: "second", Op: "op-1", Status: maopao.StatusStopped, CreatedAt: at}}
	edited.SwipeID, edited.Content, edited.Status = 1, "second, edited", maopao.StatusStopped
	edited.Edits = []maopao.Edit{{Text: "second", EditedAt: at}}
	// Fields that cannot change are ignored.
	edited.Seq, edited.Role, edited.ReplyTo, edited.ConversationID, edited.CreatedAt = 99, maopao.RoleUser, "x", "elsewhere", time.Now()
	got, err := s.UpdateMessage(ctx, edited)
	must(t, err)
	want := reply
	want.Swipes = []maopao.Swipe{{Text: "first", CreatedAt: msUTC(at)}, {Text: "second", Op: "op-1", Status: maopao.StatusStopped, CreatedAt: msUTC(at)}}
	want.SwipeID, want.Content, want.Status = 1, "second, edited", maopao.StatusStopped
	want.Edits = []maopao.Edit{{Text: "second", EditedAt: msUTC(at)}}
	equal(t, "UpdateMessage", got, want)
	back, err := s.GetMessage(ctx, "reply")
	must(t, err)
	equal(t, "GetMessage after update", back, want)
	checkUTC(t, "swipe CreatedAt", back.Swipes[0].CreatedAt)

	del := line
	del.Deleted = true
	_, err = s.UpdateMessage(ctx, del)
	must(t, err)
	msgs, err := s.RecentMessages(ctx, conv.ID, 0)
	must(t, err)
	if len(msgs) != 2 || !msgs[0].Deleted || msgs[0].InChat() || !msgs[1].InChat() || msgs[1].Seq != 2 {
		t.Fatalf("after deleting the line: %+v", msgs)
	}
	next, _, err := s.AppendMessage(ctx, newMessage(conv.ID, "after", "still dense"))
	must(t, err)
	equal(t, "Seq after a deleted message", next.Seq, int64(3))

	failed := reply
	failed.Content, failed.Status, failed.Code, failed.Swipes, failed.SwipeID, failed.Edits = "", maopao.StatusFailed, "engine_error", nil, 0, nil
	got, err = s.UpdateMessage(ctx, failed)
	must(t, err)
	if got.InChat() || got.Code != "engine_error" || got.Swipes != nil {
		t.Fatalf("failed reply stored as %+v", got)
	}

	_, err = s.UpdateMessage(ctx, maopao.Message{ID: "missing", ConversationID: conv.ID, Role: maopao.RoleUser})
	isErr(t, "UpdateMessage(missing)", err, maopao.ErrNotFound)
	bad := reply
	bad.Swipes, bad.SwipeID = []maopao.Swipe{{Text: "a"}}, 3
	_, err = s.UpdateMessage(ctx, bad)
	isErr(t, "UpdateMessage with swipe_id out of range", err, maopao.ErrInvalid)
}
