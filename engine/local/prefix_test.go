package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/model"
)

func personaChat(persona, question string, maxTokens int) engine.Request {
	return engine.Request{MaxTokens: maxTokens, Messages: []engine.ChatMessage{
		{Role: "system", Content: persona}, {Role: "user", Content: question}}}
}

// A character's persona stays computed after the conversation that
// computed it gave its slot to someone else: with one slot, a second player
// of the same character after another character's chat finds it cached.
func TestPrefixCacheOutlivesSlots(t *testing.T) {
	persona := strings.Repeat("You are Mei, the innkeeper of the Lantern Inn by the seven bridges. ", 6)
	first := personaChat(persona, "Where is the inn?", 8)
	other := personaChat("You are Bo, a ferryman who speaks little.", "How much for the crossing?", 8)
	second := personaChat(persona, "What is for dinner tonight?", 8)

	ref := open(t, Options{Threads: 1, MaxConcurrent: 1, PrefixCacheBytes: -1})
	want := map[string]engine.Result{}
	for name, req := range map[string]engine.Request{"first": first, "other": other, "second": second} {
		r, _, err := run(t, ref, context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = r
	}
	shared := commonPrefix(ref.Prompt(first.Messages), ref.Prompt(second.Messages))
	if shared < 4*model.BlockSize {
		t.Fatalf("the test's persona shares only %d tokens", shared)
	}

	for _, tc := range []struct {
		name   string
		bytes  int64
		cached bool
	}{{"without a prefix cache", -1, false}, {"with the prefix cache", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t, Options{Threads: 1, MaxConcurrent: 1, PrefixCacheBytes: tc.bytes})
			for _, step := range []struct {
				name string
				req  engine.Request
			}{{"first", first}, {"other", other}} {
				if r, _, err := run(t, e, context.Background(), step.req); err != nil || r != want[step.name] {
					t.Fatalf("%s: %+v %v, want %+v", step.name, r, err, want[step.name])
				}
			}
			before := e.Stats()
			r, _, err := run(t, e, context.Background(), second)
			if err != nil || r != want["second"] {
				t.Fatalf("second: %+v %v, want %+v", r, err, want["second"])
			}
			cached := e.Stats().CachedPromptTokens - before.CachedPromptTokens
			wantAtLeast := shared / model.BlockSize * model.BlockSize
			switch {
			case tc.cached && cached < wantAtLeast:
				t.Errorf("the second player of the persona found %d tokens cached, want the %d-token shared prefix in whole blocks (%d)", cached, shared, wantAtLeast)
			case !tc.cached && cached >= wantAtLeast:
				t.Errorf("without a prefix cache %d tokens were cached (the test's premise is that the slot forgot the persona)", cached)
			}
		})
	}
}

// Under a prefix cache far smaller than the conversations that pass, blocks
// are evicted while others run, and no running conversation is disturbed:
// every reply equals the one an engine without any cache gives.
func TestPrefixCacheEvictionNeverCorruptsRunning(t *testing.T) {
	const players = 12
	reqs := make([]engine.Request, players)
	for i := range reqs {
		// Six characters, two players each: prefixes worth keeping, and
		// more of them than the cache holds.
		persona := strings.Repeat(fmt.Sprintf("You are character number %d, who tells long stories. ", i%6), 4+i%3)
		reqs[i] = personaChat(persona, fmt.Sprintf("Player %d asks about the weather, the road and the river.", i), 16)
	}
	ref := open(t, Options{Threads: 1, MaxConcurrent: 1, PrefixCacheBytes: -1})
	want := make([]engine.Result, players)
	for i, req := range reqs {
		r, _, err := run(t, ref, context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r
	}

	// Room for about two conversations' prompts beyond the three running.
	probe := open(t, Options{Threads: 1, MaxConcurrent: 1})
	perPos := probe.Needs().KVPerConversation / int64(probe.ContextSize())
	budget := perPos * int64(2*len(ref.Prompt(reqs[0].Messages)))
	e := open(t, Options{Threads: 2, MaxConcurrent: 3, ContextSize: 320, PrefixCacheBytes: budget})
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		got := make([]engine.Result, players)
		errs := make([]error, players)
		start := make(chan struct{})
		for i := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], _, errs[i] = run(t, e, context.Background(), reqs[i])
			}()
		}
		close(start)
		wg.Wait()
		for i := range reqs {
			if errs[i] != nil || got[i] != want[i] {
				t.Errorf("round %d player %d: %+v %v, want %+v", round, i, got[i], errs[i], want[i])
			}
		}
	}
	st := e.Stats()
	t.Logf("%+v", st)
	if st.PrefixEvicted == 0 {
		t.Errorf("nothing was evicted (the test's premise): %+v", st)
	}
	if st.CachedPromptTokens == 0 {
		t.Errorf("nothing came from the cache: %+v", st)
	}
	if st.KVBlocksInUse > st.KVBlocks {
		t.Errorf("%d blocks in use of %d", st.KVBlocksInUse, st.KVBlocks)
	}
}

// The wait for a slot is bounded: past MaxQueue waiting requests, a new one
// fails at once with engine.ErrOverloaded.
func TestQueueBound(t *testing.T) {
	e := open(t, Options{Threads: 1, MaxConcurrent: 1, MaxQueue: 2})
	hold := make(chan struct{})
	running := make(chan struct{})
	go func() {
		n := 0
		_, _ = e.Generate(context.Background(), chat("Hold the slot."), func(engine.Token) error {
			if n++; n == 1 {
				close(running)
				<-hold
			}
			return nil
		})
	}()
	<-running
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = run(t, e, ctx, chat("Waiting."))
		}()
	}
	waitFor(t, func() bool { return e.Stats().WaitingRequests == 2 })
	_, _, err := run(t, e, context.Background(), chat("One too many."))
	if !errors.Is(err, engine.ErrOverloaded) || !engine.Transient(err) {
		t.Errorf("a request past the queue bound: %v, want ErrOverloaded (transient)", err)
	}
	cancel()
	close(hold)
	wg.Wait()
	if _, _, err := run(t, e, context.Background(), chat("After the rush.")); err != nil {
		t.Errorf("a request once the queue drained: %v", err)
	}
}

// waitFor polls cond (state inside the engine, which has no event for it)
// for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
