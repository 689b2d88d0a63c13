// Package chatfile reads and writes chats in SillyTavern's JSONL chat
// format, so players can move chats between SillyTavern and Maopao: a
// header line (user_name, character_name, create_date, chat_metadata),
// then one line per message (name, is_user, is_system, send_date, mes,
// extra, swipes, swipe_id, swipe_info). A message's extra object and the
// header's chat_metadata are kept as read and written back; other fields
// SillyTavern adds (force_avatar, gen_started, …) are not kept. The reader
// takes files as SillyTavern writes them, quirks included (is_system as "",
// send dates as "December 6, 2026 9:48pm").
package chatfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/maopao/maopao/internal/jsonlimit"
)

// Limits on a file read with Read.
const (
	MaxFileBytes    = 16 << 20
	MaxMessages     = 20_000
	MaxSwipes       = 1_000
	MaxMessageBytes = 1 << 20
)

// Chat is a chat file's content.
type Chat struct {
	UserName      string
	CharacterName string
	Created       time.Time
	// Metadata is chat_metadata as read (nil writes {}).
	Metadata json.RawMessage
	Messages []Message
}

// Message is one line of a chat file.
type Message struct {
	Name     string
	IsUser   bool
	IsSystem bool // SillyTavern's hidden or narrator messages
	SentAt   time.Time
	Text     string
	// Swipes are the alternatives; Text is Swipes[SwipeID]. Empty when
	// there was only one text.
	Swipes  []string
	SwipeID int
	// Extra is the line's extra object, kept as read.
	Extra json.RawMessage
}

type header struct {
	UserName      string          `json:"user_name"`
	CharacterName string          `json:"character_name"`
	CreateDate    json.RawMessage `json:"create_date,omitempty"`
	ChatMetadata  json.RawMessage `json:"chat_metadata"`
}

type line struct {
	Name      string          `json:"name"`
	IsUser    flexBool        `json:"is_user"`
	IsSystem  flexBool        `json:"is_system"`
	SendDate  json.RawMessage `json:"send_date,omitempty"`
	Mes       *string         `json:"mes"`
	Extra     json.RawMessage `json:"extra,omitempty"`
	Swipes    []string        `json:"swipes,omitempty"`
	SwipeID   *int            `json:"swipe_id,omitempty"`
	SwipeInfo []swipeInfo     `json:"swipe_info,omitempty"`
}

type swipeInfo struct {
	SendDate string          `json:"send_date,omitempty"`
	Extra    json.RawMessage `json:"extra"`
}

// Error says what is wrong with a chat file and on which line.
type Error struct {
	Line int // 1-based; 0 for the file as a whole
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "chat file: " + e.Msg
	}
	return fmt.Sprintf("chat file line %d: %s", e.Line, e.Msg)
}

var lineShape = jsonlimit.Limits{MaxDepth: 32, MaxValues: 50_000}

// Read parses a chat file.
func Read(r io.Reader) (Chat, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return Chat{}, &Error{Msg: "read: " + err.Error()}
	}
	if len(data) > MaxFileBytes {
		return Chat{}, &Error{Msg: fmt.Sprintf("larger than %d bytes", MaxFileBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var c Chat
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), MaxFileBytes)
	n := 0
	for sc.Scan() {
		n++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			return Chat{}, &Error{Line: n, Msg: "not valid UTF-8"}
		}
		if err := lineShape.Check(raw); err != nil {
			return Chat{}, &Error{Line: n, Msg: err.Error()}
		}
		if n == 1 {
			if err := readHeader(raw, &c); err != nil {
				return Chat{}, &Error{Line: n, Msg: err.Error()}
			}
			continue
		}
		m, err := readLine(raw)
		if err != nil {
			return Chat{}, &Error{Line: n, Msg: err.Error()}
		}
		if len(c.Messages) >= MaxMessages {
			return Chat{}, &Error{Line: n, Msg: fmt.Sprintf("more than %d messages", MaxMessages)}
		}
		c.Messages = append(c.Messages, m)
	}
	if err := sc.Err(); err != nil {
		return Chat{}, &Error{Msg: err.Error()}
	}
	if n == 0 {
		return Chat{}, &Error{Msg: "empty: a chat file starts with a header line"}
	}
	return c, nil
}

func readHeader(raw []byte, c *Chat) error {
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("the header is not a JSON object with user_name and character_name: %v", err)
	}
	var probe map[string]json.RawMessage
	_ = json.Unmarshal(raw, &probe)
	if _, ok := probe["mes"]; ok {
		return errors.New("the first line is a message; a chat file starts with a header line (user_name, character_name)")
	}
	c.UserName, c.CharacterName, c.Metadata = h.UserName, h.CharacterName, h.ChatMetadata
	c.Created = parseDate(h.CreateDate)
	return nil
}

