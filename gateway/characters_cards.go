package gateway

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/card"
	"github.com/maopao/maopao/protocol"
)

// MaxImportBytes bounds an uploaded card file (PNG, JSON or CHARX).
const MaxImportBytes = card.MaxCardBytes

// ImportResponse answers POST /api/v1/characters/import.
type ImportResponse struct {
	ID        string        `json:"id"`
	Character CharacterView `json:"character"`
	Format    card.Format   `json:"format"`
	Spec      card.Spec     `json:"spec"`
	// Warnings say what the card had that was accepted but not kept as is.
	Warnings []string `json:"warnings"`
}

// handleImport answers POST /api/v1/characters/import: a multipart form
// whose "file" field is a Character Card (PNG, JSON or CHARX) and whose
// optional "visibility" field sets who sees the new character (default
// private).
func (a *creatorAPI) handleImport(w http.ResponseWriter, r *http.Request) *apiError {
	acc, e := a.s.creator(r)
	if e != nil {
		return e
	}
	// The form's other fields and boundaries get a little room beyond the
	// file itself.
	r.Body = http.MaxBytesReader(w, r.Body, MaxImportBytes+64<<10)
	data, visibility, e := readImportForm(r)
	if e != nil {
		return e
	}
	imp, err := card.Decode(data)
	if err != nil {
		return cardProblem(err)
	}
	c := imp.Character
	warnings := append([]string{}, imp.Warnings...)
	if len(imp.Avatar) > 0 {
		if len(imp.Avatar) > MaxAvatarBytes {
			warnings = append(warnings, fmt.Sprintf("the card's picture is %d bytes, more than %d: no avatar", len(imp.Avatar), MaxAvatarBytes))
		} else if avatar, ct, e := prepareAvatar(imp.Avatar); e != nil {
			warnings = append(warnings, fmt.Sprintf("no avatar: %s", e.detail))
		} else {
			c.Avatar, c.AvatarType = avatar, ct
		}
	}
	c.Assets, warnings = keptAssets(c.Assets, len(c.Avatar) > 0, warnings)
	c.Tags, warnings = cleanTags(c.Tags, warnings)
	avatar, avatarType := c.Avatar, c.AvatarType
	c.Avatar = nil // validateCharacter refuses avatars in bodies
	if errs := validateCharacter(&c); len(errs) > 0 {
		for i := range errs {
			errs[i].Path = "data." + errs[i].Path
		}
		return invalidFields(errs)
	}
	c.Avatar, c.AvatarType = avatar, avatarType
	c.Visibility = visibility
	stored, e := a.createCharacter(r, acc, c)
	if e != nil {
		return e
	}
	w.Header().Set("Location", "/api/v1/characters/"+stored.ID)
	writeJSON(w, http.StatusCreated, ImportResponse{
		ID: stored.ID, Character: view(stored), Format: imp.Format, Spec: imp.Spec, Warnings: warnings,
	})
	return nil
}

func readImportForm(r *http.Request) (data []byte, vis maopao.Visibility, _ *apiError) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", problemf(http.StatusUnsupportedMediaType, codeUnsupportedMedia,
			"send multipart/form-data with the card in a field named \"file\" (%v)", err)
	}
	var maxErr *http.MaxBytesError
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.As(err, &maxErr) {
			return nil, "", problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the upload is larger than %d bytes", MaxImportBytes)
		}
		if err != nil {
			return nil, "", problemf(http.StatusBadRequest, protocol.CodeInvalid, "the multipart form is malformed: %v", err)
		}
		switch part.FormName() {
		case "file":
			data, err = io.ReadAll(io.LimitReader(part, MaxImportBytes+1))
			if errors.As(err, &maxErr) || len(data) > MaxImportBytes {
				return nil, "", problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the card file is larger than %d bytes", MaxImportBytes)
			}
			if err != nil {
				return nil, "", problemf(http.StatusBadRequest, protocol.CodeInvalid, "read the card file: %v", err)
			}
		case "visibility":
			b, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil {
				return nil, "", problemf(http.StatusBadRequest, protocol.CodeInvalid, "read the visibility field: %v", err)
			}
			vis = maopao.Visibility(strings.TrimSpace(string(b)))
		}
		_ = part.Close()
	}
	var errs []FieldError
	if len(data) == 0 {
		errs = append(errs, FieldError{Path: "file", Message: "required: the card file (PNG, JSON or CHARX)"})
	}
	switch vis {
	case "":
		vis = maopao.VisibilityPrivate
	case maopao.VisibilityPublic, maopao.VisibilityUnlisted, maopao.VisibilityPrivate:
	default:
		errs = append(errs, FieldError{Path: "visibility", Message: fmt.Sprintf("%q: want public, unlisted or private", vis)})
	}
	if len(errs) > 0 {
		return nil, "", invalidFields(errs)
	}
	return data, vis, nil
}

