// Package mongo owns Maopao's MongoDB store, the production storage.Store.
// It uses only operations that behave the same on MongoDB and on FerretDB v1
// (which the tests run against): single-document writes, unique indexes,
// find with sort/limit/projection. No transactions, no $push modifiers, no
// positional updates, no TTL indexes and no distinct (FerretDB rejects the
// maxTimeMS the driver adds when a context has a deadline).
//
// Collections: characters (card fields whose map keys come from outside as
// JSON strings, lower-cased copies of the searched fields; see
// characterDoc), character_revisions (earlier revisions, _id = the JSON
// array [character, revision]; see UpdateCharacter), accounts (_id = player
// ID, unique index on the lower-cased username), players, conversations (unique index on
// player_id+character_id), messages (_id = message ID; unique index on
// conversation_id+seq, which is also how Seqs are claimed, see
// AppendMessage), memories (_id = the JSON array [player, character]) and
// settings (_id = key). Open creates the indexes. Times are stored as BSON
// dates, UTC milliseconds, the same values the bolt store returns.
package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// DefaultDatabase is used when neither Open's argument nor the URI names one.
const DefaultDatabase = "maopao"

// Store is a storage.Store on a MongoDB (or wire-compatible) server.
type Store struct {
	client *mongo.Client
	db     *mongo.Database

	characters, players, conversations, messages, memories, settings *mongo.Collection
	revisions, accounts                                              *mongo.Collection
	worlds, snapshots, records                                       *mongo.Collection
	chatMemories, pictures                                           *mongo.Collection

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Store = (*Store)(nil)

// Open connects to uri, checks the server answers, and creates the indexes
// the store relies on. database "" means the URI's path, or DefaultDatabase.
func Open(ctx context.Context, uri, database string) (*Store, error) {
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		return nil, fmt.Errorf("mongo: open: bad URI: %v: %w", err, maopao.ErrInvalid)
	}
	if database == "" {
		database = cs.Database
	}
	if database == "" {
		database = DefaultDatabase
	}
	if i := strings.IndexAny(database, "/\\. \"$\x00"); i >= 0 {
		return nil, fmt.Errorf("mongo: open: database name %q contains %q, which MongoDB forbids: %w",
			database, database[i], maopao.ErrInvalid)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, fmt.Errorf("mongo: open %s: %w", cs.Hosts, err)
	}
	db := client.Database(database)
	s := &Store{
		client:        client,
		db:            db,
		characters:    db.Collection("characters"),
		players:       db.Collection("players"),
		conversations: db.Collection("conversations"),
		messages:      db.Collection("messages"),
		memories:      db.Collection("memories"),
		settings:      db.Collection("settings"),
		revisions:     db.Collection("character_revisions"),
		accounts:      db.Collection("accounts"),
		worlds:        db.Collection("worlds"),
		snapshots:     db.Collection("world_snapshots"),
		records:       db.Collection("memory_records"),
		chatMemories:  db.Collection("chat_memories"),
		pictures:      db.Collection("pictures"),
	}
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: open %s: %w", cs.Hosts, err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: open %s/%s: %w", cs.Hosts, database, err)
	}
	if err := s.backfillSearchFields(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: open %s/%s: %w", cs.Hosts, database, err)
	}
	return s, nil
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	unique := []struct {
		coll *mongo.Collection
		name string
		keys bson.D
	}{
		// Racing OpenConversation calls converge on the one insert this
		// lets through (see pairSlot).
		{s.conversations, "pair_slot", bson.D{{Key: "pair_slot", Value: 1}}},
		// Claiming a Seq is inserting under this index; see AppendMessage.
		{s.messages, "conversation_seq", bson.D{{Key: "conversation_id", Value: 1}, {Key: "seq", Value: 1}}},
		// Usernames are unique whatever their case; see CreateAccount.
		{s.accounts, "username_lc", bson.D{{Key: "username_lc", Value: 1}}},
		// ... and so are their lookalike keys (maopao.UsernameKey).
		{s.accounts, "username_key", bson.D{{Key: "username_key", Value: 1}}},
	}
	if err := s.keyAccounts(ctx); err != nil {
		return err
	}
	// Before players had many chats with a character, (player_id,
	// character_id) was unique; chats then get their pair_slot first.
	if err := s.migratePairSlots(ctx); err != nil {
		return err
	}
	for _, u := range unique {
		_, err := u.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    u.keys,
			Options: options.Index().SetName(u.name).SetUnique(true),
		})
		if err != nil {
			return fmt.Errorf("create index %s on %s: %w", u.name, u.coll.Name(), err)
		}
	}
	// An owner's pictures are summed for their quota.
	if _, err := s.pictures.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "owner_id", Value: 1}},
		Options: options.Index().SetName("owner"),
	}); err != nil {
		return fmt.Errorf("create index owner on pictures: %w", err)
	}
	// A pair's memories are read together for every prompt.
	if _, err := s.chatMemories.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "player_id", Value: 1}, {Key: "character_id", Value: 1}},
		Options: options.Index().SetName("player_character"),
	}); err != nil {
		return fmt.Errorf("create index player_character on chat_memories: %w", err)
	}
	// A pair's chats are listed most recent first.
	_, err := s.conversations.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "player_id", Value: 1}, {Key: "character_id", Value: 1}, {Key: "updated_at", Value: -1}},
		Options: options.Index().SetName("player_character_updated"),
	})
	if err != nil {
		return fmt.Errorf("create index player_character_updated on %s: %w", s.conversations.Name(), err)
	}
	// A character's memory stream is read newest first.
	_, err = s.records.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "world_id", Value: 1}, {Key: "character_id", Value: 1}, {Key: "sim_minute", Value: -1}},
		Options: options.Index().SetName("world_character_minute"),
	})
	if err != nil {
		return fmt.Errorf("create index world_character_minute on %s: %w", s.records.Name(), err)
	}
	return nil
}

