package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Frame types of chat management and of requests about a chat's messages.
const (
	TypeNewChat       = "new_chat"       // client: start another chat with a character
	TypeListChats     = "list_chats"     // client: the player's chats with a character
	TypeRenameChat    = "rename_chat"    // client: give a chat a title
	TypeDeleteChat    = "delete_chat"    // client: delete a chat and its messages
	TypeRegenerate    = "regenerate"     // client: another reply to the last line (kept as a swipe)
	TypeSwipe         = "swipe"          // client: choose an alternative of the last reply
	TypeEditMessage   = "edit_message"   // client: change a message's text
	TypeDeleteMessage = "delete_message" // client: take a message out of the chat
	TypeRewind        = "rewind"         // client: take every message after one out of the chat
	TypeForkChat      = "fork_chat"      // client: branch the chat at a message into a new chat
	TypeStop          = "stop"           // client: stop the reply being generated
	TypeSetPersona    = "set_persona"    // client: say who the player is

	TypeChats          = "chats"           // gateway: answers list_chats
	TypeChatUpdated    = "chat_updated"    // gateway: answers rename_chat
	TypeChatDeleted    = "chat_deleted"    // gateway: answers delete_chat
	TypeMessageUpdated = "message_updated" // gateway: a message changed (swipe, edit, deletion)
	TypeRewound        = "rewound"         // gateway: every message after MessageID is out of the chat
	TypeChatForked     = "chat_forked"     // gateway: a branch was made; open it with open_chat
	TypePersona        = "persona"         // gateway: answers set_persona
	// TypeCharactersChanged tells a client that characters were created,
	// changed or deleted: a list on screen should be asked for again.
	TypeCharactersChanged = "characters_changed"
)

// Limits of chat management.
const (
	MaxTitleRunes              = 120
	MaxPersonaNameRunes        = 40
	MaxPersonaDescriptionRunes = 4000
	MaxChatListLength          = 500
)

// Error codes of chat requests (beyond the general ones).
const (
	CodeBusy           = "busy"           // a reply is being written, or requests wait: stop it or wait
	CodeNoAlternative  = "no_alternative" // no such swipe, or a greeting without alternatives
	CodeUnknownMessage = "unknown_message"
)

// NewChat starts a new chat with a character; it is answered with
// chat_opened, the new chat's greeting in its history.
type NewChat struct {
	Envelope
	CharacterID string `json:"character_id"`
}

// ListChats asks for the player's chats with a character.
type ListChats struct {
	Envelope
	CharacterID string `json:"character_id"`
}

