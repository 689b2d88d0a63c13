// Package ferrettest owns the throwaway MongoDB-compatible servers that tests
// of the Mongo adapter talk to. It embeds FerretDB v1 (SQLite backend) in the
// test process, so those tests need no outside service; setting
// MAOPAO_TEST_MONGO_URI points the same tests at a real MongoDB instead.
//
// FerretDB is a large dependency (minutes to build cold). Only _test.go files
// may import this package, so no production binary links it.
package ferrettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// EnvURI names the environment variable that, when set, makes Start hand out
// databases on that server instead of starting FerretDB.
const EnvURI = "MAOPAO_TEST_MONGO_URI"

// Start returns a MongoDB URI whose path names a database that is empty and
// private to t. Everything is torn down at t's cleanup, which runs after the
// cleanups t registers later (so clients closed there disconnect first).
func Start(t testing.TB) (uri string) {
	t.Helper()
	if base := os.Getenv(EnvURI); base != "" {
		return realMongo(t, base)
	}
	return embedded(t)
}

func embedded(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	f, err := ferretdb.New(&ferretdb.Config{
		// Port 0: a fixed port can be taken, and a failed New leaves state
		// behind that may panic later from a finalizer.
		Listener: ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		// The default logger writes a line per connection.
		Logger:  slog.New(slog.DiscardHandler),
		Handler: "sqlite",
		// A directory (trailing slash) rather than mode=memory: in-memory
		// SQLite deadlocks on updates in FerretDB v1.
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		t.Fatalf("ferrettest: start FerretDB on %s: %v", dir, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ferrettest: FerretDB stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("ferrettest: FerretDB did not stop within 30s")
		}
	})
	// New binds the listener, so the address is known already.
	return withDatabase(t, f.MongoDBURI(), "maopao_test")
}

func realMongo(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("ferrettest: random database name: %v", err)
	}
	db := "maopao_test_" + hex.EncodeToString(b[:])
	uri := withDatabase(t, base, db)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(base))
		if err != nil {
			t.Errorf("ferrettest: connect to drop %s: %v", db, err)
			return
		}
		defer func() { _ = c.Disconnect(ctx) }()
		if err := c.Database(db).Drop(ctx); err != nil {
			t.Errorf("ferrettest: drop %s: %v", db, err)
		}
	})
	// Fail here, with the variable's name, rather than deep in a test.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(base))
	if err != nil {
		t.Fatalf("ferrettest: %s=%q: %v", EnvURI, base, err)
	}
	defer func() { _ = c.Disconnect(ctx) }()
	if err := c.Database(db).RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		t.Fatalf("ferrettest: %s=%q: ping: %v", EnvURI, base, err)
	}
	return uri
}

// withDatabase replaces the database path of a MongoDB URI, keeping hosts
// and options.
func withDatabase(t testing.TB, uri, db string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "mongodb" && u.Scheme != "mongodb+srv") {
		t.Fatalf("ferrettest: %q is not a mongodb:// URI (err %v)", uri, err)
	}
	u.Path = "/" + strings.TrimPrefix(db, "/")
	u.RawPath = ""
	return u.String()
}
