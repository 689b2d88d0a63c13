package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/engine/openai/openaitest"
	"github.com/maopao/maopao/protocol"
)

// The line limit is the player's, not a connection's: ten sockets of one
// player get no more through than one would. Guests made from one address
// are limited too, and world arrivals and departures count as lines.
func TestLimitsArePerPlayerAndPerAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := openaitest.Start(t)
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL, c.ModelPath = llm.URL, "" })
	defer srv.Close()
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	first := dial(t, ctx, srv, token)
	chars, err := first.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := first.OpenChat(ctx, chars[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted, limited := 0, 0
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 10 {
		c := first
		if i > 0 {
			c = dial(t, ctx, srv, token)
			if _, err := c.OpenChatByID(ctx, opened.ConversationID); err != nil {
				t.Fatal(err)
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 4 {
				_, err := c.Say(ctx, opened.ConversationID, "line "+strconv.Itoa(i)+"."+strconv.Itoa(j), nil)
				mu.Lock()
				if chatclient.IsCode(err, protocol.CodeRateLimited) {
					limited++
				} else {
					accepted++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A burst of 8, then 4 a second while the test ran.
	if most := 8 + int(4*time.Since(start).Seconds()) + 1; accepted > most || limited == 0 {
		t.Fatalf("one player on 10 sockets: %d lines accepted, %d refused in %v; at most %d may pass", accepted, limited, time.Since(start), most)
	}

	// Guests from one address: a burst, then 429 with Retry-After.
	refusedAt := -1
	for i := range 40 {
		resp, err := postJSON(ctx, srv.URL()+"/api/v1/session", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			refusedAt = i
			break
		}
	}
	if refusedAt < 0 || refusedAt > 25 {
		t.Fatalf("new guests from one address refused only at %d", refusedAt)
	}

	// Join and leave a world over and over: limited like lines.
	w := dial(t, ctx, srv, token)
	worlds, err := w.ListWorlds(ctx)
	if err != nil || len(worlds) == 0 {
		t.Fatalf("worlds: %v", err)
	}
	refused := false
	for range 20 {
		if _, err := w.JoinWorld(ctx, worlds[0].ID, ""); chatclient.IsCode(err, protocol.CodeRateLimited) {
			refused = true
			break
		}
		if err := w.LeaveWorld(ctx, worlds[0].ID); chatclient.IsCode(err, protocol.CodeRateLimited) {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("20 join and leave pairs in a row were all accepted")
	}
}

// The character list comes a page at a time; a client gets them all.
func TestCharacterListPages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	for i := range 150 {
		c := maopao.Character{ID: fmt.Sprintf("page-test-%03d", i), Name: fmt.Sprintf("Extra %03d", i), Visibility: maopao.VisibilityPublic}
		if err := srv.Store().PutCharacter(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	all, err := c.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, ch := range all {
		seen[ch.ID] = true
	}
	if len(all) != 153 || len(seen) != 153 {
		t.Fatalf("%d characters listed (%d distinct), want 150 extras and the 3 built-in", len(all), len(seen))
	}
}

// A character made private after a public world took it in is not shown
// or reachable through that world by other players.
func TestPrivateCharacterHiddenInWorlds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	w := characters.SampleWorlds()[0]
	id := w.Residents[0].CharacterID
	ch, err := srv.Store().GetCharacter(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ch.Visibility, ch.OwnerID, ch.BuiltIn = maopao.VisibilityPrivate, "someone-else", false
	if err := srv.Store().PutCharacter(ctx, ch); err != nil {
		t.Fatal(err)
	}
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Ada")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	worlds, err := c.ListWorlds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sw := range worlds {
		for _, a := range sw.Characters {
			if a.ID == id || a.Name == ch.Name {
				t.Fatalf("the world list names the private character %q", a.Name)
			}
		}
	}
	if _, err := c.JoinWorld(ctx, w.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PrivateSay(ctx, w.ID, id, "Tell me a secret."); !chatclient.IsCode(err, protocol.CodeUnknownCharacter) {
		t.Fatalf("private_say to a private character: %v, want %s", err, protocol.CodeUnknownCharacter)
	}
}

// Names are text that reads as it is: no control or bidirectional
// characters, something visible, and no player takes a character's name.
func TestNamesAreChecked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	for name, want := range map[string]int{
		"Ada":                http.StatusOK,
		"A\nda":              http.StatusUnprocessableEntity,
		"\u202Eneр nіatpaC":  http.StatusUnprocessableEntity,
		"\u200B\u200B":       http.StatusUnprocessableEntity,
		"captain ren":        http.StatusUnprocessableEntity,
		"Lin\u200BXiaoyu":    http.StatusUnprocessableEntity,
		"Cafe\u0301 regular": http.StatusOK,
	} {
		body, _ := json.Marshal(map[string]string{"name": name})
		resp, err := postJSON(ctx, srv.URL()+"/api/v1/session", string(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("guest name %q: %d, want %d", name, resp.StatusCode, want)
		}
	}
	token, _, err := chatclient.NewSession(ctx, srv.URL(), "Bo")
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, ctx, srv, token)
	if _, err := c.SetPersona(ctx, protocol.Persona{Name: "Professor Mei"}, ""); !chatclient.IsCode(err, protocol.CodeInvalid) {
		t.Errorf("a persona named after a character: %v", err)
	}
}

// One address holds at most MaxConnsPerAddress WebSockets.
func TestConnectionsPerAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.MaxConnsPerAddress = 3 })
	defer srv.Close()
	url := strings.Replace(srv.URL(), "http", "ws", 1) + "/ws"
	var open []*websocket.Conn
	for range 3 {
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, ws)
	}
	_, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a fourth connection: %v (%v)", err, resp)
	}
	open[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err == nil {
			ws.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection's slot never came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, ws := range open[1:] {
		ws.Close()
	}
}
