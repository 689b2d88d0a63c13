package mongo

import (
	"testing"

	"github.com/maopao/maopao/storage"
	"github.com/maopao/maopao/storage/ferrettest"
	"github.com/maopao/maopao/storage/storagetest"
)

func TestWorldsConformance(t *testing.T) {
	storagetest.RunWorlds(t, func(t *testing.T) storage.Worlds {
		return open(t, ferrettest.Start(t))
	})
}
