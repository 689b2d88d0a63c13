package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/internal/names"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Code   string `json:"code,omitempty"`
}

// writeProblem answers with an RFC 9457 problem; it is writeAPIError's
// short form, so every problem has one shape.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	writeAPIError(w, &apiError{status: status, code: code, detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	// Browsers must never guess another type for an answer that carries
	// text players wrote.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeToken answers with a token: no cache along the way may keep it.
func writeToken(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, v)
}

// SessionRequest is the optional body of POST /api/v1/session.
type SessionRequest struct {
	Name string `json:"name"`
}

// SessionResponse answers POST /api/v1/session.
type SessionResponse struct {
	Token     string    `json:"token"`
	PlayerID  string    `json:"player_id"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expires_at"`
}

const maxPlayerNameRunes = 40

// handleSession creates a guest player and returns its token.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if wait, ok := s.sessions.allow(clientIP(r)); !ok {
		writeAPIError(w, retryAfter(wait, "new sessions"))
		return
	}
	var req SessionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, protocol.CodeBadJSON, "read body: "+err.Error())
		return
	}
	if len(body) > 4096 {
		writeProblem(w, http.StatusRequestEntityTooLarge, protocol.CodeInvalid, "body larger than 4096 bytes")
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeProblem(w, http.StatusBadRequest, protocol.CodeBadJSON, "body is not a JSON object: "+err.Error())
			return
		}
	}
	name := strings.TrimSpace(req.Name)
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxPlayerNameRunes {
		writeProblem(w, http.StatusUnprocessableEntity, protocol.CodeInvalid, "name: at most 40 characters of valid UTF-8")
		return
	}
	if name == "" {
		name = "Traveler"
	}
	name, msg := s.playerName(r.Context(), name)
	if msg != "" {
		writeProblem(w, http.StatusUnprocessableEntity, protocol.CodeInvalid, "name: "+msg)
		return
	}
	p := maopao.Player{ID: uuid.NewString(), Name: name, CreatedAt: time.Now().UTC()}
	if err := s.Store.PutPlayer(r.Context(), p); err != nil {
		s.Log.Error("create player", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "could not create the player; try again")
		return
	}
	tok, exp, err := s.tokens.Issue(p.ID)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, protocol.CodeInternal, "sign token")
		return
	}
	writeToken(w, http.StatusOK, SessionResponse{Token: tok, PlayerID: p.ID, Name: p.Name, ExpiresAt: exp})
}

// CharacterList answers GET /api/v1/characters.
type CharacterList struct {
	Characters []protocol.CharacterSummary `json:"characters"`
	// Next is the offset of the next page, when there is one.
	Next *int `json:"next,omitempty"`
}

// List texts are clipped: a list shows what a card looks like, and ten
// characters with book-length descriptions made every page load megabytes.
// GET /api/v1/characters/{id} and open_chat give the whole texts.
const (
	listTextRunes  = 400
	listNotesRunes = 1000
)

// listSummary is a character as lists show it.
func listSummary(c maopao.Character) protocol.CharacterSummary {
	s := summary(c, "")
	s.Description, s.Scenario, s.Greeting = clipRunes(s.Description, listTextRunes), clipRunes(s.Scenario, listTextRunes), clipRunes(s.Greeting, listTextRunes)
	s.CreatorNotes = clipRunes(s.CreatorNotes, listNotesRunes)
	if len(s.Tags) > 20 {
		s.Tags = s.Tags[:20]
	}
	return s
}

func summary(c maopao.Character, userName string) protocol.CharacterSummary {
	if userName == "" {
		userName = "you"
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	vis := ""
	if c.Visibility == maopao.VisibilityPrivate {
		vis = string(c.Visibility)
	}
	voice := characters.VoiceOf(c)
	return protocol.CharacterSummary{
		Voice: &protocol.Voice{Name: voice.Name, Lang: voice.Lang},
		ID:    c.ID, Name: c.Name, Description: characters.ExpandMacros(c.Description, c.Name, userName),
		Scenario: characters.ExpandMacros(c.Scenario, c.Name, userName),
		Greeting: characters.Greeting(c, userName), Tags: tags,
		CreatorNotes: c.CreatorNotes, Creator: c.Creator, AlternateGreetings: len(c.AlternateGreetings), Visibility: vis, CreatedAt: c.CreatedAt,
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if err := s.Store.Ping(r.Context()); err != nil {
		problems = append(problems, "store: "+err.Error())
	}
	if !s.Bus.Connected() {
		problems = append(problems, "nats: not connected")
	}
	if s.Health != nil {
		if err := s.Health(r.Context()); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "problems": problems})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

// playerName checks a name a player gives themselves: a clean name (see
// package names), and not a character's, so nobody speaks as a character
// in a world. It returns the name to keep, or why not.
func (s *Server) playerName(ctx context.Context, name string) (string, string) {
	clean, err := names.Clean(name)
	if err != nil {
		return "", err.Error()
	}
	// Search by the name's longest word: "Lin\u200bXiaoyu" must find
	// "Lin Xiaoyu".
	word := ""
	for _, w := range strings.FieldsFunc(clean, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }) {
		if len(w) > len(word) {
			word = w
		}
	}
	found, err := s.Store.SearchCharacters(ctx, storage.CharacterQuery{Text: word, IncludeUnlisted: true, Limit: 200})
	if err == nil {
		for _, c := range found {
			if names.Same(c.Name, clean) {
				return "", fmt.Sprintf("%q is a character's name; pick another", clean)
			}
		}
	}
	return clean, ""
}
