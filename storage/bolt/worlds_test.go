package bolt

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/storagetest"
)

func TestWorldsConformance(t *testing.T) {
	storagetest.RunWorlds(t, func(t *testing.T) storage.Worlds {
		s, err := Open(filepath.Join(t.TempDir(), "maopao.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	})
}
