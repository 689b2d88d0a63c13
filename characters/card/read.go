package card

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/maopao/maopao"
)

// reader turns a parsed JSON tree into domain values, collecting warnings.
type reader struct {
	warnings []string
}

func (r *reader) warn(format string, args ...any) {
	if len(r.warnings) < 100 { // a hostile card could otherwise make thousands
		r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// stMirrorKeys are the top-level keys SillyTavern writes beside "data" in V2
// and V3 cards: copies of data fields for V1 readers, and its own
// bookkeeping. They carry nothing data does not, so they are dropped quietly.
var stMirrorKeys = map[string]bool{
	"name": true, "description": true, "personality": true, "scenario": true,
	"first_mes": true, "mes_example": true, "creatorcomment": true, "avatar": true,
	"chat": true, "talkativeness": true, "fav": true, "tags": true, "create_date": true,
}

// readCard reads a card JSON object of any spec.
func (r *reader) readCard(root map[string]any) (maopao.Character, Spec, error) {
	specV, hasSpec := root["spec"]
	if !hasSpec {
		if d, ok := root["data"].(map[string]any); ok {
			r.warn("no spec field but a data object: read as chara_card_v2")
			c, err := r.readData(d, "data", false)
			return c, SpecV2, err
		}
		if _, hasName := root["name"]; !hasName {
			root = r.pygmalion(root)
		}
		c, err := r.readData(root, "", false)
		return c, SpecV1, err
	}
	s, ok := specV.(string)
	if !ok {
		return maopao.Character{}, "", errf("spec", "want a string such as \"chara_card_v2\", got %s", kindOf(specV))
	}
	spec, major := Spec(s), 0
	switch spec {
	case SpecV2:
		major = 2
	case SpecV3:
		major = 3
	case SpecLorebookV3:
		return maopao.Character{}, "", errf("spec", "this is a lorebook (lorebook_v3), not a character card; import it as a lorebook")
	default:
		return maopao.Character{}, "", errf("spec", "unknown spec %s; want \"chara_card_v2\" or \"chara_card_v3\"", describe(specV))
	}
	if err := r.checkVersion(root, major); err != nil {
		return maopao.Character{}, "", err
	}
	d, ok := root["data"].(map[string]any)
	if !ok {
		return maopao.Character{}, "", errf("data", "want an object with the character, got %s", kindOf(root["data"]))
	}
	var ignored []string
	for k := range root {
		if k != "spec" && k != "spec_version" && k != "data" && !stMirrorKeys[k] {
			ignored = append(ignored, k)
		}
	}
	if len(ignored) > 0 {
		sort.Strings(ignored)
		r.warn("top-level fields outside data ignored: %s", strings.Join(ignored, ", "))
	}
	c, err := r.readData(d, "data", spec == SpecV3)
	return c, spec, err
}

// pygmalionKeys map the field names of the older Pygmalion/Gradio flat
// format, which predates V1's, to V1's.
var pygmalionKeys = map[string]string{
	"char_name": "name", "char_persona": "description", "world_scenario": "scenario",
	"char_greeting": "first_mes", "example_dialogue": "mes_example",
}

func (r *reader) pygmalion(root map[string]any) map[string]any {
	if _, ok := root["char_name"]; !ok {
		return root
	}
	out := make(map[string]any, len(root))
	for k, v := range root {
		if v1, ok := pygmalionKeys[k]; ok {
			if _, clash := root[v1]; !clash {
				k = v1
			}
		}
		out[k] = v
	}
	r.warn("Pygmalion-style field names (char_name, char_persona, ...) read as their V1 names")
	return out
}

// checkVersion reads spec_version. Minor versions and odd spellings are
// read with a warning; a newer major version of V3 is refused because its
// meaning cannot be known.
func (r *reader) checkVersion(root map[string]any, major int) error {
	v, ok := root["spec_version"]
	if !ok || v == nil {
		r.warn("spec_version missing: read as %d.0", major)
		return nil
	}
	var s string
	switch t := v.(type) {
	case string:
		s = t
	case json.Number:
		s = string(t)
		r.warn("spec_version is a number, not a string: read %s", s)
	default:
		return errf("spec_version", "want a string such as \"%d.0\", got %s", major, kindOf(v))
	}
	want := fmt.Sprintf("%d.0", major)
	if s == want {
		return nil
	}
	head, _, _ := strings.Cut(s, ".")
	m, err := strconv.Atoi(head)
	if major == 3 && err == nil && m > 3 {
		return errf("spec_version", "%q is newer than this reader understands (3.x)", s)
	}
	r.warn("unknown spec_version %s read as V%d", s, major)
	return nil
}

// fields consumes known keys from a copy of a JSON object; what is left
// over becomes the Extra/CardExtra map. A key whose value the domain type
// cannot hold (null, or "" / 0 where the typed field treats zero as
// "absent") is left over on purpose, so export writes it back as it was.
type fields struct {
	r    *reader
	rest map[string]any
	path string
	err  error
}

func (r *reader) fields(m map[string]any, path string) *fields {
	rest := make(map[string]any, len(m))
	for k, v := range m {
		rest[k] = v
	}
	return &fields{r: r, rest: rest, path: path}
}

func (f *fields) at(key string) string { return join(f.path, key) }

func (f *fields) fail(path, format string, args ...any) {
	if f.err == nil {
		f.err = errf(path, format, args...)
	}
}

func (f *fields) wrongType(key, want string, v any) {
	f.fail(f.at(key), "want %s, got %s", want, kindOf(v))
}

// extra returns what no typed field took, or nil.
func (f *fields) extra() map[string]any {
	if len(f.rest) == 0 {
		return nil
	}
	return f.rest
}

func (f *fields) checkText(path, s string) string {
	if len(s) > MaxFieldBytes {
		f.fail(path, "text is %d bytes; the limit is %d", len(s), MaxFieldBytes)
		return ""
	}
	return s
}

// str reads a field the spec requires: absent and null read as "".
func (f *fields) str(key string) string {
	v, ok := f.rest[key]
	if !ok {
		return ""
	}
	delete(f.rest, key)
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return f.checkText(f.at(key), t)
	}
	f.wrongType(key, "a string", v)
	return ""
}

// optStr reads an optional string; "" and null stay in the leftovers.
func (f *fields) optStr(key string) string {
	v, ok := f.rest[key]
	if !ok || v == nil || v == "" {
		return ""
	}
	s, isStr := v.(string)
	if !isStr {
		f.wrongType(key, "a string", v)
		return ""
	}
	delete(f.rest, key)
	return f.checkText(f.at(key), s)
}

// list reads an array of strings. A required list is never nil; an optional
// one is nil when absent, and null stays in the leftovers.
func (f *fields) list(key string, opt bool) []string {
	v, ok := f.rest[key]
	if opt && (!ok || v == nil) {
		return nil
	}
	delete(f.rest, key)
	if v == nil {
		// A required list reads as empty, not nil, so that export (which
		// always writes it) and a second import agree.
		return []string{}
	}
	a, isArr := v.([]any)
	if !isArr {
		f.wrongType(key, "an array of strings", v)
		return nil
	}
	if len(a) > MaxListItems {
		f.fail(f.at(key), "has %d items; the limit is %d", len(a), MaxListItems)
		return nil
	}
	out := make([]string, len(a))
	for i, e := range a {
		s, isStr := e.(string)
		if !isStr {
			f.fail(index(f.at(key), i), "want a string, got %s", kindOf(e))
			return nil
		}
		out[i] = f.checkText(index(f.at(key), i), s)
	}
	return out
}

// object reads a required object such as extensions; never nil, for the
// same reason as required lists.
func (f *fields) object(key string) map[string]any {
	v, ok := f.rest[key]
	delete(f.rest, key)
	if !ok || v == nil {
		return map[string]any{}
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		f.wrongType(key, "an object", v)
		return nil
	}
	return m
}

func (f *fields) optBool(key string) *bool {
	v, ok := f.rest[key]
	if !ok || v == nil {
		return nil
	}
	b, isBool := v.(bool)
	if !isBool {
		f.wrongType(key, "true or false", v)
		return nil
	}
	delete(f.rest, key)
	return &b
}

// integer reads a JSON number that must be a whole number fitting an int.
func (f *fields) integer(path string, v any) (int64, bool) {
	n, isNum := v.(json.Number)
	if !isNum {
		f.fail(path, "want a whole number, got %s", kindOf(v))
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
			f.fail(path, "want a whole number, got %s", n)
			return 0, false
		}
		i = int64(fl)
	}
	if int64(int(i)) != i {
		f.fail(path, "%s is out of range", n)
		return 0, false
	}
	return i, true
}

