// Package world owns the open world's simulation logic: one world's whole
// state (clock, residents, players, rooms, memory streams, engine work) and
// the pure step function that advances it. Like the conversation actor in
// package worldsim it is written in etcd-raft style: Step takes the state
// and one Input and returns Effects for a runner to perform; it does no I/O,
// reads no clock and draws randomness only from a PRNG word kept in the
// state. State and every Input are JSON-serialisable, so a runner can keep
// an input log (JetStream) plus snapshots and rebuild the same world on any
// node by replaying the log from the last snapshot.
//
// A runner's contract:
//   - Append every Input to the world's log before stepping it (engine
//     results too: Generated, ImportanceRated, ReflectionWritten), and step
//     inputs in log order, one at a time.
//   - Perform the effects in order: Generate (engine call, answered by a
//     Generated with the same WorkID), Broadcast and SendPrivate (room and
//     player frames), MemoryAdded (upsert by record ID), Ack (the player
//     message is in the state; drop it from the gateway's stream).
//   - Snapshot with encoding/json whenever convenient; to recover, decode
//     the newest snapshot, Step the log entries after it, then perform
//     State.Resume's effects to restart the engine calls that were running.
//     Effects of replayed inputs were performed before the crash and are
//     dropped (Replay does exactly this); those of the last input may be
//     performed again, as every effect is idempotent by its IDs (line IDs,
//     memory IDs, message IDs).
//   - Read what the gateway needs (Present, Transcript) between Steps.
//
// A new revision of the world's definition comes in as an input
// (WorldRevised) like everything else, so a replay applies it at the same
// point: places and residents are added and removed, routines change, and
// every memory stays.
package world

import (
	"fmt"
	"sort"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
)

// Config tunes a world. The zero value of every field means its default,
// so a zero Config is a working one.
type Config struct {
	MaxInFlight  int `json:"max_in_flight,omitempty"`  // engine calls at once (2)
	MaxQueue     int `json:"max_queue,omitempty"`      // queued engine work, hard cap (32)
	TalkQueueMax int `json:"talk_queue_max,omitempty"` // autonomous talk only while the queue is shorter (4)
	IdleQueueMax int `json:"idle_queue_max,omitempty"` // ratings and reflections only while the queue is shorter (2)

	MaxResponders     int `json:"max_responders,omitempty"`     // characters answering one player line (2)
	MaxChain          int `json:"max_chain,omitempty"`          // depth of characters answering characters (2)
	ConversationTurns int `json:"conversation_turns,omitempty"` // lines in an autonomous conversation (8)
	// ConversationPermille is the chance per location per sim minute that
	// two idle characters there start talking, in thousandths (20;
	// negative turns autonomous conversations off).
	ConversationPermille int `json:"conversation_permille,omitempty"`

	ReflectionThreshold int `json:"reflection_threshold,omitempty"` // a reflection starts when summed importance exceeds it (150)
	ReflectionWindow    int `json:"reflection_window,omitempty"`    // recent memories a reflection reads (100)
	MemoryCap           int `json:"memory_cap,omitempty"`           // observations and dialogue kept per character (500)
	ReflectionCap       int `json:"reflection_cap,omitempty"`       // reflections kept per character (100)
	TranscriptCap       int `json:"transcript_cap,omitempty"`       // lines kept per room and private thread (20)
	RetrieveK           int `json:"retrieve_k,omitempty"`           // memories put into a prompt (6)

	// Retrieval weights; all zero means 1, 1, 1 as in the Generative Agents paper.
	Weights Weights `json:"weights"`

	ContextSize int            `json:"context_size,omitempty"` // prompt budget in tokens (4096)
	MaxTokens   int            `json:"max_tokens,omitempty"`   // reply cap (160)
	Sampling    engine.Request `json:"sampling"`               // sampling settings copied into every request
}

// Weights are the α factors of the retrieval score.
type Weights struct {
	Recency    float64 `json:"recency"`
	Importance float64 `json:"importance"`
	Relevance  float64 `json:"relevance"`
}

