package protocol

import (
	"encoding/json"
	"time"

	"github.com/maopao/maopao"
)

// Creator studio draft previews. A gateway has no engine of its own in a
// split deployment, so a preview is a NATS request: the gateway publishes a
// PreviewRequest on StudioPreviewSubject with a reply inbox, one world
// simulation of the StudioPreviewQueue group takes it and publishes
// PreviewEvents to the inbox (lore first, then deltas, then complete or
// error), and the gateway relays them to the browser as server-sent events.
const (
	StudioPreviewSubject = "maopao.studio.preview"
	// StudioPreviewQueue is the queue group preview services share, so
	// each request is answered by exactly one of them.
	StudioPreviewQueue = "worldsim-studio-preview"
	// MaxPreviewMessages bounds the test chat a preview may carry.
	MaxPreviewMessages = 200
	// MaxPreviewMessageRunes bounds one test-chat message; replies may be
	// longer than a player's line, so this is above MaxSayRunes.
	MaxPreviewMessageRunes = 16000
)

// StudioPreviewCancelSubject is where a gateway says that the browser
// waiting for preview id went away, so the engine can stop early.
func StudioPreviewCancelSubject(id string) string { return "maopao.studio.cancel." + id }

// PreviewMessage is one line of a test chat.
type PreviewMessage struct {
	Role    string `json:"role"` // "user" or "character"
	Content string `json:"content"`
}

// PreviewRequest is the message on StudioPreviewSubject. Its NATS reply
// subject is the inbox the events go to.
type PreviewRequest struct {
	// ID names the preview for StudioPreviewCancelSubject: a UUID.
	ID string `json:"id"`
	// Character is the draft, as the editor has it (not necessarily saved).
	Character maopao.Character `json:"character"`
	// Messages is the test chat, oldest first, ending with the user's line.
	Messages []PreviewMessage `json:"messages"`
	UserName string           `json:"user_name"`
	// Deadline is when the gateway stops waiting; the service stops then too.
	Deadline time.Time `json:"deadline"`
}

// Preview event kinds, which are also the server-sent event names the
// gateway uses for them.
const (
	PreviewLore     = "lore"
	PreviewDelta    = "delta"
	PreviewComplete = "complete"
	PreviewError    = "error"
)

// PreviewEvent is a message on a preview's reply inbox.
type PreviewEvent struct {
	Kind string `json:"kind"`
	// Seq numbers a preview's events from 0, so a gateway notices a lost one.
	Seq          int               `json:"seq"`
	Lore         *PreviewLoreData  `json:"lore,omitempty"`
	Text         string            `json:"text,omitempty"`
	FinishReason string            `json:"finish_reason,omitempty"`
	Error        *PreviewErrorData `json:"error,omitempty"`
}

// PreviewLoreData is the data of a "lore" event: which lorebook entries
// fired for the test chat, and why.
type PreviewLoreData struct {
	Entries []PreviewLoreEntry `json:"entries"`
	// Dropped fired but did not fit the book's token budget.
	Dropped []PreviewLoreEntry `json:"dropped"`
	// Warnings name entries that can never fire as written.
	Warnings []string `json:"warnings"`
}

// PreviewLoreEntry is one fired lorebook entry.
type PreviewLoreEntry struct {
	Index    int      `json:"index"` // position in character_book.entries
	Name     string   `json:"name"`
	Keys     []string `json:"keys"`
	Reason   string   `json:"reason"`   // e.g. `key "dragon" in chat[0]`, "constant"
	Position string   `json:"position"` // before_char, after_char, ...
	Depth    int      `json:"depth"`    // -1, or messages from the end of the chat
	Tokens   int      `json:"tokens"`
}

// PreviewDeltaData is the data of a "delta" event: the next piece of the reply.
type PreviewDeltaData struct {
	Text string `json:"text"`
}

// PreviewCompleteData is the data of a "complete" event: the whole reply.
type PreviewCompleteData struct {
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
}

// PreviewErrorData is the data of an "error" event; Code is one of the
// Code constants.
type PreviewErrorData struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// PreviewBody is the JSON body of POST /api/v1/studio/preview. Character
// is a maopao.Character as the creator API's GET returns it (its
// server-owned fields are ignored); it stays raw here so the gateway can
// check it with the creator API's rules and name the fields at fault.
type PreviewBody struct {
	Character json.RawMessage  `json:"character"`
	Messages  []PreviewMessage `json:"messages"`
	UserName  string           `json:"user_name"`
}
