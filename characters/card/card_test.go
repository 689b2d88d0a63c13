package card

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/maopao/maopao"
)

func ptr[T any](v T) *T { return &v }

// tree decodes JSON the way a careful comparison must: numbers kept as
// written, so 2^64+1 and 2.50 are compared exactly.
func tree(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normalise fills in what a V3 export writes for required fields that an
// import from V1/V2 may have left absent.
func normalise(c maopao.Character) maopao.Character {
	if _, null := c.CardExtra["group_only_greetings"]; c.GroupOnlyGreetings == nil && !null {
		c.GroupOnlyGreetings = []string{}
	}
	if c.CharacterBook != nil {
		b := *c.CharacterBook
		if b.Entries != nil {
			b.Entries = append(make([]maopao.LoreEntry, 0, len(b.Entries)), b.Entries...)
		}
		for i := range b.Entries {
			if _, null := b.Entries[i].Extra["use_regex"]; b.Entries[i].UseRegex == nil && !null {
				b.Entries[i].UseRegex = ptr(false)
			}
		}
		c.CharacterBook = &b
	}
	return c
}

// fullCharacter sets every field the card formats carry, with values as
// Decode produces them (numbers inside maps as json.Number).
func fullCharacter() maopao.Character {
	return maopao.Character{
		Name:                    "Round <Trip> & Co",
		Description:             "desc with \"quotes\",\nnewlines and 🐈",
		Personality:             "curious",
		Scenario:                "a test",
		FirstMes:                "hi {{user}}",
		MesExample:              "<START>\n{{char}}: hi",
		SystemPrompt:            "{{original}} sys",
		PostHistoryInstructions: "phi",
		CreatorNotes:            "notes",
		AlternateGreetings:      []string{"alt1", ""},
		Tags:                    []string{"a", "b"},
		Creator:                 "me",
		CharacterVersion:        "2",
		Extensions: map[string]any{
			"talkativeness": "0.5",
			"n":             json.Number("12345678901234567890"),
			"obj":           map[string]any{"arr": []any{json.Number("1.0"), "x", nil, true}},
		},
		CharacterBook: &maopao.Lorebook{
			Name: "book", Description: "bd", ScanDepth: ptr(3), TokenBudget: ptr(500),
			RecursiveScanning: ptr(true), Extensions: map[string]any{"k": "v"},
			Entries: []maopao.LoreEntry{{
				Keys: []string{"k1"}, Content: "c", Extensions: map[string]any{"depth": json.Number("4")},
				Enabled: true, InsertionOrder: 10, CaseSensitive: ptr(false), UseRegex: ptr(true),
				Name: "n", Priority: ptr(1), ID: int64(7), Comment: "cm", Selective: ptr(true),
				SecondaryKeys: []string{"s"}, Constant: ptr(false), Position: "after_char",
				Extra: map[string]any{"x": json.Number("1.50")},
			}, {
				Keys: []string{}, Extensions: map[string]any{}, ID: "str-id", UseRegex: ptr(false),
			}},
			Extra: map[string]any{"bx": "y"},
		},
		Assets:                   []maopao.Asset{{Type: "icon", URI: "ccdefault:", Name: "main", Ext: "png"}},
		Nickname:                 "RT",
		CreatorNotesMultilingual: map[string]string{"fr": "notes fr"},
		Source:                   []string{"https://example.com"},
		GroupOnlyGreetings:       []string{"hello all"},
		CreationDate:             1700000000,
		ModificationDate:         1700000500,
		CardExtra:                map[string]any{"custom": map[string]any{"z": []any{}}},
	}
}

// v2Only is what survives a V2 export: no V3 data fields.
func v2Only(c maopao.Character) maopao.Character {
	c.Assets, c.Nickname, c.CreatorNotesMultilingual, c.Source = nil, "", nil, nil
	c.GroupOnlyGreetings, c.CreationDate, c.ModificationDate = nil, 0, 0
	return c
}

func mustDecode(t testing.TB, b []byte) *Imported {
	t.Helper()
	imp, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return imp
}

func diff(t testing.TB, want, got maopao.Character) {
	t.Helper()
	if reflect.DeepEqual(want, got) {
		return
	}
	w, _ := json.MarshalIndent(want, "", " ")
	g, _ := json.MarshalIndent(got, "", " ")
	t.Fatalf("characters differ\nwant %s\ngot  %s", w, g)
}

func TestRoundTripEveryFormat(t *testing.T) {
	c := fullCharacter()
	t.Run("json-v3", func(t *testing.T) {
		b, err := EncodeJSON(c, "")
		if err != nil {
			t.Fatal(err)
		}
		imp := mustDecode(t, b)
		if imp.Spec != SpecV3 || imp.Format != FormatJSON || len(imp.Warnings) > 0 {
			t.Fatalf("spec %q format %q warnings %q", imp.Spec, imp.Format, imp.Warnings)
		}
		diff(t, c, imp.Character)
	})
	t.Run("json-v2", func(t *testing.T) {
		b, err := EncodeJSON(c, SpecV2)
		if err != nil {
			t.Fatal(err)
		}
		imp := mustDecode(t, b)
		if imp.Spec != SpecV2 {
			t.Fatalf("spec %q", imp.Spec)
		}
		diff(t, v2Only(c), imp.Character)
		data := tree(t, b).(map[string]any)["data"].(map[string]any)
		for k := range v3DataKeys {
			if _, ok := data[k]; ok {
				t.Errorf("V2 export has V3 field %q", k)
			}
		}
	})
	t.Run("png", func(t *testing.T) {
		b, err := EncodePNG(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		imp := mustDecode(t, b)
		if imp.Spec != SpecV3 || imp.Format != FormatPNG || imp.AvatarType != "image/png" {
			t.Fatalf("spec %q format %q avatar %q", imp.Spec, imp.Format, imp.AvatarType)
		}
		diff(t, c, imp.Character)
		// Export again from the imported avatar: same card, same image.
		b2, err := EncodePNG(imp.Character, imp.Avatar)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Error("PNG re-export differs from the first export")
		}
	})
	t.Run("charx", func(t *testing.T) {
		files := map[string][]byte{"assets/other/voice.ogg": []byte("OggS fake"), "module.risum": {0, 1, 2}}
		c := c
		c.Assets = append([]maopao.Asset{{Type: "other", URI: "embeded://assets/other/voice.ogg", Name: "voice", Ext: "ogg"}}, c.Assets...)
		avatar := placeholder("x")
		b, err := EncodeCHARX(c, files, avatar)
		if err != nil {
			t.Fatal(err)
		}
		imp := mustDecode(t, b)
		if imp.Spec != SpecV3 || imp.Format != FormatCHARX || !bytes.Equal(imp.Avatar, avatar) {
			t.Fatalf("spec %q format %q avatar %d bytes", imp.Spec, imp.Format, len(imp.Avatar))
		}
		want := c
		want.Assets = append(append([]maopao.Asset(nil), c.Assets...),
			maopao.Asset{Type: "icon", URI: "embeded://assets/icon/images/main.png", Name: "main", Ext: "png"})
		diff(t, want, imp.Character)
		if len(imp.Files) != 3 || !bytes.Equal(imp.Files["module.risum"], files["module.risum"]) {
			t.Fatalf("files %v", imp.Files)
		}
		b2, err := EncodeCHARX(imp.Character, imp.Files, imp.Avatar)
		if err != nil {
			t.Fatal(err)
		}
		imp2 := mustDecode(t, b2)
		diff(t, imp.Character, imp2.Character)
		if !reflect.DeepEqual(imp.Files, imp2.Files) {
			t.Error("files changed on re-export")
		}
	})
}

// A V3 card written by another tool comes back as the same JSON, unknown
// fields, exact numbers, nulls and empty strings included.
func TestV3JSONSemanticRoundTrip(t *testing.T) {
	in := readTestdata(t, "full_v3.json")
	imp := mustDecode(t, in)
	if len(imp.Warnings) > 0 {
		t.Errorf("warnings: %q", imp.Warnings)
	}
	out, err := EncodeJSON(imp.Character, SpecV3)
	if err != nil {
		t.Fatal(err)
	}
	if want, got := tree(t, in), tree(t, out); !reflect.DeepEqual(want, got) {
		t.Fatalf("JSON changed:\nin  %s\nout %s", in, out)
	}
	diff(t, imp.Character, mustDecode(t, out).Character)
	// Spot checks that the typed fields got the values, not the leftovers.
	c := imp.Character
	if c.CreationDate != 1700000000 || c.ModificationDate != 0 || c.GroupOnlyGreetings[0] != "*Gears whirr as the group enters.*" {
		t.Errorf("dates/greetings: %+v", c)
	}
	e := c.CharacterBook.Entries
	if *c.CharacterBook.ScanDepth != 0 || e[0].ID != "gear-1" || *e[0].Priority != 10 || e[1].InsertionOrder != -5 {
		t.Errorf("book: %+v", c.CharacterBook)
	}
	if e[1].ID != json.Number("18446744073709551617") {
		t.Errorf("big id = %#v", e[1].ID)
	}
}

func TestSillyTavernV2Card(t *testing.T) {
	in := readTestdata(t, "sillytavern_v2.json")
	imp := mustDecode(t, in)
	if imp.Spec != SpecV2 || len(imp.Warnings) > 0 {
		t.Fatalf("spec %q warnings %q", imp.Spec, imp.Warnings)
	}
	c := imp.Character
	dp, _ := c.Extensions["depth_prompt"].(map[string]any)
	if c.Name != "Captain Mira Vance" || c.Extensions["world"] != "Gullwing Lore" || dp["depth"] != json.Number("4") ||
		c.Extensions["talkativeness"] != "0.6" || c.Extensions["fav"] != false {
		t.Fatalf("card fields: %+v", c)
	}
	if c.SystemPrompt != "" || len(c.AlternateGreetings) != 2 || c.GroupOnlyGreetings == nil {
		t.Errorf("system prompt / greetings: %+v", c)
	}
	b := c.CharacterBook
	if b == nil || b.Name != "Gullwing Lore" || len(b.Entries) != 2 {
		t.Fatalf("book: %+v", b)
	}
	e := b.Entries[1]
	if e.Enabled || *e.UseRegex != true || e.Position != "after_char" || e.Extensions["group"] != "pets" ||
		e.Extensions["probability"] != json.Number("35") || e.Extensions["useProbability"] != true ||
		e.ID != int64(1) || len(e.SecondaryKeys) != 2 {
		t.Fatalf("entry 1: %+v", e)
	}
	if _, ok := b.Entries[0].Extensions["scan_depth"]; !ok {
		t.Error("null extension value lost")
	}

	inData := tree(t, in).(map[string]any)["data"].(map[string]any)
	// SillyTavern leaves out the book's extensions, which the spec requires;
	// export writes it, empty. That is the one thing allowed to appear.
	inData["character_book"].(map[string]any)["extensions"] = map[string]any{}
	// V2 export: every data field in place except the V3 one SillyTavern
	// adds (group_only_greetings), which a V2 file does not carry.
	v2, err := EncodeJSON(c, SpecV2)
	if err != nil {
		t.Fatal(err)
	}
	wantV2 := map[string]any{}
	for k, v := range inData {
		if k != "group_only_greetings" {
			wantV2[k] = v
		}
	}
	if got := tree(t, v2).(map[string]any)["data"]; !reflect.DeepEqual(wantV2, got) {
		t.Fatalf("V2 re-export changed data:\n%s", v2)
	}
	// V3 export keeps all of data.
	v3, err := EncodeJSON(c, SpecV3)
	if err != nil {
		t.Fatal(err)
	}
	if got := tree(t, v3).(map[string]any)["data"]; !reflect.DeepEqual(inData, got) {
		t.Fatalf("V3 re-export changed data:\n%s", v3)
	}
	diff(t, normalise(c), mustDecode(t, v3).Character)
}

func TestV1Card(t *testing.T) {
	in := []byte(`{"name":"Old Bob","description":"d","personality":"p","scenario":"s","first_mes":"hi <USER>",` +
		`"mes_example":"<START>\n<BOT>: yo","chat":"Old Bob - 2023","avatar":"none"}`)
	imp := mustDecode(t, in)
	if imp.Spec != SpecV1 {
		t.Fatalf("spec %q", imp.Spec)
	}
	c := imp.Character
	if c.Name != "Old Bob" || c.FirstMes != "hi <USER>" || c.MesExample != "<START>\n<BOT>: yo" ||
		c.CardExtra["chat"] != "Old Bob - 2023" || c.AlternateGreetings == nil {
		t.Fatalf("V1 read: %+v", c)
	}
	for _, spec := range []Spec{SpecV2, SpecV3} {
		b, err := EncodeJSON(c, spec)
		if err != nil {
			t.Fatal(err)
		}
		got := mustDecode(t, b)
		if got.Spec != spec {
			t.Errorf("spec %q", got.Spec)
		}
		want := c
		if spec == SpecV3 {
			want = normalise(c)
		}
		diff(t, want, got.Character)
	}
}

func TestPygmalionCard(t *testing.T) {
	in := []byte(`{"char_name":"Pyg","char_persona":"d","world_scenario":"s","char_greeting":"hi","example_dialogue":"<START>","personality":"p"}`)
	imp := mustDecode(t, in)
	c := imp.Character
	if imp.Spec != SpecV1 || c.Name != "Pyg" || c.Description != "d" || c.Scenario != "s" || c.FirstMes != "hi" ||
		c.MesExample != "<START>" || c.Personality != "p" || c.CardExtra != nil || len(imp.Warnings) != 1 {
		t.Fatalf("%+v %q", c, imp.Warnings)
	}
}

func TestEncodeJSONKeepsMarkupReadable(t *testing.T) {
	b, err := EncodeJSON(maopao.Character{Name: "a", MesExample: "<START>\n{{char}}: a & b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"<START>\n{{char}}: a & b"`)) {
		t.Fatalf("escaped: %s", b)
	}
}

func TestLorebookRoundTrip(t *testing.T) {
	b := *fullCharacter().CharacterBook
	out, err := EncodeLorebook(b)
	if err != nil {
		t.Fatal(err)
	}
	if s := tree(t, out).(map[string]any)["spec"]; s != "lorebook_v3" {
		t.Fatalf("spec %v", s)
	}
	got, err := DecodeLorebook(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&b, got) {
		t.Fatalf("lorebook changed:\n%+v\n%+v", b, *got)
	}
	// A lorebook file from elsewhere comes back as the same JSON.
	in := []byte(`{"spec":"lorebook_v3","data":{"name":"W","extensions":{"n":1.0},"entries":[` +
		`{"keys":["a"],"content":"x","extensions":{"deep":{"v":[1e2]}},"enabled":true,"insertion_order":1,"use_regex":false,"comment":"","odd":null}],"z":0}}`)
	lb, err := DecodeLorebook(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err = EncodeLorebook(*lb)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tree(t, in), tree(t, out)) {
		t.Fatalf("lorebook JSON changed:\n%s\n%s", in, out)
	}
}

func TestMillisecondDates(t *testing.T) {
	in := []byte(`{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"M","creation_date":1700000000123,"modification_date":1700000001}}`)
	imp := mustDecode(t, in)
	if imp.Character.CreationDate != 1700000000 || imp.Character.ModificationDate != 1700000001 {
		t.Fatalf("dates %d %d", imp.Character.CreationDate, imp.Character.ModificationDate)
	}
	if len(imp.Warnings) != 1 || !strings.Contains(imp.Warnings[0], "milliseconds") {
		t.Fatalf("warnings %q", imp.Warnings)
	}
}

func TestSpecVersions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		spec Spec
		warn string
	}{
		{`{"spec":"chara_card_v2","spec_version":"2.5","data":{"name":"A"}}`, SpecV2, "unknown spec_version 2.5 read as V2"},
		{`{"spec":"chara_card_v2","data":{"name":"A"}}`, SpecV2, "spec_version missing"},
		{`{"spec":"chara_card_v3","spec_version":"3.1","data":{"name":"A"}}`, SpecV3, "unknown spec_version 3.1 read as V3"},
		{`{"spec":"chara_card_v3","spec_version":3.0,"data":{"name":"A"}}`, SpecV3, "is a number"},
		{`{"data":{"name":"A"}}`, SpecV2, "no spec field"},
		{`{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"A"},"mystery":1}`, SpecV2, "mystery"},
	} {
		imp, err := Decode([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if imp.Spec != tc.spec || len(imp.Warnings) == 0 || !strings.Contains(imp.Warnings[0], tc.warn) {
			t.Errorf("%s: spec %q warnings %q", tc.in, imp.Spec, imp.Warnings)
		}
	}
}

func TestBadInput(t *testing.T) {
	huge := strings.Repeat("x", MaxFieldBytes+1)
	many := `{"keys":[],"content":"","extensions":{},"enabled":true,"insertion_order":0}` +
		strings.Repeat(`,{"keys":[],"content":"","extensions":{},"enabled":true,"insertion_order":0}`, MaxLoreEntries)
	for _, tc := range []struct {
		name, in, path, msg string
	}{
		{"malformed", "{\"spec\":\"chara_card_v2\",\n \"data\": {\"name\": \"x\",}}", "", "line 2, column"},
		{"truncated json", `{"spec":"chara_card_v2","data":{"name":`, "", "ends too early"},
		{"trailing", `{"name":"a"} {}`, "", "more data"},
		{"not object", `{"spec":"chara_card_v2","data":[1]}`, "data", "want an object"},
		{"unknown spec", `{"spec":"chara_card_v9","data":{"name":"a"}}`, "spec", `unknown spec "chara_card_v9"`},
		{"lorebook as card", `{"spec":"lorebook_v3","data":{"entries":[]}}`, "spec", "lorebook"},
		{"version type", `{"spec":"chara_card_v2","spec_version":["2.0"],"data":{"name":"a"}}`, "spec_version", "want a string"},
		{"future v3", `{"spec":"chara_card_v3","spec_version":"4.0","data":{"name":"a"}}`, "spec_version", "newer"},
		{"no name", `{"spec":"chara_card_v2","spec_version":"2.0","data":{"description":"d"}}`, "data.name", "needs a character name"},
		{"tags type", `{"spec":"chara_card_v2","data":{"name":"a","tags":["x",3]}}`, "data.tags[1]", "want a string, got a number"},
		{"keys type", `{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[{},{},{},{"keys":"a,b"}]}}}`,
			"data.character_book.entries[3].keys", "want an array of strings, got a string"},
		{"order float", `{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[{"keys":[],"insertion_order":1.5}]}}}`,
			"data.character_book.entries[0].insertion_order", "whole number"},
		{"huge field", `{"spec":"chara_card_v2","data":{"name":"a","description":"` + huge + `"}}`, "data.description", "the limit is"},
		{"huge entry", `{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[{"keys":["k"],"content":"` + huge + `"}]}}}`,
			"data.character_book.entries[0].content", "the limit is"},
		{"many entries", `{"spec":"chara_card_v2","data":{"name":"a","character_book":{"entries":[` + many + `]}}}`,
			"data.character_book.entries", "the limit is"},
		{"deep", strings.Repeat(`{"a":`, MaxJSONDepth+1) + "1" + strings.Repeat("}", MaxJSONDepth+1), "", "deeper"},
		{"values", `{"name":"a","x":[` + strings.Repeat("0,", MaxJSONValues) + `0]}`, "", "more than"},
		{"jpeg", "\xff\xd8\xff\xe0 jfif", "", "JPEG"},
		{"empty", "", "", "empty"},
	} {
		_, err := Decode([]byte(tc.in))
		checkErr(t, tc.name, err, tc.path, tc.msg)
	}
}

func checkErr(t *testing.T, name string, err error, path, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: want *Error, got %v", name, err)
		return
	}
	if e.Path != path || !strings.Contains(e.Msg, msg) {
		t.Errorf("%s: got path %q msg %q; want path %q msg containing %q", name, e.Path, e.Msg, path, msg)
	}
	if !errors.Is(err, maopao.ErrInvalid) {
		t.Errorf("%s: not maopao.ErrInvalid", name)
	}
}

func TestBadLorebook(t *testing.T) {
	for _, tc := range []struct{ name, in, path, msg string }{
		{"card", `{"spec":"chara_card_v2","data":{}}`, "spec", "character card"},
		{"other spec", `{"spec":"world","data":{}}`, "spec", "unknown spec"},
		{"st world info", `{"entries":{"0":{"key":["a"]}}}`, "entries", "SillyTavern World Info"},
		{"no spec", `{"name":"x"}`, "spec", "missing"},
		{"entry", `{"spec":"lorebook_v3","data":{"entries":[{"keys":["a"],"enabled":"yes"}]}}`, "data.entries[0].enabled", "true or false"},
	} {
		_, err := DecodeLorebook([]byte(tc.in))
		checkErr(t, tc.name, err, tc.path, tc.msg)
	}
}

func TestEncodeJSONRejectsUnknownSpec(t *testing.T) {
	_, err := EncodeJSON(maopao.Character{Name: "a"}, SpecV1)
	checkErr(t, "v1", err, "spec", "cannot encode")
}

// A card made of millions of tiny values is refused before the decoder
// builds them: the allocation stays near the input's own size.
func TestDecodeRefusesManyValuesCheaply(t *testing.T) {
	in := []byte(`{"name":"a","extensions":{"x":[` + strings.Repeat("{},", MaxJSONBytes/3-20) + `{}]}}`)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode(in)
	runtime.ReadMemStats(&after)
	checkErr(t, "many values", err, "", "values")
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("allocated %d MiB to refuse it", n>>20)
	}
}

