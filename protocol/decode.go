package protocol

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// ListCharacters asks for the characters the player may talk to.
type ListCharacters struct{ Envelope }

// Ping asks for a pong.
type Ping struct{ Envelope }

// DecodeClientFrame parses and validates one frame from a client. It returns
// exactly one of: a request (Hello, Ping, ListCharacters, OpenChat or Say,
// by value) or an error frame saying what is wrong, answering the frame's id
// when one could be read. Semantic checks that need state (is the player
// authenticated, is the chat open) are the gateway's.
func DecodeClientFrame(data []byte) (any, *Error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
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
		return ListCharacters{env}, nil
	case TypeOpenChat:
		var o OpenChat
		if err := json.Unmarshal(data, &o); err != nil {
			return nil, bad(err)
		}
		if strings.TrimSpace(o.CharacterID) == "" {
			return nil, errFrame(env.ID, CodeInvalid, "open_chat: character_id is required")
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
		s.Text = strings.TrimSpace(s.Text)
		switch {
		case s.ConversationID == "":
			return nil, errFrame(env.ID, CodeInvalid, "say: conversation_id is required")
		case s.Text == "":
			return nil, errFrame(env.ID, CodeInvalid, "say: text is empty")
		case !utf8.ValidString(s.Text):
			return nil, errFrame(env.ID, CodeInvalid, "say: text is not valid UTF-8")
		case utf8.RuneCountInString(s.Text) > MaxSayRunes:
			return nil, errFrame(env.ID, CodeInvalid, "say: text longer than 4000 characters")
		}
		return s, nil
	case "":
		return nil, errFrame(env.ID, CodeInvalid, "frame has no type")
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
