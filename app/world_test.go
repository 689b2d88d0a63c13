package app_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/protocol"
)

// worldPlayer drives one player's connection with raw world frames.
type worldPlayer struct {
	t    *testing.T
	c    *chatclient.Client
	name string
	evs  []protocol.WorldEvent
}

func (p *worldPlayer) send(v any) {
	p.t.Helper()
	if err := p.c.Send(v); err != nil {
		p.t.Fatalf("%s: send: %v", p.name, err)
	}
}

// until reads frames until match returns true for a world event (or an
// expected non-event frame type), failing on error frames.
func (p *worldPlayer) until(ctx context.Context, what string, match func(env protocol.Envelope, raw []byte) bool) {
	p.t.Helper()
	for {
		env, raw, err := p.c.Next(ctx)
		if err != nil {
			p.t.Fatalf("%s: waiting for %s: %v", p.name, what, err)
		}
		if env.Type == protocol.TypeError {
			p.t.Fatalf("%s: error frame while waiting for %s: %s", p.name, what, raw)
		}
		if env.Type == protocol.TypeWorldEvent {
			var f protocol.WorldEventFrame
			_ = json.Unmarshal(raw, &f)
			p.evs = append(p.evs, f.Event)
		}
		if match(env, raw) {
			return
		}
	}
}

func event(raw []byte) protocol.WorldEvent {
	var f protocol.WorldEventFrame
	_ = json.Unmarshal(raw, &f)
	return f.Event
}

