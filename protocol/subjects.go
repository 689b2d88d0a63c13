package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// NATS subjects and streams. Every subject the platform uses is built here.
const (
	// InputStream is the JetStream stream holding every accepted player
	// message until a world simulation has answered it.
	InputStream = "MAOPAO_INPUT"
	// InputSubjects is the subject filter of InputStream.
	InputSubjects = "maopao.in.>"
	// ChatWorkerConsumer is the durable consumer of lines written before
	// chats were partitioned (ChatLegacyFilter), drained by any process.
	ChatWorkerConsumer = "worldsim-chat"
	// ChatLegacyFilter matches the input subjects of unpartitioned chats.
	ChatLegacyFilter = "maopao.in.chat.*"

	// ChatPartitions is how many partitions chat input is split into. Each
	// partition is owned by one world simulation at a time (a lease in
	// ChatPartitionBucket), so the lines of one conversation are answered
	// by one process, in order. Every process must agree on it.
	ChatPartitions = 32
	// ChatPartitionBucket holds the partitions' ownership leases.
	ChatPartitionBucket = "maopao_chat_partitions"
	// ChatMembersBucket holds one entry per live world simulation, so that
	// each can tell which partitions are its share.
	ChatMembersBucket = "maopao_chat_members"
)

// EnginesBucket holds one entry per inference engine that announces
// itself (`maopao engine serve --nats`): key the engine's id, value an
// EngineAnnouncement, renewed every EngineAnnounceEvery; an entry not
// renewed for EngineTTL expires, and with it the engine leaves every pool
// that follows the bucket (`--llm-url nats`).
const (
	EnginesBucket       = "maopao_engines"
	EngineTTL           = 6 * time.Second
	EngineAnnounceEvery = 2 * time.Second
)

// EngineAnnouncement is an engine's entry in EnginesBucket.
type EngineAnnouncement struct {
	ID    string `json:"id"`
	URL   string `json:"url"`   // where its OpenAI-compatible API answers
	Model string `json:"model"` // the model name it serves
	// Its load when it wrote the entry.
	Slots   int `json:"slots"`
	Active  int `json:"active"`
	Waiting int `json:"waiting"`
}

// ChatPartition is the partition a conversation's lines go to.
func ChatPartition(conversationID string) int {
	var h uint32 = 2166136261
	for i := 0; i < len(conversationID); i++ {
		h ^= uint32(conversationID[i])
		h *= 16777619
	}
	return int(h % ChatPartitions)
}

// ChatInputSubject is where a player's line to a conversation is published
// (into InputStream): maopao.in.chat.<partition>.<conversation>.
func ChatInputSubject(conversationID string) string {
	return "maopao.in.chat." + strconv.Itoa(ChatPartition(conversationID)) + "." + conversationID
}

// ChatPartitionFilter matches the input subjects of partition p.
func ChatPartitionFilter(p int) string { return "maopao.in.chat." + strconv.Itoa(p) + ".*" }

// ChatPartitionConsumer is the durable consumer of partition p; its owner
// consumes it.
func ChatPartitionConsumer(p int) string { return fmt.Sprintf("worldsim-chat-p%02d", p) }

// ChatPartitionKey names partition p in ChatPartitionBucket.
func ChatPartitionKey(p int) string { return fmt.Sprintf("p%02d", p) }

// ChatOutputSubject is the core NATS subject carrying reply events for a
// conversation to whichever gateways hold its players' connections.
func ChatOutputSubject(conversationID string) string { return "maopao.out.chat." + conversationID }

// CharactersChangedSubject (core NATS, empty payload) tells every gateway
// that a character was created, changed or deleted.
const CharactersChangedSubject = "maopao.characters.changed"

// ChatOutputWildcard matches every ChatOutputSubject.
const ChatOutputWildcard = "maopao.out.chat.*"

// ChatControlSubject carries requests that must not wait in the chat's
// input queue (stop the reply being generated) to whichever world
// simulation runs the conversation.
func ChatControlSubject(conversationID string) string { return "maopao.ctl.chat." + conversationID }

// ChatControlWildcard matches every ChatControlSubject.
const ChatControlWildcard = "maopao.ctl.chat.*"