func (f *fields) optInt(key string) *int {
	v, ok := f.rest[key]
	if !ok || v == nil {
		return nil
	}
	delete(f.rest, key)
	i, ok := f.integer(f.at(key), v)
	if !ok {
		return nil
	}
	n := int(i)
	return &n
}

func (f *fields) integerField(key string) int {
	v, ok := f.rest[key]
	if !ok {
		return 0
	}
	delete(f.rest, key)
	if v == nil {
		return 0
	}
	i, _ := f.integer(f.at(key), v)
	return int(i)
}

// date reads creation_date / modification_date as Unix seconds. Some tools
// write milliseconds; values too large to be seconds of this millennium are
// read as milliseconds, with a warning.
func (f *fields) date(key string) int64 {
	v, ok := f.rest[key]
	if !ok || v == nil {
		return 0
	}
	n, isNum := v.(json.Number)
	if !isNum {
		f.wrongType(key, "a number (Unix seconds)", v)
		return 0
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || math.IsInf(fl, 0) || math.Abs(fl) > 1e17 {
			f.fail(f.at(key), "want Unix seconds, got %s", n)
			return 0
		}
		i = int64(fl)
		f.r.warn("%s %s has a fraction: read as %d", f.at(key), n, i)
	}
	if i == 0 {
		return 0 // left over, so a literal 0 is written back
	}
	delete(f.rest, key)
	const maxSeconds = 1e11 // year 5138
	if i > maxSeconds || i < -maxSeconds {
		f.r.warn("%s %s looks like milliseconds: read as %d seconds", f.at(key), n, i/1000)
		i /= 1000
	}
	return i
}