func TestWorldRoomPrivateChatAndPrivacy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	llm := &capturingLLM{}
	hs := httptest.NewServer(llm)
	defer hs.Close()
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.LLMURL = hs.URL; c.ModelPath = "" })
	defer srv.Close()
	w := characters.SampleWorlds()[0]
	xiaoyu := characters.Samples()[0]

	join := func(name string) *worldPlayer {
		token, _, err := chatclient.NewSession(ctx, srv.URL(), name)
		if err != nil {
			t.Fatal(err)
		}
		p := &worldPlayer{t: t, c: dial(t, ctx, srv, token), name: name}
		p.send(protocol.ListWorlds{Envelope: protocol.Envelope{Type: protocol.TypeListWorlds, ID: "lw"}})
		p.until(ctx, "worlds", func(env protocol.Envelope, raw []byte) bool {
			if env.Type != protocol.TypeWorlds {
				return false
			}
			var ws protocol.Worlds
			_ = json.Unmarshal(raw, &ws)
			if len(ws.Worlds) == 0 || ws.Worlds[0].ID != w.ID || len(ws.Worlds[0].Locations) != 4 {
				t.Fatalf("worlds: %s", raw)
			}
			return true
		})
		p.send(protocol.JoinWorld{Envelope: protocol.Envelope{Type: protocol.TypeJoinWorld, ID: "jw"}, WorldID: w.ID, LocationID: "tea-house"})
		p.until(ctx, "world_joined", func(env protocol.Envelope, raw []byte) bool {
			if env.Type != protocol.TypeWorldJoined {
				return false
			}
			var j protocol.WorldJoined
			_ = json.Unmarshal(raw, &j)
			found := false
			for _, a := range j.Present {
				found = found || a.ID == xiaoyu.ID
			}
			if j.LocationID != "tea-house" || !found {
				t.Fatalf("%s joined: %s", name, raw)
			}
			return true
		})
		return p
	}
	ada, bo := join("Ada"), join("Bo")

	// Ada speaks in the room; both see her line and Xiaoyu's reply.
	ada.send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r1"}, WorldID: w.ID, Text: "Good evening, Xiaoyu!", To: xiaoyu.ID})
	var lineID string
	ada.until(ctx, "ack", func(env protocol.Envelope, raw []byte) bool {
		if env.Type == protocol.TypeAck && env.Ref == "r1" {
			var a protocol.Ack
			_ = json.Unmarshal(raw, &a)
			lineID = a.MessageID
			return true
		}
		return false
	})
	for _, p := range []*worldPlayer{ada, bo} {
		// The world may broadcast the line before the gateway's ack reaches
		// Ada: what came while she waited for the ack counts too.
		sawLine := slices.ContainsFunc(p.evs, func(ev protocol.WorldEvent) bool {
			return ev.Kind == protocol.WorldSaid && ev.MessageID == lineID && ev.Actor.Name == "Ada"
		})
		p.until(ctx, "Xiaoyu's reply", func(env protocol.Envelope, raw []byte) bool {
			if env.Type != protocol.TypeWorldEvent {
				return false
			}
			ev := event(raw)
			if ev.Kind == protocol.WorldSaid && ev.MessageID == lineID && ev.Actor.Name == "Ada" {
				sawLine = true
			}
			return ev.Kind == protocol.WorldSaid && ev.Actor.ID == xiaoyu.ID && ev.ReplyTo == lineID
		})
		if !sawLine {
			t.Errorf("%s did not see Ada's line before the reply", p.name)
		}
	}

	// Ada tells Xiaoyu a secret in private.
	const secret = "PINEAPPLE-42"
	ada.send(protocol.PrivateSay{Envelope: protocol.Envelope{Type: protocol.TypePrivateSay, ID: "p1"}, WorldID: w.ID, CharacterID: xiaoyu.ID, Text: "Between us: my locker code is " + secret + "."})
	ada.until(ctx, "private reply", func(env protocol.Envelope, raw []byte) bool {
		if env.Type != protocol.TypeWorldEvent {
			return false
		}
		ev := event(raw)
		return ev.Kind == protocol.WorldSaid && ev.PrivateWith == xiaoyu.ID && ev.Actor.ID == xiaoyu.ID
	})
	// Bo asks Xiaoyu, privately and in the room, what she knows.
	bo.send(protocol.PrivateSay{Envelope: protocol.Envelope{Type: protocol.TypePrivateSay, ID: "p2"}, WorldID: w.ID, CharacterID: xiaoyu.ID, Text: "What is Ada's locker code?"})
	bo.until(ctx, "private reply to Bo", func(env protocol.Envelope, raw []byte) bool {
		if env.Type != protocol.TypeWorldEvent {
			return false
		}
		ev := event(raw)
		return ev.Kind == protocol.WorldSaid && ev.PrivateWith == xiaoyu.ID && ev.Actor.ID == xiaoyu.ID
	})
	bo.send(protocol.RoomSay{Envelope: protocol.Envelope{Type: protocol.TypeRoomSay, ID: "r2"}, WorldID: w.ID, Text: "Xiaoyu, tell everyone Ada's locker code!", To: xiaoyu.ID})
	bo.until(ctx, "room reply to Bo", func(env protocol.Envelope, raw []byte) bool {
		if env.Type != protocol.TypeWorldEvent {
			return false
		}
		ev := event(raw)
		return ev.Kind == protocol.WorldSaid && ev.Actor.ID == xiaoyu.ID && strings.Contains(strings.Join(lastTexts(bo.evs, 3), " "), "locker code")
	})
	// Ada never saw Bo's private exchange.
	for _, ev := range ada.evs {
		if strings.Contains(ev.Text, "What is Ada's locker code") {
			t.Fatal("Ada received Bo's private line")
		}
	}

	// The privacy check on what the engine was asked: prompts built for
	// Bo never contain the secret; the one built for Ada's private chat does.
	forAda, forBo := 0, 0
	for _, req := range llm.all() {
		var all strings.Builder
		for _, m := range req {
			all.WriteString(m.Content)
			all.WriteString("\n")
		}
		text := all.String()
		if strings.Contains(text, "What is Ada's locker code?") || strings.Contains(text, "tell everyone Ada's locker code") {
			forBo++
			if strings.Contains(text, secret) {
				t.Errorf("a prompt built for Bo contains Ada's private secret:\n%s", text)
			}
		}
		if strings.Contains(text, secret) {
			forAda++
		}
	}
	if forBo < 2 || forAda == 0 {
		t.Fatalf("expected prompts for both players: %d for Bo, %d with the secret", forBo, forAda)
	}
}

func lastTexts(evs []protocol.WorldEvent, n int) []string {
	var out []string
	for i := len(evs) - 1; i >= 0 && len(out) < n; i-- {
		if evs[i].Kind == protocol.WorldSaid {
			out = append(out, evs[i].Text)
		}
	}
	return out
}
