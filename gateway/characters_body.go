package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/card"
	"github.com/maopao/maopao/internal/jsonlimit"
	"github.com/maopao/maopao/internal/names"
	"github.com/maopao/maopao/protocol"
)

// Limits on what creators send. Text fields hold prompts, so they may be
// long, but one field of a card is never a book. The list and size limits
// are the card package's, so that a character imported from a card can
// always be read with GET and sent back with PUT.
const (
	MaxCharacterBodyBytes = card.MaxJSONBytes  // a JSON character body
	MaxTextFieldBytes     = card.MaxFieldBytes // any one text field
	MaxNameRunes          = 128
	MaxTagRunes           = 128
	MaxTags               = card.MaxListItems
	MaxListItems          = card.MaxListItems // greetings, sources, assets, lorebook keys
	MaxMapBytes           = 4 << 20           // extensions, card_extra, as JSON
	MaxLoreEntries        = card.MaxLoreEntries
	MaxLoreKeys           = card.MaxListItems
)

// FieldError names one invalid field of a request, by its JSON path
// ("name", "tags[2]", "character_book.entries[0].content").
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationProblem is a Problem with the fields at fault.
type ValidationProblem struct {
	Problem
	Errors []FieldError `json:"errors,omitempty"`
}

// apiError is a problem a handler answers with.
type apiError struct {
	status int
	code   string
	detail string
	errs   []FieldError
	header http.Header // extra response headers (Retry-After, WWW-Authenticate)
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.detail) }

func problemf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, detail: fmt.Sprintf(format, args...)}
}

func invalidFields(errs []FieldError) *apiError {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		parts = append(parts, e.Path+": "+e.Message)
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: protocol.CodeInvalid,
		detail: strings.Join(parts, "; "), errs: errs}
}

// writeAPIError writes e as problem+json, like writeProblem, with the
// field errors when there are some.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	for k, vs := range e.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(ValidationProblem{
		Problem: Problem{
			Type: "https://maopao.dev/problems/" + e.code, Title: http.StatusText(e.status),
			Status: e.status, Detail: e.detail, Code: e.code,
		},
		Errors: e.errs,
	})
}

// Problem codes of the creator API beyond protocol's.
const (
	codeNotFound         = "not_found"
	codeForbidden        = "forbidden"
	codeConflict         = "conflict"
	codeTooLarge         = "too_large"
	codeNotImplemented   = "not_implemented"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	codeBadCredentials   = "bad_credentials"
	codeQuota            = "quota_exceeded"
)

// characterBody is what POST, PUT and PATCH accept: the card fields of a
// maopao.Character. The server-owned fields (id, owner_id, built_in,
// avatar_type, created_at, updated_at, avatar_url) are accepted and ignored,
// so a character read with GET can be sent back as it is; revision is the
// revision the editor started from (PUT and PATCH require it).
type characterBody struct {
	maopao.Character
	AvatarURL string `json:"avatar_url"`
}

var unknownFieldRE = regexp.MustCompile(`^json: unknown field "(.*)"$`)

// decodeJSONBody reads one JSON value into dst with the limits and the
// strictness of the creator API: unknown fields are refused by name, a body
// over limit is a 413, trailing data is an error.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) *apiError {
	if e := checkJSONType(r); e != nil {
		return e
	}
	return decodeJSON(http.MaxBytesReader(w, r.Body, limit), limit, dst)
}

// checkJSONType refuses bodies that say they are something else (a form,
// say); a missing Content-Type is taken as JSON, for curl users.
func checkJSONType(r *http.Request) *apiError {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/merge-patch+json") {
		return problemf(http.StatusUnsupportedMediaType, codeUnsupportedMedia, "send the body as application/json, not %q", ct)
	}
	return nil
}

func decodeJSON(body io.Reader, limit int64, dst any) *apiError {
	// Read whole (within limit) so that a type error can be traced back
	// to its place, array indexes included.
	data, err := io.ReadAll(body)
	if err != nil {
		return jsonProblem(err, limit)
	}
	if int64(len(data)) > limit {
		return jsonProblem(&http.MaxBytesError{Limit: limit}, limit)
	}
	// Count values and nesting before decoding: a body of "[{},{},…]"
	// within the byte limit would otherwise decode into millions of maps.
	if err := jsonlimit.Default.Check(data); err != nil {
		return jsonProblem(err, limit)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// Numbers in extensions stay as written: cards carry integers beyond
	// 2^53, and a character read with GET must survive being PUT back.
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if p := pathAtOffset(data, typeErr.Offset, jsonPath(typeErr.Field)); p != "" {
				typeErr.Field = p
			}
		}
		return jsonProblem(err, limit)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonProblem(err, limit)
		}
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "the body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error, limit int64) *apiError {
	var (
		maxErr   *http.MaxBytesError
		shapeErr *jsonlimit.Error
		synErr   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the body is larger than %d bytes", limit)
	case errors.As(err, &shapeErr):
		return problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the body's %v", shapeErr)
	case errors.Is(err, io.EOF):
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "the body ends in the middle of a JSON value")
	case errors.As(err, &synErr):
		return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "the body is not valid JSON at byte %d: %v", synErr.Offset, synErr)
	case errors.As(err, &typeErr):
		path := jsonPath(typeErr.Field)
		e := problemf(http.StatusBadRequest, protocol.CodeBadJSON, "%s: want %s, got %s", path, typeName(typeErr), typeErr.Value)
		e.errs = []FieldError{{Path: path, Message: fmt.Sprintf("want %s, got %s", typeName(typeErr), typeErr.Value)}}
		return e
	}
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		e := problemf(http.StatusBadRequest, protocol.CodeBadJSON, "unknown field %q", m[1])
		path := m[1]
		if path == "" {
			path = `""`
		}
		e.errs = []FieldError{{Path: path, Message: "unknown field"}}
		return e
	}
	return problemf(http.StatusBadRequest, protocol.CodeBadJSON, "the body is not a valid request: %v", err)
}

