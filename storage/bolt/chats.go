package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	bbolt "go.etcd.io/bbolt"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// indexChats fills the chats bucket from the pairs bucket once: files
// written before players could have many chats per character know each
// pair's one chat only through pairs.
func indexChats(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyChatsIndexed) != nil {
		return nil
	}
	chats := tx.Bucket(bucketChats)
	err := tx.Bucket(bucketPairs).ForEach(func(pair, id []byte) error {
		return chats.Put(append(append([]byte(nil), pair...), id...), nil)
	})
	if err != nil {
		return fmt.Errorf("index chats: %w", err)
	}
	return meta.Put(keyChatsIndexed, []byte("1"))
}

// pairChats lists the IDs of every chat of a pair.
func pairChats(tx *bbolt.Tx, playerID, characterID string) []string {
	prefix := pairKey(playerID, characterID)
	var ids []string
	c := tx.Bucket(bucketChats).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	return ids
}

func (s *Store) listChats(tx *bbolt.Tx, playerID, characterID string) ([]maopao.Conversation, error) {
	out := []maopao.Conversation{}
	for _, id := range pairChats(tx, playerID, characterID) {
		var c maopao.Conversation
		if err := getJSON(tx.Bucket(bucketConversations), id, "conversation", &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].UpdatedAt.Equal(out[j].UpdatedAt) {
			return out[i].UpdatedAt.After(out[j].UpdatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func putConversation(tx *bbolt.Tx, c maopao.Conversation) error {
	v, err := encode("conversation", c)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketConversations).Put([]byte(c.ID), v); err != nil {
		return err
	}
	return tx.Bucket(bucketChats).Put(append(pairKey(c.PlayerID, c.CharacterID), c.ID...), nil)
}

// touchConversation moves a chat's UpdatedAt forward to at.
func touchConversation(tx *bbolt.Tx, id string, at time.Time) error {
	var c maopao.Conversation
	if err := getJSON(tx.Bucket(bucketConversations), id, "conversation", &c); err != nil {
		return err
	}
	if !at.After(c.UpdatedAt) {
		return nil
	}
	c.UpdatedAt = at
	v, err := encode("conversation", c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketConversations).Put([]byte(id), v)
}

// OpenConversation returns the pair's most recent chat, creating one if
// there is none. The look-up and the insert share one write transaction,
// and bbolt runs one writer at a time, so racing callers cannot both create.
func (s *Store) OpenConversation(ctx context.Context, playerID, characterID string) (maopao.Conversation, error) {
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return maopao.Conversation{}, fmt.Errorf("bolt: open conversation: %w", err)
	}
	var conv maopao.Conversation
	found := false
	// Most calls find a chat; a read transaction does not queue behind writers.
	err := s.view(ctx, "open conversation", func(tx *bbolt.Tx) error {
		chats, err := s.listChats(tx, playerID, characterID)
		if err != nil || len(chats) == 0 {
			return err
		}
		conv, found = chats[0], true
		return nil
	})
	if err != nil || found {
		return conv, err
	}
	err = s.update(ctx, "open conversation", func(tx *bbolt.Tx) error {
		chats, err := s.listChats(tx, playerID, characterID)
		if err != nil {
			return err
		}
		if len(chats) > 0 {
			conv = chats[0]
			return nil
		}
		now := normTime(time.Now())
		conv = maopao.Conversation{ID: uuid.NewString(), PlayerID: playerID, CharacterID: characterID, CreatedAt: now, UpdatedAt: now}
		if err := putConversation(tx, conv); err != nil {
			return err
		}
		return tx.Bucket(bucketPairs).Put(pairKey(playerID, characterID), []byte(conv.ID))
	})
	return conv, err
}

// CreateConversation stores a new chat, or returns the stored one with
// created=false when c.ID is taken.
func (s *Store) CreateConversation(ctx context.Context, c maopao.Conversation) (maopao.Conversation, bool, error) {
	if err := storage.ValidConversation(c); err != nil {
		return maopao.Conversation{}, false, fmt.Errorf("bolt: create conversation: %w", err)
	}
	now := normTime(time.Now())
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	created := false
	err := s.update(ctx, "create conversation "+c.ID, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketConversations).Get([]byte(c.ID)) != nil {
			return getJSON(tx.Bucket(bucketConversations), c.ID, "conversation", &c)
		}
		created = true
		return putConversation(tx, c)
	})
	if err != nil {
		return maopao.Conversation{}, false, err
	}
	return c, created, nil
}

// ListConversations returns the pair's chats, most recently updated first.
func (s *Store) ListConversations(ctx context.Context, playerID, characterID string) ([]maopao.Conversation, error) {
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return nil, fmt.Errorf("bolt: list conversations: %w", err)
	}
	var out []maopao.Conversation
	err := s.view(ctx, "list conversations", func(tx *bbolt.Tx) error {
		var err error
		out, err = s.listChats(tx, playerID, characterID)
		return err
	})
	return out, err
}

