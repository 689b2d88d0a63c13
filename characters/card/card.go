// Package card owns the Character Card file formats: reading and writing
// characters as V1/V2/V3 card JSON, as PNG images carrying the card in text
// chunks, and as CHARX zip archives, plus standalone lorebook_v3 files. It
// converts between those files and maopao.Character / maopao.Lorebook without
// losing fields other tools put there (unknown extensions and data keys are
// carried in the domain types' Extensions / CardExtra / Extra maps).
//
// Everything here treats its input as hostile: sizes are capped before any
// allocation that depends on them, and every validation failure is an *Error
// naming the JSON path (or PNG chunk / zip entry) that was wrong.
package card

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/maopao/maopao"
)

// Format is the container a card came in.
type Format string

const (
	FormatJSON  Format = "json"
	FormatPNG   Format = "png"
	FormatCHARX Format = "charx"
)

// Spec names the card schema, as in the card's "spec" field. V1 cards have
// no spec field; SpecV1 is our name for them.
type Spec string

const (
	SpecV1         Spec = "chara_card_v1"
	SpecV2         Spec = "chara_card_v2"
	SpecV3         Spec = "chara_card_v3"
	SpecLorebookV3 Spec = "lorebook_v3"
)

// Limits on outside input. They are generous for real cards (the largest
// lorebooks seen in the wild are a few MiB) and small enough that one upload
// cannot exhaust a server.
const (
	// MaxCardBytes caps a whole uploaded file: JSON, PNG or CHARX.
	MaxCardBytes = 20 << 20
	// MaxJSONBytes caps the card JSON itself, also after base64 decoding or
	// decompression from a PNG chunk, or from a CHARX's card.json.
	MaxJSONBytes = 16 << 20
	// MaxJSONValues caps the number of JSON values and object keys in one
	// card (about 6000 SillyTavern lorebook entries), so that the decoded
	// tree stays under ~80 MiB of allocation even for inputs like [{},{},...].
	MaxJSONValues = 1 << 19
	// MaxJSONDepth caps nesting of objects and arrays.
	MaxJSONDepth = 128
	// MaxFieldBytes caps every text field the spec names (description,
	// first_mes, entry content, ...). Strings inside extensions are bound
	// only by MaxJSONBytes, since tools store arbitrary data there.
	MaxFieldBytes = 256 << 10
	// MaxListItems caps greetings, tags, keys, sources and assets.
	MaxListItems = 1000
	// MaxLoreEntries caps entries in one lorebook.
	MaxLoreEntries = 10000
	// MaxZipEntries and MaxZipBytes guard against zip bombs: the number of
	// entries, and the total uncompressed size, counted while reading (the
	// sizes a zip header claims are not trusted).
	MaxZipEntries = 1000
	MaxZipBytes   = 64 << 20
)

// Imported is what Decode found in a card file.
type Imported struct {
	// Character holds the card's fields. ID, OwnerID, Visibility, Revision,
	// timestamps and Avatar are left zero for the caller to fill.
	Character maopao.Character
	Spec      Spec
	Format    Format
	// Avatar is the picture that came with the card: for a PNG card the PNG
	// itself with the card chunks removed; for a CHARX the main icon asset.
	Avatar     []byte
	AvatarType string
	// Files are a CHARX's files other than card.json, by their path inside
	// the zip (assets refer to them as "embeded://<path>").
	Files map[string][]byte
	// Warnings say what was accepted but not quite right, for the user.
	Warnings []string
}

// Error is a validation failure in outside input. Path names where: a JSON
// path such as "data.character_book.entries[3].keys", a PNG chunk such as
// "png:tEXt[ccv3]", or a zip entry such as "charx:card.json". It matches
// maopao.ErrInvalid under errors.Is.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "card: " + e.Msg
	}
	return "card: " + e.Path + ": " + e.Msg
}

// Is lets callers classify every card error as invalid input without
// knowing this package.
func (e *Error) Is(target error) bool { return target == maopao.ErrInvalid }

func errf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// prefixed re-roots an error found inside a nested document (the JSON inside
// a PNG chunk, the card.json inside a zip) so the path says where it was.
func prefixed(err error, prefix string) error {
	var e *Error
	if errors.As(err, &e) {
		p := prefix
		if e.Path != "" {
			p += " " + e.Path
		}
		return &Error{Path: p, Msg: e.Msg}
	}
	return err
}

