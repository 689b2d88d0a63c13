package web_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMemories uses the memory manager as a player would: what they
// told shows up, a note is added and pinned, one memory is rewritten and
// one forgotten, and after a reload everything is as they left it.
func TestBrowserMemories(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	srv := startScriptedPlatform(t)
	const wait = 20 * time.Second
	memTexts := `Array.from(document.querySelectorAll("#memories-list .memory .memory-text")).map(n => n.textContent)`

	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("the first-visit name form", `!document.getElementById("persona-first").hidden`, wait)
	typeInto(p, "#persona-first-name", "Ada")
	click(p, "#persona-first-save")
	p.waitJS("the characters", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, wait)
	click(p, `#characters .character[data-id="00000000-0000-4000-8000-000000000002"]`)
	p.waitJS("the chat", `document.querySelector("#messages .message.greeting")`, wait)
	p.do("say where I live", chromedp.SendKeys(chromedp.ID("input"), "I live in Hangzhou."), pressEnter)
	p.waitJS("the reply", `document.querySelector("#messages .message.character.complete:not(.greeting)")`, wait)

	click(p, "#memories-toggle")
	p.waitJS("the memories of the line", memTexts+`.includes("They live in Hangzhou.") && `+memTexts+`.includes("Ada said: I live in Hangzhou.")`, wait)

	// A note, pinned.
	typeInto(p, "#memory-add-text", "Ada is allergic to peanuts.")
	click(p, "#memory-add-pin")
	click(p, "#memory-add-save")
	p.waitJS("the pinned note first", `(() => { const first = document.querySelector("#memories-list .memory");
		return first && first.classList.contains("pinned") && first.querySelector(".memory-text").textContent === "Ada is allergic to peanuts."; })()`, wait)

	// Rewrite the fact; forget the line.
	fact := `Array.from(document.querySelectorAll("#memories-list .memory")).find(n => n.querySelector(".memory-text")?.textContent === "They live in Hangzhou.")`
	evalJS[bool](p, `(() => { `+fact+`.querySelector(".memory-edit").click(); return true; })()`)
	p.waitJS("the editor", `document.querySelector("#memories-list .memory-edit-text")`, wait)
	evalJS[bool](p, `(() => { const a = document.querySelector("#memories-list .memory-edit-text"); a.value = "They moved to Suzhou."; a.parentNode.querySelector(".memory-save").click(); return true; })()`)
	p.waitJS("the rewritten memory", memTexts+`.includes("They moved to Suzhou.") && !`+memTexts+`.includes("They live in Hangzhou.")`, wait)
	said := `Array.from(document.querySelectorAll("#memories-list .memory")).find(n => n.querySelector(".memory-text")?.textContent === "Ada said: I live in Hangzhou.")`
	evalJS[bool](p, `(() => { `+said+`.querySelector(".memory-forget").click(); return true; })()`)
	p.waitJS("the forgotten line gone", `!`+memTexts+`.includes("Ada said: I live in Hangzhou.")`, wait)

	p.do("reload", chromedp.Reload())
	p.waitJS("the chat again", `document.querySelector("#messages .message.character.complete:not(.greeting), #messages .message.character[data-id]:not(.greeting)")`, wait)
	click(p, "#memories-toggle")
	p.waitJS("the memories as left", memTexts+`.length === 2 && `+memTexts+`.includes("They moved to Suzhou.") && `+memTexts+`[0] === "Ada is allergic to peanuts."`, wait)
	p.screenshot("memories")
	checkNoJSErrors(t, p)
}