// pathAtOffset finds the JSON path, with array indexes, of the value that
// encoding/json reported a type error for: the last value before offset
// whose path without indexes is want (encoding/json's Field has no
// indexes). It returns "" when it finds none.
func pathAtOffset(data []byte, offset int64, want string) string {
	type frame struct {
		array   bool
		key     string
		index   int
		wantKey bool
	}
	var stack []*frame
	paths := func() (full, bare string) {
		var f, b strings.Builder
		for _, fr := range stack {
			if fr.array {
				fmt.Fprintf(&f, "[%d]", fr.index)
				continue
			}
			if f.Len() > 0 {
				f.WriteByte('.')
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			f.WriteString(fr.key)
			b.WriteString(fr.key)
		}
		return f.String(), b.String()
	}
	found := ""
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := dec.InputOffset()
		if start >= offset {
			return found
		}
		tok, err := dec.Token()
		if err != nil {
			return found
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && !stack[len(stack)-1].array {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		if top != nil && !top.array && top.wantKey {
			top.key, _ = tok.(string)
			top.wantKey = false
			continue
		}
		if top != nil && top.array {
			top.index++
		}
		if full, bare := paths(); bare == want && full != "" {
			found = full
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{array: true, index: -1})
		default:
			if top != nil && !top.array {
				top.wantKey = true
			}
		}
	}
}

// jsonPath turns encoding/json's field path ("Character.character_book.
// entries.0.keys") into the API's ("character_book.entries[0].keys"):
// embedded Go struct names are not part of the JSON.
func jsonPath(field string) string {
	var b strings.Builder
	for _, part := range strings.Split(field, ".") {
		if part == "" || part == "Character" {
			continue
		}
		if _, err := strconv.Atoi(part); err == nil {
			b.WriteString("[" + part + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	if b.Len() == 0 {
		return "(body)"
	}
	return b.String()
}

func typeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	switch e.Type.Kind().String() {
	case "string":
		return "a string"
	case "int", "int64", "int32":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return e.Type.String()
}

// decodeCharacterBody reads a character body: it returns either a
// character with valid card fields or a problem.
func decodeCharacterBody(body io.Reader, limit int64) (*characterBody, *apiError) {
	var b characterBody
	if e := decodeJSON(body, limit, &b); e != nil {
		return nil, e
	}
	if errs := validateCharacter(&b.Character); len(errs) > 0 {
		return nil, invalidFields(errs)
	}
	return &b, nil
}

// validateCharacter checks the card fields a creator controls, naming
// every field at fault. JSON decoding has already replaced invalid UTF-8.
func validateCharacter(c *maopao.Character) []FieldError {
	var v validator
	name := strings.TrimSpace(c.Name)
	switch n := utf8.RuneCountInString(c.Name); {
	case name == "":
		v.add("name", "required: 1 to %d characters", MaxNameRunes)
	case n > MaxNameRunes:
		v.add("name", "%d characters, more than %d", n, MaxNameRunes)
	default:
		if clean, err := names.Clean(c.Name); err != nil {
			v.add("name", "%v", err)
		} else {
			c.Name = clean // trimmed, in NFC
		}
	}
	if len(c.Avatar) > 0 {
		v.add("avatar", "set the avatar with PUT /api/v1/characters/{id}/avatar (a PNG or JPEG body)")
	}
	for _, f := range []struct{ path, value string }{
		{"description", c.Description}, {"personality", c.Personality}, {"scenario", c.Scenario},
		{"first_mes", c.FirstMes}, {"mes_example", c.MesExample}, {"system_prompt", c.SystemPrompt},
		{"post_history_instructions", c.PostHistoryInstructions}, {"creator_notes", c.CreatorNotes},
	} {
		v.text(f.path, f.value, MaxTextFieldBytes)
	}
	for _, f := range []struct{ path, value string }{
		{"nickname", c.Nickname}, {"creator", c.Creator}, {"character_version", c.CharacterVersion},
	} {
		if n := utf8.RuneCountInString(f.value); n > MaxNameRunes {
			v.add(f.path, "%d characters, more than %d", n, MaxNameRunes)
		}
	}
	switch c.Visibility {
	case "", maopao.VisibilityPublic, maopao.VisibilityUnlisted, maopao.VisibilityPrivate:
	default:
		v.add("visibility", "%q: want public, unlisted or private", c.Visibility)
	}
	v.list("alternate_greetings", c.AlternateGreetings, MaxListItems, MaxTextFieldBytes)
	v.list("group_only_greetings", c.GroupOnlyGreetings, MaxListItems, MaxTextFieldBytes)
	v.list("source", c.Source, MaxListItems, 4096)
	if len(c.Tags) > MaxTags {
		v.add("tags", "%d tags, more than %d", len(c.Tags), MaxTags)
	}
	for i, t := range c.Tags {
		path := fmt.Sprintf("tags[%d]", i)
		switch n := utf8.RuneCountInString(t); {
		case strings.TrimSpace(t) == "":
			v.add(path, "empty tag")
		case n > MaxTagRunes:
			v.add(path, "%d characters, more than %d", n, MaxTagRunes)
		case strings.IndexFunc(t, unicode.IsControl) >= 0:
			v.add(path, "contains a control character")
		}
	}
	if len(c.Assets) > MaxListItems {
		v.add("assets", "%d assets, more than %d", len(c.Assets), MaxListItems)
	}
	for i, a := range c.Assets {
		for _, f := range []struct{ name, value string }{{"type", a.Type}, {"uri", a.URI}, {"name", a.Name}, {"ext", a.Ext}} {
			v.text(fmt.Sprintf("assets[%d].%s", i, f.name), f.value, 4096)
		}
	}
	if len(c.CreatorNotesMultilingual) > MaxListItems {
		v.add("creator_notes_multilingual", "%d languages, more than %d", len(c.CreatorNotesMultilingual), MaxListItems)
	}
	for lang, notes := range c.CreatorNotesMultilingual {
		v.text("creator_notes_multilingual."+lang, notes, MaxTextFieldBytes)
	}
	v.jsonSize("extensions", c.Extensions, MaxMapBytes)
	v.jsonSize("card_extra", c.CardExtra, MaxMapBytes)
	v.lorebook("character_book", c.CharacterBook)
	if len(v.errs) > 16 {
		v.errs = append(v.errs[:16], FieldError{Path: "(body)", Message: fmt.Sprintf("and %d more errors", len(v.errs)-16)})
	}
	return v.errs
}

// lorebook checks a lorebook (a card's, or a world's) against the limits.
func (v *validator) lorebook(path string, b *maopao.Lorebook) {
	if b != nil {
		v.text(path+".name", b.Name, MaxTextFieldBytes)
		v.text(path+".description", b.Description, MaxTextFieldBytes)
		v.jsonSize(path+".extensions", b.Extensions, MaxMapBytes)
		v.jsonSize(path+".extra", b.Extra, MaxMapBytes)
		if len(b.Entries) > MaxLoreEntries {
			v.add(path+".entries", "%d entries, more than %d", len(b.Entries), MaxLoreEntries)
		}
		for i, e := range b.Entries {
			p := fmt.Sprintf("%s.entries[%d]", path, i)
			v.text(p+".content", e.Content, MaxTextFieldBytes)
			v.text(p+".name", e.Name, MaxTextFieldBytes)
			v.text(p+".comment", e.Comment, MaxTextFieldBytes)
			v.list(p+".keys", e.Keys, MaxLoreKeys, 4096)
			v.list(p+".secondary_keys", e.SecondaryKeys, MaxLoreKeys, 4096)
			v.jsonSize(p+".extensions", e.Extensions, MaxMapBytes)
			v.jsonSize(p+".extra", e.Extra, MaxMapBytes)
			switch e.ID.(type) {
			case nil, string, float64, int, int64, json.Number:
			default:
				v.add(p+".id", "want a number or a string")
			}
			switch e.Position {
			case "", "before_char", "after_char":
			default:
				v.add(p+".position", "%q: want before_char or after_char", e.Position)
			}
		}
	}
}

type validator struct{ errs []FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) text(path, s string, max int) {
	if len(s) > max {
		v.add(path, "%d bytes, more than %d", len(s), max)
	}
}

func (v *validator) list(path string, items []string, maxItems, maxBytes int) {
	if len(items) > maxItems {
		v.add(path, "%d items, more than %d", len(items), maxItems)
		return
	}
	for i, s := range items {
		v.text(fmt.Sprintf("%s[%d]", path, i), s, maxBytes)
	}
}

func (v *validator) jsonSize(path string, m map[string]any, max int) {
	if len(m) == 0 {
		return
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(m); err != nil {
		v.add(path, "cannot be encoded as JSON: %v", err)
		return
	}
	if buf.Len() > max {
		v.add(path, "%d bytes as JSON, more than %d", buf.Len(), max)
	}
}
