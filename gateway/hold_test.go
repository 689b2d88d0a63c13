package gateway

import (
	"strings"
	"testing"
)

// The frames answering a line wait for the line's ack: a client learns
// which frames answer its line from the ack, so an answer that overtakes it
// (an error found at once, while JetStream is still confirming the line)
// would reach nobody.
func TestRepliesWaitForTheirAck(t *testing.T) {
	c := &conn{out: outQueue{max: 16, ready: make(chan struct{}, 1)}}
	c.holdReplies("line-1")
	c.sendReply("line-1", []byte("error for line-1"))
	c.sendReply("line-2", []byte("delta for line-2"))
	c.sendReply("", []byte("event for nobody in particular"))
	c.sendReply("line-1", []byte("second frame for line-1"))
	c.releaseReplies("line-1", []byte("ack line-1"))
	c.sendReply("line-1", []byte("late frame for line-1"))
	var got []string
	for _, b := range c.out.take(nil) {
		got = append(got, string(b))
	}
	want := []string{"delta for line-2", "event for nobody in particular", "ack line-1", "error for line-1", "second frame for line-1", "late frame for line-1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("frames in order %q, want %q", got, want)
	}
}
