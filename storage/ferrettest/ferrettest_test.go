package ferrettest

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestStartServesPrivateDatabase(t *testing.T) {
	uri := Start(t)
	if !strings.HasPrefix(uri, "mongodb://") || !strings.Contains(uri, "/maopao_test") {
		t.Fatalf("Start returned %q, want a mongodb:// URI naming a maopao_test database", uri)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })

	coll := c.Database("maopao_test_probe").Collection("probe")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "n", Value: 1}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var got struct {
		N int `bson:"n"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: "a"}}).Decode(&got); err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.N != 1 {
		t.Fatalf("read back n=%d, want 1", got.N)
	}
	// A unique index must reject a duplicate: the Mongo adapter relies on it.
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("second insert of _id a: err %v, want a duplicate key error", err)
	}
}

func TestWithDatabaseKeepsOptions(t *testing.T) {
	got := withDatabase(t, "mongodb://u:p@h1:27017,h2:27018/old?replicaSet=rs0", "fresh")
	want := "mongodb://u:p@h1:27017,h2:27018/fresh?replicaSet=rs0"
	if got != want {
		t.Fatalf("withDatabase = %q, want %q", got, want)
	}
}
