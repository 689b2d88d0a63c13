// Package bolt owns Maopao's embedded single-node store: one bbolt file in the
// data folder holding characters, players, conversations, messages, memories
// and settings. Every write is one bbolt transaction, so a crash never leaves
// a record half-written or an index pointing nowhere.
//
// Layout (all values JSON unless said otherwise):
//
//	characters/<id>                 maopao.Character without Avatar
//	avatars/<id>                    the current revision's avatar bytes (raw)
//	revisions/<id>/<rev as 8 bytes big-endian>  an earlier revision, Avatar included
//	accounts/<player id>            accountRecord
//	usernames/<lower-cased name>    player ID (raw)
//	players/<id>                    maopao.Player
//	conversations/<id>              maopao.Conversation
//	pairs/<pairKey(player,char)>    conversation ID (raw): the chat OpenConversation created
//	chats/<pairKey(player,char)><conversation id>  empty: every chat of the pair
//	messages/<conversation id>/<seq as 8 bytes big-endian>  maopao.Message
//	message_ids/<message id>        seq (8 bytes) + conversation ID (raw)
//	memories/<pairKey(player,char)> maopao.Memory
//	settings/<key>                  value (raw)
//	meta/schema                     layout version (raw)
//
// Big-endian Seq keys make bbolt's byte order the Seq order, so the last key
// of a conversation's bucket is its highest Seq and range reads are cursor
// walks. Avatars (up to 2 MiB) live apart from the character records so
// that lists and searches never decode them.
//
// Buckets added after layout "1" was first written (avatars, revisions,
// accounts, usernames) are created on open, and a version-1 file without
// them reads as having no avatars, history or accounts, which is what it
// holds; so the layout version stays "1".
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned (wrapped) by Open when another process, or another
// Store in this one, holds the data file.
var ErrInUse = errors.New("data file is in use")

// lockTimeout bounds how long Open waits for the file lock; bbolt's default
// is to wait forever, which looks like a hang to whoever started a second
// server on the same data folder.
const lockTimeout = time.Second

// schemaVersion is the layout described in the package comment. A file
// written by a newer layout is refused rather than misread.
const schemaVersion = "1"

var (
	bucketCharacters       = []byte("characters")
	bucketPlayers          = []byte("players")
	bucketConversations    = []byte("conversations")
	bucketPairs            = []byte("pairs")
	bucketMessages         = []byte("messages")
	bucketMessageIDs       = []byte("message_ids")
	bucketMemories         = []byte("memories")
	bucketSettings         = []byte("settings")
	bucketMeta             = []byte("meta")
	bucketAvatars          = []byte("avatars")
	bucketRevisions        = []byte("revisions")
	bucketAccounts         = []byte("accounts")
	bucketUsernames        = []byte("usernames")
	bucketUsernameKeys     = []byte("username_keys")
	bucketChats            = []byte("chats")
	bucketChatMemories     = []byte("chat_memories")
	bucketChatMemoryIDs    = []byte("chat_memory_ids")
	keySchema              = []byte("schema")
	keyChatsIndexed        = []byte("chats_indexed")
	keyUsernameKeysIndexed = []byte("username_keys_indexed")
)

var allBuckets = [][]byte{
	bucketCharacters, bucketPlayers, bucketConversations, bucketPairs,
	bucketMessages, bucketMessageIDs, bucketMemories, bucketSettings, bucketMeta,
	bucketAvatars, bucketRevisions, bucketAccounts, bucketUsernames, bucketUsernameKeys, bucketChats, bucketChatMemories, bucketChatMemoryIDs,
	bucketPictures, bucketPictureOwners,
}

// Store is a storage.Store backed by one bbolt file.
type Store struct {
	db   *bbolt.DB
	path string

	closeOnce sync.Once
	closeErr  error
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating if needed) the store in the file at path, creating
// its parent directory too. It fails within about a second, with ErrInUse,
// when the file is already open elsewhere.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("bolt: open: empty path: %w", maopao.ErrInvalid)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("bolt: open %s: create data folder: %w", path, err)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("bolt: open %s: data folder in use (another maopao process holds the file lock; waited %s): %w",
				path, lockTimeout, ErrInUse)
		}
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keySchema); {
		case v == nil:
			return meta.Put(keySchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("file has storage layout %q, this build understands %q", v, schemaVersion)
		}
		if err := indexChats(tx); err != nil {
			return err
		}
		return indexUsernameKeys(tx)
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Ping reports an error once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, "ping", func(*bbolt.Tx) error { return nil })
}

