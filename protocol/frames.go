package protocol

import (
	"encoding/json"
	"time"

	"github.com/maopao/maopao"
)

// Frame types sent by clients.
const (
	TypeHello          = "hello"
	TypeListCharacters = "list_characters"
	TypeOpenChat       = "open_chat"
	TypeSay            = "say"
	TypePing           = "ping"
)

// Frame types sent by gateways.
const (
	TypeWelcome    = "welcome"
	TypeCharacters = "characters"
	TypeChatOpened = "chat_opened"
	TypeAck        = "ack"
	TypeDelta      = "delta"
	TypeComplete   = "complete"
	TypeRetrying   = "retrying"
	TypeNotice     = "notice"
	TypeError      = "error"
	TypePong       = "pong"
)

// Error codes carried by error frames (and HTTP problem types).
const (
	CodeBadJSON            = "bad_json"
	CodeUnknownType        = "unknown_type"
	CodeInvalid            = "invalid"
	CodeFrameTooLarge      = "frame_too_large"
	CodeUnauthenticated    = "unauthenticated"
	CodeBadToken           = "bad_token"
	CodeUnknownCharacter   = "unknown_character"
	CodeUnknownChat        = "unknown_chat"
	CodeRateLimited        = "rate_limited"
	CodeUnavailable        = "unavailable"
	CodeEngine             = "engine_error"
	CodeInternal           = "internal"
	CodeUnsupportedVersion = "unsupported_version"
)

// WebSocket close codes used by gateways (4000-4999 are application codes).
const (
	CloseFrameTooLarge = 1009 // RFC 6455 "message too big"
	CloseSlowClient    = 4008 // the client did not read fast enough; its write queue overflowed
	CloseBadAuth       = 4001
	CloseShutdown      = 1001 // going away
)

// Limits every gateway enforces.
const (
	MaxFrameBytes = 64 << 10 // a client frame larger than this closes the connection with CloseFrameTooLarge
	MaxSayRunes   = 4000     // a say frame's text longer than this is rejected with CodeInvalid
)

// Envelope is the part every frame has. Clients may set ID on a request;
// the gateway copies it into Ref on the frames that answer it.
type Envelope struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Ref  string `json:"ref,omitempty"`
}

// Head returns the envelope; every frame embeds one, so every frame has
// this method and code can read any frame's type and id alike.
func (e Envelope) Head() Envelope { return e }

// Hello authenticates a connection; it must be the first frame.
type Hello struct {
	Envelope
	Token    string `json:"token"`
	Protocol int    `json:"protocol"`
}

// Welcome answers Hello.
type Welcome struct {
	Envelope
	PlayerID string `json:"player_id"`
	Protocol int    `json:"protocol"`
	Engine   string `json:"engine"` // what produces replies, in words
	// Untrained is true when replies come from a model with random
	// weights: a client should say so, in plain words, and how to get a
	// real model.
	Untrained bool `json:"untrained,omitempty"`
	// Persona is the player's default persona.
	Persona Persona `json:"persona"`
}

// CharacterSummary is what clients see of a character in lists.
type CharacterSummary struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Scenario    string   `json:"scenario,omitempty"`
	Greeting    string   `json:"greeting"`
	Tags        []string `json:"tags"`
	// CreatorNotes are the creator's words to players (never in a prompt).
	CreatorNotes       string `json:"creator_notes,omitempty"`
	Creator            string `json:"creator,omitempty"`
	AlternateGreetings int    `json:"alternate_greetings,omitempty"`
	// Chats is how many chats players have with the character (for
	// sorting by "most chatted"; refreshed every minute or so).
	Chats int `json:"chats,omitempty"`
	// Visibility is "private" for the player's own private characters.
	Visibility string    `json:"visibility,omitempty"`
	CreatedAt  time.Time `json:"created_at,omitzero"`
	// Voice is how the character sounds: the speech server's voice, and
	// the language the page's own voices fall back to.
	Voice *Voice `json:"voice,omitempty"`
}

// Voice is a character's voice (card extensions.maopao.voice).
type Voice struct {
	Name string `json:"name,omitempty"`
	Lang string `json:"lang,omitempty"`
}

// Characters answers ListCharacters.
type Characters struct {
	Envelope
	Characters []CharacterSummary `json:"characters"`
	// Next, when set, is the cursor of the next page.
	Next string `json:"next,omitempty"`
}

// OpenChat opens one of the player's chats: ConversationID when given,
// else their most recent chat with the character (a new one if none).
type OpenChat struct {
	Envelope
	CharacterID    string `json:"character_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	// HistoryLimit bounds how many past messages come back (default 100).
	HistoryLimit int `json:"history_limit,omitempty"`
}

// ChatMessage is a stored line of a chat as clients see it.
type ChatMessage struct {
	ID      string    `json:"id"`
	Seq     int64     `json:"seq"`
	Role    string    `json:"role"` // "user", "character" or "system"
	Content string    `json:"content"`
	ReplyTo string    `json:"reply_to,omitempty"`
	At      time.Time `json:"at"`
	// Swipes are the alternatives of a character's message (Content is
	// Swipes[SwipeID]); absent when there is only one.
	Swipes  []string `json:"swipes,omitempty"`
	SwipeID int      `json:"swipe_id,omitempty"`
	Edited  bool     `json:"edited,omitempty"`
	Deleted bool     `json:"deleted,omitempty"`
	// Status is "stopped" for a reply the player stopped, "failed" for one
	// that could not be generated (Code says why; regenerate retries it).
	Status   string `json:"status,omitempty"`
	Code     string `json:"code,omitempty"`
	Greeting bool   `json:"greeting,omitempty"`
	// Pictures are the IDs of pictures shown with the line; each is at
	// PictureURL(id).
	Pictures []string `json:"pictures,omitempty"`
}

// PictureInfo answers POST /api/v1/pictures: the uploaded picture as
// stored (checked and encoded anew).
type PictureInfo struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Type   string `json:"type"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Size   int    `json:"size"`
}

