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

// Pictures are documents of the collection "pictures": the metadata and
// the bytes (a binary field; what is stored stays under 12 MiB, within a
// document's 16). Reads that need no bytes leave them out.

type pictureDoc struct {
	maopao.Picture `bson:",inline"`
	Data           []byte `bson:"data,omitempty"`
}

var noPictureData = options.FindOne().SetProjection(bson.D{{Key: "data", Value: 0}})

// PutPicture stores a picture and its bytes.
func (s *Store) PutPicture(ctx context.Context, p maopao.Picture, data []byte) error {
	const op = "put picture"
	if err := storage.ValidPicture(p, data); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, p.ID, err)
	}
	p.CreatedAt = normTime(p.CreatedAt)
	_, err := s.pictures.InsertOne(ctx, pictureDoc{Picture: p, Data: data})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: %s %q: %w", op, p.ID, maopao.ErrConflict)
	}
	return fail(op, p.ID, err)
}

// PictureInfo returns a picture's metadata.
func (s *Store) PictureInfo(ctx context.Context, id string) (maopao.Picture, error) {
	const op = "get picture"
	var d pictureDoc
	if err := ctx.Err(); err != nil {
		return maopao.Picture{}, fail(op, id, err)
	}
	if err := s.pictures.FindOne(ctx, byID(id), noPictureData).Decode(&d); err != nil {
		return maopao.Picture{}, fail(op, id, err)
	}
	d.CreatedAt = normTime(d.CreatedAt)
	return d.Picture, nil
}

// GetPicture returns a picture and its bytes.
func (s *Store) GetPicture(ctx context.Context, id string) (maopao.Picture, []byte, error) {
	const op = "get picture"
	var d pictureDoc
	if err := ctx.Err(); err != nil {
		return maopao.Picture{}, nil, fail(op, id, err)
	}
	if err := s.pictures.FindOne(ctx, byID(id)).Decode(&d); err != nil {
		return maopao.Picture{}, nil, fail(op, id, err)
	}
	d.CreatedAt = normTime(d.CreatedAt)
	return d.Picture, d.Data, nil
}

// PictureBytes sums the sizes of an owner's pictures, read without
// their bytes.
func (s *Store) PictureBytes(ctx context.Context, ownerID string) (int64, error) {
	const op = "sum pictures"
	cur, err := s.pictures.Find(ctx, bson.D{{Key: "owner_id", Value: ownerID}}, options.Find().SetProjection(bson.D{{Key: "size", Value: 1}}))
	if err != nil {
		return 0, fail(op, ownerID, err)
	}
	var docs []struct {
		Size int64 `bson:"size"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fail(op, ownerID, err)
	}
	var sum int64
	for _, d := range docs {
		sum += d.Size
	}
	return sum, nil
}

// DeletePicture removes a picture.
func (s *Store) DeletePicture(ctx context.Context, id string) error {
	return deleteOne(ctx, s.pictures, byID(id), "delete picture", id)
}

// deleteOne deletes the document filter matches; maopao.ErrNotFound
// (wrapped) when none does.
func deleteOne(ctx context.Context, c *mongo.Collection, filter bson.D, op, id string) error {
	res, err := c.DeleteOne(ctx, filter)
	if err != nil {
		return fail(op, id, err)
	}
	if res.DeletedCount == 0 {
		return fail(op, id, mongo.ErrNoDocuments)
	}
	return nil
}
