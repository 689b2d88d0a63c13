package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters"
	"github.com/maopao/maopao/engine/modelgen"
)

// secondPlayer opens another tab of p's browser in a browser context of its
// own, so it has its own storage and so its own guest identity.
func secondPlayer(t *testing.T, p *page) *page {
	t.Helper()
	q := &page{t: t}
	ctx, cancel := chromedp.NewContext(p.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(q.listen))
	t.Cleanup(cancel)
	q.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a second browser context: %v", err)
	}
	return q
}

// startWorldPlatform runs the whole platform with a tiny random model: its
// replies are gibberish, but they stream like real ones.
func startWorldPlatform(t *testing.T) *app.Server {
	t.Helper()
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.gguf")
	// The tiny model's 512-token context is too short for a world's
	// prompts (a character card, the place, memories).
	spec := modelgen.Tiny("qwen3moe")
	spec.ContextLength = 4096
	if err := modelgen.Write(model, spec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: dir, ModelPath: model, Threads: 1,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the platform: %v", err)
		}
	})
	return srv
}

// recordStreaming keeps every text a streaming line of the room feed shows,
// by the id of the line it answers.
const recordStreaming = `(() => {
	window.__streamed = [];
	new MutationObserver(() => {
		for (const n of document.querySelectorAll("#world-feed .event.line.character.streaming:not(.waiting) .text")) {
			window.__streamed.push(n.textContent);
		}
	}).observe(document.getElementById("world-feed"), {subtree: true, childList: true, characterData: true, attributes: true});
	return true;
})()`

