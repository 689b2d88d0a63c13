// Browser tests drive the page in headless Chromium through chromedp. They
// skip when no Chromium is installed, unless CI=true. Set MAOPAO_SCREENSHOTS
// to a folder to keep screenshots of the list, the chat and the mobile view.
package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// findChromium returns a Chromium-family browser on PATH. Without one the
// browser tests skip, except under CI=true where a missing browser must not
// pass silently.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found on PATH (looked for chromium, chromium-browser, google-chrome); install one (Debian: apt-get install chromium) to run the browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// page is a headless browser tab plus the JavaScript errors it has raised.
type page struct {
	t    *testing.T
	ctx  context.Context // a chromedp context that has started its browser
	mu   sync.Mutex
	errs []string
}

func newPage(t *testing.T) *page {
	t.Helper()
	exe := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
	}
	p := &page{t: t}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithListener(p.listen))
	t.Cleanup(func() { cancelC(); cancelA() })
	p.ctx = ctx
	// The first call starts the browser and must run without a deadline,
	// which would otherwise stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return p
}

// listen records what the page reports as going wrong: uncaught exceptions
// (a module that fails to load or link shows here too), console.error and
// console.assert calls, and errors the browser logs itself, such as a
// Content-Security-Policy violation or a file of the page that failed to
// load. The API's refusals (a 409, a 422) and the WebSocket's drops are
// the tests' own doing and are not errors of the page.
func (p *page) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		if d := e.ExceptionDetails; d != nil {
			msg = fmt.Sprintf("%s (%s:%d:%d)", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				msg += ": " + d.Exception.Description
			}
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				if a.Value != nil {
					args = append(args, string(a.Value))
				} else {
					args = append(args, a.Description)
				}
			}
			msg = "console." + string(e.Type) + ": " + strings.Join(args, " ")
		}
	case *log.EventEntryAdded:
		en := e.Entry
		if en == nil || en.Level != log.EntryLevelError {
			break
		}
		if en.Source == log.EntrySourceNetwork {
			if u, err := url.Parse(en.URL); err == nil && (strings.HasPrefix(u.Path, "/api/") || u.Path == "/ws") {
				break
			}
		}
		msg = fmt.Sprintf("%s: %s (%s)", en.Source, en.Text, en.URL)
	}
	if msg == "" {
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, msg)
	p.mu.Unlock()
}

// actionTimeout bounds one step, so a hung page fails the test instead of
// hanging it.
const actionTimeout = time.Minute

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v\npage text:\n%s", what, err, p.text())
	}
}

