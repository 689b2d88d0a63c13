package chatclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/maopao/maopao/protocol"
)

// maxHTTPBody bounds what NewSession and Characters read from the server, so a
// misbehaving server cannot make the client buffer without limit.
const maxHTTPBody = 1 << 20

// HTTPError is returned when the server answers an HTTP request with a status
// other than 200. Code and Message come from a JSON problem body when the
// server sent one.
type HTTPError struct {
	Method, URL string
	Status      int
	Code        string
	Message     string
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.URL, e.Status, msg)
}

// sessionReply is the body of POST /api/v1/session.
type sessionReply struct {
	Token     string    `json:"token"`
	PlayerID  string    `json:"player_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// NewSession asks the server at baseURL for a guest player identity. name may
// be empty. The token is the player's identity from then on: keep it to
// continue the same conversations later.
func NewSession(ctx context.Context, baseURL, name string) (token, playerID string, err error) {
	u, err := apiURL(baseURL, "/api/v1/session")
	if err != nil {
		return "", "", err
	}
	body := []byte("{}")
	if name != "" {
		body, _ = json.Marshal(struct {
			Name string `json:"name"`
		}{name})
	}
	var rep sessionReply
	if err := doJSON(ctx, http.MethodPost, u, body, &rep); err != nil {
		return "", "", err
	}
	if rep.Token == "" || rep.PlayerID == "" {
		return "", "", fmt.Errorf("POST %s: reply lacks token or player_id", u)
	}
	return rep.Token, rep.PlayerID, nil
}

// Characters lists the characters through GET /api/v1/characters, for callers
// that want the list without opening a WebSocket.
func Characters(ctx context.Context, baseURL string) ([]protocol.CharacterSummary, error) {
	u, err := apiURL(baseURL, "/api/v1/characters")
	if err != nil {
		return nil, err
	}
	var rep struct {
		Characters []protocol.CharacterSummary `json:"characters"`
	}
	if err := doJSON(ctx, http.MethodGet, u, nil, &rep); err != nil {
		return nil, err
	}
	return rep.Characters, nil
}

// UploadPicture sends a picture (PNG, JPEG or WebP) for the player whose
// token is given; its ID then goes into SayLine's Pictures.
func UploadPicture(ctx context.Context, baseURL, token string, data []byte) (protocol.PictureInfo, error) {
	u, err := apiURL(baseURL, "/api/v1/pictures")
	if err != nil {
		return protocol.PictureInfo{}, err
	}
	var out protocol.PictureInfo
	err = doRequest(ctx, http.MethodPost, u, token, "application/octet-stream", data, &out)
	return out, err
}

// MessageSpeech fetches a stored message spoken by the server's speech
// backend (WAV). A server without one answers an *HTTPError with Status
// 501.
func MessageSpeech(ctx context.Context, baseURL, token, messageID string) ([]byte, error) {
	u, err := apiURL(baseURL, "/api/v1/messages/"+url.PathEscape(messageID)+"/speech")
	if err != nil {
		return nil, err
	}
	return doRaw(ctx, http.MethodGet, u, token, "", nil, 64<<20)
}

func doJSON(ctx context.Context, method, u string, body []byte, out any) error {
	return doRequest(ctx, method, u, "", "application/json", body, out)
}

// doRequest sends body (if any) and decodes a 2xx JSON answer into out.
func doRequest(ctx context.Context, method, u, token, contentType string, body []byte, out any) error {
	data, err := doRaw(ctx, method, u, token, contentType, body, maxHTTPBody)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", method, u, err)
	}
	return nil
}

// doRaw sends body (if any) and returns a 2xx answer's bytes (at most
// limit), or the server's problem as an *HTTPError.
func doRaw(ctx context.Context, method, u, token, contentType string, body []byte, limit int64) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read reply: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{Method: method, URL: u, Status: resp.StatusCode}
		// Servers answer with problem JSON ({"code","message"} or RFC 9457
		// {"type","title","detail"}); anything else is shown as plain text.
		var prob struct {
			Code, Message, Type, Title, Detail, Error string
		}
		if json.Unmarshal(data, &prob) == nil {
			he.Code = firstNonEmpty(prob.Code, prob.Type)
			he.Message = firstNonEmpty(prob.Message, prob.Detail, prob.Title, prob.Error)
		} else {
			he.Message = strings.TrimSpace(string(truncate(data, 200)))
		}
		return nil, he
	}
	return data, nil
}

// apiURL joins an API path onto baseURL, keeping any path prefix the server is
// mounted under.
func apiURL(baseURL, path string) (string, error) {
	u, err := parseBase(baseURL)
	if err != nil {
		return "", err
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// parseBase checks that baseURL is an absolute http(s) URL.
func parseBase(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q: no host", baseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// errClosed is returned by calls made after Close.
var errClosed = errors.New("chatclient: connection closed")

// ExportChat downloads one of the player's chats as a SillyTavern JSONL file.
func ExportChat(ctx context.Context, baseURL, token, conversationID string) ([]byte, error) {
	u, err := apiURL(baseURL, "/api/v1/chats/"+url.PathEscape(conversationID)+"/export")
	if err != nil {
		return nil, err
	}
	return doAuthed(ctx, http.MethodGet, u, token, "", nil)
}

// ImportedChat is what ImportChat created.
type ImportedChat struct {
	ConversationID string `json:"conversation_id"`
	CharacterID    string `json:"character_id"`
	Messages       int    `json:"messages"`
}

// ImportChat stores a SillyTavern JSONL chat as a new chat of the player
// with the character.
func ImportChat(ctx context.Context, baseURL, token, characterID string, jsonl []byte) (ImportedChat, error) {
	u, err := apiURL(baseURL, "/api/v1/chats/import")
	if err != nil {
		return ImportedChat{}, err
	}
	u += "?character=" + url.QueryEscape(characterID)
	data, err := doAuthed(ctx, http.MethodPost, u, token, "application/jsonl", jsonl)
	if err != nil {
		return ImportedChat{}, err
	}
	var out ImportedChat
	if err := json.Unmarshal(data, &out); err != nil {
		return ImportedChat{}, fmt.Errorf("POST %s: decode reply: %w", u, err)
	}
	return out, nil
}

// doAuthed sends a request with the player's token and returns the body
// of a 2xx answer; other answers become an *HTTPError.
func doAuthed(ctx context.Context, method, u, token, contentType string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read reply: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{Method: method, URL: u, Status: resp.StatusCode}
		var prob struct{ Code, Detail, Title string }
		if json.Unmarshal(data, &prob) == nil {
			he.Code, he.Message = prob.Code, firstNonEmpty(prob.Detail, prob.Title)
		} else {
			he.Message = strings.TrimSpace(string(truncate(data, 200)))
		}
		return nil, he
	}
	return data, nil
}
