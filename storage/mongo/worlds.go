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

// PutWorld inserts or replaces the world with w.ID.
func (s *Store) PutWorld(ctx context.Context, w maopao.World) error {
	const op = "put world"
	if err := storage.ValidID("world", w.ID); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	w.CreatedAt, w.UpdatedAt = normTime(w.CreatedAt), normTime(w.UpdatedAt)
	_, err := s.worlds.ReplaceOne(ctx, byID(w.ID), w, options.Replace().SetUpsert(true))
	return fail(op, w.ID, err)
}

// GetWorld returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetWorld(ctx context.Context, id string) (maopao.World, error) {
	const op = "get world"
	var w maopao.World
	if err := s.worlds.FindOne(ctx, byID(id)).Decode(&w); err != nil {
		return maopao.World{}, fail(op, id, err)
	}
	w.CreatedAt, w.UpdatedAt = normTime(w.CreatedAt), normTime(w.UpdatedAt)
	return w, nil
}

// ListWorlds returns every world ordered by Name, then ID.
func (s *Store) ListWorlds(ctx context.Context) ([]maopao.World, error) {
	const op = "list worlds"
	cur, err := s.worlds.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fail(op, "", err)
	}
	out := []maopao.World{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, "", err)
	}
	for i := range out {
		out[i].CreatedAt, out[i].UpdatedAt = normTime(out[i].CreatedAt), normTime(out[i].UpdatedAt)
	}
	return out, nil
}

// DeleteWorld removes the world, its snapshot and its memory records.
func (s *Store) DeleteWorld(ctx context.Context, id string) error {
	const op = "delete world"
	res, err := s.worlds.DeleteOne(ctx, byID(id))
	if err != nil {
		return fail(op, id, err)
	}
	if res.DeletedCount == 0 {
		return fail(op, id, mongo.ErrNoDocuments)
	}
	if _, err := s.snapshots.DeleteOne(ctx, byID(id)); err != nil {
		return fail(op, id, err)
	}
	_, err = s.records.DeleteMany(ctx, bson.D{{Key: "world_id", Value: id}})
	return fail(op, id, err)
}

// PutWorldSnapshot replaces the snapshot unless the stored one is newer:
// the replace only matches an older snapshot, so against a newer one the
// upsert collides on _id and is dropped.
func (s *Store) PutWorldSnapshot(ctx context.Context, snap maopao.WorldSnapshot) error {
	const op = "put world snapshot"
	if err := storage.ValidID("world", snap.WorldID); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	snap.SavedAt = normTime(snap.SavedAt)
	filter := bson.D{{Key: "_id", Value: snap.WorldID}, {Key: "seq", Value: bson.D{{Key: "$lte", Value: int64(snap.Seq)}}}}
	_, err := s.snapshots.ReplaceOne(ctx, filter, snapshotDoc(snap), options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	return fail(op, snap.WorldID, err)
}

// snapshotDoc stores Seq and Epoch as int64: BSON has no unsigned integers.
func snapshotDoc(s maopao.WorldSnapshot) bson.D {
	return bson.D{
		{Key: "_id", Value: s.WorldID}, {Key: "seq", Value: int64(s.Seq)}, {Key: "epoch", Value: int64(s.Epoch)},
		{Key: "state", Value: s.State}, {Key: "saved_at", Value: s.SavedAt},
	}
}

// GetWorldSnapshot returns maopao.ErrNotFound (wrapped) when there is none.
func (s *Store) GetWorldSnapshot(ctx context.Context, worldID string) (maopao.WorldSnapshot, error) {
	const op = "get world snapshot"
	var d struct {
		ID      string `bson:"_id"`
		Seq     int64  `bson:"seq"`
		Epoch   int64  `bson:"epoch"`
		State   []byte `bson:"state"`
		SavedAt bson.DateTime
	}
	raw, err := s.snapshots.FindOne(ctx, byID(worldID)).Raw()
	if err != nil {
		return maopao.WorldSnapshot{}, fail(op, worldID, err)
	}
	if err := bson.Unmarshal(raw, &d); err != nil {
		return maopao.WorldSnapshot{}, fail(op, worldID, err)
	}
	saved := raw.Lookup("saved_at").Time()
	return maopao.WorldSnapshot{WorldID: d.ID, Seq: uint64(d.Seq), Epoch: uint64(d.Epoch), State: d.State, SavedAt: normTime(saved)}, nil
}

// PutMemoryRecord inserts or replaces a memory record by ID.
func (s *Store) PutMemoryRecord(ctx context.Context, r maopao.MemoryRecord) error {
	const op = "put memory record"
	for _, f := range []struct{ kind, id string }{{"memory record", r.ID}, {"world", r.WorldID}, {"character", r.CharacterID}} {
		if err := storage.ValidID(f.kind, f.id); err != nil {
			return fmt.Errorf("mongo: %s: %w", op, err)
		}
	}
	_, err := s.records.ReplaceOne(ctx, byID(r.ID), r, options.Replace().SetUpsert(true))
	return fail(op, r.ID, err)
}

// MemoryRecordsAbout returns a character's records in a world about a player.
func (s *Store) MemoryRecordsAbout(ctx context.Context, worldID, characterID, playerID string) ([]maopao.MemoryRecord, error) {
	const op = "list memory records about a player"
	filter := bson.D{{Key: "world_id", Value: worldID}, {Key: "character_id", Value: characterID},
		{Key: "$or", Value: bson.A{bson.D{{Key: "about", Value: playerID}}, bson.D{{Key: "private_to", Value: playerID}}}}}
	cur, err := s.records.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "sim_minute", Value: -1}, {Key: "_id", Value: -1}}))
	if err != nil {
		return nil, fail(op, "", err)
	}
	out := []maopao.MemoryRecord{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, "", err)
	}
	return out, nil
}

// DeleteMemoryRecord removes a record.
func (s *Store) DeleteMemoryRecord(ctx context.Context, worldID, characterID, id string) error {
	filter := bson.D{{Key: "_id", Value: id}, {Key: "world_id", Value: worldID}, {Key: "character_id", Value: characterID}}
	return deleteOne(ctx, s.records, filter, "delete memory record", id)
}

// MemoryRecords returns a character's records in a world, newest first.
func (s *Store) MemoryRecords(ctx context.Context, worldID, characterID string, limit int) ([]maopao.MemoryRecord, error) {
	const op = "list memory records"
	opts := options.Find().SetSort(bson.D{{Key: "sim_minute", Value: -1}, {Key: "_id", Value: -1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.records.Find(ctx, bson.D{{Key: "world_id", Value: worldID}, {Key: "character_id", Value: characterID}}, opts)
	if err != nil {
		return nil, fail(op, "", err)
	}
	out := []maopao.MemoryRecord{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fail(op, "", err)
	}
	return out, nil
}
