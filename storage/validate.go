package storage

// The checks every adapter applies before writing, so that all stores
// refuse the same input with maopao.ErrInvalid.

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maopao/maopao"
)

// MaxIDLen keeps IDs within every backend's key limits (MongoDB index keys
// are about 1 KiB) with room to spare.
const MaxIDLen = 512

func ValidID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s ID is empty: %w", kind, maopao.ErrInvalid)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s ID is %d bytes, more than %d: %w", kind, len(id), MaxIDLen, maopao.ErrInvalid)
	case !utf8.ValidString(id):
		return fmt.Errorf("%s ID %q is not valid UTF-8: %w", kind, id, maopao.ErrInvalid)
	}
	return nil
}

// validText checks name/value pairs of text fields. Invalid UTF-8 would be
// silently replaced by JSON and kept as-is by BSON, so stores would differ.
func ValidText(owner string, nameValue ...string) error {
	for i := 0; i+1 < len(nameValue); i += 2 {
		if !utf8.ValidString(nameValue[i+1]) {
			return fmt.Errorf("%s: %s is not valid UTF-8: %w", owner, nameValue[i], maopao.ErrInvalid)
		}
	}
	return nil
}

func ValidList(owner, name string, values []string) error {
	for i, v := range values {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%s: %s[%d] is not valid UTF-8: %w", owner, name, i, maopao.ErrInvalid)
		}
	}
	return nil
}

func ValidCharacter(c maopao.Character) error {
	if err := ValidID("character", c.ID); err != nil {
		return err
	}
	owner := fmt.Sprintf("character %q", c.ID)
	if err := ValidText(owner,
		"name", c.Name, "description", c.Description, "personality", c.Personality,
		"scenario", c.Scenario, "first_mes", c.FirstMes, "mes_example", c.MesExample,
		"system_prompt", c.SystemPrompt, "post_history_instructions", c.PostHistoryInstructions,
		"creator_notes", c.CreatorNotes, "creator", c.Creator, "character_version", c.CharacterVersion,
		"owner_id", c.OwnerID, "visibility", string(c.Visibility), "nickname", c.Nickname,
		"avatar_type", c.AvatarType,
	); err != nil {
		return err
	}
	if len(c.Avatar) > MaxAvatarBytes {
		return fmt.Errorf("%s: avatar is %d bytes, more than %d: %w", owner, len(c.Avatar), MaxAvatarBytes, maopao.ErrInvalid)
	}
	if c.Revision < 0 {
		return fmt.Errorf("%s: revision %d is negative: %w", owner, c.Revision, maopao.ErrInvalid)
	}
	for name, list := range map[string][]string{
		"alternate_greetings": c.AlternateGreetings, "tags": c.Tags, "source": c.Source,
		"group_only_greetings": c.GroupOnlyGreetings,
	} {
		if err := ValidList(owner, name, list); err != nil {
			return err
		}
	}
	return nil
}

// MaxAvatarBytes bounds a character's avatar, well inside MongoDB's 16 MiB
// document limit even with the rest of a large card beside it.
const MaxAvatarBytes = 2 << 20

func ValidAccount(a maopao.Account) error {
	if err := ValidID("player", a.PlayerID); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if err := ValidID("username", a.Username); err != nil {
		return fmt.Errorf("account of player %q: %w", a.PlayerID, err)
	}
	if a.PasswordHash == "" {
		return fmt.Errorf("account %q has no password hash: %w", a.Username, maopao.ErrInvalid)
	}
	return ValidText(fmt.Sprintf("account %q", a.Username), "password_hash", a.PasswordHash)
}

func ValidPlayer(p maopao.Player) error {
	if err := ValidID("player", p.ID); err != nil {
		return err
	}
	return ValidText(fmt.Sprintf("player %q", p.ID), "name", p.Name)
}

func ValidPair(playerID, characterID string) error {
	if err := ValidID("player", playerID); err != nil {
		return err
	}
	return ValidID("character", characterID)
}

func ValidMemory(m maopao.Memory) error {
	if err := ValidPair(m.PlayerID, m.CharacterID); err != nil {
		return err
	}
	owner := fmt.Sprintf("memory of %q about %q", m.CharacterID, m.PlayerID)
	if err := ValidText(owner, "summary", m.Summary); err != nil {
		return err
	}
	return ValidList(owner, "facts", m.Facts)
}

// MaxChatMemoryBytes bounds one chat memory's text.
const MaxChatMemoryBytes = 2000

func ValidChatMemory(m maopao.ChatMemory) error {
	if err := ValidID("chat memory", m.ID); err != nil {
		return err
	}
	if err := ValidPair(m.PlayerID, m.CharacterID); err != nil {
		return fmt.Errorf("chat memory %q: %w", m.ID, err)
	}
	owner := fmt.Sprintf("chat memory %q", m.ID)
	if err := ValidText(owner, "text", m.Text); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(m.Text) == "":
		return fmt.Errorf("%s: empty text: %w", owner, maopao.ErrInvalid)
	case len(m.Text) > MaxChatMemoryBytes:
		return fmt.Errorf("%s: text of %d bytes, at most %d: %w", owner, len(m.Text), MaxChatMemoryBytes, maopao.ErrInvalid)
	case m.Importance < 1 || m.Importance > 10:
		return fmt.Errorf("%s: importance %d, want 1 to 10: %w", owner, m.Importance, maopao.ErrInvalid)
	}
	switch m.Kind {
	case maopao.ChatMemorySaid, maopao.ChatMemoryFact, maopao.ChatMemoryNote, maopao.ChatMemoryReflection, maopao.ChatMemorySummary:
	default:
		return fmt.Errorf("%s: kind %q, want said, fact, note, reflection or summary: %w", owner, m.Kind, maopao.ErrInvalid)
	}
	return nil
}

