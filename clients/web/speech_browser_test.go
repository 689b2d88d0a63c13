package web_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/openai/openaitest"
	"github.com/maopao/maopao/engine/speech/speechtest"
)

// TestBrowserSpeech plays a reply with the server's voice, speaks replies
// as they come with auto-play, and falls back to the browser's voices on
// a server without a speech backend.
func TestBrowserSpeech(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	llm := openaitest.Start(t)
	voice := speechtest.Start(t)
	start := func(tts string) *app.Server {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), LLMURL: llm.URL, LineBurst: 100, TTSURL: tts,
			MemoryWorkAfter: -1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		return srv
	}
	srv := start(voice.URL)
	p := newPage(t)
	const wait = 30 * time.Second
	open := func(base string) {
		p.do("open the page", chromedp.Navigate(base+"/"))
		p.waitJS("the characters", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, wait)
		if evalJS[bool](p, `!document.getElementById("persona-first").hidden`) {
			typeInto(p, "#persona-first-name", "Ada")
			click(p, "#persona-first-save")
		}
		click(p, `#characters .character[data-id]`)
		p.waitJS("the chat", `document.querySelector("#messages .message.character.greeting .tool.speak")`, wait)
	}
	open(srv.URL())
	p.do("say hello", chromedp.SendKeys(chromedp.ID("input"), "hello"), pressEnter)
	reply := `Array.from(document.querySelectorAll("#messages .message.character.complete:not(.greeting)")).pop()`
	p.waitJS("the reply", reply+`?.querySelector(".tool.speak")`, wait)
	text := evalJS[string](p, reply+`.querySelector(".text").textContent`)
	click(p, "#messages .message.character.complete:not(.greeting) .tool.speak")
	p.waitJS("the reply played", `(window.__maopaoPlayed || 0) >= 1`, wait)
	if got := voice.Asks(); len(got) != 1 || got[0].Input != text {
		t.Fatalf("the speech server was asked %q, want the reply %q", got, text)
	}

	// Auto-play: the next reply is spoken as it comes.
	click(p, "#autoplay-toggle")
	p.waitJS("auto-play on", `document.getElementById("autoplay-toggle").getAttribute("aria-pressed") === "true"`, wait)
	p.do("say again", chromedp.SendKeys(chromedp.ID("input"), "and again"), pressEnter)
	p.waitJS("the second reply played", `(window.__maopaoPlayed || 0) >= 2`, wait)
	second := evalJS[string](p, reply+`.querySelector(".text").textContent`)
	if got := voice.Asks(); len(got) < 2 || got[len(got)-1].Input != second {
		t.Fatalf("auto-play asked for %q, want the second reply %q", got, second)
	}
	p.screenshot("chat-speech")

	// No speech backend: the browser's own voice speaks.
	plain := start("")
	open(plain.URL())
	click(p, "#messages .message.character.greeting .tool.speak")
	p.waitJS("the browser's voice used", `(window.__maopaoSpoke || 0) >= 1`, wait)
	if n := len(voice.Asks()); n > 2 {
		t.Errorf("the page without a backend asked a speech server (%d asks)", n)
	}
	checkNoJSErrors(t, p)
}