// readData reads a card's data object (or a whole V1 card, path "").
func (r *reader) readData(m map[string]any, path string, v3 bool) (maopao.Character, error) {
	f := r.fields(m, path)
	c := maopao.Character{
		Name:                    f.str("name"),
		Description:             f.str("description"),
		Personality:             f.str("personality"),
		Scenario:                f.str("scenario"),
		FirstMes:                f.str("first_mes"),
		MesExample:              f.str("mes_example"),
		SystemPrompt:            f.str("system_prompt"),
		PostHistoryInstructions: f.str("post_history_instructions"),
		CreatorNotes:            f.str("creator_notes"),
		AlternateGreetings:      f.list("alternate_greetings", false),
		Tags:                    f.list("tags", false),
		Creator:                 f.str("creator"),
		CharacterVersion:        f.str("character_version"),
		Extensions:              f.object("extensions"),
		Nickname:                f.optStr("nickname"),
		Source:                  f.list("source", true),
		GroupOnlyGreetings:      f.list("group_only_greetings", true),
		CreationDate:            f.date("creation_date"),
		ModificationDate:        f.date("modification_date"),
	}
	if _, null := f.rest["group_only_greetings"]; v3 && c.GroupOnlyGreetings == nil && !null {
		c.GroupOnlyGreetings = []string{} // required in V3
	}
	if f.err == nil && c.Name == "" {
		f.fail(f.at("name"), "missing or empty; a card needs a character name")
	}
	if v, ok := f.rest["character_book"]; ok && v != nil {
		delete(f.rest, "character_book")
		if bm, isObj := v.(map[string]any); !isObj {
			f.wrongType("character_book", "an object", v)
		} else if f.err == nil {
			b, err := r.readBook(bm, f.at("character_book"))
			if err != nil {
				return maopao.Character{}, err
			}
			c.CharacterBook = b
		}
	}
	if v, ok := f.rest["creator_notes_multilingual"]; ok && v != nil {
		delete(f.rest, "creator_notes_multilingual")
		c.CreatorNotesMultilingual = f.stringMap("creator_notes_multilingual", v)
	}
	if v, ok := f.rest["assets"]; ok && v != nil {
		delete(f.rest, "assets")
		c.Assets = f.assets(v)
	}
	if f.err != nil {
		return maopao.Character{}, f.err
	}
	c.CardExtra = f.extra()
	return c, nil
}

func (f *fields) stringMap(key string, v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		f.wrongType(key, "an object of language: text", v)
		return nil
	}
	out := make(map[string]string, len(m))
	for lang, t := range m {
		s, ok := t.(string)
		if !ok {
			f.fail(f.at(key)+"."+lang, "want a string, got %s", kindOf(t))
			return nil
		}
		out[lang] = f.checkText(f.at(key)+"."+lang, s)
	}
	return out
}

