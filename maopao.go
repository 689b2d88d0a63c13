// Package maopao holds the domain types shared by every part of the platform:
// characters, players, conversations, messages and memories. It depends on
// nothing but the standard library, so storage adapters, the simulation, the
// gateway and the clients can all speak about the same things without pulling
// in each other's dependencies.
package maopao

import (
	"errors"
	"time"
)

// Visibility says who may see a character or a world.
type Visibility string

const (
	VisibilityPublic   Visibility = "public"
	VisibilityUnlisted Visibility = "unlisted"
	VisibilityPrivate  Visibility = "private"
)

// Character is an AI character. Field names follow the Character Card V2
// spec so that cards import and export without renaming.
type Character struct {
	ID                      string         `json:"id" bson:"_id"`
	Name                    string         `json:"name" bson:"name"`
	Description             string         `json:"description" bson:"description"`
	Personality             string         `json:"personality" bson:"personality"`
	Scenario                string         `json:"scenario" bson:"scenario"`
	FirstMes                string         `json:"first_mes" bson:"first_mes"`
	MesExample              string         `json:"mes_example" bson:"mes_example"`
	SystemPrompt            string         `json:"system_prompt" bson:"system_prompt"`
	PostHistoryInstructions string         `json:"post_history_instructions" bson:"post_history_instructions"`
	CreatorNotes            string         `json:"creator_notes" bson:"creator_notes"`
	AlternateGreetings      []string       `json:"alternate_greetings" bson:"alternate_greetings"`
	Tags                    []string       `json:"tags" bson:"tags"`
	Creator                 string         `json:"creator" bson:"creator"`
	CharacterVersion        string         `json:"character_version" bson:"character_version"`
	Extensions              map[string]any `json:"extensions,omitzero" bson:"extensions"`

	CharacterBook *Lorebook `json:"character_book,omitempty" bson:"character_book,omitempty"`

	// Character Card V3 additions.
	Assets                   []Asset           `json:"assets,omitzero" bson:"assets"`
	Nickname                 string            `json:"nickname,omitempty" bson:"nickname,omitempty"`
	CreatorNotesMultilingual map[string]string `json:"creator_notes_multilingual,omitzero" bson:"creator_notes_multilingual"`
	Source                   []string          `json:"source,omitzero" bson:"source"`
	GroupOnlyGreetings       []string          `json:"group_only_greetings,omitzero" bson:"group_only_greetings"`
	CreationDate             int64             `json:"creation_date,omitempty" bson:"creation_date,omitempty"`         // Unix seconds, as the card had it
	ModificationDate         int64             `json:"modification_date,omitempty" bson:"modification_date,omitempty"` // Unix seconds

	// CardExtra keeps fields of an imported card's data object that no
	// spec version names, so export gives them back unchanged.
	CardExtra map[string]any `json:"card_extra,omitzero" bson:"card_extra"`

	// Maopao's own fields.
	OwnerID    string     `json:"owner_id,omitempty" bson:"owner_id,omitempty"`
	Visibility Visibility `json:"visibility" bson:"visibility"`
	BuiltIn    bool       `json:"built_in,omitempty" bson:"built_in,omitempty"`
	// Avatar is the character's picture: a PNG or JPEG, at most 2 MiB.
	Avatar     []byte `json:"avatar,omitempty" bson:"avatar,omitempty"`
	AvatarType string `json:"avatar_type,omitempty" bson:"avatar_type,omitempty"` // MIME type of Avatar
	// AvatarSize is len(Avatar), kept by the store and reported also where
	// reads leave the bytes out (lists, searches), so a quota on an
	// account's pictures needs no picture read. Writers need not set it.
	AvatarSize int       `json:"avatar_size,omitempty" bson:"avatar_size,omitempty"`
	Revision   int       `json:"revision" bson:"revision"` // 1 on create, +1 on every update
	CreatedAt  time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt  time.Time `json:"updated_at" bson:"updated_at"`
}

// Lorebook is a character book (Card V2 character_book, or a standalone
// lorebook_v3): entries whose content enters the prompt when their keys
// appear in the conversation.
type Lorebook struct {
	Name              string         `json:"name,omitempty" bson:"name,omitempty"`
	Description       string         `json:"description,omitempty" bson:"description,omitempty"`
	ScanDepth         *int           `json:"scan_depth,omitempty" bson:"scan_depth,omitempty"`
	TokenBudget       *int           `json:"token_budget,omitempty" bson:"token_budget,omitempty"`
	RecursiveScanning *bool          `json:"recursive_scanning,omitempty" bson:"recursive_scanning,omitempty"`
	Extensions        map[string]any `json:"extensions" bson:"extensions"`
	Entries           []LoreEntry    `json:"entries" bson:"entries"`
	// Extra keeps fields no spec names, for lossless export.
	Extra map[string]any `json:"extra,omitzero" bson:"extra"`
}