func (c Config) withDefaults() Config {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxInFlight, 2)
	def(&c.MaxQueue, 32)
	def(&c.TalkQueueMax, 4)
	def(&c.IdleQueueMax, 2)
	def(&c.MaxResponders, 2)
	def(&c.MaxChain, 2)
	def(&c.ConversationTurns, 8)
	if c.ConversationPermille == 0 {
		c.ConversationPermille = 20 // negative: never
	}
	def(&c.ReflectionThreshold, 150)
	def(&c.ReflectionWindow, 100)
	def(&c.MemoryCap, 500)
	def(&c.ReflectionCap, 100)
	def(&c.TranscriptCap, 20)
	def(&c.RetrieveK, 6)
	def(&c.ContextSize, 4096)
	def(&c.MaxTokens, 160)
	// Optional work is only added while the queue is shorter than these,
	// so they must leave room under the hard cap.
	c.TalkQueueMax = min(c.TalkQueueMax, c.MaxQueue)
	c.IdleQueueMax = min(c.IdleQueueMax, c.MaxQueue)
	if c.Weights == (Weights{}) {
		c.Weights = Weights{1, 1, 1}
	}
	return c
}

// State is everything one world knows. Slices are kept in a fixed order
// (residents and locations in definition order, players by ID, work by
// priority then age) so that nothing depends on map iteration. Unexported
// fields are indexes derived from the exported ones; they are rebuilt after
// a JSON round trip, so a snapshot only carries the exported fields.
//
// Memory streams live here for now, bounded per character (MemoryCap newest
// observations and dialogue, ReflectionCap newest reflections). Every record
// also leaves as a MemoryAdded effect, so storage holds the full history;
// to move the streams out, the runner would keep only the retrieval index
// (ID, importance, last access, sim minute, token counts) in State and load
// texts for the few records a prompt selects.
type State struct {
	// CountTokens, set by the runner, counts with the model's tokenizer;
	// it is not part of the state (nil estimates).
	CountTokens func(string) int `json:"-"`

	Config Config         `json:"config"`
	World  maopao.World   `json:"world"`
	Seed   uint64         `json:"seed"`
	Rng    uint64         `json:"rng"`   // splitmix64 state
	Clock  int64          `json:"clock"` // sim minutes since the world's first midnight
	SubMin int64          `json:"sub"`   // real time not yet turned into sim minutes, in 1e-6 sim minutes
	Actors []Actor        `json:"actors"`
	Rooms  []Room         `json:"rooms"` // one per location, same order
	People []Player       `json:"players"`
	Convos []Conversation `json:"conversations"`
	Thread []Thread       `json:"threads"` // private conversations, oldest activity first
	Queue  []Work         `json:"queue"`
	Flight []Work         `json:"in_flight"`
	Due    []int          `json:"due_reflections"` // actor indexes waiting for a reflection slot
	Seen   []string       `json:"seen"`            // recent player message IDs, for redelivery
	// Happened is when each scheduled event last happened (sim minute).
	Happened map[string]int64 `json:"happened,omitempty"`
	// Staged are cards logged for the next revision (CardsStaged).
	Staged []maopao.Character `json:"staged,omitempty"`
	Next   Counters           `json:"next"`
	Stats  Stats              `json:"stats"`
	idx    *derivedIndexes    `json:"-"`
}

// Counters hand out IDs; they only grow.
type Counters struct {
	Work int64 `json:"work"`
	Conv int64 `json:"conv"`
}

// Stats count what happened, for metrics.
type Stats struct {
	Generated      int64 `json:"generated"`
	Failed         int64 `json:"failed"`
	DroppedTalk    int64 `json:"dropped_talk"`
	DroppedReplies int64 `json:"dropped_replies"`
	Reflections    int64 `json:"reflections"`
	Conversations  int64 `json:"conversations"`
}

// Actor is a resident character's live state.
type Actor struct {
	Card     maopao.Character `json:"card"` // the card, without avatar and assets
	Location string           `json:"location"`
	Activity string           `json:"activity"`
	Talk     float64          `json:"talkativeness"`
	Routine  []RoutineStep    `json:"routine"`           // sorted by minute
	Conv     int64            `json:"conv,omitempty"`    // autonomous conversation it is in
	Pending  int              `json:"pending,omitempty"` // queued or running work it speaks in
	ImpSum   int              `json:"importance_sum"`    // importance since the last reflection
	Reflect  bool             `json:"reflecting,omitempty"`
	NextMem  int64            `json:"next_mem"`
	Stream   []Memory         `json:"stream"`      // observations and dialogue, oldest first
	Insights []Memory         `json:"reflections"` // oldest first
	Met      []string         `json:"met"`         // sorted IDs of the players it has seen, capped
	// Gone: a revision of the world took the character out. It keeps its
	// place in Actors (work and conversations name actors by index) and
	// its memories, in case a later revision brings it back; it is
	// nowhere (Location "") and follows no routine.
	Gone bool `json:"gone,omitempty"`
	// Unheard are the IDs of transcript lines the character no longer
	// knows of (a player forgot the memory made of them): its prompts skip
	// them while they are still among a room's or thread's recent lines.
	Unheard []string `json:"unheard,omitempty"`
}