// Close closes the file; later calls return the first call's result.
func (s *Store) Close(context.Context) error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func (s *Store) view(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	return s.wrap(op, s.db.View(fn))
}

func (s *Store) update(ctx context.Context, op string, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	return s.wrap(op, s.db.Update(fn))
}

func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		return fmt.Errorf("bolt: %s: store %s is closed: %w", op, s.path, err)
	default:
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
}

// PutCharacter inserts or replaces the character with c.ID.
func (s *Store) PutCharacter(ctx context.Context, c maopao.Character) error {
	if err := storage.ValidCharacter(c); err != nil {
		return fmt.Errorf("bolt: put character: %w", err)
	}
	return s.update(ctx, "put character "+c.ID, func(tx *bbolt.Tx) error {
		return putCurrent(tx, c)
	})
}

// putCurrent writes c as the current revision: the record without its
// avatar, and the avatar apart.
func putCurrent(tx *bbolt.Tx, c maopao.Character) error {
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	avatar := c.Avatar
	// The size is read off the avatars bucket, so records need not keep it.
	c.Avatar, c.AvatarSize = nil, 0
	v, err := encode("character "+c.ID, c)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketCharacters).Put([]byte(c.ID), v); err != nil {
		return err
	}
	if len(avatar) == 0 {
		return tx.Bucket(bucketAvatars).Delete([]byte(c.ID))
	}
	return tx.Bucket(bucketAvatars).Put([]byte(c.ID), avatar)
}

// getCurrent reads the current revision, avatar included when withAvatar.
func getCurrent(tx *bbolt.Tx, id string, withAvatar bool) (maopao.Character, error) {
	var c maopao.Character
	v := tx.Bucket(bucketCharacters).Get([]byte(id))
	if v == nil {
		return c, fmt.Errorf("character %q: %w", id, maopao.ErrNotFound)
	}
	if err := decodeCharacter(v, &c); err != nil {
		return c, fmt.Errorf("character %q: corrupt record: %w", id, err)
	}
	a := tx.Bucket(bucketAvatars).Get([]byte(id))
	c.Avatar, c.AvatarSize = nil, len(a)
	if withAvatar && a != nil {
		// bbolt's slices die with the transaction.
		c.Avatar = append([]byte{}, a...)
	}
	return c, nil
}

// GetCharacter returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetCharacter(ctx context.Context, id string) (maopao.Character, error) {
	var c maopao.Character
	err := s.view(ctx, "get character "+id, func(tx *bbolt.Tx) error {
		var err error
		c, err = getCurrent(tx, id, true)
		return err
	})
	return c, err
}

// ListCharacters returns every character ordered by Name, then ID.
func (s *Store) ListCharacters(ctx context.Context) ([]maopao.Character, error) {
	out := []maopao.Character{}
	err := s.view(ctx, "list characters", func(tx *bbolt.Tx) error {
		avatars := tx.Bucket(bucketAvatars)
		return s.eachCharacter(ctx, tx, func(c maopao.Character) {
			if a := avatars.Get([]byte(c.ID)); a != nil {
				c.Avatar = append([]byte{}, a...)
			}
			out = append(out, c)
		})
	})
	if err != nil {
		return nil, err
	}
	sortCharacters(out)
	return out, nil
}

// eachCharacter decodes every current record (without avatars).
func (s *Store) eachCharacter(ctx context.Context, tx *bbolt.Tx, fn func(maopao.Character)) error {
	avatars := tx.Bucket(bucketAvatars)
	return tx.Bucket(bucketCharacters).ForEach(func(k, v []byte) error {
		// Long walks give cancellation a chance between records.
		if err := ctx.Err(); err != nil {
			return err
		}
		var c maopao.Character
		if err := decodeCharacter(v, &c); err != nil {
			return fmt.Errorf("character %q: corrupt record: %w", k, err)
		}
		c.Avatar, c.AvatarSize = nil, len(avatars.Get(k))
		fn(c)
		return nil
	})
}

func sortCharacters(cs []maopao.Character) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].ID < cs[j].ID
	})
}

// DeleteCharacter deletes the character, its avatar and its history;
// maopao.ErrNotFound (wrapped) when absent.
func (s *Store) DeleteCharacter(ctx context.Context, id string) error {
	return s.update(ctx, "delete character "+id, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCharacters)
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("character %q: %w", id, maopao.ErrNotFound)
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketAvatars).Delete([]byte(id)); err != nil {
			return err
		}
		return deleteHistory(tx, id)
	})
}

