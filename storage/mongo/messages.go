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

// convDoc is a chat as stored: the conversation and its pair_slot, which
// a unique index covers. The chat OpenConversation creates for a pair has
// the pair's slot, so racing opens insert it once; every other chat's
// slot is its own ID.
type convDoc struct {
	maopao.Conversation `bson:",inline"`
	PairSlot            string `bson:"pair_slot"`
}

func pairSlot(playerID, characterID string) string {
	return fmt.Sprintf("pair:%d:%s%s", len(playerID), playerID, characterID)
}

func pairFilter(playerID, characterID string) bson.D {
	return bson.D{{Key: "player_id", Value: playerID}, {Key: "character_id", Value: characterID}}
}

// migratePairSlots gives chats written before pair_slot existed theirs:
// then a pair had one chat, so its slot is the pair's. The old unique
// index on the pair goes, since a pair may now have many chats.
func (s *Store) migratePairSlots(ctx context.Context) error {
	cur, err := s.conversations.Find(ctx, bson.D{{Key: "pair_slot", Value: bson.D{{Key: "$exists", Value: false}}}})
	if err != nil {
		return fmt.Errorf("find chats without pair_slot: %w", err)
	}
	var old []maopao.Conversation
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("read chats without pair_slot: %w", err)
	}
	for _, c := range old {
		set := bson.D{{Key: "$set", Value: bson.D{{Key: "pair_slot", Value: pairSlot(c.PlayerID, c.CharacterID)}}}}
		if _, err := s.conversations.UpdateOne(ctx, byID(c.ID), set); err != nil {
			return fmt.Errorf("give chat %q its pair_slot: %w", c.ID, err)
		}
	}
	specs, err := s.conversations.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", s.conversations.Name(), err)
	}
	for _, spec := range specs {
		if spec.Name == "player_character" {
			if err := s.conversations.Indexes().DropOne(ctx, spec.Name); err != nil {
				return fmt.Errorf("drop index player_character: %w", err)
			}
		}
	}
	return nil
}

func (s *Store) latestChat(ctx context.Context, playerID, characterID string) (maopao.Conversation, error) {
	var c maopao.Conversation
	err := s.conversations.FindOne(ctx, pairFilter(playerID, characterID),
		options.FindOne().SetSort(bson.D{{Key: "updated_at", Value: -1}, {Key: "_id", Value: 1}})).Decode(&c)
	return normConversation(c), err
}

// OpenConversation returns the pair's most recent chat, creating one if
// there is none. The unique pair_slot index lets exactly one racing insert
// through; the losers read the winner's document.
func (s *Store) OpenConversation(ctx context.Context, playerID, characterID string) (maopao.Conversation, error) {
	const op = "open conversation"
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return maopao.Conversation{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	for range 3 {
		if err := ctx.Err(); err != nil {
			return maopao.Conversation{}, fail(op, "", err)
		}
		c, err := s.latestChat(ctx, playerID, characterID)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return maopao.Conversation{}, fail(op, "", err)
		}
		now := normTime(time.Now())
		c = maopao.Conversation{ID: uuid.NewString(), PlayerID: playerID, CharacterID: characterID, CreatedAt: now, UpdatedAt: now}
		_, err = s.conversations.InsertOne(ctx, convDoc{Conversation: c, PairSlot: pairSlot(playerID, characterID)})
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

// CreateConversation stores a new chat, or returns the stored one with
// created=false when c.ID is taken.
func (s *Store) CreateConversation(ctx context.Context, c maopao.Conversation) (maopao.Conversation, bool, error) {
	const op = "create conversation"
	if err := storage.ValidConversation(c); err != nil {
		return maopao.Conversation{}, false, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return maopao.Conversation{}, false, fail(op, c.ID, err)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c = normConversation(c)
	_, err := s.conversations.InsertOne(ctx, convDoc{Conversation: c, PairSlot: c.ID})
	if err == nil {
		return c, true, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return maopao.Conversation{}, false, fail(op, c.ID, err)
	}
	stored, err := s.GetConversation(ctx, c.ID)
	if err != nil {
		return maopao.Conversation{}, false, err
	}
	return stored, false, nil
}

// ListConversations returns the pair's chats, most recently updated first.
func (s *Store) ListConversations(ctx context.Context, playerID, characterID string) ([]maopao.Conversation, error) {
	const op = "list conversations"
	if err := storage.ValidPair(playerID, characterID); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(op, "", err)
	}
	cur, err := s.conversations.Find(ctx, pairFilter(playerID, characterID),
		options.Find().SetSort(bson.D{{Key: "updated_at", Value: -1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fail(op, "", err)
	}
	out := []maopao.Conversation{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, "", err)
	}
	for i := range out {
		out[i] = normConversation(out[i])
	}
	return out, nil
}

// UpdateConversation stores c's title and persona.
func (s *Store) UpdateConversation(ctx context.Context, c maopao.Conversation) (maopao.Conversation, error) {
	const op = "update conversation"
	if err := ctx.Err(); err != nil {
		return maopao.Conversation{}, fail(op, c.ID, err)
	}
	stored, err := s.GetConversation(ctx, c.ID)
	if err != nil {
		return maopao.Conversation{}, err
	}
	stored.Title, stored.Persona = c.Title, c.Persona
	if err := storage.ValidConversation(stored); err != nil {
		return maopao.Conversation{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	set := bson.D{{Key: "title", Value: stored.Title}}
	update := bson.D{{Key: "$set", Value: set}}
	if stored.Persona != nil {
		update[0].Value = append(set, bson.E{Key: "persona", Value: stored.Persona})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "persona", Value: ""}}})
	}
	res, err := s.conversations.UpdateOne(ctx, byID(c.ID), update)
	if err != nil {
		return maopao.Conversation{}, fail(op, c.ID, err)
	}
	if res.MatchedCount == 0 {
		return maopao.Conversation{}, fmt.Errorf("mongo: %s %q: %w", op, c.ID, maopao.ErrNotFound)
	}
	return stored, nil
}

// ChatCounts counts every stored chat by character.
func (s *Store) ChatCounts(ctx context.Context) (map[string]int, error) {
	const op = "count chats"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, "", err)
	}
	cur, err := s.conversations.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$character_id"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fail(op, "", err)
	}
	var rows []struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fail(op, "", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}