// A card's empty lists and maps come back from export as empty lists and
// maps (docs/cards.md: [] stays []), through the store's JSON form too.
func TestEmptyListsSurviveImportAndExport(t *testing.T) {
	in := `{"spec":"chara_card_v3","spec_version":"3.0","data":{"name":"Empty","description":"","personality":"","scenario":"",
"first_mes":"","mes_example":"","creator_notes":"","system_prompt":"","post_history_instructions":"",
"alternate_greetings":[],"tags":[],"creator":"","character_version":"","extensions":{},
"group_only_greetings":[],"source":[],"assets":[],"creator_notes_multilingual":{},
"character_book":{"extensions":{},"entries":[{"keys":["k"],"content":"c","extensions":{},"enabled":true,"insertion_order":0,"secondary_keys":[],"use_regex":false}]}}}`
	imp, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	// The embedded store keeps characters as JSON: go through it.
	stored, err := json.Marshal(imp.Character)
	if err != nil {
		t.Fatal(err)
	}
	var c maopao.Character
	if err := json.Unmarshal(stored, &c); err != nil {
		t.Fatal(err)
	}
	pretty, err := EncodeJSON(c, SpecV3)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, pretty); err != nil {
		t.Fatal(err)
	}
	out := compact.Bytes()
	for _, want := range []string{`"secondary_keys":[]`, `"source":[]`, `"assets":[]`, `"creator_notes_multilingual":{}`, `"group_only_greetings":[]`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lost %s: %s", want, out)
		}
	}
}