// RoutineStep is a maopao.RoutineStep checked against the world.
type RoutineStep = maopao.RoutineStep

// Memory is a memory record as kept in state: world and character are
// implied by where it lives, which keeps 10,000 streams affordable.
type Memory struct {
	Seq        int64             `json:"seq"`
	Kind       maopao.MemoryKind `json:"kind"`
	Text       string            `json:"text"`
	Importance int               `json:"imp"`
	Rated      bool              `json:"rated,omitempty"` // Importance came from the engine
	SimMinute  int64             `json:"at"`
	LastAccess int64             `json:"access"`
	LocationID string            `json:"loc,omitempty"`
	PrivateTo  string            `json:"private_to,omitempty"`
	Evidence   []string          `json:"evidence,omitempty"`
	About      string            `json:"about,omitempty"`  // the player it is about (see maopao.MemoryRecord)
	Pinned     bool              `json:"pinned,omitempty"` // in every prompt while About is there
	// Line is the transcript line the memory was made of, so forgetting
	// the memory takes the line out of the owner's prompts too.
	Line string `json:"line,omitempty"`
}

// Player is a person present in the world.
type Player struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Location string `json:"location"`
	// Conns are the player's connections in the world (tabs), in the order
	// they joined; empty for players of older snapshots.
	Conns []string `json:"conns,omitempty"`
}

// Room is the recent talk at one location.
type Room struct {
	LocationID string `json:"location_id"`
	Lines      []Line `json:"lines"`
}

// Line is one thing said, in a room or a private thread.
type Line struct {
	ID        string `json:"id"`
	From      string `json:"from"` // player or character ID
	FromName  string `json:"from_name"`
	FromKind  string `json:"from_kind"` // "player" or "character"
	Text      string `json:"text"`
	SimMinute int64  `json:"at"`
	ReplyTo   string `json:"reply_to,omitempty"`
	// Pictures a player showed with the line (ids of stored pictures).
	Pictures []string `json:"pictures,omitempty"`
}

// Thread is the recent talk between one player and one character in private.
type Thread struct {
	PlayerID    string `json:"player_id"`
	CharacterID string `json:"character_id"`
	Lines       []Line `json:"lines"`
}

// Conversation is two characters talking on their own.
type Conversation struct {
	ID       int64  `json:"id"`
	Members  [2]int `json:"members"` // actor indexes; Members[Turns%2] speaks next
	Location string `json:"location"`
	Turns    int    `json:"turns"`
	MaxTurns int    `json:"max_turns"`
}

// Kinds of player presence and speakers.
const (
	KindPlayer    = "player"
	KindCharacter = "character"
)

type derivedIndexes struct {
	actor map[string]int // character ID → actor index
	loc   map[string]int // location ID → location index
	byLoc [][]int        // location index → sorted actor indexes there
	sched [1440][]int    // minute of day → actors with a routine step then
}

// New builds the state of a fresh world. chars must hold a card for every
// resident; seed fixes every random choice the world will make.
func New(cfg Config, def maopao.World, chars []maopao.Character, seed uint64) (State, error) {
	if err := validate(def); err != nil {
		return State{}, err
	}
	cards := cardsByID(chars)
	s := State{Config: cfg.withDefaults(), World: def, Seed: seed, Rng: seed}
	s.World.Residents = nil // they live on as Actors
	for _, l := range def.Locations {
		s.Rooms = append(s.Rooms, Room{LocationID: l.ID})
	}
	for i, r := range def.Residents {
		c, ok := cards[r.CharacterID]
		if !ok {
			return State{}, fmt.Errorf("world %q: resident %d: no character card for %q", def.ID, i, r.CharacterID)
		}
		s.Actors = append(s.Actors, newActor(c, r, -1))
	}
	s.index()
	return s, nil
}