// cardProblem turns a card decoding failure into a 422 naming where in the
// file it was.
func cardProblem(err error) *apiError {
	var ce *card.Error
	if errors.As(err, &ce) {
		return invalidFields([]FieldError{{Path: ce.Path, Message: ce.Msg}})
	}
	if errors.Is(err, maopao.ErrInvalid) {
		return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "not a usable Character Card: %v", err)
	}
	return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "not a Character Card (PNG, JSON or CHARX): %v", err)
}

// keptAssets drops embedded assets: the store keeps no archive files, and
// the main icon's file is the avatar, which every CHARX export writes back
// as the main icon asset. So what is stored exports, and re-imports, the
// same in every format.
func keptAssets(assets []maopao.Asset, haveAvatar bool, warnings []string) ([]maopao.Asset, []string) {
	var out []maopao.Asset
	for _, as := range assets {
		if !strings.HasPrefix(as.URI, "embeded://") && !strings.HasPrefix(as.URI, "embedded://") {
			out = append(out, as)
			continue
		}
		if !(haveAvatar && as.Type == "icon" && as.Name == "main") {
			warnings = append(warnings, fmt.Sprintf("asset %q (%s) dropped: archive files other than the main icon are not kept", as.Name, as.URI))
		}
	}
	return out, warnings
}

// cleanTags trims tags and drops empty and repeated ones, which cards in
// the wild have and the API refuses.
func cleanTags(tags []string, warnings []string) ([]string, []string) {
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	dropped := 0
	for _, t := range tags {
		t = strings.TrimSpace(t)
		key := strings.ToLower(t)
		if t == "" || seen[key] {
			dropped++
			continue
		}
		seen[key] = true
		out = append(out, t)
	}
	if dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d empty or repeated tags dropped", dropped))
	}
	return out, warnings
}

// handleExport answers GET /api/v1/characters/{id}/export?format=png|json|charx
// (json takes spec=v2|v3, default v3) with the card as a download.
func (a *creatorAPI) handleExport(w http.ResponseWriter, r *http.Request) *apiError {
	viewer, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	c, e := a.loadVisible(r, viewer)
	if e != nil {
		return e
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = string(card.FormatJSON)
	}
	var (
		ct, ext string
		encode  func() ([]byte, error)
	)
	switch card.Format(format) {
	case card.FormatJSON:
		spec := card.SpecV3
		switch q.Get("spec") {
		case "", "v3", string(card.SpecV3):
		case "v2", string(card.SpecV2):
			spec = card.SpecV2
		default:
			e := invalidFields([]FieldError{{Path: "spec", Message: fmt.Sprintf("%q: want v2 or v3", q.Get("spec"))}})
			e.status = http.StatusBadRequest
			return e
		}
		format += "/" + string(spec)
		encode = func() ([]byte, error) { return card.EncodeJSON(c, spec) }
		ct, ext = "application/json", ".json"
	case card.FormatPNG:
		encode = func() ([]byte, error) { return card.EncodePNG(c, c.Avatar) }
		ct, ext = "image/png", ".png"
	case card.FormatCHARX:
		encode = func() ([]byte, error) {
			c.Assets, _ = keptAssets(c.Assets, len(c.Avatar) > 0, nil)
			return card.EncodeCHARX(c, nil, c.Avatar)
		}
		ct, ext = "application/zip", ".charx"
	default:
		e := invalidFields([]FieldError{{Path: "format", Message: fmt.Sprintf("%q: want png, json or charx", format)}})
		e.status = http.StatusBadRequest
		return e
	}
	data, err := a.exports.get(fmt.Sprintf("%s/%d/%s", c.ID, c.Revision, format), encode)
	if err != nil {
		a.s.Log.Error("creator API: export", "character", c.ID, "format", format, "err", err)
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "could not write %q as %s: %v", c.Name, format, err)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fileName(c.Name) + ext}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// fileName makes a character's name safe as a download's file name.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_', r == ' ', r == '.':
			return r
		}
		return '_'
	}, name)
	s = strings.Trim(s, " .")
	if len(s) > 100 {
		s = s[:100]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	if s == "" {
		return "character"
	}
	return s
}