// TestBrowserWorld has two players meet in Misty Harbour's tea house: one
// speaks to Xiaoyu, both watch her answer stream in, one talks to her in
// private and then walks to the square while the other sees it leave.
func TestBrowserWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	a := newPage(t)
	b := secondPlayer(t, a)
	srv := startWorldPlatform(t)
	w := characters.SampleWorlds()[0]
	xiaoyu := characters.Samples()[0]

	enter := func(p *page, who string) string {
		p.do(who+": open the page", chromedp.Navigate(srv.URL()+"/"))
		p.waitJS(who+": the world view script running", `!document.getElementById("worlds-link").hidden && document.getElementById("world-picker")`, 10*time.Second)
		p.waitJS(who+": online", `document.getElementById("status").textContent === "online"`, 20*time.Second)
		p.do(who+": open Worlds", chromedp.Click(chromedp.ID("worlds-link")))
		p.waitJS(who+": the world card", fmt.Sprintf(`document.querySelector('#worlds .world-card[data-id=%q] .name')?.textContent === %q`, w.ID, w.Name), 30*time.Second)
		if who == "A" {
			p.screenshot("world-list")
		}
		p.do(who+": enter at the tea house", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#worlds .world-card[data-id=%q] .world-enter[data-location="tea-house"]`, w.ID))))
		p.waitJS(who+": in the tea house", fmt.Sprintf(`!document.getElementById("world-room").hidden &&
			document.querySelector('#world-map .location.current[data-id="tea-house"]') &&
			document.querySelector('#world-present .actor.character[data-id=%q]') &&
			/^\d\d:\d\d$/.test(document.getElementById("world-clock").textContent)`, xiaoyu.ID), 30*time.Second)
		if n := evalJS[int](p, `document.querySelectorAll("#world-map .location").length`); n != len(w.Locations) {
			t.Errorf("%s: the map shows %d places, want %d", who, n, len(w.Locations))
		}
		if !evalJS[bool](p, `document.querySelector('#world-map .location.reachable[data-id="square"]') !== null && document.querySelector('#world-map .location[data-id="pier"]').disabled`) {
			t.Errorf("%s: from the tea house the square should be reachable and the pier not", who)
		}
		return evalJS[string](p, `localStorage.getItem("maopao.player") || ""`)
	}
	aID := enter(a, "A")
	bID := enter(b, "B")
	if aID == "" || aID == bID {
		t.Fatalf("the two pages are not two players: %q and %q", aID, bID)
	}
	a.waitJS("A sees B arrive", fmt.Sprintf(`document.querySelector('#world-present .actor.player[data-id=%q]')`, bID), 20*time.Second)
	for _, p := range []*page{a, b} {
		evalJS[bool](p, recordStreaming)
	}

	// A speaks to Xiaoyu; the line carries markup that must stay text.
	line := `<img src=x onerror="window.__pwned=1"> Good evening, Xiaoyu! 一壶龙井？`
	a.do("A addresses Xiaoyu", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#world-present .actor[data-id=%q] .address`, xiaoyu.ID))))
	a.waitJS("the addressee shown", fmt.Sprintf(`!document.getElementById("world-to").hidden && document.getElementById("world-to-name").textContent === %q`, xiaoyu.Name), 5*time.Second)
	a.do("A says the line", chromedp.SendKeys(chromedp.ID("world-input"), line), pressEnter)
	a.waitJS("A's line accepted", `document.querySelector("#world-feed .event.line.mine[data-message-id]:not(.pending)")`, 20*time.Second)
	lineID := evalJS[string](a, `document.querySelector("#world-feed .event.line.mine[data-message-id]").dataset.messageId`)
	reply := fmt.Sprintf(`document.querySelector('#world-feed .event.line.character.said[data-reply-to=%q][data-actor-id=%q]')`, lineID, xiaoyu.ID)
	for _, x := range []struct {
		p    *page
		name string
	}{{a, "A"}, {b, "B"}} {
		x.p.waitJS(x.name+" sees A's line", fmt.Sprintf(`Array.from(document.querySelectorAll('#world-feed .event.line.player[data-message-id=%q] .text')).some(n => n.textContent === %q)`, lineID, line), 30*time.Second)
		x.p.waitJS(x.name+" sees Xiaoyu's reply", reply, 3*time.Minute)
		final := evalJS[string](x.p, reply+`.querySelector(".text").textContent`)
		streamed := evalJS[[]string](x.p, `window.__streamed.filter(s => s.length > 0)`)
		if final == "" || len(streamed) == 0 {
			t.Errorf("%s: reply %q, streamed states %d: want a reply that streamed in", x.name, final, len(streamed))
		}
		if !slices.ContainsFunc(streamed, func(s string) bool { return s != final && strings.HasPrefix(final, s) }) {
			t.Errorf("%s: no streamed state of the room was a beginning of Xiaoyu's reply %q: %q", x.name, final, streamed)
		}
		if n := evalJS[int](x.p, `document.querySelectorAll("#world-feed .event.line.character.streaming").length`); n > 0 {
			// Another character may still be answering; that is fine as
			// long as Xiaoyu's reply is no longer marked streaming.
			if evalJS[bool](x.p, reply+`.classList.contains("streaming")`) {
				t.Errorf("%s: Xiaoyu's finished reply is still marked streaming", x.name)
			}
		}
		if evalJS[int](x.p, `(window.__pwned || 0) + document.querySelectorAll("#world-feed img").length`) != 0 {
			t.Errorf("%s: a line's text was interpreted as markup", x.name)
		}
	}
	a.screenshot("world-room")
	b.do("B answers Xiaoyu by her name on her line", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#world-feed .event.line.character[data-reply-to=%q] .who.addressable`, lineID))))
	b.waitJS("B's addressee", fmt.Sprintf(`!document.getElementById("world-to").hidden && document.getElementById("world-to-name").textContent === %q`, xiaoyu.Name), 5*time.Second)

	// A talks to Xiaoyu in private.
	const secret = "PINEAPPLE-42 stays between us"
	a.do("A opens a private chat", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#world-present .actor[data-id=%q] .private-open`, xiaoyu.ID))))
	a.waitJS("the private panel", fmt.Sprintf(`!document.getElementById("private-form").hidden && document.querySelector('#private-tabs .private-tab.active[data-id=%q]')`, xiaoyu.ID), 5*time.Second)
	a.do("A says a secret", chromedp.SendKeys(chromedp.ID("private-input"), secret), pressEnter)
	privateLog := fmt.Sprintf(`document.querySelector('#private-logs .private-log[data-character=%q]')`, xiaoyu.ID)
	a.waitJS("A's private line accepted", privateLog+`.querySelector(".event.line.mine[data-message-id]:not(.pending)")`, 20*time.Second)
	a.waitJS("Xiaoyu's private answer", privateLog+`.querySelector(".event.line.character.said")`, 3*time.Minute)
	if evalJS[bool](a, `document.getElementById("world-feed").textContent.includes("PINEAPPLE-42")`) {
		t.Error("A's private line shows in the room feed")
	}
	a.screenshot("world-private")

	// A walks to the square; B sees it leave.
	a.do("A walks to the square", chromedp.Click(chromedp.CSS(`#world-map .location.reachable[data-id="square"]`)))
	a.waitJS("A in the square", `document.querySelector('#world-map .location.current[data-id="square"]') &&
		document.querySelector('#world-place .place-name')?.textContent === "Town Square" &&
		document.querySelector('#world-map .location.reachable[data-id="pier"]')`, 20*time.Second)
	b.waitJS("B sees A leave", fmt.Sprintf(`document.querySelector('#world-feed .event.left[data-actor-id=%q]') &&
		!document.querySelector('#world-present .actor[data-id=%q]')`, aID, aID), 20*time.Second)
	if evalJS[bool](b, `document.body.textContent.includes("PINEAPPLE-42") || document.querySelectorAll("#private-logs .private-log").length > 0`) {
		t.Error("A's private chat shows on B's page")
	}

	// A reload takes A back to where it was, its socket joining again.
	a.do("A reloads", chromedp.Reload())
	a.waitJS("A back in the square", `!document.getElementById("world-view").hidden &&
		document.querySelector('#world-map .location.current[data-id="square"]') &&
		document.querySelector("#world-feed .event.place")?.textContent.includes("Town Square")`, 20*time.Second)

	a.do("mobile size", chromedp.EmulateViewport(390, 844))
	a.do("the room tab", chromedp.Click(chromedp.CSS(`#world-tabs .world-tab[data-pane="room"]`)))
	a.waitJS("the room pane", `getComputedStyle(document.getElementById("world-tabs")).display !== "none" && getComputedStyle(document.getElementById("world-side")).display === "none"`, 5*time.Second)
	a.screenshot("world-mobile-room")
	a.do("the map tab", chromedp.Click(chromedp.CSS(`#world-tabs .world-tab[data-pane="map"]`)))
	a.waitJS("the map shown", `getComputedStyle(document.getElementById("world-side")).display !== "none" && getComputedStyle(document.getElementById("world-main")).display === "none"`, 5*time.Second)
	a.screenshot("world-mobile-map")

	// The back button leaves the world view for the character list.
	a.do("back", chromedp.Click(chromedp.ID("back")))
	a.waitJS("the character list again", `document.getElementById("world-view").hidden && !document.getElementById("list-view").hidden`, 5*time.Second)
	checkNoJSErrors(t, a)
	checkNoJSErrors(t, b)
}