func ValidMessage(m maopao.Message) error {
	if err := ValidID("message", m.ID); err != nil {
		return fmt.Errorf("%w (the sender assigns message IDs, so retries stay idempotent)", err)
	}
	if err := ValidID("conversation", m.ConversationID); err != nil {
		return fmt.Errorf("message %q: %w", m.ID, err)
	}
	switch m.Role {
	case maopao.RoleUser, maopao.RoleCharacter, maopao.RoleSystem:
	default:
		return fmt.Errorf("message %q has role %q, want user, character or system: %w", m.ID, m.Role, maopao.ErrInvalid)
	}
	owner := fmt.Sprintf("message %q", m.ID)
	if err := ValidText(owner, "content", m.Content, "reply_to", m.ReplyTo, "status", m.Status, "code", m.Code); err != nil {
		return err
	}
	for i, sw := range m.Swipes {
		if err := ValidText(owner, fmt.Sprintf("swipes[%d]", i), sw.Text, fmt.Sprintf("swipes[%d].op", i), sw.Op); err != nil {
			return err
		}
	}
	for i, e := range m.Edits {
		if err := ValidText(owner, fmt.Sprintf("edits[%d]", i), e.Text); err != nil {
			return err
		}
	}
	if len(m.Swipes) > 0 && (m.SwipeID < 0 || m.SwipeID >= len(m.Swipes)) {
		return fmt.Errorf("%s: swipe_id %d outside its %d swipes: %w", owner, m.SwipeID, len(m.Swipes), maopao.ErrInvalid)
	}
	return nil
}

// ValidConversation checks what a store needs of a chat.
func ValidConversation(c maopao.Conversation) error {
	if err := ValidID("conversation", c.ID); err != nil {
		return err
	}
	if err := ValidPair(c.PlayerID, c.CharacterID); err != nil {
		return fmt.Errorf("conversation %q: %w", c.ID, err)
	}
	owner := fmt.Sprintf("conversation %q", c.ID)
	if err := ValidText(owner, "title", c.Title); err != nil {
		return err
	}
	if c.Persona != nil {
		return ValidText(owner, "persona.name", c.Persona.Name, "persona.description", c.Persona.Description)
	}
	return nil
}

func ValidKey(key string) error {
	if key == "" {
		return fmt.Errorf("setting key is empty: %w", maopao.ErrInvalid)
	}
	if len(key) > MaxIDLen {
		return fmt.Errorf("setting key is %d bytes, more than %d: %w", len(key), MaxIDLen, maopao.ErrInvalid)
	}
	return nil
}

// WithChanges is stored with what UpdateMessage may change taken from m:
// the one rule both adapters apply.
func WithChanges(stored, m maopao.Message) maopao.Message {
	stored.Content, stored.SwipeID, stored.Deleted, stored.Status, stored.Code = m.Content, m.SwipeID, m.Deleted, m.Status, m.Code
	stored.Swipes, stored.Edits = m.Swipes, m.Edits
	return NormTimes(stored)
}

// NormTimes returns m with its times in UTC milliseconds, as stores keep
// them, and its lists copied.
func NormTimes(m maopao.Message) maopao.Message {
	ms := func(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
	m.CreatedAt = ms(m.CreatedAt)
	swipes := m.Swipes
	m.Swipes = nil
	for _, sw := range swipes {
		sw.CreatedAt = ms(sw.CreatedAt)
		m.Swipes = append(m.Swipes, sw)
	}
	edits := m.Edits
	m.Edits = nil
	for _, e := range edits {
		e.EditedAt = ms(e.EditedAt)
		m.Edits = append(m.Edits, e)
	}
	return m
}

// MaxPictureBytes bounds a stored picture (what internal/picture makes is
// smaller; MongoDB documents end at 16 MiB).
const MaxPictureBytes = 12 << 20

// ValidPicture checks a picture and its bytes before they are stored.
func ValidPicture(p maopao.Picture, data []byte) error {
	if err := ValidID("picture", p.ID); err != nil {
		return err
	}
	owner := fmt.Sprintf("picture %q", p.ID)
	if err := ValidID("owner", p.OwnerID); err != nil {
		return fmt.Errorf("%s: %w", owner, err)
	}
	switch {
	case p.Type != "image/png" && p.Type != "image/jpeg":
		return fmt.Errorf("%s: type %q, want image/png or image/jpeg: %w", owner, p.Type, maopao.ErrInvalid)
	case len(data) == 0 || len(data) != p.Size:
		return fmt.Errorf("%s: %d bytes, size says %d: %w", owner, len(data), p.Size, maopao.ErrInvalid)
	case len(data) > MaxPictureBytes:
		return fmt.Errorf("%s: %d bytes, at most %d: %w", owner, len(data), MaxPictureBytes, maopao.ErrInvalid)
	case p.Width <= 0 || p.Height <= 0:
		return fmt.Errorf("%s: %dx%d pixels: %w", owner, p.Width, p.Height, maopao.ErrInvalid)
	}
	return nil
}
