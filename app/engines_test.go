package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/announce"
	"github.com/maopao/maopao/protocol"
)

// taggedLLM is an OpenAI-compatible server whose replies name it, piece by
// piece. While its pool is armed, the first request either engine gets
// dies after two pieces: the test then kills that engine's server.
type taggedLLM struct {
	name  string
	srv   *httptest.Server
	armed *atomic.Bool
	dying chan *taggedLLM
	calls atomic.Int32
}

func (l *taggedLLM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/models":
		fmt.Fprint(w, `{"object":"list","data":[{"id":"tagged"}]}`)
		return
	case "/v1/chat/completions":
	default:
		http.NotFound(w, r)
		return
	}
	var req struct {
		Messages []engine.ChatMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	l.calls.Add(1)
	die := l.armed.CompareAndSwap(true, false)
	w.Header().Set("Content-Type", "text/event-stream")
	for i := 1; i <= 3; i++ {
		if die && i == 3 {
			l.dying <- l
			<-r.Context().Done() // the test cuts the connection
			return
		}
		fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", fmt.Sprintf("%s-%d ", l.name, i))
		w.(http.Flusher).Flush()
		time.Sleep(2 * time.Millisecond)
	}
	fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
}

// Two engines behind --llm-url: one is killed in the middle of a reply. The
// line is answered by the other (the player is told to drop what the dead
// one said), and every line of every chat is answered exactly once.
func TestTwoEnginesOneKilledMidReply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	armed := &atomic.Bool{}
	dying := make(chan *taggedLLM, 1)
	engines := map[string]*taggedLLM{}
	var urls []string
	for _, name := range []string{"alpha", "beta"} {
		l := &taggedLLM{name: name, armed: armed, dying: dying}
		l.srv = httptest.NewServer(l)
		defer l.srv.Close()
		engines[name] = l
		urls = append(urls, l.srv.URL)
	}
	srv := startServe(t, t.TempDir(), func(c *app.Config) {
		c.LLMURL = strings.Join(urls, ",")
		c.ModelPath = ""
	})
	defer srv.Close()
	c, convs := chatWithEveryone(t, ctx, srv, "Ada")

	// The first line's engine dies after two pieces of its reply.
	armed.Store(true)
	var killed *taggedLLM
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case killed = <-dying:
			killed.srv.CloseClientConnections()
			killed.srv.Listener.Close()
		case <-ctx.Done():
		}
	}()
	var restarts int
	var pieces []string
	first, err := c.Say(ctx, convs[0], "Hello there!", func(d protocol.Delta) {
		if d.Restart {
			restarts++
			pieces = nil
		}
		pieces = append(pieces, d.Text)
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("the line whose engine died: %v", err)
	}
	if killed == nil {
		t.Fatal("no engine was killed (the test's premise)")
	}
	other := "alpha"
	if killed.name == "alpha" {
		other = "beta"
	}
	want := fmt.Sprintf("%s-1 %s-2 %s-3", other, other, other)
	if got := strings.TrimSpace(first.Message.Content); got != want || restarts != 1 || strings.TrimSpace(strings.Join(pieces, "")) != want {
		t.Fatalf("reply after the kill %q (restarts %d, pieces after the restart %q); want %q from the live engine, started over once",
			got, restarts, strings.Join(pieces, ""), want)
	}

	// Every chat goes on, on the live engine, each line answered once.
	for round := 0; round < 2; round++ {
		for i, conv := range convs {
			done, err := c.Say(ctx, conv, fmt.Sprintf("Line %d of round %d.", i, round), nil)
			if err != nil {
				t.Fatalf("chat %d round %d: %v", i, round, err)
			}
			if !strings.HasPrefix(done.Message.Content, other+"-1") {
				t.Errorf("chat %d round %d answered %q, want the live engine %s", i, round, done.Message.Content, other)
			}
		}
	}
	for i, conv := range convs {
		op, err := c.OpenChatByID(ctx, conv)
		if err != nil {
			t.Fatal(err)
		}
		var lines, replies int
		for _, m := range op.History {
			switch m.Role {
			case "user":
				lines++
			case "character", "assistant":
				if strings.Contains(m.Content, killed.name) {
					t.Errorf("chat %d keeps text of the killed engine: %q", i, m.Content)
				}
				replies++
			}
		}
		// The greeting is a reply to no line.
		wantLines := 2
		if i == 0 {
			wantLines = 3
		}
		if lines != wantLines || replies-lines > 1 || replies < lines {
			t.Errorf("chat %d: %d lines and %d replies in the history, want %d lines each answered once", i, lines, replies, wantLines)
		}
	}
}

// With --llm-url nats the world simulation uses the engines that announce
// themselves on the bus: both serve, and when one leaves (it stops
// announcing, then goes away) every later line goes to the other.
func TestEnginesAnnouncedOnTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	emb, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := bus.Connect(emb.URL(), "engines", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	kv, err := announce.Open(ctx, nc)
	if err != nil {
		t.Fatal(err)
	}
	engines := map[string]*taggedLLM{}
	stopAnnouncing := map[string]context.CancelFunc{}
	stopped := map[string]chan struct{}{}
	for _, name := range []string{"alpha", "beta"} {
		l := &taggedLLM{name: name, armed: &atomic.Bool{}, dying: make(chan *taggedLLM, 1)}
		l.srv = httptest.NewServer(l)
		defer l.srv.Close()
		engines[name] = l
		actx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		stopAnnouncing[name], stopped[name] = stop, done
		go func() {
			defer close(done)
			announce.Run(actx, kv, 100*time.Millisecond, func() protocol.EngineAnnouncement {
				return protocol.EngineAnnouncement{ID: name, URL: l.srv.URL, Model: "tagged", Slots: 4}
			}, quietLog())
		}()
	}
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL = "nats"; c.NATSURL = emb.URL(); c.ModelPath = "" })
	defer srv.Close()
	c, convs := chatWithEveryone(t, ctx, srv, "Ada")
	say := func(what string) map[string]int {
		t.Helper()
		by := map[string]int{}
		for i, conv := range convs {
			done, err := c.Say(ctx, conv, fmt.Sprintf("%s, chat %d.", what, i), nil)
			if err != nil {
				t.Fatalf("%s chat %d: %v", what, i, err)
			}
			by[strings.SplitN(done.Message.Content, "-", 2)[0]]++
		}
		return by
	}
	// Both announce: every line is answered by one of them (which one
	// depends on the character).
	by := say("Hello")
	if by["alpha"]+by["beta"] != len(convs) {
		t.Fatalf("replies by engine: %v, want every one from alpha or beta", by)
	}
	// beta leaves: its entry goes at once, its server soon after.
	stopAnnouncing["beta"]()
	<-stopped["beta"]
	engines["beta"].srv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		by = say("Again")
		if by["beta"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replies still come from the engine that left: %v", by)
		}
	}
	if by["alpha"] != len(convs) {
		t.Errorf("after beta left: %v, want every reply from alpha", by)
	}
}

// chatWithEveryone starts a guest named name and opens a chat with every
// character; it returns the connection and the chats' ids.
func chatWithEveryone(t *testing.T, ctx context.Context, srv *app.Server, name string) (*chatclient.Client, []string) {
	t.Helper()
	token, _, err := chatclient.NewSession(ctx, srv.URL(), name)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	chars, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var convs []string
	for _, ch := range chars {
		op, err := c.OpenChat(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, op.ConversationID)
	}
	return c, convs
}
