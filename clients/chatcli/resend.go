package chatcli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// resendFor bounds how long a line whose ack never came is sent again.
const resendFor = 2 * time.Minute

// liveChat is the connection a chat goes over; it dials again when the
// connection was lost.
type liveChat struct {
	c      *chatclient.Client
	url    string
	token  string
	conv   string
	stderr io.Writer
}

// redial connects again and opens the chat; pauses grow up to 5s.
func (l *liveChat) redial(ctx context.Context, wait *time.Duration) error {
	l.c.Close()
	for {
		t := time.NewTimer(*wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		*wait = min(2**wait, 5*time.Second)
		c, err := chatclient.Dial(ctx, l.url, l.token)
		if err == nil {
			if _, err = c.OpenChatByID(ctx, l.conv); err == nil {
				l.c = c
				return nil
			}
			c.Close()
		}
		fmt.Fprintf(l.stderr, "\nmaopao: reconnecting: %s\n", clean(err.Error()))
	}
}

// say sends a line and waits for its reply. A line whose ack was lost
// with the connection goes again, with the same client message id, once
// the connection is back (the server stores and answers it once); a line
// accepted before the connection went has its reply collected on the new
// connection.
func (l *liveChat) say(ctx context.Context, text string, pictures []string, onDelta func(protocol.Delta)) (protocol.Complete, error) {
	cid := uuid.NewString()
	giveUp := time.Now().Add(resendFor)
	wait := 250 * time.Millisecond
	for {
		done, err := l.c.SayLine(ctx, l.conv, chatclient.Line{Text: text, Pictures: pictures, ClientMessageID: cid, OnDelta: onDelta,
			OnNotice: func(n protocol.Notice) { fmt.Fprintf(l.stderr, "\nmaopao: %s\n", Clean(n.Text)) }})
		var notAcked *chatclient.NotAckedError
		var acked *chatclient.AckedError
		switch {
		case errors.As(err, &notAcked) && ctx.Err() == nil && time.Now().Before(giveUp):
			fmt.Fprintf(l.stderr, "\nmaopao: the connection was lost before the line was accepted; sending it again\n")
			if rerr := l.redial(ctx, &wait); rerr != nil {
				return protocol.Complete{}, err
			}
		case errors.As(err, &acked) && ctx.Err() == nil && time.Now().Before(giveUp):
			fmt.Fprintf(l.stderr, "\nmaopao: the connection was lost; the line is accepted, waiting for its reply\n")
			if rerr := l.redial(ctx, &wait); rerr != nil {
				return protocol.Complete{}, err
			}
			return l.c.Await(ctx, acked.MessageID, onDelta)
		default:
			return done, err
		}
	}
}