// LoreEntry is one lorebook entry, with the Card V2/V3 field names.
type LoreEntry struct {
	Keys           []string       `json:"keys" bson:"keys"`
	Content        string         `json:"content" bson:"content"`
	Extensions     map[string]any `json:"extensions" bson:"extensions"`
	Enabled        bool           `json:"enabled" bson:"enabled"`
	InsertionOrder int            `json:"insertion_order" bson:"insertion_order"`
	CaseSensitive  *bool          `json:"case_sensitive,omitempty" bson:"case_sensitive,omitempty"`
	UseRegex       *bool          `json:"use_regex,omitempty" bson:"use_regex,omitempty"`
	Name           string         `json:"name,omitempty" bson:"name,omitempty"`
	Priority       *int           `json:"priority,omitempty" bson:"priority,omitempty"`
	// ID is a number or a string in the cards seen in the wild.
	ID            any      `json:"id,omitempty" bson:"id,omitempty"`
	Comment       string   `json:"comment,omitempty" bson:"comment,omitempty"`
	Selective     *bool    `json:"selective,omitempty" bson:"selective,omitempty"`
	SecondaryKeys []string `json:"secondary_keys,omitzero" bson:"secondary_keys"`
	Constant      *bool    `json:"constant,omitempty" bson:"constant,omitempty"`
	Position      string   `json:"position,omitempty" bson:"position,omitempty"` // "before_char" or "after_char"
	// Extra keeps fields no spec names, for lossless export.
	Extra map[string]any `json:"extra,omitzero" bson:"extra"`
}

// Asset is a Card V3 asset reference.
type Asset struct {
	Type string `json:"type" bson:"type"`
	URI  string `json:"uri" bson:"uri"`
	Name string `json:"name" bson:"name"`
	Ext  string `json:"ext" bson:"ext"`
}

// Account is a player who registered with a user name and password, which
// creators need to own characters.
type Account struct {
	PlayerID     string    `json:"player_id" bson:"_id"`
	Username     string    `json:"username" bson:"username"` // unique, compared case-insensitively
	PasswordHash string    `json:"-" bson:"password_hash"`   // argon2id or bcrypt, in its standard encoded form
	CreatedAt    time.Time `json:"created_at" bson:"created_at"`
	// TokenVersion is carried by the account's tokens; raising it
	// (storage.Accounts.RevokeTokens) invalidates every token issued before.
	TokenVersion int `json:"token_version,omitempty" bson:"token_version"`
}

