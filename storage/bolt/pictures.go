package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// Pictures keep their metadata in the file (pictures; picture_owners
// indexes them by owner) and their bytes in files of their own, in the
// folder "pictures" beside it, so megabytes of photos do not swell the
// database. A file is written (and synced) before its record, so a record
// always has its bytes; a crash in between leaves a file nobody names,
// which the next PutPicture of that ID replaces.

var (
	bucketPictures      = []byte("pictures")
	bucketPictureOwners = []byte("picture_owners")
)

func (s *Store) picturePath(id string) string {
	return filepath.Join(filepath.Dir(s.path), "pictures", id)
}

func pictureOwnerKey(owner, id string) []byte {
	return append(append([]byte(owner), 0), id...)
}

// PutPicture stores a picture and its bytes.
func (s *Store) PutPicture(ctx context.Context, p maopao.Picture, data []byte) error {
	if err := storage.ValidPicture(p, data); err != nil {
		return fmt.Errorf("bolt: put picture: %w", err)
	}
	p.CreatedAt = normTime(p.CreatedAt)
	v, err := encode("picture "+p.ID, p)
	if err != nil {
		return err
	}
	exists := false
	if err := s.view(ctx, "put picture "+p.ID, func(tx *bbolt.Tx) error {
		exists = tx.Bucket(bucketPictures).Get([]byte(p.ID)) != nil
		return nil
	}); err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("bolt: put picture: %q: %w", p.ID, maopao.ErrConflict)
	}
	if err := writeFileSynced(s.picturePath(p.ID), data); err != nil {
		return fmt.Errorf("bolt: put picture %s: %w", p.ID, err)
	}
	return s.update(ctx, "put picture "+p.ID, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPictures)
		if b.Get([]byte(p.ID)) != nil {
			return fmt.Errorf("picture %q: %w", p.ID, maopao.ErrConflict)
		}
		if err := tx.Bucket(bucketPictureOwners).Put(pictureOwnerKey(p.OwnerID, p.ID), nil); err != nil {
			return err
		}
		return b.Put([]byte(p.ID), v)
	})
}

// writeFileSynced writes data to path through a temporary file, synced
// and renamed, so the path holds all of it or nothing.
func writeFileSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// PictureInfo returns a picture's metadata.
func (s *Store) PictureInfo(ctx context.Context, id string) (maopao.Picture, error) {
	var p maopao.Picture
	err := s.view(ctx, "get picture "+id, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketPictures).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("picture %q: %w", id, maopao.ErrNotFound)
		}
		return json.Unmarshal(v, &p)
	})
	return p, err
}

// GetPicture returns a picture and its bytes.
func (s *Store) GetPicture(ctx context.Context, id string) (maopao.Picture, []byte, error) {
	p, err := s.PictureInfo(ctx, id)
	if err != nil {
		return p, nil, err
	}
	data, err := os.ReadFile(s.picturePath(p.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil, fmt.Errorf("bolt: picture %q: its file is gone: %w", id, maopao.ErrNotFound)
	}
	if err != nil {
		return p, nil, fmt.Errorf("bolt: read picture %s: %w", id, err)
	}
	return p, data, nil
}

// PictureBytes sums the sizes of an owner's pictures.
func (s *Store) PictureBytes(ctx context.Context, ownerID string) (int64, error) {
	var sum int64
	err := s.view(ctx, "sum pictures of "+ownerID, func(tx *bbolt.Tx) error {
		prefix := pictureOwnerKey(ownerID, "")
		pics := tx.Bucket(bucketPictures)
		c := tx.Bucket(bucketPictureOwners).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var p maopao.Picture
			if v := pics.Get(k[len(prefix):]); v != nil && json.Unmarshal(v, &p) == nil {
				sum += int64(p.Size)
			}
		}
		return nil
	})
	return sum, err
}

// DeletePicture removes a picture and its file.
func (s *Store) DeletePicture(ctx context.Context, id string) error {
	err := s.update(ctx, "delete picture "+id, func(tx *bbolt.Tx) error {
		return deletePictureRecord(tx, id)
	})
	if err != nil {
		return err
	}
	return s.removePictureFiles([]string{id})
}

func deletePictureRecord(tx *bbolt.Tx, id string) error {
	b := tx.Bucket(bucketPictures)
	v := b.Get([]byte(id))
	if v == nil {
		return fmt.Errorf("picture %q: %w", id, maopao.ErrNotFound)
	}
	var p maopao.Picture
	if err := json.Unmarshal(v, &p); err != nil {
		return fmt.Errorf("picture %q: corrupt record: %w", id, err)
	}
	if err := tx.Bucket(bucketPictureOwners).Delete(pictureOwnerKey(p.OwnerID, id)); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// deletePlayerPictures removes the records of an owner's pictures and
// returns their IDs, whose files go once the transaction is committed.
func deletePlayerPictures(tx *bbolt.Tx, owner string) ([]string, error) {
	prefix := pictureOwnerKey(owner, "")
	var ids []string
	c := tx.Bucket(bucketPictureOwners).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	for _, id := range ids {
		if err := deletePictureRecord(tx, id); err != nil && !errors.Is(err, maopao.ErrNotFound) {
			return nil, err
		}
	}
	return ids, nil
}

func (s *Store) removePictureFiles(ids []string) error {
	var errs []error
	for _, id := range ids {
		if err := os.Remove(s.picturePath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bolt: remove picture files: %w", err)
	}
	return nil
}
