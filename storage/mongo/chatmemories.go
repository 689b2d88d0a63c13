package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// PutChatMemory inserts or replaces the memory with m.ID. A memory keeps
// its pair: the replace matches the ID and the pair, and an ID taken by
// another pair is a conflict.
func (s *Store) PutChatMemory(ctx context.Context, m maopao.ChatMemory) error {
	const op = "put chat memory"
	if err := storage.ValidChatMemory(m); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, m.ID, err)
	}
	m.CreatedAt, m.UpdatedAt = normTime(m.CreatedAt), normTime(m.UpdatedAt)
	filter := bson.D{{Key: "_id", Value: m.ID}, {Key: "player_id", Value: m.PlayerID}, {Key: "character_id", Value: m.CharacterID}}
	_, err := s.chatMemories.ReplaceOne(ctx, filter, m, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: %s %q: belongs to another player or character: %w", op, m.ID, maopao.ErrConflict)
	}
	return fail(op, m.ID, err)
}

// GetChatMemory returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetChatMemory(ctx context.Context, id string) (maopao.ChatMemory, error) {
	const op = "get chat memory"
	var m maopao.ChatMemory
	if err := ctx.Err(); err != nil {
		return m, fail(op, id, err)
	}
	if err := s.chatMemories.FindOne(ctx, byID(id)).Decode(&m); err != nil {
		return maopao.ChatMemory{}, fail(op, id, err)
	}
	m.CreatedAt, m.UpdatedAt = normTime(m.CreatedAt), normTime(m.UpdatedAt)
	return m, nil
}

// ChatMemories returns the pair's memories, newest first (ordered here:
// the contract is Go's order).
func (s *Store) ChatMemories(ctx context.Context, playerID, characterID string) ([]maopao.ChatMemory, error) {
	const op = "chat memories"
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	cur, err := s.chatMemories.Find(ctx, bson.D{{Key: "player_id", Value: playerID}, {Key: "character_id", Value: characterID}})
	if err != nil {
		return nil, fail(op, playerID, err)
	}
	out := []maopao.ChatMemory{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, playerID, err)
	}
	for i := range out {
		out[i].CreatedAt, out[i].UpdatedAt = normTime(out[i].CreatedAt), normTime(out[i].UpdatedAt)
	}
	storage.SortChatMemories(out)
	return out, nil
}

// DeleteChatMemory removes the memory; maopao.ErrNotFound when absent.
func (s *Store) DeleteChatMemory(ctx context.Context, id string) error {
	const op = "delete chat memory"
	if err := ctx.Err(); err != nil {
		return fail(op, id, err)
	}
	res, err := s.chatMemories.DeleteOne(ctx, byID(id))
	if err != nil {
		return fail(op, id, err)
	}
	if res.DeletedCount == 0 {
		return fail(op, id, mongo.ErrNoDocuments)
	}
	return nil
}