// Player is a person using a client. Guests get a player record too, so their
// history survives reconnects as long as they keep their token.
type Player struct {
	ID        string    `json:"id" bson:"_id"`
	Name      string    `json:"name" bson:"name"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	// Description is who the player says they are (SillyTavern's persona
	// description); it goes into prompts after the character's definition.
	Description string `json:"description,omitempty" bson:"description,omitempty"`
}

// Persona is who a player is in a chat: the name {{user}} stands for and
// a description characters are told.
type Persona struct {
	Name        string `json:"name" bson:"name"`
	Description string `json:"description,omitempty" bson:"description,omitempty"`
}

// Conversation is one chat between a player and a character. A player may
// have many chats with one character; the one updated last is the one a
// player continues by default.
type Conversation struct {
	ID          string    `json:"id" bson:"_id"`
	PlayerID    string    `json:"player_id" bson:"player_id"`
	CharacterID string    `json:"character_id" bson:"character_id"`
	CreatedAt   time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt   time.Time `json:"updated_at" bson:"updated_at"`
	// Title is the player's name for the chat ("" until they give one).
	Title string `json:"title,omitempty" bson:"title,omitempty"`
	// Persona, when set, is who the player is in this chat instead of
	// their default persona.
	Persona *Persona `json:"persona,omitempty" bson:"persona,omitempty"`
	// ForkOf names the chat and message this one was branched from.
	ForkOf *ForkPoint `json:"fork_of,omitempty" bson:"fork_of,omitempty"`
}

// ForkPoint is where a branch left its parent chat.
type ForkPoint struct {
	ConversationID string `json:"conversation_id" bson:"conversation_id"`
	MessageID      string `json:"message_id" bson:"message_id"`
}

// Role says who wrote a message.
type Role string

const (
	RoleUser      Role = "user"
	RoleCharacter Role = "character"
	RoleSystem    Role = "system"
)

// Message is one line of a conversation. IDs are assigned by whoever first
// accepts the message (the gateway for a player's line, the world simulation
// for a reply), so writing the same message twice is a no-op, which is what
// makes replays after a crash safe.
type Message struct {
	ID             string    `json:"id" bson:"_id"`
	ConversationID string    `json:"conversation_id" bson:"conversation_id"`
	Seq            int64     `json:"seq" bson:"seq"` // assigned by the store, 1-based, dense per conversation
	Role           Role      `json:"role" bson:"role"`
	Content        string    `json:"content" bson:"content"` // the text the chat continues from (the chosen swipe)
	ReplyTo        string    `json:"reply_to,omitempty" bson:"reply_to,omitempty"`
	CreatedAt      time.Time `json:"created_at" bson:"created_at"`
	// Pictures are the IDs of the pictures the player showed with the line.
	Pictures []string `json:"pictures,omitempty" bson:"pictures,omitempty"`

	// Swipes are the alternatives of a character's message (replies that
	// were regenerated, a greeting's alternate greetings); Content is
	// Swipes[SwipeID].Text. Empty when there was only ever one text.
	Swipes  []Swipe `json:"swipes,omitempty" bson:"swipes,omitempty"`
	SwipeID int     `json:"swipe_id,omitempty" bson:"swipe_id,omitempty"`
	// Edits keeps every earlier text of an edited message, oldest first.
	Edits []Edit `json:"edits,omitempty" bson:"edits,omitempty"`
	// Deleted messages stay stored (Seq stays dense) but are out of the
	// chat: not shown, not in any prompt.
	Deleted bool `json:"deleted,omitempty" bson:"deleted,omitempty"`
	// Status is "" for a finished reply, StatusStopped for one the player
	// stopped, StatusFailed for one the engine could not give (Content is
	// then empty and Code says why; the player can retry).
	Status string `json:"status,omitempty" bson:"status,omitempty"`
	Code   string `json:"code,omitempty" bson:"code,omitempty"`
	// Greeting marks the character's first message of a chat.
	Greeting bool `json:"greeting,omitempty" bson:"greeting,omitempty"`
}

// Message statuses.
const (
	StatusStopped = "stopped"
	StatusFailed  = "failed"
)

// Swipe is one alternative text of a message. Op names the request that
// made it, so a request handled twice (after a crash) adds it once.
type Swipe struct {
	Text      string    `json:"text" bson:"text"`
	Op        string    `json:"op,omitempty" bson:"op,omitempty"`
	Status    string    `json:"status,omitempty" bson:"status,omitempty"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
}

// Edit is a message's text before an edit.
type Edit struct {
	Text     string    `json:"text" bson:"text"`
	EditedAt time.Time `json:"edited_at" bson:"edited_at"`
}

// InChat reports whether m is part of the chat a player sees and a
// prompt is built from: not deleted, and not a failed reply.
func (m Message) InChat() bool { return !m.Deleted && m.Status != StatusFailed }

// Memory is what a character remembers about one player beyond the recent
// messages that still fit in a prompt: a running summary and a list of facts.
type Memory struct {
	PlayerID    string   `json:"player_id" bson:"player_id"`
	CharacterID string   `json:"character_id" bson:"character_id"`
	Summary     string   `json:"summary" bson:"summary"`
	Facts       []string `json:"facts" bson:"facts"`
	// SummarizedThrough is the Seq of the last message folded into Summary.
	SummarizedThrough int64     `json:"summarized_through" bson:"summarized_through"`
	UpdatedAt         time.Time `json:"updated_at" bson:"updated_at"`
}

// Picture is a picture a player attached to a chat line. Its bytes are
// stored beside it, checked and encoded anew without metadata
// (internal/picture); its ID is random, and knowing it is what lets one
// fetch it.
type Picture struct {
	ID        string    `json:"id" bson:"_id"`
	OwnerID   string    `json:"owner_id" bson:"owner_id"`
	Type      string    `json:"type" bson:"type"` // "image/png" or "image/jpeg"
	Width     int       `json:"width" bson:"width"`
	Height    int       `json:"height" bson:"height"`
	Size      int       `json:"size" bson:"size"` // bytes
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
}

