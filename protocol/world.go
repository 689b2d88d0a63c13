package protocol

// Open-world frames (protocol v1). A player joins a world at a location;
// everything said at that location reaches everyone there, and a player
// may also talk privately with one character.

// Client frame types for worlds.
const (
	TypeListWorlds = "list_worlds"
	TypeJoinWorld  = "join_world"
	TypeMove       = "move"
	TypeRoomSay    = "room_say"
	TypePrivateSay = "private_say"
	TypeLeaveWorld = "leave_world"
)

// Gateway frame types for worlds.
const (
	TypeWorlds      = "worlds"
	TypeWorldJoined = "world_joined"
	TypeWorldEvent  = "world_event"
)

// CodeUnknownWorld: no visible world with that id, or the player has not joined it.
const (
	CodeUnknownWorld    = "unknown_world"
	CodeUnknownLocation = "unknown_location"
)

// WorldSummary is what clients see of a world in lists.
type WorldSummary struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Locations   []LocationSummary `json:"locations"`
	Residents   int               `json:"residents"`
	// Characters are the residents (kind "character"), for private chats.
	Characters []Actor `json:"characters"`
	// SimMinutesPerSecond is the pace of the world's clock.
	SimMinutesPerSecond float64 `json:"sim_minutes_per_second"`
}

// LocationSummary describes a place.
type LocationSummary struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Connections []string `json:"connections,omitempty"`
	// Map is where the creator put the place on the world's map (percent
	// from the top left); absent, clients lay the map out themselves.
	Map *MapPoint `json:"map,omitempty"`
}

// MapPoint is a position on a world's map, in percent of its size.
type MapPoint struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Worlds answers ListWorlds.
type Worlds struct {
	Envelope
	Worlds []WorldSummary `json:"worlds"`
}

// ListWorlds asks for the worlds the player may join.
type ListWorlds struct{ Envelope }

// JoinWorld enters a world; LocationID "" means the world's first location.
type JoinWorld struct {
	Envelope
	WorldID    string `json:"world_id"`
	LocationID string `json:"location_id,omitempty"`
}

// Move walks the player to a connected location.
type Move struct {
	Envelope
	WorldID    string `json:"world_id"`
	LocationID string `json:"location_id"`
}

// RoomSay says something at the player's location. To optionally names
// the character the player addresses.
type RoomSay struct {
	Envelope
	WorldID string `json:"world_id"`
	Text    string `json:"text"`
	To      string `json:"to,omitempty"`
	// ClientMessageID makes a resend safe, as in Say.
	ClientMessageID string `json:"client_message_id,omitempty"`
	// Pictures shown to everyone at the place, as in Say.
	Pictures []string `json:"pictures,omitempty"`
}

// PrivateSay talks to one character privately: what is said is
// remembered for this player only.
type PrivateSay struct {
	Envelope
	WorldID     string `json:"world_id"`
	CharacterID string `json:"character_id"`
	Text        string `json:"text"`
	// ClientMessageID makes a resend safe, as in Say.
	ClientMessageID string `json:"client_message_id,omitempty"`
}

// LeaveWorld leaves a world.
type LeaveWorld struct {
	Envelope
	WorldID string `json:"world_id"`
}

// Actor is someone in a world.
type Actor struct {
	Kind string `json:"kind"` // "player" or "character"
	ID   string `json:"id"`
	Name string `json:"name"`
}

// WorldJoined answers JoinWorld.
type WorldJoined struct {
	Envelope
	World      WorldSummary `json:"world"`
	LocationID string       `json:"location_id"`
	Present    []Actor      `json:"present"`
	Recent     []WorldEvent `json:"recent"` // what was said here lately, and the player's private lines
	SimMinute  int64        `json:"sim_minute"`
}

// World event kinds.
const (
	WorldSaid     = "said"     // Actor said Text (complete line)
	WorldArrived  = "arrived"  // Actor came to this location
	WorldLeft     = "left"     // Actor left this location (Text: where to, if known)
	WorldSpeaking = "speaking" // Actor (a character) started answering; deltas follow
	WorldDelta    = "delta"    // the next piece of Actor's line MessageID
	WorldMoved    = "moved"    // the player is now at LocationID
	WorldError    = "error"    // a line of the player's could not be answered (Code)
	// WorldChanged: the creator's new revision of the world applies now
	// (Text says what changed in words; World is the new summary).
	WorldChanged = "changed"
	// WorldHappened: one of the creator's scheduled events happened at
	// LocationID (Text says what; MessageID is its line, which characters'
	// reactions name in ReplyTo).
	WorldHappened = "happened"
)

// WorldEvent is one thing that happened where a player can perceive it.
type WorldEvent struct {
	Kind       string `json:"kind"`
	WorldID    string `json:"world_id"`
	LocationID string `json:"location_id,omitempty"`
	// PrivateWith is set on private conversations: the character's id.
	PrivateWith string `json:"private_with,omitempty"`
	MessageID   string `json:"message_id,omitempty"`
	ReplyTo     string `json:"reply_to,omitempty"`
	Actor       Actor  `json:"actor"`
	Text        string `json:"text,omitempty"`
	Seq         int    `json:"seq,omitempty"`
	SimMinute   int64  `json:"sim_minute"`
	Code        string `json:"code,omitempty"`
	// Pictures shown with a said line (ids; see PictureURL).
	Pictures []string `json:"pictures,omitempty"`
	// World is the world as it is now, on changed events (filled in by
	// the gateway, as it depends on who looks).
	World *WorldSummary `json:"world,omitempty"`
}

// WorldEventFrame carries a WorldEvent to a client.
type WorldEventFrame struct {
	Envelope
	Event WorldEvent `json:"event"`
}