// Database is the database the store uses.
func (s *Store) Database() string { return s.db.Name() }

// Ping reports whether the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	if err := s.db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		return fmt.Errorf("mongo: ping: %w", err)
	}
	return nil
}

// Close disconnects; later calls return the first call's result.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if err := s.client.Disconnect(ctx); err != nil {
			s.closeErr = fmt.Errorf("mongo: close: %w", err)
		}
	})
	return s.closeErr
}

// PutCharacter inserts or replaces the character with c.ID.
func (s *Store) PutCharacter(ctx context.Context, c maopao.Character) error {
	const op = "put character"
	if err := storage.ValidCharacter(c); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, c.ID, err)
	}
	d, err := newCharacterDoc(c)
	if err != nil {
		return fmt.Errorf("mongo: %s %q: %w", op, c.ID, err)
	}
	_, err = s.characters.ReplaceOne(ctx, byID(c.ID), d, options.Replace().SetUpsert(true))
	return fail(op, c.ID, err)
}

// GetCharacter returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetCharacter(ctx context.Context, id string) (maopao.Character, error) {
	const op = "get character"
	if err := ctx.Err(); err != nil {
		return maopao.Character{}, fail(op, id, err)
	}
	var d characterDoc
	if err := s.characters.FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return maopao.Character{}, fail(op, id, err)
	}
	c, err := d.character()
	return c, fail(op, id, err)
}

// ListCharacters returns every character ordered by Name, then ID.
func (s *Store) ListCharacters(ctx context.Context) ([]maopao.Character, error) {
	const op = "list characters"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, "", err)
	}
	cur, err := s.characters.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fail(op, "", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := []maopao.Character{}
	for cur.Next(ctx) {
		var d characterDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fail(op, "", err)
		}
		c, err := d.character()
		if err != nil {
			return nil, fail(op, "", err)
		}
		out = append(out, c)
	}
	if err := cur.Err(); err != nil {
		return nil, fail(op, "", err)
	}
	// The server's order depends on collation settings we do not own; the
	// contract is Go's byte order, which the bolt store uses too.
	sortCharacters(out)
	return out, nil
}

func sortCharacters(cs []maopao.Character) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].ID < cs[j].ID
	})
}