// PutPlayer inserts or replaces the player with p.ID.
func (s *Store) PutPlayer(ctx context.Context, p maopao.Player) error {
	if err := storage.ValidPlayer(p); err != nil {
		return fmt.Errorf("bolt: put player: %w", err)
	}
	p.CreatedAt = normTime(p.CreatedAt)
	v, err := encode("player "+p.ID, p)
	if err != nil {
		return fmt.Errorf("bolt: put player: %w", err)
	}
	return s.update(ctx, "put player "+p.ID, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPlayers).Put([]byte(p.ID), v)
	})
}

// GetPlayer returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetPlayer(ctx context.Context, id string) (maopao.Player, error) {
	var p maopao.Player
	err := s.view(ctx, "get player "+id, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketPlayers), id, "player", &p)
	})
	return p, err
}

// GetConversation returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetConversation(ctx context.Context, id string) (maopao.Conversation, error) {
	var c maopao.Conversation
	err := s.view(ctx, "get conversation "+id, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketConversations), id, "conversation", &c)
	})
	return c, err
}

// AppendMessage stores m with the next Seq of its conversation. The ID
// check, the Seq choice and both index writes are one transaction, so Seqs
// stay dense and a retried message is never stored twice.
func (s *Store) AppendMessage(ctx context.Context, m maopao.Message) (maopao.Message, bool, error) {
	if err := storage.ValidMessage(m); err != nil {
		return maopao.Message{}, false, fmt.Errorf("bolt: append message: %w", err)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	m = storage.NormTimes(m)
	created := false
	err := s.update(ctx, "append message "+m.ID, func(tx *bbolt.Tx) error {
		ids := tx.Bucket(bucketMessageIDs)
		if loc := ids.Get([]byte(m.ID)); loc != nil {
			return getMessageAt(tx, m.ID, loc, &m)
		}
		if tx.Bucket(bucketConversations).Get([]byte(m.ConversationID)) == nil {
			return fmt.Errorf("conversation %q: %w", m.ConversationID, maopao.ErrNotFound)
		}
		msgs, err := tx.Bucket(bucketMessages).CreateBucketIfNotExists([]byte(m.ConversationID))
		if err != nil {
			return err
		}
		m.Seq = 1
		if k, _ := msgs.Cursor().Last(); k != nil {
			m.Seq = int64(binary.BigEndian.Uint64(k)) + 1
		}
		v, err := encode("message", m)
		if err != nil {
			return err
		}
		key := seqKey(m.Seq)
		if err := msgs.Put(key, v); err != nil {
			return err
		}
		created = true
		if err := ids.Put([]byte(m.ID), append(key, m.ConversationID...)); err != nil {
			return err
		}
		return touchConversation(tx, m.ConversationID, m.CreatedAt)
	})
	if err != nil {
		return maopao.Message{}, false, err
	}
	return m, created, nil
}

// GetMessage returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetMessage(ctx context.Context, id string) (maopao.Message, error) {
	var m maopao.Message
	err := s.view(ctx, "get message "+id, func(tx *bbolt.Tx) error {
		loc := tx.Bucket(bucketMessageIDs).Get([]byte(id))
		if loc == nil {
			return fmt.Errorf("message %q: %w", id, maopao.ErrNotFound)
		}
		return getMessageAt(tx, id, loc, &m)
	})
	return m, err
}

