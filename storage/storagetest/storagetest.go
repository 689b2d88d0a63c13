// Package storagetest owns the conformance suite for storage.Store adapters.
// Every adapter's tests call Run (and RunPersistence), so all adapters agree
// on the behaviour the rest of Maopao relies on: ordering, idempotent
// appends, dense Seqs, error kinds, and UTC-millisecond times.
package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// Run runs the conformance suite. open must return a new, empty store for
// the (sub)test it is given; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CharacterRoundTrip", testCharacterRoundTrip},
		{"CharacterReplaceDelete", testCharacterReplaceDelete},
		{"ListCharacters", testListCharacters},
		{"Players", testPlayers},
		{"OpenConversation", testOpenConversation},
		{"OpenConversationConcurrent", testOpenConversationConcurrent},
		{"AppendMessage", testAppendMessage},
		{"AppendMessageIdempotent", testAppendIdempotent},
		{"AppendMessageInvalid", testAppendInvalid},
		{"AppendMessageConcurrent", testAppendConcurrent},
		{"RecentMessages", testRecentMessages},
		{"MessagesAfter", testMessagesAfter},
		{"Memories", testMemories},
		{"Settings", testSettings},
		{"SettingsConcurrent", testSettingsConcurrent},
		{"CanceledContext", testCanceledContext},
		{"Close", testClose},
		{"CharacterAllFields", testCharacterAllFields},
		{"CharacterEmptyLists", testCharacterEmptyLists},
		{"CharacterNumbers", testCharacterNumbers},
		{"CreateCharacter", testCreateCharacter},
		{"UpdateCharacterHistory", testUpdateCharacterHistory},
		{"UpdateCharacterConcurrent", testUpdateCharacterConcurrent},
		{"SearchCharacters", testSearchCharacters},
		{"Accounts", testAccounts},
		{"ManyChats", testManyChats},
		{"UpdateMessage", testUpdateMessage},
		{"AccountsConcurrent", testAccountsConcurrent},
		{"DeletePlayer", testDeletePlayer},
		{"AvatarSize", testAvatarSize},
		{"RevisionAvatars", testRevisionAvatars},
		{"ChatMemories", testChatMemories},
		{"Pictures", testPictures},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(context.Background()); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.fn(t, s)
		})
	}
}

// RunPersistence checks that everything written survives Close and a new
// open of the same data. dir is an empty directory owned by the suite; open
// is called twice with it, and both calls must reach the same data. An
// adapter whose data does not live in files may use dir only as a name.
func RunPersistence(t *testing.T, open func(t *testing.T, dir string) storage.Store) {
	t.Helper()
	ctx := testContext(t)
	dir := t.TempDir()

	s := open(t, dir)
	ch := sampleCharacter("persist-1", "冒泡鸭")
	must(t, s.PutCharacter(ctx, ch))
	pl := maopao.Player{ID: "player-1", Name: "Ada", CreatedAt: time.Now()}
	must(t, s.PutPlayer(ctx, pl))
	conv, err := s.OpenConversation(ctx, pl.ID, ch.ID)
	must(t, err)
	var msgs []maopao.Message
	for i, text := range []string{"你好", "hello 🦆", "bye"} {
		m, _, err := s.AppendMessage(ctx, newMessage(conv.ID, "persist-m"+itoa(i), text))
		must(t, err)
		msgs = append(msgs, m)
	}
	mem := maopao.Memory{PlayerID: pl.ID, CharacterID: ch.ID, Summary: "likes ducks", Facts: []string{"a", "b"},
		SummarizedThrough: 2, UpdatedAt: time.Now()}
	must(t, s.PutMemory(ctx, mem))
	secret, err := s.PutSettingIfAbsent(ctx, "secret", []byte{0, 1, 2, 255})
	must(t, err)
	pic, picData := samplePicture("persist-pic", pl.ID, 4096)
	must(t, s.PutPicture(ctx, pic, picData))
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, dir)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	gotCh, err := s.GetCharacter(ctx, ch.ID)
	must(t, err)
	equal(t, "character after reopen", gotCh, wantCharacter(ch))
	if _, data, err := s.GetPicture(ctx, pic.ID); err != nil || !bytes.Equal(data, picData) {
		t.Fatalf("picture after reopen: %d bytes, %v", len(data), err)
	}
	gotPl, err := s.GetPlayer(ctx, pl.ID)
	must(t, err)
	equal(t, "player after reopen", gotPl, wantPlayer(pl))
	again, err := s.OpenConversation(ctx, pl.ID, ch.ID)
	must(t, err)
	equal(t, "conversation after reopen", again, conv)
	got, err := s.MessagesAfter(ctx, conv.ID, 0, 0)
	must(t, err)
	equal(t, "messages after reopen", got, msgs)
	next, created, err := s.AppendMessage(ctx, newMessage(conv.ID, "persist-m3", "again"))
	must(t, err)
	if !created || next.Seq != 4 {
		t.Errorf("append after reopen: seq %d created %v, want seq 4 created true", next.Seq, created)
	}
	gotMem, err := s.GetMemory(ctx, pl.ID, ch.ID)
	must(t, err)
	equal(t, "memory after reopen", gotMem, wantMemory(mem))
	gotSecret, err := s.GetSetting(ctx, "secret")
	must(t, err)
	equal(t, "setting after reopen", gotSecret, secret)
}