var (
	pngSignature = []byte("\x89PNG\r\n\x1a\n")
	zipSignature = []byte("PK\x03\x04")
	utf8BOM      = []byte("\xef\xbb\xbf")
)

// Decode reads a card in any supported form, sniffing the format from the
// bytes: JSON (V1 flat, V2, V3), PNG (text chunk "ccv3" preferred over
// "chara"), or CHARX (zip with card.json at the root).
func Decode(data []byte) (*Imported, error) {
	if len(data) > MaxCardBytes {
		return nil, errf("", "file is %d bytes; the limit is %d", len(data), MaxCardBytes)
	}
	switch {
	case bytes.HasPrefix(data, pngSignature):
		return decodePNG(data)
	case bytes.HasPrefix(data, zipSignature):
		return decodeCHARX(data)
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, utf8BOM), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		imp, err := decodeCardJSON(data)
		if err != nil {
			return nil, err
		}
		imp.Format = FormatJSON
		return imp, nil
	}
	return nil, errf("", "unrecognised file: %s", sniffName(data))
}

// sniffName names common non-card files so the user learns what they sent.
func sniffName(data []byte) string {
	switch {
	case len(data) == 0:
		return "empty"
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return "a JPEG image (cards are PNG, JSON or CHARX)"
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "a WebP image (cards are PNG, JSON or CHARX)"
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "a GIF image (cards are PNG, JSON or CHARX)"
	}
	return "want a PNG, JSON object or CHARX (zip) card"
}

// decodeCardJSON parses card JSON of any spec into an Imported.
func decodeCardJSON(data []byte) (*Imported, error) {
	tree, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	root, ok := tree.(map[string]any)
	if !ok {
		return nil, errf("", "card JSON must be an object, not %s", kindOf(tree))
	}
	r := &reader{}
	c, spec, err := r.readCard(root)
	if err != nil {
		return nil, err
	}
	return &Imported{Character: c, Spec: spec, Warnings: r.warnings}, nil
}

// DecodeLorebook reads a standalone lorebook: {"spec":"lorebook_v3","data":{...}}.
// A bare book object (what character_book holds) is accepted too.
func DecodeLorebook(data []byte) (*maopao.Lorebook, error) {
	if len(data) > MaxCardBytes {
		return nil, errf("", "file is %d bytes; the limit is %d", len(data), MaxCardBytes)
	}
	tree, err := parseJSON(data)
	if err != nil {
		return nil, err
	}
	root, ok := tree.(map[string]any)
	if !ok {
		return nil, errf("", "lorebook JSON must be an object, not %s", kindOf(tree))
	}
	r := &reader{}
	if spec, has := root["spec"]; has {
		s, ok := spec.(string)
		if !ok || s != string(SpecLorebookV3) {
			if ok && (s == string(SpecV2) || s == string(SpecV3)) {
				return nil, errf("spec", "%q is a character card, not a lorebook; import it as a card", s)
			}
			return nil, errf("spec", "unknown spec %s; want \"lorebook_v3\"", describe(spec))
		}
		d, ok := root["data"].(map[string]any)
		if !ok {
			return nil, errf("data", "want an object with the lorebook, got %s", kindOf(root["data"]))
		}
		return r.readBook(d, "data")
	}
	if _, ok := root["entries"].(map[string]any); ok {
		return nil, errf("entries", "this looks like a SillyTavern World Info file (entries keyed by id); export it from SillyTavern as a lorebook, or embed it in a card")
	}
	if _, ok := root["entries"]; !ok {
		return nil, errf("spec", "missing; want \"lorebook_v3\"")
	}
	return r.readBook(root, "")
}

// EncodeLorebook writes b as {"spec":"lorebook_v3","data":{...}}.
func EncodeLorebook(b maopao.Lorebook) ([]byte, error) {
	doc := &object{}
	doc.set("spec", string(SpecLorebookV3))
	doc.set("data", bookObject(&b, true))
	return marshal(doc, true)
}

// EncodeJSON writes c as card JSON of the given spec: SpecV3 (the default
// when spec is "") or SpecV2. A V2 file has no place for V3 fields (assets,
// nickname, multilingual notes, source, group-only greetings, dates): they
// are left out.
func EncodeJSON(c maopao.Character, spec Spec) ([]byte, error) {
	switch spec {
	case "", SpecV3:
		return marshal(cardObject(&c, true), true)
	case SpecV2:
		return marshal(cardObject(&c, false), true)
	}
	return nil, errf("spec", "cannot encode %q; want %q or %q", spec, SpecV2, SpecV3)
}
