package storagetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

func ptr[T any](v T) *T { return &v }

// fullCharacter sets every field a Character Card V2/V3 import can fill,
// with map keys BSON cannot hold as field names.
func fullCharacter(id, name string) maopao.Character {
	c := sampleCharacter(id, name)
	c.BuiltIn = false
	c.Nickname = "Bubbles"
	c.CreatorNotesMultilingual = map[string]string{"en": "notes", "zh.cn": "笔记", "$lang": "x"}
	c.Source = []string{"https://example.com/duck", "导入"}
	c.GroupOnlyGreetings = []string{"Quack, everyone!"}
	c.CreationDate, c.ModificationDate = 1700000000, 1700000100
	c.Assets = []maopao.Asset{{Type: "icon", URI: "embeded://assets/icon.png", Name: "main", Ext: "png"}}
	c.CardExtra = map[string]any{"unknown.field": []any{1, 2}, "$weird": map[string]any{"a.b": "c"}}
	c.CharacterBook = &maopao.Lorebook{
		Name: "Pond lore", Description: "what the duck knows",
		ScanDepth: ptr(3), TokenBudget: ptr(512), RecursiveScanning: ptr(false),
		Extensions: map[string]any{"a.b": 1, "$ref": "#/x", "nested": map[string]any{"c.d": []any{"e"}}},
		Entries: []maopao.LoreEntry{
			{
				Keys: []string{"pond", "池塘"}, Content: "The pond is cold in winter.",
				Extensions: map[string]any{"depth.key": 2, "$id": "e1"}, Enabled: true, InsertionOrder: 10,
				CaseSensitive: ptr(true), UseRegex: ptr(false), Name: "pond", Priority: ptr(5), ID: 7,
				Comment: "c", Selective: ptr(true), SecondaryKeys: []string{"ice"}, Constant: ptr(false),
				Position: "before_char", Extra: map[string]any{"x.y": "z"},
			},
			{Keys: []string{}, Content: "second", Extensions: map[string]any{}, ID: "string-id"},
		},
		Extra: map[string]any{"$book": true},
	}
	c.Avatar = append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 3000)...)
	c.AvatarType = "image/png"
	c.Revision = 4
	return c
}

func withoutAvatar(c maopao.Character) maopao.Character {
	c.Avatar = nil
	return c
}

func testCharacterAllFields(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := fullCharacter("full-1", "Full")
	must(t, s.PutCharacter(ctx, c))
	got, err := s.GetCharacter(ctx, c.ID)
	must(t, err)
	equal(t, "character with every card field", got, wantCharacter(c))
	list, err := s.ListCharacters(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("ListCharacters returned %d characters, want 1", len(list))
	}
	equal(t, "listed character with every card field", list[0], wantCharacter(c))
	found, err := s.SearchCharacters(ctx, storage.CharacterQuery{})
	must(t, err)
	if len(found) != 1 {
		t.Fatalf("SearchCharacters returned %d characters, want 1", len(found))
	}
	equal(t, "searched character (no avatar bytes)", found[0], withoutAvatar(wantCharacter(c)))

	// Replacing with no avatar removes the stored one.
	c.Avatar, c.AvatarType = nil, ""
	must(t, s.PutCharacter(ctx, c))
	got, err = s.GetCharacter(ctx, c.ID)
	must(t, err)
	equal(t, "character after its avatar was dropped", got, wantCharacter(c))

	big := fullCharacter("big-avatar", "Big")
	big.Avatar = make([]byte, 2<<20+1)
	isErr(t, "PutCharacter(avatar over 2 MiB)", s.PutCharacter(ctx, big), maopao.ErrInvalid)
	big.Avatar = make([]byte, 2<<20)
	must(t, s.PutCharacter(ctx, big))
	got, err = s.GetCharacter(ctx, big.ID)
	must(t, err)
	if len(got.Avatar) != 2<<20 {
		t.Errorf("2 MiB avatar read back as %d bytes", len(got.Avatar))
	}
}