func testCharacterRoundTrip(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := sampleCharacter("char-1", "冒泡鸭 🦆")
	must(t, s.PutCharacter(ctx, c))
	got, err := s.GetCharacter(ctx, c.ID)
	must(t, err)
	equal(t, "character", got, wantCharacter(c))
	checkUTC(t, "character CreatedAt", got.CreatedAt)
	checkUTC(t, "character UpdatedAt", got.UpdatedAt)

	_, err = s.GetCharacter(ctx, "no-such-character")
	isErr(t, "GetCharacter(missing)", err, maopao.ErrNotFound)
	isErr(t, "PutCharacter(empty ID)", s.PutCharacter(ctx, maopao.Character{Name: "x"}), maopao.ErrInvalid)
	bad := sampleCharacter("bad-utf8", "ok")
	bad.Tags = []string{"fine", "\xc3\x28"}
	isErr(t, "PutCharacter(invalid UTF-8 tag)", s.PutCharacter(ctx, bad), maopao.ErrInvalid)
	bad = sampleCharacter(strings.Repeat("x", 100_000), "long")
	isErr(t, "PutCharacter(100 kB ID)", s.PutCharacter(ctx, bad), maopao.ErrInvalid)
	_, err = s.GetCharacter(ctx, "bad-utf8")
	isErr(t, "GetCharacter of a rejected character", err, maopao.ErrNotFound)
}

func testCharacterReplaceDelete(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	c := sampleCharacter("char-1", "First")
	must(t, s.PutCharacter(ctx, c))
	c.Name, c.Extensions = "Second", map[string]any{"only": "this"}
	must(t, s.PutCharacter(ctx, c))
	got, err := s.GetCharacter(ctx, c.ID)
	must(t, err)
	// Replace, not merge: the first version's extensions must be gone.
	equal(t, "replaced character", got, wantCharacter(c))

	must(t, s.DeleteCharacter(ctx, c.ID))
	_, err = s.GetCharacter(ctx, c.ID)
	isErr(t, "GetCharacter after delete", err, maopao.ErrNotFound)
	isErr(t, "second DeleteCharacter", s.DeleteCharacter(ctx, c.ID), maopao.ErrNotFound)
}

func testListCharacters(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	got, err := s.ListCharacters(ctx)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ListCharacters on an empty store returned %d characters", len(got))
	}
	// Inserted out of order; ties on Name must fall back to ID.
	for _, c := range []struct{ id, name string }{
		{"c5", "冒泡鸭"}, {"c4", "Bob"}, {"c3", "Ada"}, {"c1", "Ada"}, {"c2", "Zed"}, {"c0", "Bob"},
	} {
		must(t, s.PutCharacter(ctx, sampleCharacter(c.id, c.name)))
	}
	got, err = s.ListCharacters(ctx)
	must(t, err)
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	equal(t, "ListCharacters order (IDs)", ids, []string{"c1", "c3", "c0", "c4", "c2", "c5"})
	if len(got) == 6 {
		equal(t, "listed character", got[5], wantCharacter(sampleCharacter("c5", "冒泡鸭")))
	}
}

func testPlayers(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	_, err := s.GetPlayer(ctx, "nobody")
	isErr(t, "GetPlayer(missing)", err, maopao.ErrNotFound)
	p := maopao.Player{ID: "p1", Name: "小明 😀", CreatedAt: oddTime()}
	must(t, s.PutPlayer(ctx, p))
	got, err := s.GetPlayer(ctx, p.ID)
	must(t, err)
	equal(t, "player", got, wantPlayer(p))
	checkUTC(t, "player CreatedAt", got.CreatedAt)
	p.Name = "Renamed"
	must(t, s.PutPlayer(ctx, p))
	got, err = s.GetPlayer(ctx, p.ID)
	must(t, err)
	equal(t, "replaced player", got, wantPlayer(p))
	isErr(t, "PutPlayer(empty ID)", s.PutPlayer(ctx, maopao.Player{Name: "x"}), maopao.ErrInvalid)
	isErr(t, "PutPlayer(invalid UTF-8 name)", s.PutPlayer(ctx, maopao.Player{ID: "p2", Name: "\xff"}), maopao.ErrInvalid)
}

