// Package storage defines Maopao's repository interfaces. Adapters live in
// sub-packages, one per outside dependency: storage/bolt (the embedded
// single-node store used by default) and storage/mongo (MongoDB, the
// production store). Both must pass storage/storagetest, the one
// conformance suite.
package storage

import (
	"context"
	"slices"
	"strings"

	"github.com/maopao/maopao"
)

// Characters stores characters. Numbers inside a character's maps
// (Extensions, CardExtra, the lorebook's Extensions and Extra, LoreEntry.ID)
// come back as json.Number, exactly as written, whatever numeric type they
// were stored as: imported cards carry integers beyond 2^53.
type Characters interface {
	// PutCharacter inserts or replaces the character with c.ID.
	PutCharacter(ctx context.Context, c maopao.Character) error
	// GetCharacter returns maopao.ErrNotFound (wrapped) when absent.
	GetCharacter(ctx context.Context, id string) (maopao.Character, error)
	// ListCharacters returns every character ordered by Name, then ID.
	ListCharacters(ctx context.Context) ([]maopao.Character, error)
	// DeleteCharacter deletes the character and its history; it returns
	// maopao.ErrNotFound (wrapped) when absent.
	DeleteCharacter(ctx context.Context, id string) error
}

// Players stores player records.
type Players interface {
	PutPlayer(ctx context.Context, p maopao.Player) error
	GetPlayer(ctx context.Context, id string) (maopao.Player, error)
	// DeletePlayer removes what is the player's alone: the player record,
	// every chat of theirs with its messages, characters' memories of
	// those chats (Memory and ChatMemory), and world memories private to
	// them (MemoryRecord.PrivateTo). Their account, characters and worlds are removed through
	// DeleteAccount, DeleteCharacter and DeleteWorld. A player already gone
	// is no error, so a deletion cut short can simply be run again.
	DeletePlayer(ctx context.Context, id string) error
}

