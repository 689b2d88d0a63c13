package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/openai/openaitest"
)

// TestBrowserChatControls uses the chat as a player would: picks a name,
// searches, talks, regenerates and swipes, edits, stops a reply, branches,
// starts a new chat, reloads, and finds everything where it was.
func TestBrowserChatControls(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	srv := startScriptedPlatform(t)
	const wait = 20 * time.Second
	texts := `Array.from(document.querySelectorAll("#messages .message[data-id] .text")).map(n => n.textContent)`
	lastReply := `Array.from(document.querySelectorAll("#messages .message.character[data-id]")).pop()`

	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("the first-visit name form", `!document.getElementById("persona-first").hidden`, wait)
	typeInto(p, "#persona-first-name", "Ada")
	click(p, "#persona-first-save")
	p.waitJS("the name taken", `document.getElementById("persona-first").hidden && document.getElementById("persona-name-label").textContent === "Ada"`, wait)

	// A character published meanwhile shows up without a reload.
	p.waitJS("the characters", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, wait)
	publishCharacter(t, srv.URL(), "Newcomer")
	p.waitJS("the new character listed", `Array.from(document.querySelectorAll("#characters .character .name")).some(n => n.textContent === "Newcomer")`, wait)

	// Search and tags.
	typeInto(p, "#search", "professor")
	p.waitJS("search by name", `Array.from(document.querySelectorAll("#characters .character .name")).map(n => n.textContent).join() === "Professor Mei"`, wait)
	typeInto(p, "#search", "")
	click(p, `#characters .character .tag`)
	p.waitJS("a tag filters", `!document.getElementById("tag-filter").hidden && document.querySelectorAll("#characters .character").length === 1`, wait)
	click(p, "#tag-filter-clear")
	p.waitJS("the filter cleared", `document.querySelectorAll("#characters .character").length >= 3`, wait)

	click(p, `#characters .character[data-id="00000000-0000-4000-8000-000000000002"]`)
	p.waitJS("the greeting, addressing Ada", `document.querySelector("#messages .message.greeting .text")?.textContent.includes("Ada")`, wait)
	click(p, "#about-toggle")
	p.waitJS("the details panel", `!document.getElementById("char-details").hidden && document.getElementById("details-notes").textContent.length > 0`, wait)

	say := func(text string) {
		p.t.Helper()
		p.do("say "+text, chromedp.SendKeys(chromedp.ID("input"), text), pressEnter)
	}
	say("I like green tea.")
	p.waitJS("reply 1", lastReply+`?.querySelector(".text").textContent === "reply 1"`, wait)

	// Regenerate, then swipe back.
	click(p, `#messages .message.character:last-child .tool.regenerate`)
	p.waitJS("reply 2 as the second swipe", lastReply+`?.querySelector(".text").textContent === "reply 2" && `+lastReply+`.querySelector(".swipe-count").textContent === "2/2"`, wait)
	click(p, `#messages .message.character:last-child .tool.swipe-left`)
	p.waitJS("back to reply 1", lastReply+`?.querySelector(".text").textContent === "reply 1" && `+lastReply+`.querySelector(".swipe-count").textContent === "1/2"`, wait)

	// Edit the player's line.
	click(p, `#messages .message.user[data-id] .tool.edit`)
	evalJS[bool](p, `(() => { const a = document.querySelector("#messages .message.user .editor textarea"); a.value = "I like black coffee."; return true; })()`)
	click(p, `#messages .message.user .editor button.primary`)
	p.waitJS("the edited line", `Array.from(document.querySelectorAll("#messages .message.user.edited .text")).some(n => n.textContent === "I like black coffee.")`, wait)

	// Stop a reply mid-way.
	say("Tell me a SLOW story.")
	p.waitJS("the reply streaming, Stop shown", `!document.getElementById("stop").hidden && document.querySelector("#messages .message.character.streaming .text")?.textContent.startsWith("word0")`, wait)
	click(p, "#stop")
	p.waitJS("the stopped reply kept", lastReply+`?.classList.contains("stopped") && `+lastReply+`.querySelector(".text").textContent.startsWith("word0") && document.getElementById("stop").hidden`, wait)

	// Branch at the first reply: the branch opens with the history up to it.
	before := evalJS[[]string](p, texts)
	click(p, `#messages .message.character:not(.greeting)[data-id] .tool.branch`)
	p.waitJS("the branch", `document.getElementById("chat-title").textContent.startsWith("Branch of")`, wait)
	p.waitJS("the branch's history", `Array.from(document.querySelectorAll("#messages .message[data-id]")).length === 3`, wait)
	if got := evalJS[[]string](p, texts); len(got) != 3 || got[1] != "I like black coffee." || got[2] != "reply 1" {
		t.Fatalf("branch history %q (the chat was %q)", got, before)
	}

	// A new chat starts with the greeting.
	click(p, "#new-chat")
	p.waitJS("a new chat", `document.querySelectorAll("#messages .message[data-id]").length === 1 && document.querySelector("#messages .message.greeting")`, wait)
	// This chat only: another name.
	click(p, "#persona-chat")
	typeInto(p, "#persona-name", "Stowaway")
	click(p, "#persona-this-chat")
	click(p, "#persona-save")
	p.waitJS("the chat's persona", `document.getElementById("persona-chat-name").textContent === "Stowaway" && document.getElementById("persona-name-label").textContent === "Ada"`, wait)
	say("A fresh start.")
	p.waitJS("its reply", lastReply+`?.querySelector(".text").textContent.startsWith("reply")`, wait)
	if who := evalJS[string](p, `Array.from(document.querySelectorAll("#messages .message.user .who")).pop().textContent`); who != "Stowaway" {
		t.Errorf("the line in this chat is signed %q, want the chat's persona", who)
	}

	// Reload: the same chat is back; the chats panel lists all three.
	p.do("reload", chromedp.Reload())
	p.waitJS("the new chat restored", `Array.from(document.querySelectorAll("#messages .message.user .text")).some(n => n.textContent === "A fresh start.")`, wait)
	click(p, "#chats-toggle")
	p.waitJS("three chats listed", `document.querySelectorAll("#chats-list .chat-item").length === 3`, wait)
	evalJS[bool](p, `(() => { Array.from(document.querySelectorAll("#chats-list .chat-open")).find(b => b.textContent.includes("word0")).click(); return true; })()`)
	p.waitJS("the first chat, as it was", `(() => {
		const t = `+texts+`;
		const reply1 = Array.from(document.querySelectorAll("#messages .message.character[data-id]")).find(n => n.querySelector(".text").textContent === "reply 1");
		return t.includes("I like black coffee.") && reply1 && reply1.querySelector(".swipe-count") === null &&
			document.querySelector("#messages .message.character.stopped") !== null;
	})()`, wait)
	// Back on the list, "Most chatted" puts Captain Ren (three chats) first.
	click(p, "#back")
	p.waitJS("the list", `!document.getElementById("list-view").hidden`, wait)
	evalJS[bool](p, `(() => { const s = document.getElementById("sort"); s.value = "chatted"; s.dispatchEvent(new Event("change")); return true; })()`)
	p.waitJS("Captain Ren first", `document.querySelector("#characters .character .name").textContent === "Captain Ren"`, wait)
	p.do("back to the chat", chromedp.NavigateBack())
	p.waitJS("the chat again", `!document.getElementById("chat-view").hidden && document.querySelectorAll("#messages .message.character[data-id]").length > 1`, wait)
	// Swipes of an earlier reply are kept, though only the last reply shows arrows.
	if got := evalJS[int](p, `Array.from(document.querySelectorAll("#messages .message.character[data-id]")).find(n => n.querySelector(".text").textContent === "reply 1").message.swipes.length`); got != 2 {
		t.Errorf("the first reply has %d swipes after a reload, want 2", got)
	}
	checkNoJSErrors(t, p)
}

// publishCharacter registers a creator and publishes a character over REST.
func publishCharacter(t *testing.T, base, name string) {
	t.Helper()
	post := func(path, token, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %v", path, resp.StatusCode, out)
		}
		return out
	}
	acc := post("/api/v1/accounts/register", "", `{"username":"creator","password":"a long password"}`)
	post("/api/v1/characters", acc["token"].(string), fmt.Sprintf(`{"name":%q,"description":"just arrived","visibility":"public"}`, name))
}

// startScriptedPlatform runs the whole platform against the scripted
// OpenAI-compatible engine of engine/openai/openaitest ("reply N", slow
// stories), closed when the test ends.
func startScriptedPlatform(t *testing.T) *app.Server {
	t.Helper()
	hs := openaitest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LLMURL: hs.URL, LineBurst: 100,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}
