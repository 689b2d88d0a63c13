package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/maopao/maopao/internal/jsonlimit"
)

// ListCharacters asks for the characters the player may talk to, a page
// at a time: Limit of them (default and most: MaxListPage) from Cursor
// (the previous answer's Next).
type ListCharacters struct {
	Envelope
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// MaxListPage bounds a page of characters or worlds.
const MaxListPage = 100

// Ping asks for a pong.
type Ping struct{ Envelope }

// frameShape bounds a frame's values before it is decoded; no frame of
// protocol v1 comes near it.
var frameShape = jsonlimit.Limits{MaxDepth: 32, MaxValues: 20_000}

// DecodeClientFrame parses and validates one frame from a client. It returns
// exactly one of: a request (Hello, Ping, ListCharacters, OpenChat or Say,
// by value) or an error frame saying what is wrong, answering the frame's id
// when one could be read. Semantic checks that need state (is the player
// authenticated, is the chat open) are the gateway's.
func DecodeClientFrame(data []byte) (any, *Error) {
	var env Envelope
	var err error
	if err := frameShape.Check(data); err != nil {
		return nil, errFrame("", CodeInvalid, "frame: "+err.Error())
	}
	if err = json.Unmarshal(data, &env); err != nil {
		return nil, errFrame("", CodeBadJSON, "frame is not a JSON object: "+err.Error())
	}
	bad := func(err error) *Error {
		return errFrame(env.ID, CodeBadJSON, env.Type+": "+err.Error())
	}
	switch env.Type {
	case TypeHello:
		var h Hello
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, bad(err)
		}
		if h.Protocol != 0 && h.Protocol != Version {
			return nil, errFrame(env.ID, CodeUnsupportedVersion, "this gateway speaks protocol 1")
		}
		return h, nil
	case TypePing:
		return Ping{env}, nil
	case TypeListCharacters:
		var l ListCharacters
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, bad(err)
		}
		if l.Limit < 0 || l.Limit > MaxListPage {
			return nil, errFrame(env.ID, CodeInvalid, "list_characters: limit must be between 0 and 100")
		}
		return l, nil
	case TypeOpenChat:
		var o OpenChat
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, bad(err)
		}
		if strings.TrimSpace(o.CharacterID) == "" && o.ConversationID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "open_chat: character_id or conversation_id is required")
		}
		if o.HistoryLimit < 0 || o.HistoryLimit > 500 {
			return nil, errFrame(env.ID, CodeInvalid, "open_chat: history_limit must be between 0 and 500")
		}
		return o, nil
	case TypeSay:
		var s Say
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, bad(err)
		}
		if s.ConversationID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "say: conversation_id is required")
		}
		if err := checkPictures("say", s.Pictures); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		if len(s.Pictures) > 0 && strings.TrimSpace(s.Text) == "" {
			s.Text = "" // a picture alone is a line
		} else if s.Text, err = checkSayText("say", s.Text); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		if err := checkClientMessageID("say", s.ClientMessageID); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		return s, nil
	case TypeListWorlds:
		return ListWorlds{env}, nil
	case TypeJoinWorld:
		var j JoinWorld
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, bad(err)
		}
		if j.WorldID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "join_world: world_id is required")
		}
		return j, nil
	case TypeMove:
		var m Move
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, bad(err)
		}
		if m.WorldID == "" || m.LocationID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "move: world_id and location_id are required")
		}
		return m, nil
	case TypeRoomSay:
		var r RoomSay
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, bad(err)
		}
		if r.WorldID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "room_say: world_id is required")
		}
		if err := checkPictures("room_say", r.Pictures); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		if len(r.Pictures) > 0 && strings.TrimSpace(r.Text) == "" {
			r.Text = ""
		} else if r.Text, err = checkSayText("room_say", r.Text); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		if err := checkClientMessageID("room_say", r.ClientMessageID); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		return r, nil
	case TypePrivateSay:
		var p PrivateSay
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, bad(err)
		}
		if p.WorldID == "" || p.CharacterID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "private_say: world_id and character_id are required")
		}
		if p.Text, err = checkSayText("private_say", p.Text); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		if err := checkClientMessageID("private_say", p.ClientMessageID); err != nil {
			return nil, errFrame(env.ID, CodeInvalid, err.Error())
		}
		return p, nil
	case TypeLeaveWorld:
		var l LeaveWorld
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, bad(err)
		}
		if l.WorldID == "" {
			return nil, errFrame(env.ID, CodeInvalid, "leave_world: world_id is required")
		}
		return l, nil
	case "":
		return nil, errFrame(env.ID, CodeInvalid, "frame has no type")
	}
	if v, bad, ok := decodeChatFrame(env, data); ok {
		if bad != nil {
			return nil, bad
		}
		return v, nil
	}
	switch env.Type {
	default:
		t := env.Type
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		b, _ := json.Marshal(t)
		return nil, errFrame(env.ID, CodeUnknownType, "unknown frame type "+string(b))
	}
}

func errFrame(ref, code, msg string) *Error {
	e := NewError(ref, code, msg)
	return &e
}

// MaxClientMessageID bounds a client's message id.
const MaxClientMessageID = 64

// checkClientMessageID accepts no id, or up to 64 of A-Z a-z 0-9 . _ : -
// (a UUID fits).
func checkClientMessageID(frame, id string) error {
	if len(id) > MaxClientMessageID {
		return fmt.Errorf("%s: client_message_id longer than %d characters", frame, MaxClientMessageID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return fmt.Errorf("%s: client_message_id may hold letters, digits and . _ : - only", frame)
		}
	}
	return nil
}

// checkSayText trims a player's line and checks it is sayable.
// checkPictures checks a line's picture ids.
func checkPictures(frame string, ids []string) error {
	if len(ids) > MaxPicturesPerLine {
		return fmt.Errorf("%s: %d pictures; a line carries at most %d", frame, len(ids), MaxPicturesPerLine)
	}
	for i, id := range ids {
		if id == "" || len(id) > 64 || !utf8.ValidString(id) {
			return fmt.Errorf("%s: pictures[%d] is not a picture id", frame, i)
		}
	}
	return nil
}

func checkSayText(frame, text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", errors.New(frame + ": text is empty")
	case !utf8.ValidString(text):
		return "", errors.New(frame + ": text is not valid UTF-8")
	case utf8.RuneCountInString(text) > MaxSayRunes:
		return "", errors.New(frame + ": text longer than 4000 characters")
	}
	return text, nil
}