// DeleteCharacter deletes the character and its history; maopao.ErrNotFound
// (wrapped) when absent. Without transactions the history goes in a
// separate step, after the character, so a crash in between leaves history
// nobody can reach; CreateCharacter clears such leftovers.
func (s *Store) DeleteCharacter(ctx context.Context, id string) error {
	const op = "delete character"
	if err := ctx.Err(); err != nil {
		return fail(op, id, err)
	}
	res, err := s.characters.DeleteOne(ctx, byID(id))
	if err != nil {
		return fail(op, id, err)
	}
	if res.DeletedCount == 0 {
		return fail(op, id, mongo.ErrNoDocuments)
	}
	_, err = s.revisions.DeleteMany(ctx, bson.D{{Key: "character_id", Value: id}})
	return fail(op+" history", id, err)
}

// PutPlayer inserts or replaces the player with p.ID.
func (s *Store) PutPlayer(ctx context.Context, p maopao.Player) error {
	const op = "put player"
	if err := storage.ValidPlayer(p); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, p.ID, err)
	}
	p.CreatedAt = normTime(p.CreatedAt)
	_, err := s.players.ReplaceOne(ctx, byID(p.ID), p, options.Replace().SetUpsert(true))
	return fail(op, p.ID, err)
}

// GetPlayer returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetPlayer(ctx context.Context, id string) (maopao.Player, error) {
	const op = "get player"
	var p maopao.Player
	if err := ctx.Err(); err != nil {
		return p, fail(op, id, err)
	}
	if err := s.players.FindOne(ctx, byID(id)).Decode(&p); err != nil {
		return maopao.Player{}, fail(op, id, err)
	}
	p.CreatedAt = normTime(p.CreatedAt)
	return p, nil
}

// memoryDoc gives a memory the _id that makes PutMemory a single upsert.
type memoryDoc struct {
	ID            string `bson:"_id"`
	maopao.Memory `bson:",inline"`
}

// memoryID is unambiguous for any pair of IDs, unlike a joined string.
func memoryID(playerID, characterID string) string {
	b, _ := json.Marshal([2]string{playerID, characterID}) // strings always marshal
	return string(b)
}

// GetMemory returns a zero Memory with the IDs filled in when none is stored.
func (s *Store) GetMemory(ctx context.Context, playerID, characterID string) (maopao.Memory, error) {
	const op = "get memory"
	zero := maopao.Memory{PlayerID: playerID, CharacterID: characterID}
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return zero, fmt.Errorf("mongo: %s: %w", op, err)
	}
	id := memoryID(playerID, characterID)
	if err := ctx.Err(); err != nil {
		return zero, fail(op, id, err)
	}
	var d memoryDoc
	err := s.memories.FindOne(ctx, byID(id)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return zero, nil
	}
	if err != nil {
		return zero, fail(op, id, err)
	}
	d.Memory.UpdatedAt = normTime(d.Memory.UpdatedAt)
	return d.Memory, nil
}

// PutMemory inserts or replaces the memory for m's (player, character).
func (s *Store) PutMemory(ctx context.Context, m maopao.Memory) error {
	const op = "put memory"
	if err := storage.ValidMemory(m); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	id := memoryID(m.PlayerID, m.CharacterID)
	if err := ctx.Err(); err != nil {
		return fail(op, id, err)
	}
	m.UpdatedAt = normTime(m.UpdatedAt)
	d := memoryDoc{ID: id, Memory: m}
	_, err := s.memories.ReplaceOne(ctx, byID(id), d, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		// Two upserts of a new _id can race on MongoDB; the loser's retry
		// finds the document and replaces it.
		_, err = s.memories.ReplaceOne(ctx, byID(id), d, options.Replace().SetUpsert(true))
	}
	return fail(op, id, err)
}

type settingDoc struct {
	Key   string `bson:"_id"`
	Value []byte `bson:"value"`
}

// GetSetting returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	const op = "get setting"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, key, err)
	}
	var d settingDoc
	if err := s.settings.FindOne(ctx, byID(key)).Decode(&d); err != nil {
		return nil, fail(op, key, err)
	}
	return nonNil(d.Value), nil
}

// PutSettingIfAbsent stores value unless key exists and returns whichever
// value is stored afterwards. The insert either wins or hits the _id index,
// so racing writers all end up reading the winner's value.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	const op = "put setting"
	if err := storage.ValidKey(key); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(op, key, err)
	}
	value = nonNil(value)
	_, err := s.settings.InsertOne(ctx, settingDoc{Key: key, Value: value})
	if err == nil {
		return append([]byte{}, value...), nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return nil, fail(op, key, err)
	}
	return s.GetSetting(ctx, key)
}