func (f *fields) assets(v any) []maopao.Asset {
	a, ok := v.([]any)
	if !ok {
		f.wrongType("assets", "an array of assets", v)
		return nil
	}
	if len(a) > MaxListItems {
		f.fail(f.at("assets"), "has %d items; the limit is %d", len(a), MaxListItems)
		return nil
	}
	out := make([]maopao.Asset, 0, len(a))
	for i, e := range a {
		p := index(f.at("assets"), i)
		m, ok := e.(map[string]any)
		if !ok {
			f.fail(p, "want an asset object, got %s", kindOf(e))
			return nil
		}
		var as maopao.Asset
		for k, val := range m {
			s, isStr := val.(string)
			if !isStr && val != nil {
				f.fail(join(p, k), "want a string, got %s", kindOf(val))
				return nil
			}
			switch k {
			case "type":
				as.Type = s
			case "uri":
				as.URI = s // not MaxFieldBytes: V3 allows inline data: URIs
			case "name":
				as.Name = s
			case "ext":
				as.Ext = s
			default:
				f.r.warn("%s: unknown asset field %q dropped", p, k)
			}
		}
		out = append(out, as)
	}
	return out
}

// readBook reads a character_book or a lorebook_v3's data.
func (r *reader) readBook(m map[string]any, path string) (*maopao.Lorebook, error) {
	f := r.fields(m, path)
	b := &maopao.Lorebook{
		Name:              f.optStr("name"),
		Description:       f.optStr("description"),
		ScanDepth:         f.optInt("scan_depth"),
		TokenBudget:       f.optInt("token_budget"),
		RecursiveScanning: f.optBool("recursive_scanning"),
		Extensions:        f.object("extensions"),
		Entries:           []maopao.LoreEntry{},
	}
	if f.err != nil {
		return nil, f.err
	}
	if v, ok := f.rest["entries"]; ok {
		delete(f.rest, "entries")
		switch a := v.(type) {
		case nil:
		case []any:
			if len(a) > MaxLoreEntries {
				return nil, errf(f.at("entries"), "has %d entries; the limit is %d", len(a), MaxLoreEntries)
			}
			b.Entries = make([]maopao.LoreEntry, 0, len(a))
			for i, e := range a {
				em, ok := e.(map[string]any)
				if !ok {
					return nil, errf(index(f.at("entries"), i), "want an entry object, got %s", kindOf(e))
				}
				entry, err := r.readEntry(em, index(f.at("entries"), i))
				if err != nil {
					return nil, err
				}
				b.Entries = append(b.Entries, entry)
			}
		default:
			f.wrongType("entries", "an array of entries", v)
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	b.Extra = f.extra()
	return b, nil
}

func (r *reader) readEntry(m map[string]any, path string) (maopao.LoreEntry, error) {
	f := r.fields(m, path)
	e := maopao.LoreEntry{
		Keys:           f.list("keys", false),
		Content:        f.str("content"),
		Extensions:     f.object("extensions"),
		InsertionOrder: f.integerField("insertion_order"),
		CaseSensitive:  f.optBool("case_sensitive"),
		UseRegex:       f.optBool("use_regex"),
		Name:           f.optStr("name"),
		Priority:       f.optInt("priority"),
		Comment:        f.optStr("comment"),
		Selective:      f.optBool("selective"),
		SecondaryKeys:  f.list("secondary_keys", true),
		Constant:       f.optBool("constant"),
		Position:       f.optStr("position"),
	}
	switch v := f.rest["enabled"].(type) {
	case bool:
		e.Enabled = v
		delete(f.rest, "enabled")
	case nil:
		// An entry nobody switched off is on; reading it as disabled would
		// silently change the card.
		e.Enabled = true
		if _, present := f.rest["enabled"]; !present {
			r.warn("%s.enabled missing: read as true", path)
		}
		delete(f.rest, "enabled")
	default:
		f.wrongType("enabled", "true or false", v)
	}
	switch v := f.rest["id"].(type) {
	case nil:
	case string:
		e.ID = v
		delete(f.rest, "id")
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			e.ID = i
		} else {
			e.ID = v // kept exactly, whatever its size or spelling
		}
		delete(f.rest, "id")
	default:
		f.wrongType("id", "a number or a string", v)
	}
	if f.err != nil {
		return maopao.LoreEntry{}, f.err
	}
	e.Extra = f.extra()
	return e, nil
}
