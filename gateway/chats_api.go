package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/characters/chatfile"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage"
)

func (a *creatorAPI) registerChats(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/chats/{id}/export", a.handleChatExport)
	a.handle(mux, "POST /api/v1/chats/import", a.handleChatImport)
}

// ChatImported answers POST /api/v1/chats/import.
type ChatImported struct {
	ConversationID string `json:"conversation_id"`
	CharacterID    string `json:"character_id"`
	Messages       int    `json:"messages"`
}

// handleChatExport answers GET /api/v1/chats/{id}/export with the chat as
// a SillyTavern JSONL file. Only the chat's player may export it.
func (a *creatorAPI) handleChatExport(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	conv, err := a.s.Store.GetConversation(r.Context(), r.PathValue("id"))
	if err != nil || conv.PlayerID != player {
		if err != nil && !errors.Is(err, maopao.ErrNotFound) {
			return a.storeError("load chat", err)
		}
		return problemf(http.StatusNotFound, codeNotFound, "you have no chat %q", r.PathValue("id"))
	}
	ch, err := a.s.Store.GetCharacter(r.Context(), conv.CharacterID)
	if err != nil {
		return a.storeError("load character", err)
	}
	msgs, err := a.s.Store.MessagesAfter(r.Context(), conv.ID, 0, 0)
	if err != nil {
		return a.storeError("load messages", err)
	}
	userName := "User"
	if p, err := a.s.Store.GetPlayer(r.Context(), player); err == nil && p.Name != "" {
		userName = p.Name
	}
	if conv.Persona != nil && conv.Persona.Name != "" {
		userName = conv.Persona.Name
	}
	out := chatfile.Chat{UserName: userName, CharacterName: ch.Name, Created: conv.CreatedAt}
	for _, m := range msgs {
		if !m.InChat() {
			continue
		}
		cm := chatfile.Message{Name: ch.Name, IsUser: m.Role == maopao.RoleUser, IsSystem: m.Role == maopao.RoleSystem, SentAt: m.CreatedAt, Text: m.Content}
		if cm.IsUser {
			cm.Name = userName
		}
		for _, sw := range m.Swipes {
			cm.Swipes = append(cm.Swipes, sw.Text)
		}
		cm.SwipeID = m.SwipeID
		if cm.Extra, err = a.exportPictureExtra(r.Context(), m.Pictures, cm.Extra); err != nil {
			return problemf(http.StatusInternalServerError, protocol.CodeInternal, "write the chat's pictures: %v", err)
		}
		out.Messages = append(out.Messages, cm)
	}
	var buf bytes.Buffer
	if err := chatfile.Write(&buf, out); err != nil {
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "write the chat file: %v", err)
	}
	name := fileName(ch.Name) + " - " + conv.CreatedAt.Format("2006-01-02@15h04m05s") + ".jsonl"
	w.Header().Set("Content-Type", "application/jsonl; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// handleChatImport answers POST /api/v1/chats/import?character=ID: the
// body is a SillyTavern JSONL chat, stored as a new chat of the player
// with that character, swipes kept.
func (a *creatorAPI) handleChatImport(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	charID := r.URL.Query().Get("character")
	if charID == "" {
		return invalidFields([]FieldError{{Path: "character", Message: "required: the id of the character the chat is with"}})
	}
	ch, err := a.s.Store.GetCharacter(r.Context(), charID)
	if err != nil || (ch.Visibility == maopao.VisibilityPrivate && ch.OwnerID != player) {
		if err != nil && !errors.Is(err, maopao.ErrNotFound) {
			return a.storeError("load character", err)
		}
		return problemf(http.StatusNotFound, codeNotFound, "no character %q", charID)
	}
	chat, err := chatfile.Read(http.MaxBytesReader(w, r.Body, chatfile.MaxFileBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the chat file is larger than %d bytes", chatfile.MaxFileBytes)
		}
		return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "%v", err)
	}
	now := time.Now().UTC()
	created := chat.Created
	if created.IsZero() {
		created = now
	}
	conv := maopao.Conversation{ID: uuid.NewString(), PlayerID: player, CharacterID: ch.ID, CreatedAt: created, UpdatedAt: created,
		Title: "Imported: " + clipRunes(chat.CharacterName+" with "+chat.UserName, 80)}
	if chat.UserName != "" {
		// The chat's lines name the player as the file does; keep that
		// persona for this chat.
		conv.Persona = &maopao.Persona{Name: clipRunes(chat.UserName, protocol.MaxPersonaNameRunes)}
	}
	if _, _, err := a.s.Store.CreateConversation(r.Context(), conv); err != nil {
		return a.storeError("create chat", err)
	}
	n, err := a.importMessages(r, conv, chat)
	if err != nil {
		// Leave no half-imported chat behind.
		_ = a.s.Store.DeleteConversation(r.Context(), conv.ID)
		if errors.Is(err, maopao.ErrInvalid) {
			return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "%v", err)
		}
		return a.storeError("import chat", err)
	}
	a.s.chatsChanged()
	writeJSON(w, http.StatusCreated, ChatImported{ConversationID: conv.ID, CharacterID: ch.ID, Messages: n})
	return nil
}

func (a *creatorAPI) importMessages(r *http.Request, conv maopao.Conversation, chat chatfile.Chat) (int, error) {
	at := conv.CreatedAt
	var lastUser string
	n := 0
	budget := maxImportPictures
	for i, cm := range chat.Messages {
		if cm.SentAt.After(at) {
			at = cm.SentAt
		}
		m := maopao.Message{ID: uuid.NewString(), ConversationID: conv.ID, Role: maopao.RoleCharacter, Content: cm.Text, CreatedAt: at}
		switch {
		case cm.IsUser:
			m.Role = maopao.RoleUser
			lastUser = m.ID
		case cm.IsSystem:
			m.Role = maopao.RoleSystem
		default:
			m.ReplyTo = lastUser
			m.Greeting = i == 0
			lastUser = ""
		}
		for _, s := range cm.Swipes {
			m.Swipes = append(m.Swipes, maopao.Swipe{Text: s, CreatedAt: at})
		}
		m.SwipeID = cm.SwipeID
		if m.Role == maopao.RoleUser {
			pics, err := a.importPictures(r.Context(), conv.PlayerID, cm.Extra, &budget)
			if err != nil {
				return n, fmt.Errorf("message %d: %w", i+1, err)
			}
			m.Pictures = pics
		}
		if err := storage.ValidMessage(m); err != nil {
			return n, fmt.Errorf("message %d: %w", i+1, err)
		}
		if _, _, err := a.s.Store.AppendMessage(r.Context(), m); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
