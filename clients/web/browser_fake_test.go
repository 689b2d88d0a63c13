package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/clients/internal/fakegw"
	"github.com/maopao/maopao/clients/web"
	"github.com/maopao/maopao/protocol"
)

// TestBrowserWithFakeGateway runs the page against the clients' in-memory
// fake, which lets it check what the real platform cannot be made to do on
// demand: hostile character text, dropped connections, rejected tokens and
// failed replies.
func TestBrowserWithFakeGateway(t *testing.T) {
	p := newPage(t)
	chars := append(fakegw.DefaultCharacters(), protocol.CharacterSummary{
		ID: "c-x", Name: `<img src=x onerror="window.__pwned=1">Eve`, Description: `<b>bold?</b> & "quotes"`,
		Greeting: `<script>window.__pwned=2</script>hi`, Tags: []string{"<i>t</i>"},
	})
	srv := fakegw.Start(fakegw.Options{Static: web.Handler(), Characters: chars, FailReply: "boom", LoseAck: "lost ack", Unavailable: "engine nap", DiesMidReply: "engine dies"})
	defer srv.Close()

	res := chatFlow(t, p, srv.URL, 20*time.Second)
	want := "Mira heard you say: " + res.said
	if res.final != want {
		t.Errorf("completed reply %q, want %q", res.final, want)
	}
	for _, s := range res.streamed {
		if !strings.HasPrefix(want, s) {
			t.Errorf("streamed text %q is not a prefix of the reply %q", s, want)
		}
	}

	// The connection drops: the page reconnects by itself and keeps working.
	if n := srv.DropAll(); n == 0 {
		t.Fatal("the page had no WebSocket open")
	}
	p.waitJS("offline status", `document.getElementById("status").classList.contains("offline")`, 5*time.Second)
	p.waitJS("back online", `document.getElementById("status").classList.contains("online")`, 10*time.Second)
	p.do("say after reconnect", chromedp.SendKeys(chromedp.ID("input"), "still there?"), pressEnter)
	p.waitJS("reply after reconnect", `Array.from(document.querySelectorAll("#messages .message.character.complete .text")).some(n => n.textContent === "Mira heard you say: still there?")`, 10*time.Second)

	// A line whose ack is lost (the connection drops right after the
	// gateway stored it) goes out again after the reconnect with the same
	// client id: stored once, shown once, answered once.
	p.do("say a line whose ack is lost", chromedp.SendKeys(chromedp.ID("input"), "lost ack line"), pressEnter)
	p.waitJS("the resent line acked and answered", `(() => {
		const mine = Array.from(document.querySelectorAll("#messages .message.user")).filter(n => n.querySelector(".text").textContent === "lost ack line");
		const replies = Array.from(document.querySelectorAll("#messages .message.character.complete .text")).filter(n => n.textContent === "Mira heard you say: lost ack line");
		return mine.length === 1 && !mine[0].classList.contains("pending") && !mine[0].classList.contains("failed") && replies.length === 1;
	})()`, 20*time.Second)
	if n := srv.StoredCount("lost ack line"); n != 1 {
		t.Errorf("the line whose ack was lost was stored %d times, want once", n)
	}

	// An engine down for a moment: the reply says it is still trying,
	// then comes.
	p.do("say while the engine naps", chromedp.SendKeys(chromedp.ID("input"), "engine nap"), pressEnter)
	p.waitJS("still trying", `Array.from(document.querySelectorAll("#messages .message.character.retrying .meta")).some(n => n.textContent.includes("still trying"))`, 10*time.Second)
	p.waitJS("the reply after the nap", `Array.from(document.querySelectorAll("#messages .message.character.complete")).some(n =>
		n.querySelector(".text").textContent === "Mira heard you say: engine nap" && !n.classList.contains("retrying") && !n.querySelector(".meta").textContent.includes("trying"))`, 10*time.Second)

	// An engine that dies mid-reply: what it wrote goes, and the reply
	// another engine writes from the start is shown alone, while it streams.
	p.do("say while an engine dies", chromedp.SendKeys(chromedp.ID("input"), "engine dies"), pressEnter)
	p.waitJS("the dead engine's words", `Array.from(document.querySelectorAll("#messages .message.character .text")).some(n => n.textContent.startsWith("LOST WORDS"))`, 10*time.Second)
	p.waitJS("the restarted reply alone, mid-stream", `Array.from(document.querySelectorAll("#messages .message.character:not(.complete) .text")).some(n =>
		n.textContent.startsWith("Mira") && !n.textContent.includes("LOST"))`, 10*time.Second)
	p.waitJS("the restarted reply complete", `Array.from(document.querySelectorAll("#messages .message.character.complete .text")).some(n => n.textContent === "Mira heard you say: engine dies")`, 10*time.Second)

	// A failed reply shows as a readable inline error.
	p.do("say a failing line", chromedp.SendKeys(chromedp.ID("input"), "boom"), pressEnter)
	p.waitJS("inline error", `Array.from(document.querySelectorAll("#messages .message.error")).some(n => n.textContent.includes("engine_error") && n.textContent.includes("failed"))`, 10*time.Second)

	// A rejected token is replaced with a new guest session.
	evalJS[bool](p, `localStorage.setItem("maopao.token", "forged"), true`)
	p.do("reload with a forged token", chromedp.Reload())
	p.waitJS("online with a new token", `document.getElementById("status").classList.contains("online") && localStorage.getItem("maopao.token") !== "forged"`, 15*time.Second)

	// Role-play actions in asterisks are emphasised, asterisks kept.
	p.do("open Lao Wang", chromedp.Click(chromedp.ID("back")), chromedp.Click(chromedp.CSS(`#characters .character[data-id="c-lao"]`)))
	p.waitJS("greeting", `document.querySelector("#messages .greeting")`, 10*time.Second)
	p.do("say an action", chromedp.SendKeys(chromedp.ID("input"), "*waves* 你好"), pressEnter)
	p.waitJS("action emphasised in my line and the reply", `document.querySelectorAll("#messages .message.user em.action").length === 1 &&
		Array.from(document.querySelectorAll("#messages .message.character.complete em.action")).some(n => n.textContent === "*waves*")`, 10*time.Second)

	// Hostile text stays text.
	p.do("back to the list", chromedp.Click(chromedp.ID("back")))
	p.waitJS("list shown", `!document.getElementById("list-view").hidden`, 5*time.Second)
	p.do("open the hostile character", chromedp.Click(chromedp.CSS(`#characters .character[data-id="c-x"]`)))
	p.waitJS("its greeting as text", `Array.from(document.querySelectorAll("#messages .greeting .text")).some(n => n.textContent === "<script>window.__pwned=2</script>hi")`, 10*time.Second)
	pwned := evalJS[int](p, `window.__pwned || 0`)
	tagsInCards := evalJS[int](p, `document.querySelectorAll("#characters img, #characters b, #characters i, #messages script").length`)
	name := evalJS[string](p, `document.querySelector('#characters .character[data-id="c-x"] .name').textContent`)
	if pwned != 0 || tagsInCards != 0 || name != chars[3].Name {
		t.Errorf("character text was interpreted as markup: pwned=%d elements=%d name=%q", pwned, tagsInCards, name)
	}
	checkNoJSErrors(t, p)
}