// ChatSummary is what a chat list shows of a chat.
type ChatSummary struct {
	ID          string    `json:"id"`
	CharacterID string    `json:"character_id"`
	Title       string    `json:"title"`
	LastMessage string    `json:"last_message"`
	Messages    int       `json:"messages"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// ForkOf names the chat this one branched from.
	ForkOf string `json:"fork_of,omitempty"`
}

// Chats answers ListChats: most recently updated first.
type Chats struct {
	Envelope
	CharacterID string        `json:"character_id"`
	Chats       []ChatSummary `json:"chats"`
}

// RenameChat titles a chat.
type RenameChat struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	Title          string `json:"title"`
}

// ChatUpdated answers RenameChat.
type ChatUpdated struct {
	Envelope
	Chat ChatSummary `json:"chat"`
}

// DeleteChat deletes a chat with all its messages.
type DeleteChat struct {
	Envelope
	ConversationID string `json:"conversation_id"`
}

// ChatDeleted answers DeleteChat.
type ChatDeleted struct {
	Envelope
	ConversationID string `json:"conversation_id"`
}

// ChatRequest is every request about a chat's messages: regenerate,
// swipe, edit_message, delete_message, rewind, fork_chat and stop. The
// gateway acks it (Ack.MessageID names the request) and the chat's actor
// carries it out in order with the player's lines; what happens comes as
// delta/complete (regenerate, swipe past the last alternative),
// message_updated, rewound or chat_forked frames, or an error frame whose
// reply_to is the request's ID.
type ChatRequest struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	// MessageID is the message the request is about (optional for
	// regenerate, where it names a failed reply to retry; unused by stop).
	MessageID string `json:"message_id,omitempty"`
	// SwipeID is the alternative to choose, 0-based (swipe).
	SwipeID int `json:"swipe_id,omitempty"`
	// Text is the new text (edit_message).
	Text string `json:"text,omitempty"`
}

// MessageUpdated tells the client a message changed: replace it (drop it
// when Deleted).
type MessageUpdated struct {
	Envelope
	ConversationID string      `json:"conversation_id"`
	ReplyTo        string      `json:"reply_to,omitempty"` // the request that changed it
	Message        ChatMessage `json:"message"`
}

// Rewound tells the client every message after MessageID left the chat.
type Rewound struct {
	Envelope
	ConversationID string `json:"conversation_id"`
	ReplyTo        string `json:"reply_to,omitempty"`
	MessageID      string `json:"message_id"`
}

// ChatForked tells the client a branch exists; open it with open_chat.
type ChatForked struct {
	Envelope
	ConversationID    string `json:"conversation_id"`
	ReplyTo           string `json:"reply_to,omitempty"`
	MessageID         string `json:"message_id"`
	NewConversationID string `json:"new_conversation_id"`
}

// Persona is who the player is: {{user}} in prompts is Name, and
// Description is what characters are told about them.
type Persona struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// SetPersona sets the player's persona, or (ConversationID set) the one
// they use in that chat only. An empty name in a chat's persona goes back
// to the player's own.
type SetPersona struct {
	Envelope
	Persona
	ConversationID string `json:"conversation_id,omitempty"`
}

// PersonaSet answers SetPersona.
type PersonaSet struct {
	Envelope
	Persona
	ConversationID string `json:"conversation_id,omitempty"`
}

// decodeChatFrame decodes the chat-management frames; ok is false for
// other types.
func decodeChatFrame(env Envelope, data []byte) (v any, bad *Error, ok bool) {
	fail := func(msg string) (any, *Error, bool) {
		return nil, errFrame(env.ID, CodeInvalid, env.Type+": "+msg), true
	}
	unmarshal := func(dst any) *Error {
		if err := json.Unmarshal(data, dst); err != nil {
			return errFrame(env.ID, CodeBadJSON, env.Type+": "+err.Error())
		}
		return nil
	}
	switch env.Type {
	case TypeNewChat, TypeListChats:
		var n struct {
			CharacterID string `json:"character_id"`
		}
		if e := unmarshal(&n); e != nil {
			return nil, e, true
		}
		if strings.TrimSpace(n.CharacterID) == "" {
			return fail("character_id is required")
		}
		if env.Type == TypeNewChat {
			return NewChat{env, n.CharacterID}, nil, true
		}
		return ListChats{env, n.CharacterID}, nil, true
	case TypeRenameChat:
		var r RenameChat
		if e := unmarshal(&r); e != nil {
			return nil, e, true
		}
		r.Envelope = env
		r.Title = strings.TrimSpace(r.Title)
		if r.ConversationID == "" {
			return fail("conversation_id is required")
		}
		if err := checkName(r.Title, MaxTitleRunes, true); err != nil {
			return fail("title " + err.Error())
		}
		return r, nil, true
	case TypeDeleteChat:
		var d DeleteChat
		if e := unmarshal(&d); e != nil {
			return nil, e, true
		}
		d.Envelope = env
		if d.ConversationID == "" {
			return fail("conversation_id is required")
		}
		return d, nil, true
	case TypeRegenerate, TypeSwipe, TypeEditMessage, TypeDeleteMessage, TypeRewind, TypeForkChat, TypeStop:
		var r ChatRequest
		if e := unmarshal(&r); e != nil {
			return nil, e, true
		}
		r.Envelope = env
		if r.ConversationID == "" {
			return fail("conversation_id is required")
		}
		needsMessage := env.Type != TypeRegenerate && env.Type != TypeStop
		if needsMessage && r.MessageID == "" {
			return fail("message_id is required")
		}
		if env.Type == TypeSwipe && r.SwipeID < 0 {
			return fail("swipe_id must be 0 or more")
		}
		if env.Type == TypeEditMessage {
			var err error
			if r.Text, err = checkSayText(env.Type, r.Text); err != nil {
				return nil, errFrame(env.ID, CodeInvalid, err.Error()), true
			}
		}
		return r, nil, true
	case TypeSetPersona:
		var p SetPersona
		if e := unmarshal(&p); e != nil {
			return nil, e, true
		}
		p.Envelope = env
		p.Name, p.Description = strings.TrimSpace(p.Name), strings.TrimSpace(p.Description)
		if err := checkName(p.Name, MaxPersonaNameRunes, p.ConversationID != ""); err != nil {
			return fail("name " + err.Error())
		}
		if !utf8.ValidString(p.Description) || utf8.RuneCountInString(p.Description) > MaxPersonaDescriptionRunes {
			return fail("description: at most 4000 characters of valid UTF-8")
		}
		return p, nil, true
	}
	return nil, nil, false
}

// checkName checks a short name or title: valid UTF-8, at most max
// characters, no control characters.
func checkName(s string, max int, emptyOK bool) error {
	switch {
	case s == "" && !emptyOK:
		return errors.New("is required")
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		return errors.New("is longer than " + itoa(max) + " characters")
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New("has control characters")
	}
	return nil
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