// RecentMessages returns up to limit messages with the highest Seq, in
// ascending Seq order; limit <= 0 means all.
func (s *Store) RecentMessages(ctx context.Context, conversationID string, limit int) ([]maopao.Message, error) {
	out := []maopao.Message{}
	err := s.view(ctx, "recent messages of "+conversationID, func(tx *bbolt.Tx) error {
		msgs := tx.Bucket(bucketMessages).Bucket([]byte(conversationID))
		if msgs == nil {
			return nil
		}
		c := msgs.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			m, err := decodeMessage(conversationID, k, v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// MessagesAfter returns the messages with Seq > afterSeq, ascending, at most
// limit (<= 0: all).
func (s *Store) MessagesAfter(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]maopao.Message, error) {
	out := []maopao.Message{}
	err := s.view(ctx, "messages of "+conversationID, func(tx *bbolt.Tx) error {
		msgs := tx.Bucket(bucketMessages).Bucket([]byte(conversationID))
		if msgs == nil {
			return nil
		}
		if afterSeq < 0 {
			afterSeq = 0
		}
		c := msgs.Cursor()
		for k, v := c.Seek(seqKey(afterSeq + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			m, err := decodeMessage(conversationID, k, v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetMemory returns a zero Memory with the IDs filled in when none is stored.
func (s *Store) GetMemory(ctx context.Context, playerID, characterID string) (maopao.Memory, error) {
	mem := maopao.Memory{PlayerID: playerID, CharacterID: characterID}
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return mem, fmt.Errorf("bolt: get memory: %w", err)
	}
	err := s.view(ctx, "get memory", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketMemories).Get(pairKey(playerID, characterID))
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &mem); err != nil {
			return fmt.Errorf("memory of %q about %q: corrupt record: %w", characterID, playerID, err)
		}
		return nil
	})
	return mem, err
}

// PutMemory inserts or replaces the memory for m's (player, character).
func (s *Store) PutMemory(ctx context.Context, m maopao.Memory) error {
	if err := storage.ValidMemory(m); err != nil {
		return fmt.Errorf("bolt: put memory: %w", err)
	}
	m.UpdatedAt = normTime(m.UpdatedAt)
	v, err := encode("memory", m)
	if err != nil {
		return fmt.Errorf("bolt: put memory: %w", err)
	}
	return s.update(ctx, "put memory", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMemories).Put(pairKey(m.PlayerID, m.CharacterID), v)
	})
}

// GetSetting returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetSetting(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, "get setting "+key, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketSettings).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("setting %q: %w", key, maopao.ErrNotFound)
		}
		// bbolt's slices die with the transaction.
		out = append([]byte{}, v...)
		return nil
	})
	return out, err
}

// PutSettingIfAbsent stores value unless key exists and returns whichever
// value is stored afterwards.
func (s *Store) PutSettingIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if err := storage.ValidKey(key); err != nil {
		return nil, fmt.Errorf("bolt: put setting: %w", err)
	}
	var out []byte
	err := s.update(ctx, "put setting "+key, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSettings)
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte{}, v...)
			return nil
		}
		out = append([]byte{}, value...)
		return b.Put([]byte(key), out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// normTime is the one time form both adapters store: UTC at millisecond
// precision (BSON dates hold milliseconds), so values read back compare
// equal whichever store wrote them.
func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func encode(what string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be stored as JSON: %v: %w", what, err, maopao.ErrInvalid)
	}
	return b, nil
}

// decodeCharacter reads a character record keeping the numbers in its maps
// (extensions, lorebooks, card_extra) as json.Number: cards carry integers
// beyond 2^53 and decimals whose spelling matters, and an export must give
// them back as imported.
func decodeCharacter(v []byte, c *maopao.Character) error {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	return dec.Decode(c)
}

func getJSON(b *bbolt.Bucket, id, kind string, dst any) error {
	v := b.Get([]byte(id))
	if v == nil {
		return fmt.Errorf("%s %q: %w", kind, id, maopao.ErrNotFound)
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("%s %q: corrupt record: %w", kind, id, err)
	}
	return nil
}

// getMessageAt reads a message through its message_ids entry.
func getMessageAt(tx *bbolt.Tx, id string, loc []byte, dst *maopao.Message) error {
	if len(loc) < 8 {
		return fmt.Errorf("message %q: corrupt index entry (%d bytes)", id, len(loc))
	}
	convID := string(loc[8:])
	msgs := tx.Bucket(bucketMessages).Bucket([]byte(convID))
	if msgs == nil {
		return fmt.Errorf("message %q: index names conversation %q, which has no messages", id, convID)
	}
	v := msgs.Get(loc[:8])
	if v == nil {
		return fmt.Errorf("message %q: index names seq %d of %q, which is missing", id, binary.BigEndian.Uint64(loc[:8]), convID)
	}
	m, err := decodeMessage(convID, loc[:8], v)
	*dst = m
	return err
}

func decodeMessage(convID string, k, v []byte) (maopao.Message, error) {
	var m maopao.Message
	if err := json.Unmarshal(v, &m); err != nil {
		return m, fmt.Errorf("conversation %q message key %x: corrupt record: %w", convID, k, err)
	}
	return m, nil
}

func seqKey(seq int64) []byte {
	k := make([]byte, 8, 8+64)
	binary.BigEndian.PutUint64(k, uint64(seq))
	return k
}

// pairKey joins two IDs without a separator that an ID could contain: the
// first ID's length comes first.
func pairKey(a, b string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, 2+len(a)+len(b)), uint64(len(a)))
	return append(append(k, a...), b...)
}