func readLine(raw []byte) (Message, error) {
	var l line
	if err := json.Unmarshal(raw, &l); err != nil {
		return Message{}, fmt.Errorf("not a chat message: %v", err)
	}
	if l.Mes == nil {
		return Message{}, errors.New("the message has no mes (its text)")
	}
	if len(*l.Mes) > MaxMessageBytes {
		return Message{}, fmt.Errorf("the message is longer than %d bytes", MaxMessageBytes)
	}
	if len(l.Swipes) > MaxSwipes {
		return Message{}, fmt.Errorf("more than %d swipes", MaxSwipes)
	}
	m := Message{Name: l.Name, IsUser: bool(l.IsUser), IsSystem: bool(l.IsSystem), SentAt: parseDate(l.SendDate), Text: *l.Mes, Extra: l.Extra}
	if len(l.Swipes) > 1 {
		m.Swipes = l.Swipes
		if l.SwipeID != nil {
			m.SwipeID = *l.SwipeID
		}
		if m.SwipeID < 0 || m.SwipeID >= len(m.Swipes) {
			return Message{}, fmt.Errorf("swipe_id %d outside its %d swipes", m.SwipeID, len(m.Swipes))
		}
		// mes is what the chat shows; SillyTavern keeps it equal to the
		// chosen swipe, but an edited message may differ: mes wins.
		m.Swipes = append([]string(nil), m.Swipes...)
		m.Swipes[m.SwipeID] = m.Text
	}
	return m, nil
}

// SillyTavern's humanized dates: "2024-5-1 @12h 34m 56s 789ms" (create
// date) and "May 1, 2024 12:34pm" (older send dates); newer files use
// ISO 8601 or milliseconds since 1970.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-1-2@15h04m05s",
	"January 2, 2006 3:04pm",
	"January 2, 2006 15:04",
	"2006-01-02 15:04:05",
}

func parseDate(raw json.RawMessage) time.Time {
	if len(raw) == 0 {
		return time.Time{}
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil && n > 0 {
		return time.UnixMilli(int64(n)).UTC()
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
		return time.UnixMilli(ms).UTC()
	}
	var y, mo, d, h, mi, sec, ms int
	if n, _ := fmt.Sscanf(s, "%d-%d-%d @%dh %dm %ds %dms", &y, &mo, &d, &h, &mi, &sec, &ms); n >= 6 {
		return time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC)
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Write writes c as a chat file SillyTavern imports.
func Write(w io.Writer, c Chat) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	meta := c.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	created := c.Created
	if created.IsZero() {
		created = time.Now()
	}
	cd, _ := json.Marshal(humanized(created))
	if err := enc.Encode(header{UserName: c.UserName, CharacterName: c.CharacterName, CreateDate: cd, ChatMetadata: meta}); err != nil {
		return err
	}
	for _, m := range c.Messages {
		text := m.Text
		sd, _ := json.Marshal(m.SentAt.UTC().Format(time.RFC3339Nano))
		extra := m.Extra
		if len(extra) == 0 {
			extra = json.RawMessage("{}")
		}
		l := line{Name: m.Name, IsUser: flexBool(m.IsUser), IsSystem: flexBool(m.IsSystem), SendDate: sd, Mes: &text, Extra: extra}
		swipes := m.Swipes
		id := m.SwipeID
		if len(swipes) == 0 {
			// SillyTavern gives every message one swipe, itself.
			swipes, id = []string{m.Text}, 0
		}
		l.Swipes, l.SwipeID = swipes, &id
		for range swipes {
			l.SwipeInfo = append(l.SwipeInfo, swipeInfo{SendDate: m.SentAt.UTC().Format(time.RFC3339Nano), Extra: json.RawMessage("{}")})
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// humanized is SillyTavern's create_date form.
func humanized(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%d-%d-%d @%02dh %02dm %02ds %03dms", t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e6)
}

// flexBool reads a boolean as SillyTavern may write it: true/false, but
// also "" (its /sendas messages have "is_system":""), "true", 0/1 or null.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case bool:
		*b = flexBool(x)
	case string:
		*b = flexBool(x == "true")
	case float64:
		*b = x != 0
	case nil:
		*b = false
	default:
		return fmt.Errorf("want a boolean, got %s", data)
	}
	return nil
}
