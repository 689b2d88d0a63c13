package gateway

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/engine/speech"
	"github.com/maopao/maopao/protocol"
)

// Characters speak: with a speech server (Server.Speech, an
// OpenAI-compatible /v1/audio/speech), the page asks for each sentence of
// a reply as it streams (POST /api/v1/speech) and for a whole message
// later (GET /api/v1/messages/{id}/speech); sentences are cached, so the
// message's audio is the streamed sentences joined. Without one the page
// speaks with the browser's own voices, in the character's language.

// Speaker synthesizes speech; *speech.Client is one.
type Speaker interface {
	Synthesize(ctx context.Context, text, voice string) ([]byte, error)
}

// speechCacheBytes bounds the cached audio.
const speechCacheBytes = 64 << 20

// maxSpeechBody bounds POST /api/v1/speech.
const maxSpeechBody = 16 << 10

func (a *creatorAPI) registerSpeech(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/speech", a.handleSpeechInfo)
	a.handle(mux, "POST /api/v1/speech", a.handleSpeak)
	a.handle(mux, "GET /api/v1/messages/{id}/speech", a.handleMessageSpeech)
}

// SpeechInfo answers GET /api/v1/speech.
type SpeechInfo struct {
	// Server: replies are spoken by the speech server; otherwise the page
	// uses the browser's voices.
	Server bool   `json:"server"`
	Format string `json:"format,omitempty"`
}

func (a *creatorAPI) handleSpeechInfo(w http.ResponseWriter, r *http.Request) *apiError {
	info := SpeechInfo{Server: a.s.Speech != nil}
	if info.Server {
		info.Format = "audio/wav"
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// SpeechBody is what POST /api/v1/speech speaks: text of a reply in one
// of the player's chats, in its character's voice.
type SpeechBody struct {
	ConversationID string `json:"conversation_id"`
	Text           string `json:"text"`
}

func (a *creatorAPI) handleSpeak(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	if a.s.Speech == nil {
		return noSpeech()
	}
	var body SpeechBody
	if e := decodeJSONBody(w, r, maxSpeechBody, &body); e != nil {
		return e
	}
	text := strings.TrimSpace(body.Text)
	if text == "" || utf8.RuneCountInString(text) > speech.MaxTextRunes {
		return invalidFields([]FieldError{{Path: "text", Message: "must be 1 to " + strconv.Itoa(speech.MaxTextRunes) + " characters"}})
	}
	voice, e := a.chatVoice(r, player, body.ConversationID)
	if e != nil {
		return e
	}
	wav, e := a.speak(r.Context(), voice, text)
	if e != nil {
		return e
	}
	writeAudio(w, r, wav)
	return nil
}

// handleMessageSpeech answers with a whole stored message spoken.
func (a *creatorAPI) handleMessageSpeech(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	m, err := a.s.Store.GetMessage(r.Context(), r.PathValue("id"))
	if errors.Is(err, maopao.ErrNotFound) || errors.Is(err, maopao.ErrInvalid) {
		return problemf(http.StatusNotFound, codeNotFound, "no message %q", r.PathValue("id"))
	}
	if err != nil {
		return a.storeError("read message", err)
	}
	voice, e := a.chatVoice(r, player, m.ConversationID)
	if e != nil {
		if e.status == http.StatusNotFound {
			return problemf(http.StatusNotFound, codeNotFound, "no message %q", r.PathValue("id"))
		}
		return e
	}
	if m.Deleted || strings.TrimSpace(m.Content) == "" {
		return problemf(http.StatusNotFound, codeNotFound, "message %q has nothing to say", m.ID)
	}
	var pieces [][]byte
	for _, s := range speech.Sentences(m.Content) {
		wav, e := a.speak(r.Context(), voice, s)
		if e != nil {
			return e
		}
		pieces = append(pieces, wav)
	}
	wav, err := speech.JoinWAV(pieces)
	if err != nil {
		return problemf(http.StatusBadGateway, protocol.CodeUnavailable, "the speech server's audio: %v", err)
	}
	writeAudio(w, r, wav)
	return nil
}

// chatVoice is the voice of the character of one of the player's chats.
func (a *creatorAPI) chatVoice(r *http.Request, player, conversationID string) (string, *apiError) {
	conv, err := a.s.Store.GetConversation(r.Context(), conversationID)
	if err != nil || conv.PlayerID != player {
		if err != nil && !errors.Is(err, maopao.ErrNotFound) && !errors.Is(err, maopao.ErrInvalid) {
			return "", a.storeError("read chat", err)
		}
		return "", problemf(http.StatusNotFound, codeNotFound, "no chat %q of yours", conversationID)
	}
	c, err := a.s.Store.GetCharacter(r.Context(), conv.CharacterID)
	if err != nil {
		return "", problemf(http.StatusNotFound, codeNotFound, "the chat's character is gone")
	}
	return characters.VoiceOf(c).Name, nil
}

// speak synthesizes a sentence, or finds it cached.
func (a *creatorAPI) speak(ctx context.Context, voice, text string) ([]byte, *apiError) {
	if a.s.Speech == nil {
		return nil, noSpeech()
	}
	key := sha256.Sum256([]byte(voice + "\x00" + text))
	if wav, ok := a.speechCache.get(key); ok {
		return wav, nil
	}
	wav, err := a.s.Speech.Synthesize(ctx, text, voice)
	if err != nil {
		a.s.Log.Warn("speech", "err", err)
		return nil, problemf(http.StatusBadGateway, protocol.CodeUnavailable, "the speech server could not speak just now; try again")
	}
	a.speechCache.put(key, wav)
	return wav, nil
}

func noSpeech() *apiError {
	return problemf(http.StatusNotImplemented, codeNotImplemented, "this server has no speech backend (serve --tts-url); the page speaks with the browser's voices")
}

func writeAudio(w http.ResponseWriter, r *http.Request, wav []byte) {
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Length", strconv.Itoa(len(wav)))
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(wav)
	}
}

// audioCache keeps synthesized sentences, least recently used out first,
// within speechCacheBytes.
type audioCache struct {
	mu    sync.Mutex
	order *list.List // of *audioEntry, most recent at the front
	by    map[[32]byte]*list.Element
	bytes int
}

type audioEntry struct {
	key [32]byte
	wav []byte
}

func (c *audioCache) get(key [32]byte) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.by[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*audioEntry).wav, true
	}
	return nil, false
}

func (c *audioCache) put(key [32]byte, wav []byte) {
	if len(wav) > speechCacheBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.by == nil {
		c.by, c.order = map[[32]byte]*list.Element{}, list.New()
	}
	if _, ok := c.by[key]; ok {
		return
	}
	c.by[key] = c.order.PushFront(&audioEntry{key: key, wav: wav})
	c.bytes += len(wav)
	for c.bytes > speechCacheBytes {
		old := c.order.Back()
		e := old.Value.(*audioEntry)
		c.order.Remove(old)
		delete(c.by, e.key)
		c.bytes -= len(e.wav)
	}
}