func testMemories(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	got, err := s.GetMemory(ctx, "p1", "c1")
	must(t, err)
	equal(t, "memory before any put", got, maopao.Memory{PlayerID: "p1", CharacterID: "c1"})

	m := maopao.Memory{PlayerID: "p1", CharacterID: "c1", Summary: "喜欢鸭子 🦆", Facts: []string{"lives in Oslo", "has a cat"},
		SummarizedThrough: 42, UpdatedAt: oddTime()}
	must(t, s.PutMemory(ctx, m))
	got, err = s.GetMemory(ctx, "p1", "c1")
	must(t, err)
	equal(t, "memory", got, wantMemory(m))
	checkUTC(t, "memory UpdatedAt", got.UpdatedAt)

	m.Facts, m.SummarizedThrough = []string{"moved to Bergen"}, 50
	must(t, s.PutMemory(ctx, m))
	got, err = s.GetMemory(ctx, "p1", "c1")
	must(t, err)
	equal(t, "replaced memory", got, wantMemory(m))

	// Pairs that would collide if the two IDs were simply concatenated.
	a := maopao.Memory{PlayerID: "ab", CharacterID: "c", Summary: "A"}
	b := maopao.Memory{PlayerID: "a", CharacterID: "bc", Summary: "B"}
	must(t, s.PutMemory(ctx, a))
	must(t, s.PutMemory(ctx, b))
	gotA, err := s.GetMemory(ctx, "ab", "c")
	must(t, err)
	equal(t, "memory (ab, c)", gotA, wantMemory(a))
	gotB, err := s.GetMemory(ctx, "a", "bc")
	must(t, err)
	equal(t, "memory (a, bc)", gotB, wantMemory(b))

	isErr(t, "PutMemory(no character)", s.PutMemory(ctx, maopao.Memory{PlayerID: "p1"}), maopao.ErrInvalid)
	isErr(t, "PutMemory(invalid UTF-8 fact)",
		s.PutMemory(ctx, maopao.Memory{PlayerID: "p1", CharacterID: "c1", Facts: []string{"\xfe"}}), maopao.ErrInvalid)
	_, err = s.GetMemory(ctx, "", "c1")
	isErr(t, "GetMemory(empty player)", err, maopao.ErrInvalid)
}

func testSettings(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	_, err := s.GetSetting(ctx, "jwt-secret")
	isErr(t, "GetSetting(missing)", err, maopao.ErrNotFound)

	first := []byte{0, 1, 2, 0xff, 'x'}
	got, err := s.PutSettingIfAbsent(ctx, "jwt-secret", first)
	must(t, err)
	equal(t, "first PutSettingIfAbsent", got, first)
	got, err = s.PutSettingIfAbsent(ctx, "jwt-secret", []byte("second"))
	must(t, err)
	equal(t, "second PutSettingIfAbsent (first writer wins)", got, first)
	got, err = s.GetSetting(ctx, "jwt-secret")
	must(t, err)
	equal(t, "GetSetting", got, first)

	// An empty value is a value: it must block later writers too.
	got, err = s.PutSettingIfAbsent(ctx, "empty", []byte{})
	must(t, err)
	if len(got) != 0 {
		t.Errorf("PutSettingIfAbsent(empty) returned %q", got)
	}
	got, err = s.PutSettingIfAbsent(ctx, "empty", []byte("late"))
	must(t, err)
	if len(got) != 0 {
		t.Errorf("PutSettingIfAbsent after an empty value returned %q, want the empty value", got)
	}
	_, err = s.PutSettingIfAbsent(ctx, "", []byte("x"))
	isErr(t, "PutSettingIfAbsent(empty key)", err, maopao.ErrInvalid)
}

func testSettingsConcurrent(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	const writers = 8
	results := make([][]byte, writers)
	parallel(t, writers, func(i int) error {
		v, err := s.PutSettingIfAbsent(ctx, "race", []byte("writer-"+itoa(i)))
		results[i] = v
		return err
	})
	stored, err := s.GetSetting(ctx, "race")
	must(t, err)
	for i, r := range results {
		if string(r) != string(stored) {
			t.Errorf("writer %d got %q, but %q is stored", i, r, stored)
		}
	}
}

