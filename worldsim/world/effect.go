package world

import (
	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
)

// Effect is something the runner must do after a Step.
type Effect interface{ isEffect() }

// Work kinds, which decide how a Generated result is used.
const (
	WorkReply   = "reply"   // a character answers a line said in a room
	WorkPrivate = "private" // a character answers a player in private
	WorkTalk    = "talk"    // a line of an autonomous conversation
	WorkRate    = "rate"    // rate a memory's importance
	WorkReflect = "reflect" // write insights from recent memories
	WorkCaption = "caption" // say in words what a picture shown shows, to remember it
)

// Priorities of engine work: lower runs first.
const (
	PriorityReply   = 0
	PriorityPrivate = 1
	PriorityTalk    = 2
	PriorityIdle    = 3
)

// Audience says who will see a generation's text: everyone at a location,
// or one player in private; both empty for work nobody sees (ratings,
// reflections).
type Audience struct {
	LocationID string `json:"location_id,omitempty"`
	PlayerID   string `json:"player_id,omitempty"`
}

// Generate asks the engine for one completion; the runner answers with a
// Generated input carrying the same WorkID. LineID is the ID the finished
// line will have, so the runner can stream deltas under it.
type Generate struct {
	WorkID      string `json:"work_id"`
	Kind        string `json:"kind"`
	Priority    int    `json:"priority"`
	CharacterID string `json:"character_id,omitempty"`
	// CharacterName is the speaker's name when the work started. It travels
	// in the effect because the effect is performed on another goroutine
	// while the state keeps stepping: nothing there may read the state.
	CharacterName string         `json:"character_name,omitempty"`
	Audience      Audience       `json:"audience"`
	LineID        string         `json:"line_id,omitempty"`
	ReplyTo       string         `json:"reply_to,omitempty"` // the line this one answers, if any
	Request       engine.Request `json:"request"`
}

// Broadcast sends an event to everyone at a location.
type Broadcast struct {
	LocationID string `json:"location_id"`
	Event      Event  `json:"event"`
}

// SendPrivate sends an event to one player.
type SendPrivate struct {
	PlayerID string `json:"player_id"`
	Event    Event  `json:"event"`
}

// MemoryAdded stores a memory record. Records are written again, under the
// same ID, when their importance changes: store them as an upsert.
type MemoryAdded struct {
	Record maopao.MemoryRecord `json:"record"`
}

// Ack says a player message is fully taken into the world (it is in the
// state, and so in every snapshot from now on): the gateway may drop it.
type Ack struct {
	MessageID string `json:"message_id"`
}

func (Generate) isEffect()    {}
func (Broadcast) isEffect()   {}
func (SendPrivate) isEffect() {}
func (MemoryAdded) isEffect() {}
func (Ack) isEffect()         {}

// Event kinds.
const (
	EventSaid     = "said"     // a complete line
	EventSpeaking = "speaking" // a character started composing a line (LineID says which)
	EventArrived  = "arrived"
	EventLeft     = "left"
	EventError    = "error"    // Code says why
	EventHappened = "happened" // a scheduled world event happened here (Text says what)
	EventMoved    = "moved"    // to one player: the world put them at LocationID
	EventChanged  = "changed"  // to every player: a new revision of the world applies (Text says what changed)
)

// Event is what players see happen.
type Event struct {
	Kind       string   `json:"kind"`
	ID         string   `json:"id,omitempty"` // line ID for said and speaking
	ReplyTo    string   `json:"reply_to,omitempty"`
	From       string   `json:"from,omitempty"`
	FromName   string   `json:"from_name,omitempty"`
	FromKind   string   `json:"from_kind,omitempty"`
	LocationID string   `json:"location_id,omitempty"`
	Text       string   `json:"text,omitempty"`
	SimMinute  int64    `json:"sim_minute"`
	Code       string   `json:"code,omitempty"`
	Pictures   []string `json:"pictures,omitempty"` // shown with a said line
}

// Error codes in events.
const (
	CodeInvalid = "invalid" // the player's input was refused; Text says why
	CodeBusy    = "busy"    // the world's engine queue was full
	CodeFailed  = "failed"  // the engine failed (Generated.Code is passed on when set)
	// CodeNoVision (a Generated code): the engine cannot see pictures.
	CodeNoVision = "no_vision"
)