// DeleteConversation deletes the chat's messages, then the chat: a crash
// in between leaves an empty chat that a retry deletes.
func (s *Store) DeleteConversation(ctx context.Context, id string) error {
	const op = "delete conversation"
	if err := ctx.Err(); err != nil {
		return fail(op, id, err)
	}
	if _, err := s.GetConversation(ctx, id); err != nil {
		return err
	}
	if _, err := s.messages.DeleteMany(ctx, bson.D{{Key: "conversation_id", Value: id}}); err != nil {
		return fail(op, id, err)
	}
	res, err := s.conversations.DeleteOne(ctx, byID(id))
	if err != nil {
		return fail(op, id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongo: %s %q: %w", op, id, maopao.ErrNotFound)
	}
	return nil
}

// DeletePlayer removes the player's chats, the memories of them and then
// the player. Without transactions a crash part way leaves some of it,
// which a second call removes: nothing is deleted by what a deleted
// record said.
func (s *Store) DeletePlayer(ctx context.Context, id string) error {
	const op = "delete player"
	if err := storage.ValidID("player", id); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	cur, err := s.conversations.Find(ctx, bson.D{{Key: "player_id", Value: id}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fail(op, id, err)
	}
	var chats []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &chats); err != nil {
		return fail(op, id, err)
	}
	// Messages before their chats, so a chat is never gone while its
	// messages remain unreachable.
	if len(chats) > 0 {
		ids := make(bson.A, len(chats))
		for i, c := range chats {
			ids[i] = c.ID
		}
		if _, err := s.messages.DeleteMany(ctx, bson.D{{Key: "conversation_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			return fail(op+" messages", id, err)
		}
	}
	steps := []struct {
		what   string
		coll   *mongo.Collection
		filter bson.D
	}{
		{"chats", s.conversations, bson.D{{Key: "player_id", Value: id}}},
		{"memories", s.memories, bson.D{{Key: "player_id", Value: id}}},
		{"chat memories", s.chatMemories, bson.D{{Key: "player_id", Value: id}}},
		{"pictures", s.pictures, bson.D{{Key: "owner_id", Value: id}}},
		{"private world memories", s.records, bson.D{{Key: "private_to", Value: id}}},
		{"record", s.players, byID(id)},
	}
	for _, st := range steps {
		if _, err := st.coll.DeleteMany(ctx, st.filter); err != nil {
			return fail(op+" "+st.what, id, err)
		}
	}
	return nil
}

// UpdateMessage replaces what can change of a stored message. Messages of
// a chat are written by its one actor, so a read and a replace suffice.
func (s *Store) UpdateMessage(ctx context.Context, m maopao.Message) (maopao.Message, error) {
	const op = "update message"
	stored, err := s.GetMessage(ctx, m.ID)
	if err != nil {
		return maopao.Message{}, err
	}
	stored = storage.WithChanges(stored, m)
	if err := storage.ValidMessage(stored); err != nil {
		return maopao.Message{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	res, err := s.messages.ReplaceOne(ctx, byID(m.ID), stored)
	if err != nil {
		return maopao.Message{}, fail(op, m.ID, err)
	}
	if res.MatchedCount == 0 {
		return maopao.Message{}, fmt.Errorf("mongo: %s %q: %w", op, m.ID, maopao.ErrNotFound)
	}
	return stored, nil
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
	m = storage.NormTimes(m)

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
			touch := bson.D{{Key: "$max", Value: bson.D{{Key: "updated_at", Value: m.CreatedAt}}}}
			if _, err := s.conversations.UpdateOne(ctx, byID(m.ConversationID), touch); err != nil {
				// The message is stored; only the chat's order in lists lags.
				return m, true, fail(op+": touch conversation", m.ConversationID, err)
			}
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
	return storage.NormTimes(m), nil
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
		out[i] = storage.NormTimes(out[i])
	}
	return out, nil
}

func normConversation(c maopao.Conversation) maopao.Conversation {
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	return c
}