func testCanceledContext(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	conv, err := s.OpenConversation(testContext(t), "p1", "c1")
	must(t, err)

	checks := map[string]error{}
	checks["PutCharacter"] = s.PutCharacter(ctx, sampleCharacter("c1", "x"))
	_, checks["GetCharacter"] = s.GetCharacter(ctx, "c1")
	_, checks["ListCharacters"] = s.ListCharacters(ctx)
	checks["DeleteCharacter"] = s.DeleteCharacter(ctx, "c1")
	checks["PutPlayer"] = s.PutPlayer(ctx, maopao.Player{ID: "p1"})
	_, checks["GetPlayer"] = s.GetPlayer(ctx, "p1")
	_, checks["OpenConversation"] = s.OpenConversation(ctx, "p2", "c2")
	_, checks["GetConversation"] = s.GetConversation(ctx, conv.ID)
	_, _, checks["AppendMessage"] = s.AppendMessage(ctx, newMessage(conv.ID, "m1", "hi"))
	_, checks["GetMessage"] = s.GetMessage(ctx, "m1")
	_, checks["RecentMessages"] = s.RecentMessages(ctx, conv.ID, 0)
	_, checks["MessagesAfter"] = s.MessagesAfter(ctx, conv.ID, 0, 0)
	_, checks["GetMemory"] = s.GetMemory(ctx, "p1", "c1")
	checks["PutMemory"] = s.PutMemory(ctx, maopao.Memory{PlayerID: "p1", CharacterID: "c1"})
	_, checks["GetSetting"] = s.GetSetting(ctx, "k")
	_, checks["PutSettingIfAbsent"] = s.PutSettingIfAbsent(ctx, "k", []byte("v"))
	checks["Ping"] = s.Ping(ctx)
	_, checks["CreateCharacter"] = s.CreateCharacter(ctx, sampleCharacter("c1", "x"))
	_, checks["UpdateCharacter"] = s.UpdateCharacter(ctx, sampleCharacter("c1", "x"), 1)
	_, checks["CharacterHistory"] = s.CharacterHistory(ctx, "c1")
	_, checks["GetCharacterRevision"] = s.GetCharacterRevision(ctx, "c1", 1)
	_, checks["SearchCharacters"] = s.SearchCharacters(ctx, storage.CharacterQuery{})
	checks["CreateAccount"] = s.CreateAccount(ctx, sampleAccount("p1", "ada"))
	_, checks["GetAccount"] = s.GetAccount(ctx, "p1")
	_, checks["GetAccountByUsername"] = s.GetAccountByUsername(ctx, "ada")
	for name, err := range checks {
		isErr(t, name+" with a canceled context", err, context.Canceled)
	}

	// Nothing asked for under the canceled context may have been written.
	live := testContext(t)
	_, err = s.GetCharacter(live, "c1")
	isErr(t, "character written under a canceled context", err, maopao.ErrNotFound)
	_, err = s.GetMessage(live, "m1")
	isErr(t, "message written under a canceled context", err, maopao.ErrNotFound)
	_, err = s.GetSetting(live, "k")
	isErr(t, "setting written under a canceled context", err, maopao.ErrNotFound)
	_, err = s.GetAccount(live, "p1")
	isErr(t, "account written under a canceled context", err, maopao.ErrNotFound)
}

func testClose(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	must(t, s.Ping(ctx))
	must(t, s.PutPlayer(ctx, maopao.Player{ID: "p1"}))
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("second Close: %v (Close must be safe to repeat)", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping after Close returned nil")
	}
	_, err := s.GetPlayer(ctx, "p1")
	if err == nil || errors.Is(err, maopao.ErrNotFound) {
		t.Errorf("GetPlayer after Close: err %v, want a closed-store error that is not ErrNotFound", err)
	}
}

// ---- helpers shared by the suite files ----

