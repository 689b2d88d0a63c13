package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// maxClaimAttempts bounds how often one AppendMessage retries after losing
// a Seq to another writer. Every lost attempt means another message was
// stored, so running out takes that many concurrent appends to one
// conversation, not bad luck with a few.
const maxClaimAttempts = 64

// OpenConversation returns the pair's conversation, creating it if needed.
// The unique (player_id, character_id) index lets exactly one racing insert
// through; the losers read the winner's document.
func (s *Store) OpenConversation(ctx context.Context, playerID, characterID string) (maopao.Conversation, error) {
	const op = "open conversation"
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return maopao.Conversation{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	pair := bson.D{{Key: "player_id", Value: playerID}, {Key: "character_id", Value: characterID}}
	for range 3 {
		if err := ctx.Err(); err != nil {
			return maopao.Conversation{}, fail(op, "", err)
		}
		var c maopao.Conversation
		err := s.conversations.FindOne(ctx, pair).Decode(&c)
		if err == nil {
			return normConversation(c), nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return maopao.Conversation{}, fail(op, "", err)
		}
		now := normTime(time.Now())
		c = maopao.Conversation{ID: uuid.NewString(), PlayerID: playerID, CharacterID: characterID, CreatedAt: now, UpdatedAt: now}
		_, err = s.conversations.InsertOne(ctx, c)
		if err == nil {
			return c, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return maopao.Conversation{}, fail(op, "", err)
		}
		// Another caller created it between our find and insert.
	}
	return maopao.Conversation{}, fmt.Errorf("mongo: %s (%q, %q): lost the insert race but found no winner: %w",
		op, playerID, characterID, maopao.ErrConflict)
}

// GetConversation returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetConversation(ctx context.Context, id string) (maopao.Conversation, error) {
	const op = "get conversation"
	var c maopao.Conversation
	if err := ctx.Err(); err != nil {
		return c, fail(op, id, err)
	}
	if err := s.conversations.FindOne(ctx, byID(id)).Decode(&c); err != nil {
		return maopao.Conversation{}, fail(op, id, err)
	}
	return normConversation(c), nil
}

// AppendMessage stores m with the next Seq of its conversation.
//
// Seq is claimed by the insert itself: the message goes in with Seq = the
// highest stored Seq + 1, and the unique (conversation_id, seq) index
// rejects it if another writer got there first, in which case we read the
// new highest Seq and try again. There is deliberately no counter document:
// with "$inc a counter, then insert", a crash or a failed insert between
// the two steps burns a number and leaves a gap, and readers would have to
// cope with non-dense Seqs. Here the claim and the write are one
// single-document insert, so a stored Seq k always means 1..k-1 are stored
// too (each insert used an observed maximum, and the index forbids a second
// copy of any Seq), whatever crashes in between.
//
// Idempotency rides on the same insert: _id is the message ID, so a retry
// of a stored message also fails with a duplicate key, and a read by _id
// tells the two cases apart (the index named in the error is not reported
// uniformly across servers). One edge: if the driver itself retries an
// insert that did land (retryable writes after a network error), the caller
// gets the stored copy with created=false although this call stored it.
func (s *Store) AppendMessage(ctx context.Context, m maopao.Message) (maopao.Message, bool, error) {
	const op = "append message"
	if err := storage.ValidMessage(m); err != nil {
		return maopao.Message{}, false, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return maopao.Message{}, false, fail(op, m.ID, err)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	m.CreatedAt = normTime(m.CreatedAt)

	err := s.conversations.FindOne(ctx, byID(m.ConversationID), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		// A retry naming a conversation that does not exist is still a
		// retry if the message is stored.
		if stored, gerr := s.GetMessage(ctx, m.ID); gerr == nil {
			return stored, false, nil
		}
		return maopao.Message{}, false, fmt.Errorf("mongo: %s %q: conversation %q: %w", op, m.ID, m.ConversationID, maopao.ErrNotFound)
	}
	if err != nil {
		return maopao.Message{}, false, fail(op, m.ID, err)
	}

	for attempt := range maxClaimAttempts {
		last, err := s.lastSeq(ctx, m.ConversationID)
		if err != nil {
			return maopao.Message{}, false, fail(op, m.ID, err)
		}
		m.Seq = last + 1
		_, err = s.messages.InsertOne(ctx, m)
		if err == nil {
			return m, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return maopao.Message{}, false, fail(op, m.ID, err)
		}
		stored, gerr := s.GetMessage(ctx, m.ID)
		if gerr == nil {
			return stored, false, nil
		}
		if !errors.Is(gerr, maopao.ErrNotFound) {
			return maopao.Message{}, false, gerr
		}
		// Lost Seq m.Seq to another writer. Retrying at once is correct
		// (someone made progress); a short random pause after a few losses
		// just spreads out a crowd of writers.
		if attempt >= 2 {
			pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-2, 5)))
			select {
			case <-ctx.Done():
				return maopao.Message{}, false, fail(op, m.ID, ctx.Err())
			case <-time.After(pause):
			}
		}
	}
	return maopao.Message{}, false, fmt.Errorf("mongo: %s %q: lost the race for a Seq in conversation %q %d times: %w",
		op, m.ID, m.ConversationID, maxClaimAttempts, maopao.ErrConflict)
}

// lastSeq is the highest stored Seq of a conversation, 0 when it has none.
func (s *Store) lastSeq(ctx context.Context, convID string) (int64, error) {
	var d struct {
		Seq int64 `bson:"seq"`
	}
	err := s.messages.FindOne(ctx, bson.D{{Key: "conversation_id", Value: convID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}}),
	).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return d.Seq, err
}

// GetMessage returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetMessage(ctx context.Context, id string) (maopao.Message, error) {
	const op = "get message"
	var m maopao.Message
	if err := ctx.Err(); err != nil {
		return m, fail(op, id, err)
	}
	if err := s.messages.FindOne(ctx, byID(id)).Decode(&m); err != nil {
		return maopao.Message{}, fail(op, id, err)
	}
	m.CreatedAt = normTime(m.CreatedAt)
	return m, nil
}

// RecentMessages returns up to limit messages with the highest Seq, in
// ascending Seq order; limit <= 0 means all.
func (s *Store) RecentMessages(ctx context.Context, conversationID string, limit int) ([]maopao.Message, error) {
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: -1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	out, err := s.findMessages(ctx, "recent messages", conversationID, bson.D{{Key: "conversation_id", Value: conversationID}}, opts)
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
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	filter := bson.D{
		{Key: "conversation_id", Value: conversationID},
		{Key: "seq", Value: bson.D{{Key: "$gt", Value: afterSeq}}},
	}
	return s.findMessages(ctx, "messages after", conversationID, filter, opts)
}

func (s *Store) findMessages(ctx context.Context, op, convID string, filter bson.D, opts *options.FindOptionsBuilder) ([]maopao.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, fail(op, convID, err)
	}
	cur, err := s.messages.Find(ctx, filter, opts)
	if err != nil {
		return nil, fail(op, convID, err)
	}
	out := []maopao.Message{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, convID, err)
	}
	for i := range out {
		out[i].CreatedAt = normTime(out[i].CreatedAt)
	}
	return out, nil
}

func normConversation(c maopao.Conversation) maopao.Conversation {
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	return c
}
