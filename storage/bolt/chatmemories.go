package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// Chat memories live under the pair's key and their ID, so a pair's are one
// prefix scan; chat_memory_ids maps an ID to that key.

func chatMemoryKey(m maopao.ChatMemory) []byte {
	return append(pairKey(m.PlayerID, m.CharacterID), m.ID...)
}

// PutChatMemory inserts or replaces the memory with m.ID.
func (s *Store) PutChatMemory(ctx context.Context, m maopao.ChatMemory) error {
	if err := storage.ValidChatMemory(m); err != nil {
		return fmt.Errorf("bolt: put chat memory: %w", err)
	}
	m.CreatedAt, m.UpdatedAt = normTime(m.CreatedAt), normTime(m.UpdatedAt)
	v, err := encode("chat memory "+m.ID, m)
	if err != nil {
		return err
	}
	return s.update(ctx, "put chat memory "+m.ID, func(tx *bbolt.Tx) error {
		ids, mems := tx.Bucket(bucketChatMemoryIDs), tx.Bucket(bucketChatMemories)
		key := chatMemoryKey(m)
		if old := ids.Get([]byte(m.ID)); old != nil && !bytes.Equal(old, key) {
			return fmt.Errorf("chat memory %q belongs to another player or character: %w", m.ID, maopao.ErrConflict)
		}
		if err := ids.Put([]byte(m.ID), key); err != nil {
			return err
		}
		return mems.Put(key, v)
	})
}

// GetChatMemory returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetChatMemory(ctx context.Context, id string) (maopao.ChatMemory, error) {
	var m maopao.ChatMemory
	err := s.view(ctx, "get chat memory "+id, func(tx *bbolt.Tx) error {
		key := tx.Bucket(bucketChatMemoryIDs).Get([]byte(id))
		if key == nil {
			return fmt.Errorf("chat memory %q: %w", id, maopao.ErrNotFound)
		}
		return json.Unmarshal(tx.Bucket(bucketChatMemories).Get(key), &m)
	})
	return m, err
}

// ChatMemories returns the pair's memories, newest first.
func (s *Store) ChatMemories(ctx context.Context, playerID, characterID string) ([]maopao.ChatMemory, error) {
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return nil, fmt.Errorf("bolt: chat memories: %w", err)
	}
	out := []maopao.ChatMemory{}
	err := s.view(ctx, "chat memories", func(tx *bbolt.Tx) error {
		prefix := pairKey(playerID, characterID)
		c := tx.Bucket(bucketChatMemories).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var m maopao.ChatMemory
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("chat memory key %x: corrupt record: %w", k, err)
			}
			// A longer player ID can share the prefix's bytes only with
			// another length byte, so the pair check is for safety.
			if m.PlayerID == playerID && m.CharacterID == characterID {
				out = append(out, m)
			}
		}
		return nil
	})
	storage.SortChatMemories(out)
	return out, err
}

// DeleteChatMemory removes the memory; maopao.ErrNotFound when absent.
func (s *Store) DeleteChatMemory(ctx context.Context, id string) error {
	return s.update(ctx, "delete chat memory "+id, func(tx *bbolt.Tx) error {
		ids := tx.Bucket(bucketChatMemoryIDs)
		key := ids.Get([]byte(id))
		if key == nil {
			return fmt.Errorf("chat memory %q: %w", id, maopao.ErrNotFound)
		}
		if err := tx.Bucket(bucketChatMemories).Delete(append([]byte(nil), key...)); err != nil {
			return err
		}
		return ids.Delete([]byte(id))
	})
}

// deletePlayerChatMemories removes every chat memory of a player.
func deletePlayerChatMemories(tx *bbolt.Tx, playerID string) error {
	prefix := pairKey(playerID, "")
	mems, ids := tx.Bucket(bucketChatMemories), tx.Bucket(bucketChatMemoryIDs)
	var keys [][]byte
	var memIDs []string
	c := mems.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var m struct {
			ID       string `json:"id"`
			PlayerID string `json:"player_id"`
		}
		if json.Unmarshal(v, &m) != nil || m.PlayerID != playerID {
			continue
		}
		keys = append(keys, append([]byte(nil), k...))
		memIDs = append(memIDs, m.ID)
	}
	for i, k := range keys {
		if err := mems.Delete(k); err != nil {
			return err
		}
		if err := ids.Delete([]byte(memIDs[i])); err != nil {
			return err
		}
	}
	return nil
}