// ChatMemory is one thing a character remembers about a player from their
// one-to-one chats: a fact the player told, a note the player wrote, or a
// memory the player pinned. It belongs to the (player, character) pair,
// whatever chat it came from, and never reaches another player's prompts.
type ChatMemory struct {
	ID          string `json:"id" bson:"_id"`
	PlayerID    string `json:"player_id" bson:"player_id"`
	CharacterID string `json:"character_id" bson:"character_id"`
	Kind        string `json:"kind" bson:"kind"` // ChatMemorySaid, ChatMemoryFact or ChatMemoryNote
	Text        string `json:"text" bson:"text"`
	// Importance (1..10) weighs the memory when prompts have room for
	// only some.
	Importance int `json:"importance" bson:"importance"`
	// Pinned memories are in every prompt of the pair, within a budget.
	Pinned bool `json:"pinned,omitempty" bson:"pinned,omitempty"`
	// Source is the message the memory was drawn from ("" for one the
	// player wrote).
	Source string `json:"source,omitempty" bson:"source,omitempty"`
	// Rated: the engine rated Importance (otherwise a heuristic set it).
	Rated bool `json:"rated,omitempty" bson:"rated,omitempty"`
	// Evidence lists the memories a reflection rests on.
	Evidence []string `json:"evidence,omitempty" bson:"evidence,omitempty"`
	// Embedding is the text's embedding (when the engine makes them), a
	// unit vector quantized to signed bytes (value/127), for relevance by
	// meaning beside BM25. It is the store's: the REST API leaves it out.
	Embedding []byte `json:"embedding,omitempty" bson:"embedding,omitempty"`
	// Covers is, for a summary, the Seq of the last message it covers; for
	// a reflection, the creation time (Unix ms) of the newest memory it read.
	Covers    int64     `json:"covers,omitempty" bson:"covers,omitempty"`
	CreatedAt time.Time `json:"created_at" bson:"created_at"`
	UpdatedAt time.Time `json:"updated_at" bson:"updated_at"`
}

// Kinds of chat memory.
const (
	ChatMemorySaid = "said" // what the player said in a line, kept beyond the chat's recent window
	ChatMemoryFact = "fact" // something the player told about themselves
	ChatMemoryNote = "note" // written (or rewritten) by the player in the memory manager
	// ChatMemoryReflection is an insight the engine drew from the pair's
	// memories (Evidence names them).
	ChatMemoryReflection = "reflection"
	// ChatMemorySummary is the engine's rolling summary of one chat's lines
	// that left the prompt's window (Source is the chat, Covers the last
	// message Seq it covers).
	ChatMemorySummary = "summary"
)

// Errors shared across packages. Adapters wrap them with context; callers
// test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// World is an open world authored by a creator: places connected to each
// other, characters living there on daily routines, and a clock.
type World struct {
	ID          string     `json:"id" bson:"_id"`
	Name        string     `json:"name" bson:"name"`
	Description string     `json:"description" bson:"description"`
	Locations   []Location `json:"locations" bson:"locations"`
	Residents   []Resident `json:"residents" bson:"residents"`
	// Lorebook is the world's own lore: its entries fire in every
	// resident's prompts as a card's lorebook does in a chat.
	Lorebook *Lorebook `json:"lorebook,omitempty" bson:"lorebook,omitempty"`
	// Events are happenings the creator scheduled: residents perceive and
	// react to them, players see them.
	Events []ScheduledEvent `json:"events,omitempty" bson:"events,omitempty"`
	// SimMinutesPerSecond is how fast the world's clock runs: 1 means a
	// sim minute passes every real second.
	SimMinutesPerSecond float64    `json:"sim_minutes_per_second" bson:"sim_minutes_per_second"`
	OwnerID             string     `json:"owner_id,omitempty" bson:"owner_id,omitempty"`
	Visibility          Visibility `json:"visibility" bson:"visibility"`
	BuiltIn             bool       `json:"built_in,omitempty" bson:"built_in,omitempty"`
	Revision            int        `json:"revision" bson:"revision"`
	CreatedAt           time.Time  `json:"created_at" bson:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at" bson:"updated_at"`
}

// Location is a place in a world; everyone at a location hears what is said there.
type Location struct {
	ID          string   `json:"id" bson:"id"`
	Name        string   `json:"name" bson:"name"`
	Description string   `json:"description" bson:"description"`
	Connections []string `json:"connections" bson:"connections"` // IDs of locations one can walk to
	// Map places it on the world's map; nil lets clients lay it out.
	Map *MapPoint `json:"map,omitempty" bson:"map,omitempty"`
}

