package chatclient

import (
	"context"
	"testing"
)

// FuzzRoute feeds arbitrary server frames to the router: every frame must land
// in exactly one place and nothing may panic.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		`{"type":"ack","ref":"7","message_id":"m"}`,
		`{"type":"delta","reply_to":"m","seq":0,"text":"hi"}`,
		`{"type":"complete","message":{"reply_to":"m","content":"hi"}}`,
		`{"type":"error","ref":"7","code":"invalid","message":"bad"}`,
		`{"type":"complete","message":"oops"}`,
		`{"type":7}`, `[]`, `null`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Client{byRef: map[string]*mailbox{}, byReply: map[string]*mailbox{}, done: make(chan struct{})}
		say := &mailbox{}
		c.byRef["7"] = say
		c.route([]byte(`{"type":"ack","ref":"7","message_id":"m"}`))
		c.route(data)
		c.route(data)
		total := say.len() + c.unclaimed.len()
		if total != 3 {
			t.Fatalf("%q: %d frames routed, want 3", data, total)
		}
		f, err := say.take(context.Background(), c.done)
		if err != nil || f.env.Type != "ack" {
			t.Fatalf("first frame for the request = %+v, %v", f, err)
		}
	})
}
