package protocol

import (
	"encoding/json"
	"time"
)

// NATS subjects and streams. Every subject the platform uses is built here.
const (
	// InputStream is the JetStream stream holding every accepted player
	// message until a world simulation has answered it.
	InputStream = "MAOPAO_INPUT"
	// InputSubjects is the subject filter of InputStream.
	InputSubjects = "maopao.in.>"
	// ChatWorkerConsumer is the durable consumer world simulations share.
	ChatWorkerConsumer = "worldsim-chat"
)

// ChatInputSubject is where a player's line to a conversation is published
// (into InputStream).
func ChatInputSubject(conversationID string) string { return "maopao.in.chat." + conversationID }

// ChatOutputSubject is the core NATS subject carrying reply events for a
// conversation to whichever gateways hold its players' connections.
func ChatOutputSubject(conversationID string) string { return "maopao.out.chat." + conversationID }

// ChatOutputWildcard matches every ChatOutputSubject.
const ChatOutputWildcard = "maopao.out.chat.*"

// PlayerLine is the message on ChatInputSubject: one accepted player line.
type PlayerLine struct {
	MessageID      string    `json:"message_id"`
	ConversationID string    `json:"conversation_id"`
	PlayerID       string    `json:"player_id"`
	CharacterID    string    `json:"character_id"`
	Text           string    `json:"text"`
	AcceptedAt     time.Time `json:"accepted_at"`
}

// Reply event kinds on ChatOutputSubject.
const (
	EventDelta    = "delta"
	EventComplete = "complete"
	EventError    = "error"
	EventStored   = "stored" // the player's line is now in the conversation history
)

// ReplyEvent is the message on ChatOutputSubject.
type ReplyEvent struct {
	Kind           string       `json:"kind"`
	ConversationID string       `json:"conversation_id"`
	ReplyTo        string       `json:"reply_to"`
	MessageID      string       `json:"message_id,omitempty"`
	Seq            int          `json:"seq,omitempty"`
	Text           string       `json:"text,omitempty"`
	Message        *ChatMessage `json:"message,omitempty"`
	FinishReason   string       `json:"finish_reason,omitempty"`
	Code           string       `json:"code,omitempty"`
}

// World subjects. IDs in subjects must be NATS tokens: UUIDs for worlds and
// players, and location ids made of letters, digits, '-' and '_'.
const (
	// WorldLogStream keeps every input of every world (player lines, ticks,
	// engine results) in order: a world's state is a fold of its log, so a
	// new owner rebuilds it from a snapshot plus the log after it.
	WorldLogStream   = "MAOPAO_WORLD_LOG"
	WorldLogSubjects = "maopao.world.in.>"
	// WorldLeaseBucket is the key-value bucket of world ownership leases.
	WorldLeaseBucket = "maopao_world_leases"
)

// WorldInputSubject is where a world's inputs are appended.
func WorldInputSubject(worldID string) string { return "maopao.world.in." + worldID }

// WorldRoomSubject carries the events players at a location perceive.
func WorldRoomSubject(worldID, locationID string) string {
	return "maopao.world.out." + worldID + ".room." + locationID
}

// WorldPlayerSubject carries events for one player in a world (private chats, moves).
func WorldPlayerSubject(worldID, playerID string) string {
	return "maopao.world.out." + worldID + ".player." + playerID
}

// WorldQuerySubject is served by a world's current owner: a request for
// what a player sees on joining (WorldQuery → WorldView).
func WorldQuerySubject(worldID string) string { return "maopao.world.query." + worldID }

// WorldLogEntry is one entry of a world's log. Gateways append player
// inputs (Owner and Epoch empty). The owner appends its own inputs (ticks,
// engine results) stamped with its lease revision as Epoch, and a Takeover
// entry when it takes the world: entries from an earlier owner's epoch
// that land after a takeover are ignored, so a stale owner cannot advance
// the world twice.
type WorldLogEntry struct {
	Owner    string          `json:"owner,omitempty"`
	Epoch    uint64          `json:"epoch,omitempty"`
	Takeover bool            `json:"takeover,omitempty"`
	Input    json.RawMessage `json:"input,omitempty"` // worldsim/world.EncodeInput
}

// WorldQuery asks the owner of a world what a player sees at a location.
type WorldQuery struct {
	PlayerID   string `json:"player_id"`
	LocationID string `json:"location_id"`
}

// WorldView answers WorldQuery.
type WorldView struct {
	LocationID string       `json:"location_id"`
	Present    []Actor      `json:"present"`
	Recent     []WorldEvent `json:"recent"`
	SimMinute  int64        `json:"sim_minute"`
	Error      string       `json:"error,omitempty"`
}
