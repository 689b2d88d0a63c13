package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// players are the bench's clients: each has one conversation and sends
// numbered lines to it through whichever gateway answers, resending a
// line whose ack never came with the same client message id.
type players struct {
	cl       *cluster
	interval time.Duration
	all      []*player
	stopping atomic.Bool
	wg       sync.WaitGroup
}

type player struct {
	name  string
	token string
	conv  string
	run   *players
	c     *chatclient.Client
	next  int // gateway to try first

	mu      sync.Mutex
	acc     []int // accepted line numbers, in order
	replies lockedTimes
}

func newPlayers(cl *cluster, c config) *players {
	return &players{cl: cl, interval: time.Duration(float64(c.players) / c.rate * float64(time.Second)), all: make([]*player, c.players)}
}

// start makes every player a guest with a conversation, then sends.
func (r *players) start(ctx context.Context) error {
	for i := range r.all {
		p := &player{name: fmt.Sprintf("player%02d", i+1), run: r, next: i}
		gw := r.cl.gatewayURLs[i%len(r.cl.gatewayURLs)]
		tok, _, err := chatclient.NewSession(ctx, gw, p.name)
		if err != nil {
			return fmt.Errorf("%s: session: %w", p.name, err)
		}
		p.token = tok
		c, err := chatclient.Dial(ctx, gw, tok)
		if err != nil {
			return fmt.Errorf("%s: dial: %w", p.name, err)
		}
		chars, err := c.ListCharacters(ctx)
		if err != nil || len(chars) == 0 {
			return fmt.Errorf("%s: list characters: %v", p.name, err)
		}
		opened, err := c.NewChat(ctx, chars[i%len(chars)].ID)
		if err != nil {
			return fmt.Errorf("%s: new chat: %w", p.name, err)
		}
		p.c, p.conv = c, opened.ConversationID
		p.watch(c)
		r.all[i] = p
	}
	for _, p := range r.all {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); p.send(ctx) }()
	}
	return nil
}

func (r *players) stop() {
	r.stopping.Store(true)
	r.wg.Wait()
	for _, p := range r.all {
		if p.c != nil {
			p.c.Close()
		}
	}
}

// recoveredAfter waits until every player had a reply after t and returns
// the latest of those first replies.
func (r *players) recoveredAfter(t time.Time, limit time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var latest time.Time
		all := true
		for _, p := range r.all {
			first := p.replies.firstAfter(t)
			if first.IsZero() {
				all = false
				break
			}
			if first.After(latest) {
				latest = first
			}
		}
		if all {
			return latest, true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Time{}, false
}

func (p *player) text(n int) string { return fmt.Sprintf("%s line %05d", p.name, n) }

func (p *player) lineNumber(text string) (int, bool) {
	rest, ok := strings.CutPrefix(text, p.name+" line ")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

func (p *player) accept(n int) {
	p.mu.Lock()
	p.acc = append(p.acc, n)
	p.mu.Unlock()
}

func (p *player) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acc)
}

func (p *player) acceptedLines() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.acc...)
}

// send sends line after line until the bench stops, each until it is
// accepted: a line whose ack was lost goes again with the same id.
func (p *player) send(ctx context.Context) {
	tick := time.NewTicker(p.run.interval)
	defer tick.Stop()
	for n := 1; !p.run.stopping.Load(); n++ {
		cid := fmt.Sprintf("%s-%d", p.name, n)
		for attempt := 1; ; attempt++ {
			if p.c == nil && !p.redial(ctx) {
				if p.run.stopping.Load() {
					return
				}
				time.Sleep(250 * time.Millisecond)
				continue
			}
			// Accepted on the ack; replies are counted as they come
			// (watch) and checked in the store at the end.
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			_, err := p.c.Post(sctx, p.conv, cid, p.text(n))
			cancel()
			var fe *chatclient.FrameError
			switch {
			case err == nil:
				p.accept(n)
			case errors.As(err, &fe) && (fe.Code == protocol.CodeRateLimited || fe.Code == protocol.CodeBusy || fe.Code == protocol.CodeUnavailable):
				time.Sleep(500 * time.Millisecond)
				continue
			case errors.As(err, &fe):
				fmt.Fprintf(os.Stderr, "chaos: %s line %d refused: %v\n", p.name, n, err)
			default:
				// Not acked (the connection went): send it again.
				p.drop()
				if p.run.stopping.Load() {
					return
				}
				continue
			}
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// watch notes the time of every reply that reaches c, until c closes.
func (p *player) watch(c *chatclient.Client) {
	go func() {
		for {
			env, raw, err := c.Next(context.Background())
			if err != nil {
				return
			}
			switch env.Type {
			case protocol.TypeComplete:
				p.replies.add(time.Now())
			case protocol.TypeError:
				var e protocol.Error
				if json.Unmarshal(raw, &e) == nil && e.ReplyTo != "" {
					p.replies.add(time.Now()) // a failed reply is an answer too
				}
			}
		}
	}()
}

func (p *player) drop() {
	if p.c != nil {
		p.c.Close()
		p.c = nil
	}
}

// redial connects to the next gateway that answers and opens the chat.
func (p *player) redial(ctx context.Context) bool {
	urls := p.run.cl.gatewayURLs
	for range urls {
		gw := urls[p.next%len(urls)]
		p.next++
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := chatclient.Dial(dctx, gw, p.token)
		if err == nil {
			_, err = c.OpenChatByID(dctx, p.conv)
			if err != nil {
				c.Close()
			}
		}
		cancel()
		if err == nil {
			p.c = c
			p.watch(c)
			return true
		}
	}
	return false
}
