package protocol

import (
	"encoding/json"
	"fmt"
)

// Player inputs a gateway appends to a world's log, as the Input of a
// WorldLogEntry: {"kind": K, "input": {fields}}. The world simulation
// reads them as inputs of its own state machine (worldsim/world), which
// also logs inputs of the owner's (ticks, engine results) in the same
// envelope; a test there keeps its decoder and these types in step.
type WorldInput interface{ WorldInputKind() string }

// WorldPlayerJoined: a player entered the world at a location.
type WorldPlayerJoined struct {
	PlayerID   string `json:"player_id"`
	Name       string `json:"name"`
	LocationID string `json:"location_id"`
	// Conn names the connection (a browser tab) that joined: a player with
	// several is in the world until the last one leaves.
	Conn string `json:"conn,omitempty"`
}

// WorldPlayerLeft: a player left the world.
type WorldPlayerLeft struct {
	PlayerID string `json:"player_id"`
	// Conn is the connection that left ("" in logs written before
	// connections were counted: the player leaves).
	Conn string `json:"conn,omitempty"`
}

// WorldPlayerMoved: a player walked to another location.
type WorldPlayerMoved struct {
	PlayerID   string `json:"player_id"`
	LocationID string `json:"location_id"`
}

// WorldPlayerSaid: a player said something aloud where they are;
// AddressedTo, when set, names the one character meant to answer.
type WorldPlayerSaid struct {
	MessageID   string `json:"message_id"`
	PlayerID    string `json:"player_id"`
	LocationID  string `json:"location_id,omitempty"` // "" means where the player is
	Text        string `json:"text"`
	AddressedTo string `json:"addressed_to,omitempty"`
	// Pictures shown with the line (the player's own, checked by the gateway).
	Pictures []string `json:"pictures,omitempty"`
}

// WorldPrivateSaid: a player spoke to one character in private.
type WorldPrivateSaid struct {
	MessageID   string `json:"message_id"`
	PlayerID    string `json:"player_id"`
	CharacterID string `json:"character_id"`
	Text        string `json:"text"`
}

// WorldMemoryChanged: a player pinned, rewrote or forgot a memory a
// resident has of them (the memory manager).
type WorldMemoryChanged struct {
	PlayerID string  `json:"player_id"`
	MemoryID string  `json:"memory_id"`
	Forget   bool    `json:"forget,omitempty"`
	Pinned   *bool   `json:"pinned,omitempty"`
	Text     *string `json:"text,omitempty"`
}

func (WorldMemoryChanged) WorldInputKind() string { return "memory_changed" }
func (WorldPlayerJoined) WorldInputKind() string  { return "player_joined" }
func (WorldPlayerLeft) WorldInputKind() string    { return "player_left" }
func (WorldPlayerMoved) WorldInputKind() string   { return "player_moved" }
func (WorldPlayerSaid) WorldInputKind() string    { return "player_said" }
func (WorldPrivateSaid) WorldInputKind() string   { return "private_said" }

// WorldInputEnvelope is how every input travels in a world's log.
type WorldInputEnvelope struct {
	Kind  string          `json:"kind"`
	Input json.RawMessage `json:"input"`
}

// PlayerLogEntry encodes a player's input as a world log entry, as a
// gateway appends it.
func PlayerLogEntry(in WorldInput) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode %s world input: %w", in.WorldInputKind(), err)
	}
	env, err := json.Marshal(WorldInputEnvelope{Kind: in.WorldInputKind(), Input: body})
	if err != nil {
		return nil, err
	}
	return json.Marshal(WorldLogEntry{Input: env})
}
