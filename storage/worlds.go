package storage

import (
	"context"

	"github.com/maopao/maopao"
)

// Worlds stores open worlds, the snapshots of their simulations and the
// memory streams of the characters living in them.
type Worlds interface {
	// PutWorld inserts or replaces the world with w.ID.
	PutWorld(ctx context.Context, w maopao.World) error
	// GetWorld returns maopao.ErrNotFound (wrapped) when absent.
	GetWorld(ctx context.Context, id string) (maopao.World, error)
	// ListWorlds returns every world ordered by Name, then ID.
	ListWorlds(ctx context.Context) ([]maopao.World, error)
	// DeleteWorld removes the world, its snapshot and its memory records;
	// maopao.ErrNotFound (wrapped) when absent.
	DeleteWorld(ctx context.Context, id string) error

	// PutWorldSnapshot replaces the world's snapshot, unless the stored one
	// is newer (a higher Seq): a stale owner cannot roll a world back.
	PutWorldSnapshot(ctx context.Context, s maopao.WorldSnapshot) error
	// GetWorldSnapshot returns maopao.ErrNotFound (wrapped) when there is none.
	GetWorldSnapshot(ctx context.Context, worldID string) (maopao.WorldSnapshot, error)

	// PutMemoryRecord inserts or replaces a memory record by ID.
	PutMemoryRecord(ctx context.Context, r maopao.MemoryRecord) error
	// MemoryRecords returns a character's records in a world, newest
	// (highest SimMinute, then ID) first, at most limit (<= 0: all).
	MemoryRecords(ctx context.Context, worldID, characterID string, limit int) ([]maopao.MemoryRecord, error)
	// MemoryRecordsAbout returns a character's records in a world that are
	// about a player (About or PrivateTo is the player), newest first.
	MemoryRecordsAbout(ctx context.Context, worldID, characterID, playerID string) ([]maopao.MemoryRecord, error)
	// DeleteMemoryRecord removes a record; maopao.ErrNotFound (wrapped)
	// when absent.
	DeleteMemoryRecord(ctx context.Context, worldID, characterID, id string) error
}