func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the page's visible text, for failure messages.
func (p *page) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// waitJS polls a JavaScript expression until it is true.
func (p *page) waitJS(what, expr string, timeout time.Duration) {
	p.t.Helper()
	end := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err != nil {
			p.t.Fatalf("wait for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(end) {
			p.t.Fatalf("timed out after %v waiting for %s (%s)\npage text:\n%s", timeout, what, expr, p.text())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) jsErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// screenshot saves the viewport as a PNG into $MAOPAO_SCREENSHOTS, if set, so
// a person can look at the page.
func (p *page) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("MAOPAO_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Errorf("save screenshot: %v", err)
	}
}

// pressEnter presses Enter in the focused element the way a keyboard does.
// SendKeys also sends a char event, which types a newline even when the page
// cancels the keydown, as browsers do not.
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// flowResult is what the shared flow saw, for checks specific to a server.
type flowResult struct {
	characterID string
	said        string
	streamed    []string // texts of the reply while it was still streaming
	final       string
}

// chatFlow drives the page as a player would: pick a character, read the
// greeting, send a line, watch the reply stream in, reload and find the
// conversation again. It works against any server speaking protocol v1.
func chatFlow(t *testing.T, p *page, baseURL string, timeout time.Duration) flowResult {
	var res flowResult
	p.do("open the page", chromedp.Navigate(baseURL+"/"))
	p.waitJS("at least 3 character cards", `document.querySelectorAll("#characters .character[data-id]").length >= 3`, 30*time.Second)
	p.waitJS("the engine banner", `!document.getElementById("engine-banner").hidden && document.getElementById("engine-banner").textContent.length > 8`, 5*time.Second)
	cards := evalJS[[]map[string]any](p, `Array.from(document.querySelectorAll("#characters .character")).map(c => ({
		id: c.dataset.id,
		name: c.querySelector(".name").textContent,
		description: c.querySelector(".description").textContent,
		tags: c.querySelectorAll(".tag").length}))`)
	for _, c := range cards {
		if c["name"] == "" || c["id"] == "" {
			t.Errorf("card without id or name: %v", c)
		}
	}
	p.screenshot("list")

	res.characterID = cards[0]["id"].(string)
	p.do("pick a character", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#characters .character[data-id=%q]`, res.characterID))))
	p.waitJS("the greeting", `document.querySelector("#messages .message.character.greeting .text") &&
		document.querySelector("#messages .message.character.greeting .text").textContent.length > 0`, 20*time.Second)
	p.waitJS("the send button enabled", `!document.getElementById("send").disabled`, 10*time.Second)

	// Record every state of the reply while it streams: polling from Go could
	// miss a fast stream, a MutationObserver in the page cannot.
	evalJS[bool](p, `(() => {
		window.__streamed = [];
		new MutationObserver(() => {
			for (const n of document.querySelectorAll("#messages .message.character.streaming:not(.waiting) .text")) {
				window.__streamed.push(n.textContent);
			}
		}).observe(document.getElementById("messages"), {subtree: true, childList: true, characterData: true, attributes: true});
		return true;
	})()`)

	res.said = "Hello! 你好，今天怎么样？"
	p.do("type a line and press Enter", chromedp.SendKeys(chromedp.ID("input"), res.said), pressEnter)
	p.waitJS("my line shown", fmt.Sprintf(`Array.from(document.querySelectorAll("#messages .message.user .text")).some(n => n.textContent === %q)`, res.said), 2*time.Second)
	p.waitJS("the acked line", `document.querySelector("#messages .message.user[data-id]:not(.pending)")`, 20*time.Second)
	p.waitJS("the completed reply", `document.querySelector("#messages .message.character.complete:not(.greeting)")`, timeout)
	res.streamed = evalJS[[]string](p, `window.__streamed.filter(s => s.length > 0)`)
	res.final = evalJS[string](p, `document.querySelector("#messages .message.character.complete:not(.greeting) .text").textContent`)
	if len(res.streamed) == 0 {
		t.Errorf("the reply never showed while streaming; final text %q", res.final)
	}
	if v := evalJS[string](p, `document.getElementById("input").value`); v != "" {
		t.Errorf("input not cleared after sending: %q", v)
	}
	p.screenshot("chat")

	p.do("reload", chromedp.Reload())
	p.waitJS("the conversation restored", fmt.Sprintf(`!document.getElementById("chat-view").hidden &&
		Array.from(document.querySelectorAll("#messages .message.user .text")).some(n => n.textContent === %q) &&
		Array.from(document.querySelectorAll("#messages .message.character[data-id] .text")).some(n => n.textContent === %q)`, res.said, res.final), 30*time.Second)
	// The greeting is the chat's first message: still there, once.
	if n := evalJS[int](p, `document.querySelectorAll("#messages .greeting").length`); n != 1 {
		t.Errorf("after a reload the chat shows %d greetings, want 1", n)
	}

	p.do("mobile size", chromedp.EmulateViewport(390, 844))
	p.screenshot("chat-mobile")
	return res
}

func checkNoJSErrors(t *testing.T, p *page) {
	for _, e := range p.jsErrors() {
		t.Errorf("JavaScript error in the page: %s", strings.TrimSpace(e))
	}
}
