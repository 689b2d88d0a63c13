package card

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/maopao/maopao"
)

// object is a JSON object that keeps its keys in insertion order, so that
// exported cards read in the spec's order rather than alphabetically.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) has(k string) bool { _, ok := o.vals[k]; return ok }

// merge adds the keys of extra that typed fields did not already write,
// in sorted order so output is deterministic.
func (o *object) merge(extra map[string]any, skip map[string]bool) {
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !o.has(k) && !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.set(k, extra[k])
	}
}

func (o *object) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // cards are full of <START> and <USER>
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(k); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := enc.Encode(o.vals[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func marshal(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		// Only values a caller put into Extensions/Extra can get here.
		return nil, errf("", "cannot encode card: %v", err)
	}
	return buf.Bytes(), nil
}

// v3DataKeys are the data fields V3 added; a V2 file gets none of them,
// neither from typed fields nor from CardExtra.
var v3DataKeys = map[string]bool{
	"assets": true, "nickname": true, "creator_notes_multilingual": true, "source": true,
	"group_only_greetings": true, "creation_date": true, "modification_date": true,
}

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func extMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func cardObject(c *maopao.Character, v3 bool) *object {
	doc := &object{}
	if v3 {
		doc.set("spec", string(SpecV3))
		doc.set("spec_version", "3.0")
	} else {
		doc.set("spec", string(SpecV2))
		doc.set("spec_version", "2.0")
	}
	doc.set("data", dataObject(c, v3))
	return doc
}

func dataObject(c *maopao.Character, v3 bool) *object {
	d := &object{}
	d.set("name", c.Name)
	d.set("description", c.Description)
	d.set("personality", c.Personality)
	d.set("scenario", c.Scenario)
	d.set("first_mes", c.FirstMes)
	d.set("mes_example", c.MesExample)
	d.set("creator_notes", c.CreatorNotes)
	d.set("system_prompt", c.SystemPrompt)
	d.set("post_history_instructions", c.PostHistoryInstructions)
	d.set("alternate_greetings", strs(c.AlternateGreetings))
	d.set("tags", strs(c.Tags))
	d.set("creator", c.Creator)
	d.set("character_version", c.CharacterVersion)
	d.set("extensions", extMap(c.Extensions))
	if c.CharacterBook != nil {
		d.set("character_book", bookObject(c.CharacterBook, v3))
	}
	if !v3 {
		d.merge(c.CardExtra, v3DataKeys)
		return d
	}
	if c.Assets != nil {
		assets := make([]*object, len(c.Assets))
		for i, a := range c.Assets {
			o := &object{}
			o.set("type", a.Type)
			o.set("uri", a.URI)
			o.set("name", a.Name)
			o.set("ext", a.Ext)
			assets[i] = o
		}
		d.set("assets", assets)
	}
	if c.Nickname != "" {
		d.set("nickname", c.Nickname)
	}
	if c.CreatorNotesMultilingual != nil {
		d.set("creator_notes_multilingual", c.CreatorNotesMultilingual)
	}
	if c.Source != nil {
		d.set("source", c.Source)
	}
	if c.GroupOnlyGreetings != nil {
		d.set("group_only_greetings", c.GroupOnlyGreetings)
	}
	if c.CreationDate != 0 {
		d.set("creation_date", c.CreationDate)
	}
	if c.ModificationDate != 0 {
		d.set("modification_date", c.ModificationDate)
	}
	d.merge(c.CardExtra, nil)
	if !d.has("group_only_greetings") {
		d.set("group_only_greetings", []string{}) // required in V3
	}
	return d
}

func bookObject(b *maopao.Lorebook, v3 bool) *object {
	o := &object{}
	if b.Name != "" {
		o.set("name", b.Name)
	}
	if b.Description != "" {
		o.set("description", b.Description)
	}
	if b.ScanDepth != nil {
		o.set("scan_depth", *b.ScanDepth)
	}
	if b.TokenBudget != nil {
		o.set("token_budget", *b.TokenBudget)
	}
	if b.RecursiveScanning != nil {
		o.set("recursive_scanning", *b.RecursiveScanning)
	}
	o.set("extensions", extMap(b.Extensions))
	entries := make([]*object, len(b.Entries))
	for i := range b.Entries {
		entries[i] = entryObject(&b.Entries[i], v3)
	}
	o.set("entries", entries)
	o.merge(b.Extra, nil)
	return o
}

func entryObject(e *maopao.LoreEntry, v3 bool) *object {
	o := &object{}
	o.set("keys", strs(e.Keys))
	o.set("content", e.Content)
	o.set("extensions", extMap(e.Extensions))
	o.set("enabled", e.Enabled)
	o.set("insertion_order", e.InsertionOrder)
	if e.CaseSensitive != nil {
		o.set("case_sensitive", *e.CaseSensitive)
	}
	// use_regex is a V3 field, but SillyTavern writes it into V2 cards too
	// and V2 readers ignore it, so a V2 export keeps it when it is set.
	if e.UseRegex != nil {
		o.set("use_regex", *e.UseRegex)
	}
	if e.Name != "" {
		o.set("name", e.Name)
	}
	if e.Priority != nil {
		o.set("priority", *e.Priority)
	}
	if e.ID != nil {
		o.set("id", e.ID)
	}
	if e.Comment != "" {
		o.set("comment", e.Comment)
	}
	if e.Selective != nil {
		o.set("selective", *e.Selective)
	}
	if e.SecondaryKeys != nil {
		o.set("secondary_keys", e.SecondaryKeys)
	}
	if e.Constant != nil {
		o.set("constant", *e.Constant)
	}
	if e.Position != "" {
		o.set("position", e.Position)
	}
	o.merge(e.Extra, nil)
	if v3 && !o.has("use_regex") {
		o.set("use_regex", false) // required in V3
	}
	return o
}
