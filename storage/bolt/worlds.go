package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// World buckets:
//
//	worlds/<id>                               maopao.World
//	world_snapshots/<world id>                maopao.WorldSnapshot
//	memory_records/<world>\x00<char>\x00<id>  maopao.MemoryRecord
var (
	bucketWorlds    = []byte("worlds")
	bucketSnapshots = []byte("world_snapshots")
	bucketMemRecs   = []byte("memory_records")
)

func worldBucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	if tx.Writable() {
		return tx.CreateBucketIfNotExists(name)
	}
	return tx.Bucket(name), nil // nil until the first write
}

// PutWorld inserts or replaces the world with w.ID.
func (s *Store) PutWorld(ctx context.Context, w maopao.World) error {
	if err := storage.ValidID("world", w.ID); err != nil {
		return fmt.Errorf("bolt: put world: %w", err)
	}
	w.CreatedAt, w.UpdatedAt = normTime(w.CreatedAt), normTime(w.UpdatedAt)
	v, err := encode("world "+w.ID, w)
	if err != nil {
		return err
	}
	return s.update(ctx, "put world "+w.ID, func(tx *bbolt.Tx) error {
		b, err := worldBucket(tx, bucketWorlds)
		if err != nil {
			return err
		}
		return b.Put([]byte(w.ID), v)
	})
}

// GetWorld returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetWorld(ctx context.Context, id string) (maopao.World, error) {
	var w maopao.World
	err := s.view(ctx, "get world "+id, func(tx *bbolt.Tx) error {
		b, _ := worldBucket(tx, bucketWorlds)
		if b == nil {
			return fmt.Errorf("world %q: %w", id, maopao.ErrNotFound)
		}
		return getJSON(b, id, "world", &w)
	})
	return w, err
}

