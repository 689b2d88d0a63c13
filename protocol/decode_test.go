package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeClientFrame(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string
		want any
	}{
		{`{"type":"hello","id":"1","token":"t","protocol":1}`, "", Hello{Envelope: Envelope{Type: TypeHello, ID: "1"}, Token: "t", Protocol: 1}},
		{`{"type":"ping"}`, "", Ping{Envelope{Type: TypePing}}},
		{`{"type":"list_characters","id":"x"}`, "", ListCharacters{Envelope: Envelope{Type: TypeListCharacters, ID: "x"}}},
		{`{"type":"list_characters","limit":10,"cursor":"20"}`, "", ListCharacters{Envelope: Envelope{Type: TypeListCharacters}, Limit: 10, Cursor: "20"}},
		{`{"type":"list_characters","limit":1000}`, CodeInvalid, nil},
		{`{"type":"open_chat","character_id":"c"}`, "", OpenChat{Envelope: Envelope{Type: TypeOpenChat}, CharacterID: "c"}},
		{`{"type":"say","conversation_id":"c","text":"  hi  "}`, "", Say{Envelope: Envelope{Type: TypeSay}, ConversationID: "c", Text: "hi"}},
		{`{"type":`, CodeBadJSON, nil},
		{`"hello"`, CodeBadJSON, nil},
		{`{"type":"say","conversation_id":7}`, CodeBadJSON, nil},
		{`{"id":"5"}`, CodeInvalid, nil},
		{`{"type":"fly"}`, CodeUnknownType, nil},
		{`{"type":"hello","protocol":2}`, CodeUnsupportedVersion, nil},
		{`{"type":"open_chat"}`, CodeInvalid, nil},
		{`{"type":"open_chat","character_id":"c","history_limit":9999}`, CodeInvalid, nil},
		{`{"type":"say","conversation_id":"c","text":"   "}`, CodeInvalid, nil},
		{`{"type":"say","text":"hi"}`, CodeInvalid, nil},
		{`{"type":"say","conversation_id":"c","text":"` + strings.Repeat("字", MaxSayRunes+1) + `"}`, CodeInvalid, nil},
	} {
		got, e := DecodeClientFrame([]byte(tc.in))
		if tc.code != "" {
			if e == nil || e.Code != tc.code || e.Type != TypeError {
				t.Errorf("%.60s: got %+v, %+v; want error %s", tc.in, got, e, tc.code)
			}
			continue
		}
		if e != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%.60s: got %+v, %+v; want %+v", tc.in, got, e, tc.want)
		}
	}
	if _, e := DecodeClientFrame([]byte(`{"type":"fly","id":"r9"}`)); e == nil || e.Ref != "r9" {
		t.Errorf("an error frame must answer the request id; got %+v", e)
	}
}

// FuzzDecodeClientFrame: any bytes give exactly one of a request or an
// error frame, never a panic; accepted requests survive a re-encode.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","token":"abc","protocol":1}`, `{"type":"ping","id":"1"}`,
		`{"type":"open_chat","character_id":"x","history_limit":3}`, `{"type":"say","conversation_id":"c","text":"冒泡"}`,
		`{"type":"say","text":"\ud800"}`, `{}`, `[]`, `null`, `{"type":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, e := DecodeClientFrame(data)
		if (req == nil) == (e == nil) {
			t.Fatalf("want exactly one of request and error, got %v and %v", req, e)
		}
		if e != nil {
			if e.Code == "" || e.Message == "" || e.Type != TypeError {
				t.Fatalf("incomplete error frame %+v", e)
			}
			return
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, e2 := DecodeClientFrame(b)
		if e2 != nil || !reflect.DeepEqual(again, req) {
			t.Fatalf("re-encoded %s decodes to %+v, %+v; want %+v", b, again, e2, req)
		}
	})
}