func validate(def maopao.World) error {
	if len(def.Locations) == 0 {
		return fmt.Errorf("world %q: no locations: %w", def.ID, maopao.ErrInvalid)
	}
	locs := map[string]bool{}
	for i, l := range def.Locations {
		if strings.TrimSpace(l.ID) == "" {
			return fmt.Errorf("world %q: location %d: empty id: %w", def.ID, i, maopao.ErrInvalid)
		}
		if locs[l.ID] {
			return fmt.Errorf("world %q: location %d: duplicate id %q: %w", def.ID, i, l.ID, maopao.ErrInvalid)
		}
		locs[l.ID] = true
	}
	for _, l := range def.Locations {
		for _, c := range l.Connections {
			if !locs[c] {
				return fmt.Errorf("world %q: location %q: connection to unknown location %q: %w", def.ID, l.ID, c, maopao.ErrInvalid)
			}
		}
	}
	if err := validateEvents(def, locs); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, r := range def.Residents {
		if seen[r.CharacterID] {
			return fmt.Errorf("world %q: resident %d: character %q placed twice: %w", def.ID, i, r.CharacterID, maopao.ErrInvalid)
		}
		seen[r.CharacterID] = true
		if !locs[r.LocationID] {
			return fmt.Errorf("world %q: resident %q: unknown start location %q: %w", def.ID, r.CharacterID, r.LocationID, maopao.ErrInvalid)
		}
		for j, st := range r.Routine {
			if st.AtMinute < 0 || st.AtMinute > 1439 {
				return fmt.Errorf("world %q: resident %q: routine step %d: at_minute %d outside 0..1439: %w", def.ID, r.CharacterID, j, st.AtMinute, maopao.ErrInvalid)
			}
			if !locs[st.LocationID] {
				return fmt.Errorf("world %q: resident %q: routine step %d: unknown location %q: %w", def.ID, r.CharacterID, j, st.LocationID, maopao.ErrInvalid)
			}
		}
	}
	return nil
}

// index returns the derived indexes, rebuilding them after a JSON round trip.
func (s *State) index() *derivedIndexes {
	if s.idx != nil {
		return s.idx
	}
	x := &derivedIndexes{actor: make(map[string]int, len(s.Actors)), loc: make(map[string]int, len(s.World.Locations))}
	for i, l := range s.World.Locations {
		x.loc[l.ID] = i
	}
	x.byLoc = make([][]int, len(s.World.Locations))
	for i := range s.Actors {
		a := &s.Actors[i]
		x.actor[a.Card.ID] = i
		if li, ok := x.loc[a.Location]; ok {
			x.byLoc[li] = append(x.byLoc[li], i)
		}
		if a.Gone {
			continue
		}
		for _, st := range a.Routine {
			if n := len(x.sched[st.AtMinute]); n == 0 || x.sched[st.AtMinute][n-1] != i {
				x.sched[st.AtMinute] = append(x.sched[st.AtMinute], i)
			}
		}
	}
	s.idx = x
	return x
}

// actorsAt lists the actors at a location, in actor order. The slice is the
// index itself: callers must not keep it across a move.
func (s *State) actorsAt(loc string) []int {
	x := s.index()
	li, ok := x.loc[loc]
	if !ok {
		return nil
	}
	return x.byLoc[li]
}

// moveActor changes an actor's location and keeps the location index sorted.
func (s *State) moveActor(i int, to string) {
	x := s.index()
	from := s.Actors[i].Location
	if li, ok := x.loc[from]; ok {
		l := x.byLoc[li]
		if k := sort.SearchInts(l, i); k < len(l) && l[k] == i {
			x.byLoc[li] = append(l[:k], l[k+1:]...)
		}
	}
	s.Actors[i].Location = to
	if li, ok := x.loc[to]; ok {
		l := x.byLoc[li]
		k := sort.SearchInts(l, i)
		l = append(l, 0)
		copy(l[k+1:], l[k:])
		l[k] = i
		x.byLoc[li] = l
	}
}

func (s *State) actorByID(id string) (int, bool) {
	i, ok := s.index().actor[id]
	return i, ok
}

func (s *State) location(id string) (maopao.Location, bool) {
	li, ok := s.index().loc[id]
	if !ok {
		return maopao.Location{}, false
	}
	return s.World.Locations[li], true
}

func (s *State) room(id string) *Room {
	li, ok := s.index().loc[id]
	if !ok {
		return nil
	}
	return &s.Rooms[li]
}

func (s *State) player(id string) (int, bool) {
	k := sort.Search(len(s.People), func(i int) bool { return s.People[i].ID >= id })
	return k, k < len(s.People) && s.People[k].ID == id
}

// playersAt lists the players at a location, by ID.
func (s *State) playersAt(loc string) []Player {
	var out []Player
	for _, p := range s.People {
		if p.Location == loc {
			out = append(out, p)
		}
	}
	return out
}