// ListWorlds returns every world ordered by Name, then ID.
func (s *Store) ListWorlds(ctx context.Context) ([]maopao.World, error) {
	out := []maopao.World{}
	err := s.view(ctx, "list worlds", func(tx *bbolt.Tx) error {
		b, _ := worldBucket(tx, bucketWorlds)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var w maopao.World
			if err := json.Unmarshal(v, &w); err != nil {
				return fmt.Errorf("decode world %q: %w", k, err)
			}
			out = append(out, w)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// DeleteWorld removes the world, its snapshot and its memory records.
func (s *Store) DeleteWorld(ctx context.Context, id string) error {
	return s.update(ctx, "delete world "+id, func(tx *bbolt.Tx) error {
		b, err := worldBucket(tx, bucketWorlds)
		if err != nil {
			return err
		}
		if b.Get([]byte(id)) == nil {
			return fmt.Errorf("world %q: %w", id, maopao.ErrNotFound)
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		snaps, err := worldBucket(tx, bucketSnapshots)
		if err != nil {
			return err
		}
		if err := snaps.Delete([]byte(id)); err != nil {
			return err
		}
		recs, err := worldBucket(tx, bucketMemRecs)
		if err != nil {
			return err
		}
		prefix := []byte(id + "\x00")
		c := recs.Cursor()
		var keys [][]byte
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := recs.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutWorldSnapshot replaces the snapshot unless the stored one is newer.
func (s *Store) PutWorldSnapshot(ctx context.Context, snap maopao.WorldSnapshot) error {
	if err := storage.ValidID("world", snap.WorldID); err != nil {
		return fmt.Errorf("bolt: put world snapshot: %w", err)
	}
	snap.SavedAt = normTime(snap.SavedAt)
	v, err := encode("snapshot "+snap.WorldID, snap)
	if err != nil {
		return err
	}
	return s.update(ctx, "put world snapshot "+snap.WorldID, func(tx *bbolt.Tx) error {
		b, err := worldBucket(tx, bucketSnapshots)
		if err != nil {
			return err
		}
		if old := b.Get([]byte(snap.WorldID)); old != nil {
			var cur maopao.WorldSnapshot
			if err := json.Unmarshal(old, &cur); err == nil && cur.Seq > snap.Seq {
				return nil
			}
		}
		return b.Put([]byte(snap.WorldID), v)
	})
}

// GetWorldSnapshot returns maopao.ErrNotFound (wrapped) when there is none.
func (s *Store) GetWorldSnapshot(ctx context.Context, worldID string) (maopao.WorldSnapshot, error) {
	var snap maopao.WorldSnapshot
	err := s.view(ctx, "get world snapshot "+worldID, func(tx *bbolt.Tx) error {
		b, _ := worldBucket(tx, bucketSnapshots)
		if b == nil {
			return fmt.Errorf("snapshot of world %q: %w", worldID, maopao.ErrNotFound)
		}
		return getJSON(b, worldID, "snapshot of world", &snap)
	})
	return snap, err
}

func memRecKey(worldID, charID, id string) []byte {
	return []byte(worldID + "\x00" + charID + "\x00" + id)
}

// PutMemoryRecord inserts or replaces a memory record by ID.
func (s *Store) PutMemoryRecord(ctx context.Context, r maopao.MemoryRecord) error {
	for _, f := range []struct{ kind, id string }{{"memory record", r.ID}, {"world", r.WorldID}, {"character", r.CharacterID}} {
		if err := storage.ValidID(f.kind, f.id); err != nil {
			return fmt.Errorf("bolt: put memory record: %w", err)
		}
	}
	v, err := encode("memory record "+r.ID, r)
	if err != nil {
		return err
	}
	return s.update(ctx, "put memory record "+r.ID, func(tx *bbolt.Tx) error {
		b, err := worldBucket(tx, bucketMemRecs)
		if err != nil {
			return err
		}
		return b.Put(memRecKey(r.WorldID, r.CharacterID, r.ID), v)
	})
}

// MemoryRecords returns a character's records in a world, newest first.
func (s *Store) MemoryRecords(ctx context.Context, worldID, characterID string, limit int) ([]maopao.MemoryRecord, error) {
	out := []maopao.MemoryRecord{}
	err := s.view(ctx, "list memory records", func(tx *bbolt.Tx) error {
		b, _ := worldBucket(tx, bucketMemRecs)
		if b == nil {
			return nil
		}
		prefix := []byte(worldID + "\x00" + characterID + "\x00")
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r maopao.MemoryRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode memory record %q: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	sortRecords(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// MemoryRecordsAbout returns a character's records in a world about a player.
func (s *Store) MemoryRecordsAbout(ctx context.Context, worldID, characterID, playerID string) ([]maopao.MemoryRecord, error) {
	all, err := s.MemoryRecords(ctx, worldID, characterID, 0)
	if err != nil {
		return nil, err
	}
	out := []maopao.MemoryRecord{}
	for _, r := range all {
		if r.About == playerID || r.PrivateTo == playerID {
			out = append(out, r)
		}
	}
	return out, nil
}

// DeleteMemoryRecord removes a record.
func (s *Store) DeleteMemoryRecord(ctx context.Context, worldID, characterID, id string) error {
	return s.update(ctx, "delete memory record "+id, func(tx *bbolt.Tx) error {
		b, _ := worldBucket(tx, bucketMemRecs)
		key := memRecKey(worldID, characterID, id)
		if b == nil || b.Get(key) == nil {
			return fmt.Errorf("memory record %q: %w", id, maopao.ErrNotFound)
		}
		return b.Delete(key)
	})
}

func sortRecords(rs []maopao.MemoryRecord) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].SimMinute != rs[j].SimMinute {
			return rs[i].SimMinute > rs[j].SimMinute
		}
		return rs[i].ID > rs[j].ID
	})
}

// deletePrivateRecords deletes the world memories private to a player.
func deletePrivateRecords(tx *bbolt.Tx, playerID string) error {
	b, _ := worldBucket(tx, bucketMemRecs)
	if b == nil {
		return nil
	}
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var r struct {
			PrivateTo string `json:"private_to"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode memory record %q: %w", k, err)
		}
		if r.PrivateTo == playerID {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
