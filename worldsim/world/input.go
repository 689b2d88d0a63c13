package world

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Input is something that happened to a world. Every input is a plain
// struct that encodes to JSON, so the runner can log it before stepping.
type Input interface{ inputKind() string }

// Tick advances the sim clock: by SimMinutes, or by RealMillis of real time
// at the world's SimMinutesPerSecond. At most one sim day passes per Tick.
type Tick struct {
	SimMinutes int   `json:"sim_minutes,omitempty"`
	RealMillis int64 `json:"real_millis,omitempty"`
}

// PlayerJoined: a player entered the world at a location.
type PlayerJoined struct {
	PlayerID   string `json:"player_id"`
	Name       string `json:"name"`
	LocationID string `json:"location_id"`
	// Conn is the connection (a tab) that joined; a player is in the world
	// while any of theirs is.
	Conn string `json:"conn,omitempty"`
}

// PlayerLeft: one of a player's connections left the world (Conn); with
// the last one (or with no Conn, as older logs have it) the player leaves.
type PlayerLeft struct {
	PlayerID string `json:"player_id"`
	Conn     string `json:"conn,omitempty"`
}

// PlayerMoved: a player walked to another location.
type PlayerMoved struct {
	PlayerID   string `json:"player_id"`
	LocationID string `json:"location_id"`
}

// PlayerSaid: a player said something aloud where they are. AddressedTo,
// when set, names the one character meant to answer.
type PlayerSaid struct {
	MessageID   string `json:"message_id"`
	PlayerID    string `json:"player_id"`
	LocationID  string `json:"location_id,omitempty"` // "" means where the player is
	Text        string `json:"text"`
	AddressedTo string `json:"addressed_to,omitempty"`
	// Pictures shown with the line: everyone there sees them.
	Pictures []string `json:"pictures,omitempty"`
}

// PrivateSaid: a player spoke to one character in private.
type PrivateSaid struct {
	MessageID   string `json:"message_id"`
	PlayerID    string `json:"player_id"`
	CharacterID string `json:"character_id"`
	Text        string `json:"text"`
}

// Generated: the engine finished a Generate effect. Code is "" on success,
// otherwise a protocol error code and the work is given up.
type Generated struct {
	WorkID string `json:"work_id"`
	Text   string `json:"text"`
	Code   string `json:"code,omitempty"`
}

// ImportanceRated: a memory's importance was rated (1..10) outside a
// rating Generate, for example by a moderator or a batch job.
type ImportanceRated struct {
	MemoryID string `json:"memory_id"`
	Score    int    `json:"score"`
}

// ReflectionWritten: the insights of a reflection work, when the runner
// parsed them itself instead of answering with Generated.
type ReflectionWritten struct {
	WorkID   string   `json:"work_id"`
	Insights []string `json:"insights"`
}

func (Tick) inputKind() string              { return "tick" }
func (PlayerJoined) inputKind() string      { return "player_joined" }
func (PlayerLeft) inputKind() string        { return "player_left" }
func (PlayerMoved) inputKind() string       { return "player_moved" }
func (PlayerSaid) inputKind() string        { return "player_said" }
func (PrivateSaid) inputKind() string       { return "private_said" }
func (Generated) inputKind() string         { return "generated" }
func (ImportanceRated) inputKind() string   { return "importance_rated" }
func (ReflectionWritten) inputKind() string { return "reflection_written" }
func (WorldRevised) inputKind() string      { return "world_revised" }
func (CardsStaged) inputKind() string       { return "cards_staged" }
func (MemoryChanged) inputKind() string     { return "memory_changed" }
func (CardsUpdated) inputKind() string      { return "cards_updated" }

// envelope is how an input travels in the log: its kind and its fields.
type envelope struct {
	Kind  string          `json:"kind"`
	Input json.RawMessage `json:"input"`
}

// EncodeInput writes an input as one JSON object (one line of a log).
func EncodeInput(in Input) ([]byte, error) {
	if in == nil {
		return nil, fmt.Errorf("world: encode input: nil input")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("world: encode %s input: %w", in.inputKind(), err)
	}
	return json.Marshal(envelope{Kind: in.inputKind(), Input: body})
}

// MaxInputBytes bounds one encoded input; longer log entries are refused.
const MaxInputBytes = 1 << 20

// DecodeInput reads one input written by EncodeInput. It refuses unknown
// kinds, unknown fields and invalid UTF-8 rather than guessing.
func DecodeInput(data []byte) (Input, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("world: decode input: %d bytes, more than %d", len(data), MaxInputBytes)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("world: decode input: not valid UTF-8")
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("world: decode input: %w", err)
	}
	var in Input
	switch env.Kind {
	case "tick":
		in = &Tick{}
	case "player_joined":
		in = &PlayerJoined{}
	case "player_left":
		in = &PlayerLeft{}
	case "player_moved":
		in = &PlayerMoved{}
	case "player_said":
		in = &PlayerSaid{}
	case "private_said":
		in = &PrivateSaid{}
	case "generated":
		in = &Generated{}
	case "importance_rated":
		in = &ImportanceRated{}
	case "reflection_written":
		in = &ReflectionWritten{}
	case "world_revised":
		in = &WorldRevised{}
	case "cards_staged":
		in = &CardsStaged{}
	case "memory_changed":
		in = &MemoryChanged{}
	case "cards_updated":
		in = &CardsUpdated{}
	default:
		return nil, fmt.Errorf("world: decode input: unknown kind %q", env.Kind)
	}
	if len(env.Input) == 0 {
		return nil, fmt.Errorf("world: decode %s input: no \"input\" object", env.Kind)
	}
	dec := json.NewDecoder(strings.NewReader(string(env.Input)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return nil, fmt.Errorf("world: decode %s input: %w", env.Kind, err)
	}
	return deref(in), nil
}

func deref(in Input) Input {
	switch v := in.(type) {
	case *Tick:
		return *v
	case *PlayerJoined:
		return *v
	case *PlayerLeft:
		return *v
	case *PlayerMoved:
		return *v
	case *PlayerSaid:
		return *v
	case *PrivateSaid:
		return *v
	case *Generated:
		return *v
	case *ImportanceRated:
		return *v
	case *ReflectionWritten:
		return *v
	case *WorldRevised:
		return *v
	case *CardsStaged:
		return *v
	case *MemoryChanged:
		return *v
	case *CardsUpdated:
		return *v
	}
	return in
}