// UpdateConversation stores c's title and persona.
func (s *Store) UpdateConversation(ctx context.Context, c maopao.Conversation) (maopao.Conversation, error) {
	if err := storage.ValidText(fmt.Sprintf("conversation %q", c.ID), "title", c.Title); err != nil {
		return maopao.Conversation{}, fmt.Errorf("bolt: update conversation: %w", err)
	}
	var stored maopao.Conversation
	err := s.update(ctx, "update conversation "+c.ID, func(tx *bbolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketConversations), c.ID, "conversation", &stored); err != nil {
			return err
		}
		stored.Title, stored.Persona = c.Title, c.Persona
		if err := storage.ValidConversation(stored); err != nil {
			return err
		}
		return putConversation(tx, stored)
	})
	return stored, err
}

// DeleteConversation deletes the chat, its messages and their index entries.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	return s.update(ctx, "delete conversation "+id, func(tx *bbolt.Tx) error {
		return deleteChat(tx, id)
	})
}

func deleteChat(tx *bbolt.Tx, id string) error {
	var c maopao.Conversation
	if err := getJSON(tx.Bucket(bucketConversations), id, "conversation", &c); err != nil {
		return err
	}
	if msgs := tx.Bucket(bucketMessages).Bucket([]byte(id)); msgs != nil {
		ids := tx.Bucket(bucketMessageIDs)
		err := msgs.ForEach(func(k, v []byte) error {
			var m struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("conversation %q message key %x: corrupt record: %w", id, k, err)
			}
			return ids.Delete([]byte(m.ID))
		})
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMessages).DeleteBucket([]byte(id)); err != nil {
			return err
		}
	}
	pair := pairKey(c.PlayerID, c.CharacterID)
	if err := tx.Bucket(bucketChats).Delete(append(pair, id...)); err != nil {
		return err
	}
	if bytes.Equal(tx.Bucket(bucketPairs).Get(pair), []byte(id)) {
		if err := tx.Bucket(bucketPairs).Delete(pair); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketConversations).Delete([]byte(id))
}

// DeletePlayer removes the player, their chats and the memories of them,
// in one transaction.
func (s *Store) DeletePlayer(ctx context.Context, id string) error {
	if err := storage.ValidID("player", id); err != nil {
		return fmt.Errorf("bolt: delete player: %w", err)
	}
	var pictures []string
	err := s.update(ctx, "delete player "+id, func(tx *bbolt.Tx) error {
		// A chat key is the pair key and the chat's ID with no length
		// between them, so the chat IDs are found from the records: a
		// scan, but deleting a player is rare.
		var chats []string
		err := tx.Bucket(bucketConversations).ForEach(func(k, v []byte) error {
			var c struct {
				PlayerID string `json:"player_id"`
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("conversation %q: corrupt record: %w", k, err)
			}
			if c.PlayerID == id {
				chats = append(chats, string(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, chat := range chats {
			if err := deleteChat(tx, chat); err != nil {
				return err
			}
		}
		// Every pair key of the player starts with pairKey(id, "").
		prefix := pairKey(id, "")
		if err := deletePrefix(tx.Bucket(bucketMemories), prefix); err != nil {
			return err
		}
		if err := deletePrefix(tx.Bucket(bucketPairs), prefix); err != nil {
			return err
		}
		if err := deletePrivateRecords(tx, id); err != nil {
			return err
		}
		if err := deletePlayerChatMemories(tx, id); err != nil {
			return err
		}
		if pictures, err = deletePlayerPictures(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bucketPlayers).Delete([]byte(id))
	})
	if err != nil {
		return err
	}
	return s.removePictureFiles(pictures)
}

// UpdateMessage replaces what can change of a stored message.
func (s *Store) UpdateMessage(ctx context.Context, m maopao.Message) (maopao.Message, error) {
	var stored maopao.Message
	err := s.update(ctx, "update message "+m.ID, func(tx *bbolt.Tx) error {
		loc := tx.Bucket(bucketMessageIDs).Get([]byte(m.ID))
		if loc == nil {
			return fmt.Errorf("message %q: %w", m.ID, maopao.ErrNotFound)
		}
		loc = append([]byte(nil), loc...)
		if err := getMessageAt(tx, m.ID, loc, &stored); err != nil {
			return err
		}
		stored = storage.WithChanges(stored, m)
		if err := storage.ValidMessage(stored); err != nil {
			return err
		}
		v, err := encode("message", stored)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMessages).Bucket(loc[8:]).Put(loc[:8], v)
	})
	if err != nil {
		return maopao.Message{}, err
	}
	return stored, nil
}

// ChatCounts counts every stored chat by character.
func (s *Store) ChatCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	err := s.view(ctx, "count chats", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketConversations).ForEach(func(k, v []byte) error {
			var c struct {
				CharacterID string `json:"character_id"`
			}
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("conversation %q: corrupt record: %w", k, err)
			}
			out[c.CharacterID]++
			return nil
		})
	})
	return out, err
}

// deletePrefix deletes every key of b that starts with prefix.
func deletePrefix(b *bbolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