// A card's empty lists and maps stay empty lists and maps, and absent ones
// stay absent: exports give back what was imported.
func testCharacterEmptyLists(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	empty := sampleCharacter("empty-lists", "Empty")
	empty.Source, empty.GroupOnlyGreetings, empty.Assets = []string{}, []string{}, []maopao.Asset{}
	empty.CreatorNotesMultilingual, empty.CardExtra, empty.Extensions = map[string]string{}, map[string]any{}, map[string]any{}
	empty.CharacterBook = &maopao.Lorebook{Extensions: map[string]any{}, Extra: map[string]any{},
		Entries: []maopao.LoreEntry{{Keys: []string{"k"}, Content: "c", Extensions: map[string]any{}, SecondaryKeys: []string{}, Extra: map[string]any{}}}}
	absent := sampleCharacter("absent-lists", "Absent")
	absent.Source, absent.GroupOnlyGreetings, absent.Assets = nil, nil, nil
	absent.CreatorNotesMultilingual, absent.CardExtra, absent.Extensions = nil, nil, nil
	absent.CharacterBook = &maopao.Lorebook{Entries: []maopao.LoreEntry{{Keys: []string{"k"}, Content: "c"}}}
	for _, c := range []maopao.Character{empty, absent} {
		must(t, s.PutCharacter(ctx, c))
		got, err := s.GetCharacter(ctx, c.ID)
		must(t, err)
		e := got.CharacterBook.Entries[0]
		lists := map[string]bool{
			"source": got.Source == nil, "group_only_greetings": got.GroupOnlyGreetings == nil, "assets": got.Assets == nil,
			"creator_notes_multilingual": got.CreatorNotesMultilingual == nil, "card_extra": got.CardExtra == nil,
			"extensions": got.Extensions == nil, "character_book.extra": got.CharacterBook.Extra == nil,
			"entries[0].secondary_keys": e.SecondaryKeys == nil, "entries[0].extra": e.Extra == nil,
		}
		for name, isNil := range lists {
			if c.ID == empty.ID && isNil {
				t.Errorf("an empty %s was stored and read back as absent", name)
			}
			if c.ID == absent.ID && !isNil {
				t.Errorf("an absent %s was read back as empty", name)
			}
		}
		b, _ := json.Marshal(got)
		if c.ID == empty.ID && (!strings.Contains(string(b), `"secondary_keys":[]`) || !strings.Contains(string(b), `"source":[]`) ||
			!strings.Contains(string(b), `"assets":[]`) || !strings.Contains(string(b), `"creator_notes_multilingual":{}`)) {
			t.Errorf("empty lists lost in JSON: %s", b)
		}
		if c.ID == absent.ID && (strings.Contains(string(b), `"secondary_keys"`) || strings.Contains(string(b), `"source"`)) {
			t.Errorf("absent lists appear in JSON: %s", b)
		}
	}
}

func testCreateCharacter(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := fullCharacter("new-1", "New")
	stored, err := s.CreateCharacter(ctx, c)
	must(t, err)
	if stored.Revision != 1 {
		t.Errorf("CreateCharacter stored revision %d, want 1 whatever the caller says", stored.Revision)
	}
	c.Revision = 1
	equal(t, "CreateCharacter result", stored, wantCharacter(c))
	got, err := s.GetCharacter(ctx, c.ID)
	must(t, err)
	equal(t, "created character", got, wantCharacter(c))

	again := sampleCharacter("new-1", "Impostor")
	_, err = s.CreateCharacter(ctx, again)
	isErr(t, "CreateCharacter(taken ID)", err, maopao.ErrConflict)
	got, err = s.GetCharacter(ctx, c.ID)
	must(t, err)
	if got.Name != "New" {
		t.Errorf("a refused CreateCharacter replaced the character: name %q", got.Name)
	}
	_, err = s.CreateCharacter(ctx, maopao.Character{Name: "no id"})
	isErr(t, "CreateCharacter(empty ID)", err, maopao.ErrInvalid)
}