// ScheduledEvent is something that happens in a world when its trigger
// holds: at a time of the sim day, when someone arrives at a place, or
// when a keyword is said.
type ScheduledEvent struct {
	ID   string `json:"id" bson:"id"`
	Text string `json:"text" bson:"text"` // what happens, as those present perceive it
	// LocationID is where it happens; "" means every place (for a keyword,
	// the place where it was said).
	LocationID string       `json:"location_id,omitempty" bson:"location_id,omitempty"`
	Trigger    EventTrigger `json:"trigger" bson:"trigger"`
	// CooldownMinutes keeps it from happening again for this many sim
	// minutes (0: 60); Once makes it happen only the first time.
	CooldownMinutes int  `json:"cooldown_minutes,omitempty" bson:"cooldown_minutes,omitempty"`
	Once            bool `json:"once,omitempty" bson:"once,omitempty"`
}

// EventTrigger says when a ScheduledEvent happens; exactly one field is set.
type EventTrigger struct {
	AtMinute *int   `json:"at_minute,omitempty" bson:"at_minute,omitempty"` // every sim day at this minute, 0..1439
	Arrival  string `json:"arrival,omitempty" bson:"arrival,omitempty"`     // someone arrives at this location
	Keyword  string `json:"keyword,omitempty" bson:"keyword,omitempty"`     // a line said contains it (any case)
	// Who narrows an arrival or a keyword to whom it counts for: "player"
	// (any player), a resident's character ID, or "" (anyone).
	Who string `json:"who,omitempty" bson:"who,omitempty"`
}

// MapPoint is a position on a world's map, in percent of its width (X)
// and height (Y) from the top left corner.
type MapPoint struct {
	X float64 `json:"x" bson:"x"`
	Y float64 `json:"y" bson:"y"`
}

// Resident places a character in a world.
type Resident struct {
	CharacterID string `json:"character_id" bson:"character_id"`
	LocationID  string `json:"location_id" bson:"location_id"` // where it starts
	// Talkativeness (0..1) is how readily it speaks up in a group (default 0.5).
	Talkativeness float64       `json:"talkativeness" bson:"talkativeness"`
	Routine       []RoutineStep `json:"routine" bson:"routine"`
}

// RoutineStep says where a character goes at a time of the sim day.
type RoutineStep struct {
	AtMinute   int    `json:"at_minute" bson:"at_minute"` // minutes after sim midnight, 0..1439
	LocationID string `json:"location_id" bson:"location_id"`
	Activity   string `json:"activity" bson:"activity"`
}

// MemoryKind says what a memory record is.
type MemoryKind string

const (
	MemoryObservation MemoryKind = "observation"
	MemoryDialogue    MemoryKind = "dialogue"
	MemoryReflection  MemoryKind = "reflection"
)

// MemoryRecord is one entry of a character's memory stream in a world.
type MemoryRecord struct {
	ID          string     `json:"id" bson:"_id"`
	WorldID     string     `json:"world_id" bson:"world_id"`
	CharacterID string     `json:"character_id" bson:"character_id"`
	Kind        MemoryKind `json:"kind" bson:"kind"`
	Text        string     `json:"text" bson:"text"`
	Importance  int        `json:"importance" bson:"importance"` // 1..10
	// SimMinute is when it happened on the world's clock; LastAccess when
	// it was last retrieved (recency decays from there).
	SimMinute  int64  `json:"sim_minute" bson:"sim_minute"`
	LastAccess int64  `json:"last_access" bson:"last_access"`
	LocationID string `json:"location_id,omitempty" bson:"location_id,omitempty"`
	// PrivateTo names the player a private conversation was with: such a
	// memory may only reach prompts built for that player.
	PrivateTo string `json:"private_to,omitempty" bson:"private_to,omitempty"`
	// Evidence lists the memories a reflection was drawn from.
	Evidence []string `json:"evidence,omitempty" bson:"evidence,omitempty"`
	// About names the player the memory is about (their line, their
	// coming or going, a private talk with them): that player sees it in
	// the memory manager, and may pin, rewrite or forget it.
	About string `json:"about,omitempty" bson:"about,omitempty"`
	// Pinned: the player asked that it be in every prompt built while
	// they are there.
	Pinned bool `json:"pinned,omitempty" bson:"pinned,omitempty"`
}

// WorldSnapshot is a world simulation's saved state: the state after the
// input log entry with sequence Seq, written by the owner of lease Epoch.
type WorldSnapshot struct {
	WorldID string    `json:"world_id" bson:"_id"`
	Seq     uint64    `json:"seq" bson:"seq"`
	Epoch   uint64    `json:"epoch" bson:"epoch"`
	State   []byte    `json:"state" bson:"state"` // JSON of worldsim/world.State
	SavedAt time.Time `json:"saved_at" bson:"saved_at"`
}