// PictureURL is where a picture is served (GET, no token needed: the ID
// is unguessable).
func PictureURL(id string) string { return "/api/v1/pictures/" + id }

// ChatMessageOf is how a stored message is shown to clients.
func ChatMessageOf(m maopao.Message) ChatMessage {
	cm := ChatMessage{ID: m.ID, Seq: m.Seq, Role: string(m.Role), Content: m.Content, ReplyTo: m.ReplyTo, At: m.CreatedAt,
		SwipeID: m.SwipeID, Edited: len(m.Edits) > 0, Deleted: m.Deleted, Status: m.Status, Code: m.Code, Greeting: m.Greeting, Pictures: m.Pictures}
	for _, sw := range m.Swipes {
		cm.Swipes = append(cm.Swipes, sw.Text)
	}
	return cm
}

// ChatOpened answers OpenChat and NewChat.
type ChatOpened struct {
	Envelope
	ConversationID string           `json:"conversation_id"`
	Chat           ChatSummary      `json:"chat"`
	Character      CharacterSummary `json:"character"`
	// Persona is who the player is in this chat.
	Persona Persona       `json:"persona"`
	History []ChatMessage `json:"history"`
	// Pending lists player messages that are accepted but not answered yet;
	// their replies will stream on this connection.
	Pending []string `json:"pending,omitempty"`
}

// Say sends a player's line into an open chat.
type Say struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	Text           string `json:"text"`
	// ClientMessageID, when the client sets it, makes a resend safe: the
	// same id from the same player is the same line, stored and answered
	// once (a client that lost the ack sends the line again with it).
	ClientMessageID string `json:"client_message_id,omitempty"`
	// Pictures are pictures uploaded with POST /api/v1/pictures, shown with
	// the line (at most MaxPicturesPerLine; Text may then be empty).
	Pictures []string `json:"pictures,omitempty"`
}

// MaxPicturesPerLine bounds the pictures of one line.
const MaxPicturesPerLine = 4

// Ack tells the client its line is durably accepted; MessageID names it.
type Ack struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
}

// Delta carries the next piece of a reply being generated.
type Delta struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"` // the reply's id
	ReplyTo        string `json:"reply_to"`   // the player's message it answers
	Seq            int    `json:"seq"`        // 0, 1, 2 ... per reply
	Text           string `json:"text"`
	// Request is the regenerate or swipe request this reply answers, if any.
	Request string `json:"request,omitempty"`
	// Restart drops the reply's text shown so far: an engine failed in the
	// middle of it and another starts it over with this piece. Seq goes on
	// counting up.
	Restart bool `json:"restart,omitempty"`
}

// Complete carries the whole stored reply once generation ends.
type Complete struct {
	Envelope
	ConversationID string      `json:"conversation_id"`
	Message        ChatMessage `json:"message"`
	FinishReason   string      `json:"finish_reason"`
	// Request is the regenerate or swipe request this reply answers, if any.
	Request string `json:"request,omitempty"`
}

// Notice tells the player something about their line (ReplyTo) in words:
// Code CodeNoVision, the character could not see its pictures.
type Notice struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	ReplyTo        string `json:"reply_to"`
	Code           string `json:"code"`
	Text           string `json:"text"`
}

// Retrying says the engine is unavailable for now and the reply to
// ReplyTo will be tried again in RetryInMillis; the line stays accepted
// and nothing needs resending.
type Retrying struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	ReplyTo        string `json:"reply_to"`
	Attempt        int    `json:"attempt"`
	RetryInMillis  int64  `json:"retry_in_ms"`
	// Request is the regenerate or swipe request being retried, if any.
	Request string `json:"request,omitempty"`
}

// Error reports a problem with a request or the connection.
type Error struct {
	Envelope
	Code    string `json:"code"`
	Message string `json:"message"`
	// ConversationID and ReplyTo are set when a reply or request failed
	// after the ack. Failed is the stored failed reply, when there is
	// one: regenerate retries it.
	ConversationID string       `json:"conversation_id,omitempty"`
	ReplyTo        string       `json:"reply_to,omitempty"`
	Failed         *ChatMessage `json:"failed_message,omitempty"`
}

// NewError builds an error frame answering the request with id ref.
func NewError(ref, code, message string) Error {
	return Error{Envelope: Envelope{Type: TypeError, Ref: ref}, Code: code, Message: message}
}

// Marshal encodes a frame; frames are plain structs so this cannot fail
// except on programming errors, which it reports as an internal error frame.
func Marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(NewError("", CodeInternal, "encode frame: "+err.Error()))
	}
	return b
}