func testUpdateCharacterHistory(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	_, err := s.UpdateCharacter(ctx, sampleCharacter("ghost", "Ghost"), 1)
	isErr(t, "UpdateCharacter(missing)", err, maopao.ErrNotFound)
	_, err = s.CharacterHistory(ctx, "ghost")
	isErr(t, "CharacterHistory(missing)", err, maopao.ErrNotFound)

	v1 := fullCharacter("h1", "Version one")
	_, err = s.CreateCharacter(ctx, v1)
	must(t, err)
	v1.Revision = 1

	v2 := fullCharacter("h1", "Version two")
	v2.Avatar = []byte("\xff\xd8\xff second avatar")
	v2.AvatarType = "image/jpeg"
	v2.CharacterBook.Entries[0].Content = "changed"
	got, err := s.UpdateCharacter(ctx, v2, 1)
	must(t, err)
	v2.Revision = 2
	equal(t, "UpdateCharacter result", got, wantCharacter(v2))

	// An editor who still holds revision 1 is refused, and nothing changes.
	stale := sampleCharacter("h1", "Stale edit")
	_, err = s.UpdateCharacter(ctx, stale, 1)
	isErr(t, "UpdateCharacter(stale revision)", err, maopao.ErrConflict)
	_, err = s.UpdateCharacter(ctx, stale, 7)
	isErr(t, "UpdateCharacter(future revision)", err, maopao.ErrConflict)

	v3 := sampleCharacter("h1", "Version three")
	v3.Extensions = map[string]any{"only": "v3"}
	_, err = s.UpdateCharacter(ctx, v3, 2)
	must(t, err)
	v3.Revision = 3
	cur, err := s.GetCharacter(ctx, "h1")
	must(t, err)
	equal(t, "current character after two updates", cur, wantCharacter(v3))

	hist, err := s.CharacterHistory(ctx, "h1")
	must(t, err)
	var revs []int
	for _, h := range hist {
		revs = append(revs, h.Revision)
	}
	equal(t, "history revisions, newest first", fmt.Sprint(revs), "[3 2 1]")
	if len(hist) == 3 {
		equal(t, "history entry 3", hist[0], withoutAvatar(wantCharacter(v3)))
		equal(t, "history entry 2", hist[1], withoutAvatar(wantCharacter(v2)))
		equal(t, "history entry 1", hist[2], withoutAvatar(wantCharacter(v1)))
		if hist[1].AvatarType != "image/jpeg" {
			t.Errorf("history keeps avatar_type %q for revision 2, want image/jpeg", hist[1].AvatarType)
		}
	}
	for rev, want := range map[int]maopao.Character{1: v1, 2: v2, 3: v3} {
		got, err := s.GetCharacterRevision(ctx, "h1", rev)
		must(t, err)
		equal(t, fmt.Sprintf("revision %d (avatar included)", rev), got, wantCharacter(want))
	}
	for _, rev := range []int{0, 4, -1} {
		_, err = s.GetCharacterRevision(ctx, "h1", rev)
		isErr(t, fmt.Sprintf("GetCharacterRevision(%d)", rev), err, maopao.ErrNotFound)
	}

	// Delete takes the history with it; a new character under the same ID
	// starts a history of its own.
	must(t, s.DeleteCharacter(ctx, "h1"))
	_, err = s.CharacterHistory(ctx, "h1")
	isErr(t, "CharacterHistory after delete", err, maopao.ErrNotFound)
	_, err = s.GetCharacterRevision(ctx, "h1", 1)
	isErr(t, "GetCharacterRevision after delete", err, maopao.ErrNotFound)
	reborn := sampleCharacter("h1", "Reborn")
	_, err = s.CreateCharacter(ctx, reborn)
	must(t, err)
	_, err = s.UpdateCharacter(ctx, sampleCharacter("h1", "Reborn 2"), 1)
	must(t, err)
	hist, err = s.CharacterHistory(ctx, "h1")
	must(t, err)
	if len(hist) != 2 || hist[0].Name != "Reborn 2" || hist[1].Name != "Reborn" {
		t.Errorf("history of a re-created character: %d entries %v, want [Reborn 2, Reborn]", len(hist), names(hist))
	}
}