// Conversations stores chats and their messages.
type Conversations interface {
	// OpenConversation returns the player's most recently updated chat
	// with the character, creating one (with a fresh ID) if there is none.
	// Concurrent calls for a pair without a chat return the same new one.
	OpenConversation(ctx context.Context, playerID, characterID string) (maopao.Conversation, error)
	// CreateConversation stores a new chat; the caller sets c.ID. When
	// c.ID is stored already it changes nothing and returns the stored
	// copy with created=false: retries are safe.
	CreateConversation(ctx context.Context, c maopao.Conversation) (stored maopao.Conversation, created bool, err error)
	GetConversation(ctx context.Context, id string) (maopao.Conversation, error)
	// ListConversations returns the player's chats with the character,
	// most recently updated first (then by ID).
	ListConversations(ctx context.Context, playerID, characterID string) ([]maopao.Conversation, error)
	// UpdateConversation stores c's Title and Persona for the stored chat
	// c.ID (the other fields stay) and returns the stored chat;
	// maopao.ErrNotFound (wrapped) when absent.
	UpdateConversation(ctx context.Context, c maopao.Conversation) (maopao.Conversation, error)
	// ChatCounts returns how many chats each character has, over all
	// players (characters without chats are absent).
	ChatCounts(ctx context.Context) (map[string]int, error)
	// DeleteConversation deletes the chat and all its messages;
	// maopao.ErrNotFound (wrapped) when absent.
	DeleteConversation(ctx context.Context, id string) error
	// AppendMessage stores m at the end of its conversation, assigning
	// m.Seq (the previous highest Seq + 1) and returning the stored message.
	// Appending a message whose ID is already stored changes nothing and
	// returns the stored copy with created=false: retries are safe. The
	// conversation's UpdatedAt becomes m.CreatedAt if that is later.
	AppendMessage(ctx context.Context, m maopao.Message) (stored maopao.Message, created bool, err error)
	// UpdateMessage replaces what can change of the stored message m.ID:
	// Content, Swipes, SwipeID, Edits, Deleted, Status and Code. ID,
	// ConversationID, Seq, Role, ReplyTo, Greeting and CreatedAt stay as
	// stored. It returns the stored message; maopao.ErrNotFound (wrapped)
	// when absent.
	UpdateMessage(ctx context.Context, m maopao.Message) (maopao.Message, error)
	// GetMessage returns maopao.ErrNotFound (wrapped) when absent.
	GetMessage(ctx context.Context, id string) (maopao.Message, error)
	// RecentMessages returns up to limit messages with the highest Seq, in
	// ascending Seq order. limit <= 0 means all. Deleted messages count
	// and are returned: callers filter with Message.InChat.
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

// CharacterRevisions is the creator side of character storage: inserts
// that never overwrite, updates guarded by the revision the editor saw
// (optimistic concurrency), and the history of every earlier revision.
// Characters written with PutCharacter keep whatever Revision they carry and
// leave the history alone.
type CharacterRevisions interface {
	// CreateCharacter stores c as revision 1 (c.Revision is ignored). It
	// returns maopao.ErrConflict (wrapped) when c.ID is taken.
	CreateCharacter(ctx context.Context, c maopao.Character) (maopao.Character, error)
	// UpdateCharacter replaces the character c.ID if its stored Revision is
	// expectedRevision, storing c as expectedRevision+1 and keeping the
	// replaced revision in the history. It returns the stored character;
	// maopao.ErrConflict (wrapped) when the stored revision differs and
	// maopao.ErrNotFound when the character is absent. CreatedAt, OwnerID
	// and BuiltIn are whatever c says: callers copy them over.
	UpdateCharacter(ctx context.Context, c maopao.Character, expectedRevision int) (maopao.Character, error)
	// CharacterHistory returns every stored revision of the character,
	// current one included, newest first, without Avatar bytes (AvatarType
	// stays, so callers know a revision had one). maopao.ErrNotFound
	// (wrapped) when the character is absent.
	CharacterHistory(ctx context.Context, id string) ([]maopao.Character, error)
	// GetCharacterRevision returns one revision, the current one included,
	// with its avatar. maopao.ErrNotFound (wrapped) when absent.
	GetCharacterRevision(ctx context.Context, id string, revision int) (maopao.Character, error)
	// SearchCharacters returns the characters q matches and its viewer may
	// see, ordered by Name then ID, without Avatar bytes.
	SearchCharacters(ctx context.Context, q CharacterQuery) ([]maopao.Character, error)
}

// CharacterQuery selects characters. Empty fields do not filter. Text
// compares case-insensitively (strings.ToLower on both sides), as a
// substring of Name or Nickname; Tag and Creator compare case-insensitively
// as whole values.
type CharacterQuery struct {
	Text    string
	Tag     string
	OwnerID string
	Creator string
	// ViewerID is who asks: besides public characters (and unlisted ones
	// when IncludeUnlisted is set), the viewer sees all of their own.
	ViewerID        string
	IncludeUnlisted bool
	// Limit <= 0 means no limit; Offset skips that many matches first.
	Limit, Offset int
}

// Visible reports whether q's viewer may see c in a search.
func (q CharacterQuery) Visible(c maopao.Character) bool {
	switch {
	case q.ViewerID != "" && c.OwnerID == q.ViewerID:
		return true
	case c.Visibility == maopao.VisibilityPublic:
		return true
	case c.Visibility == maopao.VisibilityUnlisted:
		return q.IncludeUnlisted
	}
	return false
}

// Matches reports whether c passes q's filters, visibility included. It is
// the reference every adapter's SearchCharacters must agree with.
func (q CharacterQuery) Matches(c maopao.Character) bool {
	if !q.Visible(c) {
		return false
	}
	if q.OwnerID != "" && c.OwnerID != q.OwnerID {
		return false
	}
	if q.Creator != "" && strings.ToLower(c.Creator) != strings.ToLower(q.Creator) {
		return false
	}
	if q.Tag != "" && !slices.Contains(LowerAll(c.Tags), strings.ToLower(q.Tag)) {
		return false
	}
	if q.Text != "" {
		t := strings.ToLower(q.Text)
		if !strings.Contains(strings.ToLower(c.Name), t) && !strings.Contains(strings.ToLower(c.Nickname), t) {
			return false
		}
	}
	return true
}

// LowerAll is strings.ToLower of each value, for adapters that keep
// lower-cased copies to search on.
func LowerAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.ToLower(v)
	}
	return out
}

