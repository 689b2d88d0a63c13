package mongo

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/ferrettest"
	"github.com/maopao/maopao/storage/storagetest"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func open(t *testing.T, uri string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, uri, "")
	if err != nil {
		t.Fatal(err)
	}
	// Registered after ferrettest's cleanup, so it runs first: the server
	// stops promptly once no client is connected.
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return open(t, ferrettest.Start(t))
	})
}

func TestPersistence(t *testing.T) {
	uri := ferrettest.Start(t)
	// The data lives in the server, so the directory is not needed: a
	// second Open on the same URI must see what the first wrote.
	storagetest.RunPersistence(t, func(t *testing.T, _ string) storage.Store {
		return open(t, uri)
	})
}

func TestOpenDatabaseName(t *testing.T) {
	uri := ferrettest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open(t, uri)
	if s.Database() == "" || s.Database() == DefaultDatabase {
		t.Errorf("Open(%q, \"\") used database %q, want the URI's", uri, s.Database())
	}
	named, err := Open(ctx, uri, "other_db")
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close(ctx)
	if named.Database() != "other_db" {
		t.Errorf("Open with database other_db uses %q", named.Database())
	}
	for _, bad := range []string{"has.dot", "has space", "sl/ash"} {
		if _, err := Open(ctx, uri, bad); !errors.Is(err, maopao.ErrInvalid) {
			t.Errorf("Open with database %q: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := Open(ctx, "http://example.com", ""); !errors.Is(err, maopao.ErrInvalid) {
		t.Errorf("Open with an http URI: %v, want ErrInvalid", err)
	}
}

// TestStaleUpdateClaim covers the crash UpdateCharacter must survive: a
// claim on a revision that stayed current. A fresh claim means an editor
// at work (conflict); an old one is taken over.
func TestStaleUpdateClaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open(t, ferrettest.Start(t))
	c := maopao.Character{ID: "c1", Name: "One", Visibility: maopao.VisibilityPublic}
	if _, err := s.CreateCharacter(ctx, c); err != nil {
		t.Fatal(err)
	}
	d, err := newCharacterDoc(c)
	if err != nil {
		t.Fatal(err)
	}
	claim := revisionDoc{ID: revisionID("c1", 1), CharacterID: "c1", Revision: 1, Character: d, Token: "crashed", ClaimedAt: time.Now()}
	if _, err := s.revisions.InsertOne(ctx, claim); err != nil {
		t.Fatal(err)
	}
	c.Name = "Two"
	if _, err := s.UpdateCharacter(ctx, c, 1); !errors.Is(err, maopao.ErrConflict) {
		t.Fatalf("update past a fresh claim: %v, want ErrConflict", err)
	}
	if _, err := s.revisions.UpdateOne(ctx, byID(claim.ID), bson.D{{Key: "$set", Value: bson.D{
		{Key: "claimed_at", Value: time.Now().Add(-2 * claimTimeout)}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateCharacter(ctx, c, 1)
	if err != nil {
		t.Fatalf("update past a stale claim: %v", err)
	}
	if got.Revision != 2 || got.Name != "Two" {
		t.Fatalf("update past a stale claim stored %+v", got)
	}
	hist, err := s.CharacterHistory(ctx, "c1")
	if err != nil || len(hist) != 2 || hist[1].Name != "One" {
		t.Fatalf("history after a taken-over claim: %v %+v", err, hist)
	}
}

// TestBackfillSearchFields: characters written before the lower-cased
// search fields existed are found once the store is opened again.
func TestBackfillSearchFields(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := ferrettest.Start(t)
	s := open(t, uri)
	if _, err := s.characters.InsertOne(ctx, bson.D{{Key: "_id", Value: "old"}, {Key: "name", Value: "Old Timer"},
		{Key: "visibility", Value: "public"}, {Key: "tags", Value: bson.A{"Legacy"}}, {Key: "avatar", Value: []byte("12345")}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SearchCharacters(ctx, storage.CharacterQuery{Text: "timer"}); err != nil || len(got) != 0 {
		t.Fatalf("search before the backfill: %v %v (the test's premise is that it misses)", got, err)
	}
	s2 := open(t, uri)
	got, err := s2.SearchCharacters(ctx, storage.CharacterQuery{Text: "timer", Tag: "legacy"})
	if err != nil || len(got) != 1 || got[0].ID != "old" {
		t.Fatalf("search after reopening: %v %+v", err, got)
	}
	if got[0].AvatarSize != 5 {
		t.Errorf("avatar size of an old character after reopening: %d, want 5", got[0].AvatarSize)
	}
}

// A database from before players had many chats per character has a
// unique (player_id, character_id) index and chats without pair_slot.
// Opening it migrates both, and the old chat stays the pair's default.
func TestMigratePairSlots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := ferrettest.Start(t)
	s := open(t, uri)
	err := s.conversations.Indexes().DropOne(ctx, "pair_slot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.conversations.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "player_id", Value: 1}, {Key: "character_id", Value: 1}},
		Options: options.Index().SetName("player_character").SetUnique(true),
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if _, err := s.conversations.InsertOne(ctx, maopao.Conversation{ID: "old-chat", PlayerID: "p1", CharacterID: "c1", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, uri)
	got, err := s2.OpenConversation(ctx, "p1", "c1")
	if err != nil || got.ID != "old-chat" {
		t.Fatalf("OpenConversation after migrating: %v %+v", err, got)
	}
	if _, created, err := s2.CreateConversation(ctx, maopao.Conversation{ID: "new-chat", PlayerID: "p1", CharacterID: "c1"}); err != nil || !created {
		t.Fatalf("a second chat for the pair: created=%v %v", created, err)
	}
	list, err := s2.ListConversations(ctx, "p1", "c1")
	if err != nil || len(list) != 2 {
		t.Fatalf("ListConversations: %v %+v", err, list)
	}
}

// Accounts stored before usernames had lookalike keys get them when the
// store is opened again: two old lookalikes both keep working, and a new
// lookalike of either is refused.
func TestKeyOldAccounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	uri := ferrettest.Start(t)
	s := open(t, uri)
	if err := s.accounts.Indexes().DropOne(ctx, "username_key"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []maopao.Account{{PlayerID: "p1", Username: "Ilya"}, {PlayerID: "p2", Username: "llya"}} {
		doc := bson.D{{Key: "_id", Value: a.PlayerID}, {Key: "username", Value: a.Username},
			{Key: "username_lc", Value: strings.ToLower(a.Username)}, {Key: "password_hash", Value: "h"}}
		if _, err := s.accounts.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	s2 := open(t, uri)
	for _, name := range []string{"Ilya", "llya"} {
		if _, err := s2.GetAccountByUsername(ctx, name); err != nil {
			t.Errorf("old account %s after keying: %v", name, err)
		}
	}
	if err := s2.CreateAccount(ctx, maopao.Account{PlayerID: "p3", Username: "1lya", PasswordHash: "h"}); !errors.Is(err, maopao.ErrConflict) {
		t.Errorf("a new lookalike of old accounts: %v, want a conflict", err)
	}
}

// Edits that keep a character's picture do not copy it into the history.
func TestHistoryKeepsOnePictureCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := open(t, ferrettest.Start(t))
	c := maopao.Character{ID: "c", Name: "C", Avatar: bytes.Repeat([]byte{1}, 100_000), AvatarType: "image/png", Revision: 1}
	if err := s.PutCharacter(ctx, c); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		cur, err := s.GetCharacter(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		cur.Description += "x"
		if _, err := s.UpdateCharacter(ctx, cur, cur.Revision); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := s.revisions.Find(ctx, bson.D{{Key: "character_id", Value: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []revisionDoc
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, d := range docs {
		total += len(d.Avatar)
	}
	if len(docs) != 20 || total > 0 {
		t.Errorf("20 text edits: %d history documents holding %d picture bytes, want 20 holding none", len(docs), total)
	}
}