// fail wraps err with the operation and the record it was about, turning
// "no documents" into maopao.ErrNotFound.
func fail(op, id string, err error) error {
	if err == nil {
		return nil
	}
	where := op
	if id != "" {
		where = fmt.Sprintf("%s %q", op, id)
	}
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s: %w", where, maopao.ErrNotFound)
	}
	return fmt.Errorf("mongo: %s: %w", where, err)
}

func byID(id string) bson.D { return bson.D{{Key: "_id", Value: id}} }

// normTime is the one time form both adapters store: UTC at millisecond
// precision, which is what a BSON date holds anyway.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// characterDoc keeps the card fields whose map keys come from imported
// cards as JSON strings: BSON field names cannot hold what JSON keys can
// ("a.b", "$ref" and NUL are rejected by MongoDB or FerretDB), and the
// driver would hand nested values back as bson.D and int32. As strings
// they round-trip exactly as in the bolt store, which stores JSON. The
// *_lc fields are lower-cased copies for SearchCharacters (strings.ToLower,
// so both stores agree on what matches).
type characterDoc struct {
	maopao.Character `bson:",inline"`
	ExtensionsJSON   string   `bson:"extensions_json,omitempty"`
	BookJSON         string   `bson:"character_book_json,omitempty"`
	CardExtraJSON    string   `bson:"card_extra_json,omitempty"`
	NotesJSON        string   `bson:"creator_notes_multilingual_json,omitempty"`
	NameLC           string   `bson:"name_lc"`
	NicknameLC       string   `bson:"nickname_lc"`
	CreatorLC        string   `bson:"creator_lc"`
	TagsLC           []string `bson:"tags_lc"`
}

func newCharacterDoc(c maopao.Character) (characterDoc, error) {
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	c.AvatarSize = len(c.Avatar)
	d := characterDoc{
		Character: c,
		NameLC:    strings.ToLower(c.Name), NicknameLC: strings.ToLower(c.Nickname),
		CreatorLC: strings.ToLower(c.Creator), TagsLC: storage.LowerAll(c.Tags),
	}
	d.Extensions, d.CharacterBook, d.CardExtra, d.CreatorNotesMultilingual = nil, nil, nil, nil
	for _, f := range []struct {
		name  string
		empty bool
		v     any
		dst   *string
	}{
		// An empty map is stored as "{}", not left out: a card's {} stays {}.
		{"extensions", c.Extensions == nil, c.Extensions, &d.ExtensionsJSON},
		{"character_book", c.CharacterBook == nil, c.CharacterBook, &d.BookJSON},
		{"card_extra", c.CardExtra == nil, c.CardExtra, &d.CardExtraJSON},
		{"creator_notes_multilingual", c.CreatorNotesMultilingual == nil, c.CreatorNotesMultilingual, &d.NotesJSON},
	} {
		if f.empty {
			continue
		}
		b, err := json.Marshal(f.v)
		if err != nil {
			return d, fmt.Errorf("%s cannot be stored as JSON: %v: %w", f.name, err, maopao.ErrInvalid)
		}
		*f.dst = string(b)
	}
	return d, nil
}

func (d characterDoc) character() (maopao.Character, error) {
	c := d.Character
	c.Extensions, c.CharacterBook, c.CardExtra, c.CreatorNotesMultilingual = nil, nil, nil, nil
	for _, f := range []struct {
		name, src string
		dst       any
	}{
		{"extensions_json", d.ExtensionsJSON, &c.Extensions},
		{"character_book_json", d.BookJSON, &c.CharacterBook},
		{"card_extra_json", d.CardExtraJSON, &c.CardExtra},
		{"creator_notes_multilingual_json", d.NotesJSON, &c.CreatorNotesMultilingual},
	} {
		if f.src == "" {
			continue
		}
		// Numbers stay json.Number: cards carry integers beyond 2^53 and
		// decimals whose spelling an export must keep.
		dec := json.NewDecoder(strings.NewReader(f.src))
		dec.UseNumber()
		if err := dec.Decode(f.dst); err != nil {
			return c, fmt.Errorf("character %q: corrupt %s: %w", c.ID, f.name, err)
		}
	}
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	return c, nil
}