// Accounts stores registered accounts. Usernames are unique regardless of
// case, and so are their lookalike keys: adapters index
// strings.ToLower(Username), to find an account by name, and
// maopao.UsernameKey(Username), so that "llya" cannot register beside
// "Ilya". (Accounts stored before the key existed keep their names even
// where two share a key.)
type Accounts interface {
	// CreateAccount returns maopao.ErrConflict (wrapped) when the username
	// (compared case-insensitively), its maopao.UsernameKey or the player
	// ID is taken.
	CreateAccount(ctx context.Context, a maopao.Account) error
	// GetAccountByUsername finds an account whatever the case of username;
	// maopao.ErrNotFound (wrapped) when absent.
	GetAccountByUsername(ctx context.Context, username string) (maopao.Account, error)
	// GetAccount returns maopao.ErrNotFound (wrapped) when absent.
	GetAccount(ctx context.Context, playerID string) (maopao.Account, error)
	// RevokeTokens raises the account's TokenVersion by one, atomically,
	// and returns the account as it is now; maopao.ErrNotFound (wrapped)
	// when absent.
	RevokeTokens(ctx context.Context, playerID string) (maopao.Account, error)
	// DeleteAccount removes the account and frees its username (and the
	// username's lookalike key). An account already gone is no error.
	DeleteAccount(ctx context.Context, playerID string) error
}

// ChatMemories stores what characters remember of players from their
// one-to-one chats, a record per memory.
type ChatMemories interface {
	// PutChatMemory inserts or replaces the memory with m.ID.
	PutChatMemory(ctx context.Context, m maopao.ChatMemory) error
	// GetChatMemory returns maopao.ErrNotFound (wrapped) when absent.
	GetChatMemory(ctx context.Context, id string) (maopao.ChatMemory, error)
	// ChatMemories returns every memory of the pair, newest (CreatedAt,
	// then ID) first.
	ChatMemories(ctx context.Context, playerID, characterID string) ([]maopao.ChatMemory, error)
	// DeleteChatMemory removes the memory; maopao.ErrNotFound (wrapped)
	// when absent.
	DeleteChatMemory(ctx context.Context, id string) error
}

// Pictures are the pictures players attach to chat lines: metadata and
// bytes, kept together.
type Pictures interface {
	// PutPicture stores a picture with its bytes (len(data) == p.Size);
	// maopao.ErrConflict (wrapped) when the ID is taken.
	PutPicture(ctx context.Context, p maopao.Picture, data []byte) error
	// GetPicture returns a picture and its bytes; maopao.ErrNotFound
	// (wrapped) when absent.
	GetPicture(ctx context.Context, id string) (maopao.Picture, []byte, error)
	// PictureInfo returns a picture without its bytes.
	PictureInfo(ctx context.Context, id string) (maopao.Picture, error)
	// PictureBytes sums the sizes of an owner's pictures.
	PictureBytes(ctx context.Context, ownerID string) (int64, error)
	// DeletePicture removes it; maopao.ErrNotFound (wrapped) when absent.
	DeletePicture(ctx context.Context, id string) error
}

// Store is everything the platform keeps, behind one handle.
type Store interface {
	Characters
	CharacterRevisions
	Accounts
	Players
	Conversations
	Memories
	ChatMemories
	Pictures
	KV
	Worlds
	// Ping reports whether the store is reachable (for /healthz).
	Ping(ctx context.Context) error
	Close(ctx context.Context) error
}

// SortChatMemories orders memories newest first (CreatedAt, then ID), the
// order ChatMemories returns.
func SortChatMemories(ms []maopao.ChatMemory) {
	slices.SortFunc(ms, func(a, b maopao.ChatMemory) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}
