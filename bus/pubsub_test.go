package bus

import (
	"errors"
	"fmt"
	"testing"
)

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true},
		{"a.b", "a.c", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true},
		{"a.>", "a", false},
		{"*.b.>", "x.b.y", true},
		{"a.b", "a.b.c", false},
		{"a.b.c", "a.b", false},
	} {
		if got := subjectMatches(c.pattern, c.subject); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

func TestPublishSubscribe(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		pub, sub := connect("pub"), connect("sub")
		exact, star, tail := make(chan Msg, 100), make(chan Msg, 100), make(chan Msg, 100)
		for subject, ch := range map[string]chan Msg{"t.room.1": exact, "t.room.*": star, "t.>": tail} {
			s, err := sub.Subscribe(subject, func(m Msg) { ch <- m })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Unsubscribe()
		}
		if err := sub.Flush(testContext(t)); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if err := pub.Publish("t.room.1", []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Publish("t.room.2.deep", []byte("deep")); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []chan Msg{exact, star, tail} {
			for i := range 20 {
				if m := receive(t, ch, "message"); string(m.Data) != fmt.Sprint(i) || m.Subject != "t.room.1" {
					t.Fatalf("message %d: %q on %s, out of order or lost", i, m.Data, m.Subject)
				}
			}
		}
		if m := receive(t, tail, "deep message"); string(m.Data) != "deep" {
			t.Fatalf("t.> got %q", m.Data)
		}
		none(t, sub, exact, "message for another subject")
		none(t, sub, star, "message two tokens deep on a one-token wildcard")
	})
}

func TestUnsubscribeStopsDelivery(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		b := connect("one")
		got := make(chan Msg, 10)
		s, err := b.Subscribe("t.x", func(m Msg) { got <- m })
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
		_ = b.Publish("t.x", []byte("late"))
		none(t, b, got, "message after unsubscribe")
	})
}

func TestQueueGroupDeliversOnce(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		got := make(chan string, 100)
		for _, name := range []string{"w1", "w2"} {
			b := connect(name)
			s, err := b.QueueSubscribe("t.work", "workers", func(Msg) { got <- name })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Unsubscribe()
			if err := b.Flush(testContext(t)); err != nil {
				t.Fatal(err)
			}
		}
		pub := connect("pub")
		for range 10 {
			_ = pub.Publish("t.work", nil)
		}
		for range 10 {
			receive(t, got, "queued message")
		}
		none(t, pub, got, "second copy of a queued message")
	})
}

func TestRequestReply(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		server, client := connect("server"), connect("client")
		ctx := testContext(t)
		if _, err := client.Request(ctx, "t.ask", []byte("hi")); !errors.Is(err, ErrNoResponders) {
			t.Fatalf("request with nobody listening: %v, want ErrNoResponders", err)
		}
		s, err := server.Subscribe("t.ask", func(m Msg) { _ = server.Publish(m.Reply, append([]byte("re: "), m.Data...)) })
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
		if err := server.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		m, err := client.Request(ctx, "t.ask", []byte("hi"))
		if err != nil || string(m.Data) != "re: hi" {
			t.Fatalf("answer %q, %v", m.Data, err)
		}
	})
}

func TestPublishRequestWithoutRespondersAnswersOnReply(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		b := connect("one")
		inbox := b.NewInbox()
		got := make(chan Msg, 10)
		s, err := b.Subscribe(inbox, func(m Msg) { got <- m })
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
		if err := b.PublishRequest("t.nobody", inbox, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, got, "no-responders answer"); !m.NoResponders || len(m.Data) != 0 {
			t.Fatalf("answer %+v, want NoResponders", m)
		}
		// With a listener the reply subject gets only what it answers.
		l, _ := b.Subscribe("t.somebody", func(m Msg) { _ = b.Publish(m.Reply, []byte("yes")) })
		defer l.Unsubscribe()
		_ = b.Flush(testContext(t))
		_ = b.PublishRequest("t.somebody", inbox, nil)
		if m := receive(t, got, "answer"); m.NoResponders || string(m.Data) != "yes" {
			t.Fatalf("answer %+v", m)
		}
	})
}

func TestPublishRefusesOversizedMessages(t *testing.T) {
	forEachBus(t, func(t *testing.T, connect func(string) Bus) {
		b := connect("one")
		if err := b.Publish("t.big", make([]byte, b.MaxPayload()+1)); err == nil {
			t.Fatal("a message over MaxPayload was accepted")
		}
		if !b.Connected() {
			t.Fatal("not connected")
		}
	})
}
