package worldsim_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/storage/bolt"
)

// testBed starts a real embedded NATS with JetStream and opens a real
// embedded store, both in a fresh folder and stopped when the test ends.
func testBed(t *testing.T) (*bus.Embedded, *bolt.Store) {
	t.Helper()
	dir := t.TempDir()
	emb, err := bus.StartEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	st, err := bolt.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	return emb, st
}