// PlayerLine is the message on ChatInputSubject: one accepted player line,
// or (Op set) one request about the chat. Requests go through the same
// ordered input as lines, so a chat's one actor applies both in order.
type PlayerLine struct {
	MessageID      string    `json:"message_id"` // the line's ID, or the request's
	ConversationID string    `json:"conversation_id"`
	PlayerID       string    `json:"player_id"`
	CharacterID    string    `json:"character_id"`
	Text           string    `json:"text"`
	Pictures       []string  `json:"pictures,omitempty"`
	AcceptedAt     time.Time `json:"accepted_at"`
	// Op is "" for a line, else one of the Op* constants.
	Op string `json:"op,omitempty"`
	// Target is the message a request is about ("" for regenerate: the
	// last message).
	Target string `json:"target,omitempty"`
	// SwipeID is the alternative to select (0-based) for OpSwipe.
	SwipeID int `json:"swipe_id,omitempty"`
	// NewConversationID is the branch's ID for OpFork.
	NewConversationID string `json:"new_conversation_id,omitempty"`
}

// Requests about a chat (PlayerLine.Op).
const (
	OpRegenerate = "regenerate" // another reply to the last line (or the failed reply Target), kept as a swipe
	OpSwipe      = "swipe"      // select alternative SwipeID of Target; one past the last generates a new one
	OpEdit       = "edit"       // replace Target's text with Text
	OpDelete     = "delete"     // take Target out of the chat
	OpRewind     = "rewind"     // take every message after Target out of the chat
	OpFork       = "fork"       // copy the chat up to Target into NewConversationID
)

// ChatControl is the message on ChatControlSubject.
type ChatControl struct {
	Op string `json:"op"` // "stop"
}

// Reply event kinds on ChatOutputSubject.
const (
	EventDelta    = "delta"
	EventComplete = "complete"
	EventError    = "error"
	EventStored   = "stored"  // the player's line is now in the conversation history
	EventUpdated  = "updated" // Message changed (edit, swipe, deletion): clients replace it
	EventRewound  = "rewound" // every message after Message is out of the chat
	EventForked   = "forked"  // NewConversationID is a branch of the chat up to Message
	// EventRetrying: the engine is unavailable; the reply is tried again
	// in RetryInMillis (attempt Attempt). The line stays accepted.
	EventRetrying = "retrying"
	// EventNotice tells the player something about their line in words
	// (Text): the character could not see its pictures.
	EventNotice = "notice"
)

// CodeNoVision (on an EventNotice): the engine cannot see pictures, so the
// line's pictures were described to it in words.
const CodeNoVision = "no_vision"

// ReplyEvent is the message on ChatOutputSubject. ReplyTo names the line
// or request it concerns.
type ReplyEvent struct {
	Kind              string       `json:"kind"`
	ConversationID    string       `json:"conversation_id"`
	ReplyTo           string       `json:"reply_to"`
	MessageID         string       `json:"message_id,omitempty"`
	Seq               int          `json:"seq,omitempty"`
	Text              string       `json:"text,omitempty"`
	Message           *ChatMessage `json:"message,omitempty"`
	FinishReason      string       `json:"finish_reason,omitempty"`
	Code              string       `json:"code,omitempty"`
	NewConversationID string       `json:"new_conversation_id,omitempty"`
	// Request is the request (regenerate, swipe) a reply answers, when it
	// answers one rather than a new line.
	Request string `json:"request,omitempty"`
	// Attempt and RetryInMillis describe an EventRetrying.
	Attempt       int   `json:"attempt,omitempty"`
	RetryInMillis int64 `json:"retry_in_ms,omitempty"`
	// Restart marks the first EventDelta of a reply started over after an
	// engine failed in the middle of it (protocol.Delta.Restart).
	Restart bool `json:"restart,omitempty"`
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

// WorldRevisedSubject (core NATS, empty payload) says a creator stored a
// new revision of a world: its owner applies it to the running world at
// once, rather than at its next look at the store.
func WorldRevisedSubject(worldID string) string { return "maopao.world.revised." + worldID }

// WorldRevisedSubjects matches every world's WorldRevisedSubject.
const WorldRevisedSubjects = "maopao.world.revised.*"

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
	Input    json.RawMessage `json:"input,omitempty"` // a WorldInputEnvelope
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