func testContext(t *testing.T) context.Context {
	// A deadline on purpose: the Mongo driver sends maxTimeMS when one is
	// set, and some servers reject it on some commands.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// oddTime has sub-millisecond digits and a non-UTC zone, which adapters must
// normalise to UTC milliseconds.
func oddTime() time.Time {
	return time.Date(2024, 2, 29, 23, 59, 58, 123456789, time.FixedZone("UTC+8", 8*3600))
}

func msUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func sampleCharacter(id, name string) maopao.Character {
	return maopao.Character{
		ID: id, Name: name,
		Description:             "A duck that blows bubbles. 冒泡鸭会吹泡泡。",
		Personality:             "cheerful",
		Scenario:                "a pond",
		FirstMes:                "Quack! 🫧",
		MesExample:              "<START>\n{{char}}: Quack.",
		SystemPrompt:            "Stay in character.",
		PostHistoryInstructions: "Be brief.",
		CreatorNotes:            "notes",
		AlternateGreetings:      []string{"Hi!", "你好！"},
		Tags:                    []string{"duck", "冒泡"},
		Creator:                 "maopao",
		CharacterVersion:        "1.0",
		Extensions: map[string]any{
			"depth_prompt": map[string]any{"prompt": "remember the pond", "depth": 4, "ratio": 0.5},
			"list":         []any{1, "two", true, nil, map[string]any{"k": "v"}},
			"emoji":        "🦆",
			// Legal JSON keys that BSON field names cannot hold.
			"a.b":     map[string]any{"$ref": "x", "nul\x00key": 1},
			"$dollar": "kept",
			"":        "empty key",
		},
		OwnerID:    "owner-1",
		Visibility: maopao.VisibilityPublic,
		BuiltIn:    true,
		CreatedAt:  oddTime(),
		UpdatedAt:  oddTime().Add(time.Hour),
	}
}

// wantCharacter is c as every adapter must return it: times in UTC
// milliseconds, maps and lorebooks as JSON decodes them with UseNumber
// (numbers are json.Number, spelled as encoding/json writes them, lorebook
// entry IDs included), so that big integers and decimals survive exactly.
func wantCharacter(c maopao.Character) maopao.Character {
	c.CreatedAt, c.UpdatedAt = msUTC(c.CreatedAt), msUTC(c.UpdatedAt)
	c.AvatarSize = len(c.Avatar)
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // the suite's own sample data
	}
	var out maopao.Character
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		panic(err)
	}
	return canonical(out).(maopao.Character)
}

func wantPlayer(p maopao.Player) maopao.Player {
	p.CreatedAt = msUTC(p.CreatedAt)
	return p
}

func wantMemory(m maopao.Memory) maopao.Memory {
	m.UpdatedAt = msUTC(m.UpdatedAt)
	m.Facts = nilIfEmpty(m.Facts)
	return m
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// canonical drops the nil/empty distinctions no caller may rely on, so that
// comparisons check content.
func canonical(v any) any {
	switch x := v.(type) {
	case maopao.Character:
		x.AlternateGreetings, x.Tags = nilIfEmpty(x.AlternateGreetings), nilIfEmpty(x.Tags)
		x.Source, x.GroupOnlyGreetings = nilIfEmpty(x.Source), nilIfEmpty(x.GroupOnlyGreetings)
		if len(x.Extensions) == 0 {
			x.Extensions = nil
		}
		if len(x.Avatar) == 0 {
			x.Avatar = nil
		}
		return x
	case []maopao.Character:
		out := make([]maopao.Character, len(x))
		for i := range x {
			out[i] = canonical(x[i]).(maopao.Character)
		}
		return out
	case maopao.Memory:
		x.Facts = nilIfEmpty(x.Facts)
		return x
	case []maopao.Message:
		if len(x) == 0 {
			return []maopao.Message(nil)
		}
	case []string:
		return nilIfEmpty(x)
	case []byte:
		if len(x) == 0 {
			return []byte(nil)
		}
	}
	return v
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	got, want = canonical(got), canonical(want)
	if reflect.DeepEqual(got, want) {
		return
	}
	// Characters carry avatars of kilobytes: name the fields that differ.
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if g.Kind() == reflect.Struct && g.Type() == w.Type() {
		for i := range g.NumField() {
			gf, wf := g.Field(i).Interface(), w.Field(i).Interface()
			if !reflect.DeepEqual(gf, wf) {
				t.Errorf("%s: field %s:\n got  %s\n want %s", what, g.Type().Field(i).Name, short(gf), short(wf))
			}
		}
		return
	}
	t.Errorf("%s:\n got  %s\n want %s", what, short(got), short(want))
}

func short(v any) string {
	if p, ok := v.(*maopao.Lorebook); ok && p != nil {
		v = *p
	}
	s := fmt.Sprintf("%#v", v)
	if len(s) > 600 {
		s = s[:600] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

func checkUTC(t *testing.T, what string, v time.Time) {
	t.Helper()
	if v.Location() != time.UTC {
		t.Errorf("%s is in zone %v, want UTC", what, v.Location())
	}
	if v.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("%s = %v has sub-millisecond digits", what, v)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want one wrapping %q", what, err, target)
	}
}

// parallel runs fn(0..n-1) in n goroutines released together, to make the
// races the store must survive as likely as possible.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