func names(cs []maopao.Character) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func testUpdateCharacterConcurrent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	_, err := s.CreateCharacter(ctx, sampleCharacter("race", "Start"))
	must(t, err)
	const editors = 6
	results := make([]error, editors)
	parallel(t, editors, func(i int) error {
		_, results[i] = s.UpdateCharacter(ctx, sampleCharacter("race", "Editor "+itoa(i)), 1)
		if results[i] != nil && !errors.Is(results[i], maopao.ErrConflict) {
			return results[i]
		}
		return nil
	})
	winners := 0
	winner := ""
	for i, err := range results {
		if err == nil {
			winners++
			winner = "Editor " + itoa(i)
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d racing updates from revision 1 succeeded, want exactly 1", winners, editors)
	}
	hist, err := s.CharacterHistory(ctx, "race")
	must(t, err)
	if len(hist) != 2 || hist[0].Name != winner || hist[0].Revision != 2 || hist[1].Name != "Start" {
		t.Errorf("history after the race: %v, want [%s, Start]", names(hist), winner)
	}
}

func testSearchCharacters(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	mk := func(id, name, nick, owner, creator string, vis maopao.Visibility, tags ...string) maopao.Character {
		c := sampleCharacter(id, name)
		c.Nickname, c.OwnerID, c.Creator, c.Visibility, c.Tags, c.BuiltIn = nick, owner, creator, vis, tags, false
		c.Avatar, c.AvatarType = []byte("avatar of "+id), "image/png"
		return c
	}
	all := []maopao.Character{
		mk("s1", "Lin Xiaoyu", "", "", "Maopao", maopao.VisibilityPublic, "Tea", "cozy"),
		mk("s2", "Captain Ren", "the Captain", "alice", "Alice", maopao.VisibilityPublic, "sci-fi"),
		mk("s3", "Alice's secret", "", "alice", "Alice", maopao.VisibilityPrivate, "tea"),
		mk("s4", "Bob's draft", "", "bob", "bob", maopao.VisibilityUnlisted, "tea"),
		mk("s5", "Ärger Öl", "ÜBER", "bob", "BOB", maopao.VisibilityPublic, "Ökologie"),
		mk("s0", "Captain Ren", "", "bob", "Bob", maopao.VisibilityPublic),
		mk("s6", "a.*b (regex)", "", "bob", "bob", maopao.VisibilityPublic),
	}
	for _, c := range all {
		must(t, s.PutCharacter(ctx, c))
	}
	ids := func(q storage.CharacterQuery) string {
		t.Helper()
		got, err := s.SearchCharacters(ctx, q)
		must(t, err)
		var out []string
		for _, c := range got {
			if c.Avatar != nil {
				t.Errorf("SearchCharacters(%+v) returned avatar bytes for %s", q, c.ID)
			}
			if c.AvatarType == "" {
				t.Errorf("SearchCharacters(%+v) dropped avatar_type of %s", q, c.ID)
			}
			out = append(out, c.ID)
		}
		// The reference implementation must agree.
		var want []string
		for _, c := range sortedByName(all) {
			if q.Matches(c) {
				want = append(want, c.ID)
			}
		}
		if q.Limit == 0 && q.Offset == 0 && strings.Join(out, " ") != strings.Join(want, " ") {
			t.Errorf("SearchCharacters(%+v) = %v, but CharacterQuery.Matches selects %v", q, out, want)
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		q    storage.CharacterQuery
		want string
	}{
		{storage.CharacterQuery{}, "s0 s2 s1 s6 s5"},
		{storage.CharacterQuery{IncludeUnlisted: true}, "s4 s0 s2 s1 s6 s5"},
		{storage.CharacterQuery{ViewerID: "alice"}, "s3 s0 s2 s1 s6 s5"},
		{storage.CharacterQuery{ViewerID: "bob"}, "s4 s0 s2 s1 s6 s5"},
		{storage.CharacterQuery{Text: "captain"}, "s0 s2"},
		{storage.CharacterQuery{Text: "THE CAP"}, "s2"},
		{storage.CharacterQuery{Text: "über"}, "s5"},
		{storage.CharacterQuery{Text: "ärger"}, "s5"},
		{storage.CharacterQuery{Text: "a.*b"}, "s6"},
		{storage.CharacterQuery{Text: "."}, "s6"},
		{storage.CharacterQuery{Text: "secret"}, ""},
		{storage.CharacterQuery{Text: "secret", ViewerID: "alice"}, "s3"},
		{storage.CharacterQuery{Tag: "tea"}, "s1"},
		{storage.CharacterQuery{Tag: "TEA", ViewerID: "alice", IncludeUnlisted: true}, "s3 s4 s1"},
		{storage.CharacterQuery{Tag: "ökologie"}, "s5"},
		{storage.CharacterQuery{Tag: "te"}, ""},
		{storage.CharacterQuery{Creator: "bob"}, "s0 s6 s5"},
		{storage.CharacterQuery{Creator: "Bo"}, ""},
		{storage.CharacterQuery{OwnerID: "alice"}, "s2"},
		{storage.CharacterQuery{OwnerID: "alice", ViewerID: "alice"}, "s3 s2"},
		{storage.CharacterQuery{OwnerID: "bob", Creator: "BOB", Text: "r"}, "s0 s6 s5"},
		{storage.CharacterQuery{Limit: 2}, "s0 s2"},
		{storage.CharacterQuery{Limit: 2, Offset: 2}, "s1 s6"},
		{storage.CharacterQuery{Offset: 4}, "s5"},
		{storage.CharacterQuery{Offset: 5}, ""},
		{storage.CharacterQuery{Offset: 500, Limit: 3}, ""},
	}
	for _, c := range cases {
		if got := ids(c.q); got != c.want {
			t.Errorf("SearchCharacters(%+v) = [%s], want [%s]", c.q, got, c.want)
		}
	}
}

func sortedByName(cs []maopao.Character) []maopao.Character {
	out := append([]maopao.Character{}, cs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Name < out[i].Name || (out[j].Name == out[i].Name && out[j].ID < out[i].ID) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func sampleAccount(playerID, username string) maopao.Account {
	return maopao.Account{
		PlayerID: playerID, Username: username, CreatedAt: oddTime(),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
	}
}

func wantAccount(a maopao.Account) maopao.Account {
	a.CreatedAt = msUTC(a.CreatedAt)
	return a
}

func testAccounts(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	_, err := s.GetAccount(ctx, "p1")
	isErr(t, "GetAccount(missing)", err, maopao.ErrNotFound)
	_, err = s.GetAccountByUsername(ctx, "Ada")
	isErr(t, "GetAccountByUsername(missing)", err, maopao.ErrNotFound)

	a := sampleAccount("p1", "Ada.Lovelace")
	must(t, s.CreateAccount(ctx, a))
	got, err := s.GetAccount(ctx, "p1")
	must(t, err)
	equal(t, "GetAccount", got, wantAccount(a))
	checkUTC(t, "account CreatedAt", got.CreatedAt)
	if got.PasswordHash != a.PasswordHash {
		t.Errorf("password hash read back as %q", got.PasswordHash)
	}
	for _, name := range []string{"Ada.Lovelace", "ada.lovelace", "ADA.LOVELACE"} {
		got, err := s.GetAccountByUsername(ctx, name)
		must(t, err)
		equal(t, "GetAccountByUsername("+name+")", got, wantAccount(a))
	}
	isErr(t, "CreateAccount(same name, other case)", s.CreateAccount(ctx, sampleAccount("p2", "ADA.lovelace")), maopao.ErrConflict)
	isErr(t, "CreateAccount(same player)", s.CreateAccount(ctx, sampleAccount("p1", "other")), maopao.ErrConflict)
	// Lookalikes of a taken name are refused too (maopao.UsernameKey).
	for _, name := range []string{"AdaLovelace", "Ada.Lovelace.", "ada_1ovelace", "Ada.LoveIace"} {
		isErr(t, "CreateAccount(lookalike "+name+")", s.CreateAccount(ctx, sampleAccount("p2", name)), maopao.ErrConflict)
		_, err = s.GetAccountByUsername(ctx, name)
		isErr(t, "GetAccountByUsername(refused lookalike "+name+")", err, maopao.ErrNotFound)
	}
	_, err = s.GetAccount(ctx, "p2")
	isErr(t, "account of a refused registration", err, maopao.ErrNotFound)
	_, err = s.GetAccountByUsername(ctx, "other")
	isErr(t, "username of a refused registration", err, maopao.ErrNotFound)
	must(t, s.CreateAccount(ctx, sampleAccount("p2", "grace")))
	got, err = s.GetAccountByUsername(ctx, "Grace")
	must(t, err)
	if got.PlayerID != "p2" {
		t.Errorf("GetAccountByUsername(Grace) = player %q, want p2", got.PlayerID)
	}

	isErr(t, "CreateAccount(empty username)", s.CreateAccount(ctx, sampleAccount("p3", "")), maopao.ErrInvalid)
	isErr(t, "CreateAccount(empty player)", s.CreateAccount(ctx, sampleAccount("", "x")), maopao.ErrInvalid)
	noHash := sampleAccount("p4", "nohash")
	noHash.PasswordHash = ""
	isErr(t, "CreateAccount(no password hash)", s.CreateAccount(ctx, noHash), maopao.ErrInvalid)

	// Revoking tokens raises the version by one each time, and the rest of
	// the account stays as it was.
	before, err := s.GetAccount(ctx, "p2")
	must(t, err)
	if before.TokenVersion != 0 {
		t.Errorf("a new account has token version %d, want 0", before.TokenVersion)
	}
	for want := 1; want <= 2; want++ {
		after, err := s.RevokeTokens(ctx, "p2")
		must(t, err)
		if after.TokenVersion != want || after.Username != before.Username || after.PasswordHash != before.PasswordHash {
			t.Errorf("RevokeTokens #%d = %+v, want version %d and the rest unchanged (%+v)", want, after, want, before)
		}
	}
	got, err = s.GetAccount(ctx, "p2")
	must(t, err)
	if got.TokenVersion != 2 {
		t.Errorf("GetAccount after two revocations: version %d, want 2", got.TokenVersion)
	}
	_, err = s.RevokeTokens(ctx, "nobody")
	isErr(t, "RevokeTokens(unknown player)", err, maopao.ErrNotFound)
}

func testAccountsConcurrent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const racers = 6
	results := make([]error, racers)
	parallel(t, racers, func(i int) error {
		// Two spellings of one name and two lookalikes of it.
		name := []string{"racer", "RACER", "rac.er", "RAC-ER"}[i%4]
		results[i] = s.CreateAccount(ctx, sampleAccount("racer-"+itoa(i), name))
		if results[i] != nil && !errors.Is(results[i], maopao.ErrConflict) {
			return results[i]
		}
		return nil
	})
	winners := 0
	for _, err := range results {
		if err == nil {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d racing registrations of one username and its lookalikes succeeded, want exactly 1", winners, racers)
	}
}

// testCharacterNumbers: numbers in card maps survive exactly, as cards need.
func testCharacterNumbers(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := sampleCharacter("numbers", "Numbers")
	c.Extensions = map[string]any{
		"big": json.Number("123456789012345678901234567890"), "precise": json.Number("0.1000000000000000055511151231257827"),
		"spelled": json.Number("2.50"), "neg": json.Number("-1e400"),
	}
	c.CharacterBook = &maopao.Lorebook{Entries: []maopao.LoreEntry{{ID: json.Number("18446744073709551617"), Keys: []string{"k"}}}}
	must(t, s.PutCharacter(ctx, c))
	got, err := s.GetCharacter(ctx, c.ID)
	must(t, err)
	for k, want := range c.Extensions {
		if got.Extensions[k] != want {
			t.Errorf("extension %s = %#v, want %#v", k, got.Extensions[k], want)
		}
	}
	if got.CharacterBook == nil || len(got.CharacterBook.Entries) != 1 || got.CharacterBook.Entries[0].ID != json.Number("18446744073709551617") {
		t.Errorf("lore entry id read back as %#v", got.CharacterBook)
	}
}

// Lists and searches leave avatar bytes out but report their size.
func testAvatarSize(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := sampleCharacter("pic", "Pic")
	c.Avatar, c.AvatarType, c.Visibility = bytes.Repeat([]byte{7}, 1234), "image/png", maopao.VisibilityPublic
	c.AvatarSize = 99 // whatever a writer says, the store counts
	must(t, s.PutCharacter(ctx, c))
	got, err := s.GetCharacter(ctx, "pic")
	must(t, err)
	if got.AvatarSize != 1234 {
		t.Errorf("GetCharacter: AvatarSize %d, want 1234", got.AvatarSize)
	}
	found, err := s.SearchCharacters(ctx, storage.CharacterQuery{})
	must(t, err)
	if len(found) != 1 || found[0].AvatarSize != 1234 || found[0].Avatar != nil {
		t.Errorf("SearchCharacters: %d results, AvatarSize %v", len(found), found)
	}
	c.Avatar, c.AvatarType = nil, ""
	must(t, s.PutCharacter(ctx, c))
	found, err = s.SearchCharacters(ctx, storage.CharacterQuery{})
	must(t, err)
	if len(found) != 1 || found[0].AvatarSize != 0 {
		t.Errorf("SearchCharacters after removing the avatar: %+v", found)
	}
}

// Edits that keep the picture and edits that change it: every revision
// reads back with the picture it had.
func testRevisionAvatars(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	picA, picB := bytes.Repeat([]byte("A"), 5000), bytes.Repeat([]byte("B"), 3000)
	c := sampleCharacter("pics", "Pics")
	c.Avatar, c.AvatarType = picA, "image/png"
	c.Revision = 1
	must(t, s.PutCharacter(ctx, c))
	want := map[int][]byte{1: picA}
	update := func(change func(*maopao.Character), pic []byte) {
		t.Helper()
		cur, err := s.GetCharacter(ctx, "pics")
		must(t, err)
		change(&cur)
		next, err := s.UpdateCharacter(ctx, cur, cur.Revision)
		must(t, err)
		want[next.Revision] = pic
	}
	for i := 0; i < 3; i++ {
		update(func(c *maopao.Character) { c.Description += " more" }, picA)
	}
	update(func(c *maopao.Character) { c.Avatar = picB }, picB)
	update(func(c *maopao.Character) { c.Description += " again" }, picB)
	update(func(c *maopao.Character) { c.Avatar, c.AvatarType = nil, "" }, nil)
	update(func(c *maopao.Character) { c.Description += " bare" }, nil)
	for rev, pic := range want {
		got, err := s.GetCharacterRevision(ctx, "pics", rev)
		must(t, err)
		if !bytes.Equal(got.Avatar, pic) {
			t.Errorf("revision %d: picture of %d bytes (%.1q…), want %d", rev, len(got.Avatar), got.Avatar[:min(1, len(got.Avatar))], len(pic))
		}
	}
	hist, err := s.CharacterHistory(ctx, "pics")
	must(t, err)
	if len(hist) != len(want) {
		t.Fatalf("history has %d revisions, want %d", len(hist), len(want))
	}
	for _, h := range hist {
		if h.Avatar != nil {
			t.Errorf("history revision %d carries picture bytes", h.Revision)
		}
	}
}
