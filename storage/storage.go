// Package storage defines Maopao's repository interfaces. Adapters live in
// sub-packages, one per outside dependency: storage/bolt (the embedded
// single-node store used by default) and storage/mongo (MongoDB, the
// production store). Both must pass storage/storagetest, the one
// conformance suite.
package storage

import (
	"context"

	"github.com/maopao/maopao"
)

// Characters stores characters.
type Characters interface {
	// PutCharacter inserts or replaces the character with c.ID.
	PutCharacter(ctx context.Context, c maopao.Character) error
	// GetCharacter returns maopao.ErrNotFound (wrapped) when absent.
	GetCharacter(ctx context.Context, id string) (maopao.Character, error)
	// ListCharacters returns every character ordered by Name, then ID.
	ListCharacters(ctx context.Context) ([]maopao.Character, error)
	// DeleteCharacter returns maopao.ErrNotFound (wrapped) when absent.
	DeleteCharacter(ctx context.Context, id string) error
}

// Players stores player records.
type Players interface {
	PutPlayer(ctx context.Context, p maopao.Player) error
	GetPlayer(ctx context.Context, id string) (maopao.Player, error)
}

// Conversations stores conversations and their messages.
type Conversations interface {
	// OpenConversation returns the conversation between the player and the
	// character, creating it (with a fresh ID) if there is none. Concurrent
	// calls for one pair return the same conversation.
	OpenConversation(ctx context.Context, playerID, characterID string) (maopao.Conversation, error)
	GetConversation(ctx context.Context, id string) (maopao.Conversation, error)
	// AppendMessage stores m at the end of its conversation, assigning
	// m.Seq (the previous highest Seq + 1) and returning the stored message.
	// Appending a message whose ID is already stored changes nothing and
	// returns the stored copy with created=false: retries are safe.
	AppendMessage(ctx context.Context, m maopao.Message) (stored maopao.Message, created bool, err error)
	// GetMessage returns maopao.ErrNotFound (wrapped) when absent.
	GetMessage(ctx context.Context, id string) (maopao.Message, error)
	// RecentMessages returns up to limit messages with the highest Seq, in
	// ascending Seq order. limit <= 0 means all.
	RecentMessages(ctx context.Context, conversationID string, limit int) ([]maopao.Message, error)
	// MessagesAfter returns the messages with Seq > afterSeq, ascending, at most limit (<=0: all).
	MessagesAfter(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]maopao.Message, error)
}

// Memories stores what characters remember about players.
type Memories interface {
	// GetMemory returns a zero Memory with the IDs filled in (and no error)
	// when nothing is stored yet.
	GetMemory(ctx context.Context, playerID, characterID string) (maopao.Memory, error)
	PutMemory(ctx context.Context, m maopao.Memory) error
}

// KV is a small key-value space for platform settings (for example the
// token-signing secret when an operator does not give one).
type KV interface {
	// GetSetting returns maopao.ErrNotFound (wrapped) when absent.
	GetSetting(ctx context.Context, key string) ([]byte, error)
	// PutSettingIfAbsent stores value unless key exists; it returns the
	// value that is stored afterwards, so racing writers agree.
	PutSettingIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error)
}

// Store is everything the platform keeps, behind one handle.
type Store interface {
	Characters
	Players
	Conversations
	Memories
	KV
	// Ping reports whether the store is reachable (for /healthz).
	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}
