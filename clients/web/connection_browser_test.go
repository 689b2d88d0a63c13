package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/clients/internal/fakegw"
	"github.com/maopao/maopao/clients/web"
)

// TestBrowserConnection drives connection.js by itself in the page, as a
// second Connection beside the chat's (world.js opens one the same way),
// against the fake gateway: hello and welcome, answers finding their
// request by ref, requests left unanswered reported lost when the link
// drops, the reconnect with its backoff, a refused token (close 4001)
// handed to the owner, and close() ending it all.
func TestBrowserConnection(t *testing.T) {
	p := newPage(t)
	srv := fakegw.Start(fakegw.Options{Static: web.Handler(), Characters: fakegw.DefaultCharacters()})
	defer srv.Close()
	const wait = 10 * time.Second

	p.do("open the page", chromedp.Navigate(srv.URL+"/"))
	p.waitJS("the chat online", `document.getElementById("status").textContent === "online"`, wait)
	evalJS[bool](p, `(() => {
		import(new URL("connection.js", location.href).href).then(({ Connection }) => {
			const log = window.__log = { statuses: [], welcomes: 0, frames: [], lost: [], badAuth: 0 };
			// A guest session of its own, so the chat's connection and
			// this one do not share (and race over) one token.
			const session = () => fetch("api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
				.then((r) => r.json()).then((s) => (window.__token = s.token));
			window.__conn = new Connection("t", {
				token: () => window.__token ? Promise.resolve(window.__token) : session(),
				onStatus: (kind, text) => log.statuses.push(kind + ": " + text),
				onWelcome: (f) => { log.welcomes++; log.player = f.player_id; },
				onFrame: (f, req) => log.frames.push({ type: f.type, ref: f.ref || "", req: req ? req.kind : "" }),
				onLost: (reqs) => log.lost.push(reqs.map((r) => r.kind)),
				onBadAuth: (token) => { log.badAuth++; log.refused = token; window.__token = null; }
			});
			window.__conn.open();
		});
		return true;
	})()`)
	p.waitJS("welcomed", `window.__log && window.__log.welcomes === 1 && window.__conn.ready && window.__conn.connected`, wait)
	if got := evalJS[[]string](p, `__log.statuses`); len(got) != 2 || got[0] != "connecting: connecting…" || got[1] != "online: online" {
		t.Errorf("statuses %q, want connecting then online", got)
	}
	if evalJS[string](p, `__log.player`) == evalJS[string](p, `localStorage.getItem("maopao.player")`) {
		t.Error("the connection's own session has the chat's player id, or its welcome overwrote the guest's")
	}

	// An answer finds its request by ref and ends it; a request the server
	// never answers stays pending.
	id := evalJS[string](p, `__conn.send({ type: "list_characters" }, { kind: "list" })`)
	if !strings.HasPrefix(id, "t") {
		t.Errorf("frame id %q does not start with the connection's prefix", id)
	}
	p.waitJS("the characters, with their request", fmt.Sprintf(`__log.frames.some((f) => f.type === "characters" && f.ref === %q && f.req === "list")`, id), wait)
	evalJS[string](p, `__conn.send({ type: "list_worlds" }, { kind: "unanswered" })`)
	if n := evalJS[int](p, `__conn.pending().length`); n != 1 {
		t.Errorf("%d requests pending, want the unanswered one", n)
	}

	// The link drops: the unanswered request is lost, the connection says
	// it is offline, retries within a second and is welcomed again.
	if srv.DropAll() == 0 {
		t.Fatal("no WebSocket to drop")
	}
	p.waitJS("welcomed again", `__log.welcomes === 2 && __conn.ready`, wait)
	if got := evalJS[[][]string](p, `__log.lost`); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "unanswered" {
		t.Errorf("lost requests %q, want [[unanswered]]", got)
	}
	statuses := evalJS[[]string](p, `__log.statuses.slice(2)`)
	if want := []string{"offline: offline", "offline: offline, retrying in 1s", "connecting: connecting…", "online: online"}; strings.Join(statuses, "|") != strings.Join(want, "|") {
		t.Errorf("statuses after the drop %q, want %q", statuses, want)
	}

	// The server refuses the token: the owner is told and drops it, and the
	// connection comes back with a new guest session.
	old := evalJS[string](p, `window.__token`)
	srv.Lock()
	srv.Revoked[old] = true
	srv.Unlock()
	srv.DropAll()
	p.waitJS("welcomed with a new token", fmt.Sprintf(`__log.badAuth === 1 && __log.refused === %q && __log.welcomes === 3 && __conn.ready && window.__token && window.__token !== %[1]q`, old), wait)
	if !evalJS[bool](p, `__log.frames.some((f) => f.type === "error")`) {
		t.Error("the bad_token error before the close did not reach the owner")
	}

	// close() ends it: no socket, nothing pending (and nothing reported
	// lost: the owner is leaving), no reconnect.
	lost := evalJS[int](p, `__log.lost.length`)
	evalJS[bool](p, `__conn.send({ type: "list_worlds" }, { kind: "unanswered" }), __conn.close(), true`)
	if evalJS[bool](p, `__conn.connected || __conn.ready || __conn.pending().length > 0`) {
		t.Error("a closed connection still has a socket or pending requests")
	}
	if evalJS[bool](p, `__conn.send({ type: "ping" }) !== null`) {
		t.Error("a closed connection sent a frame")
	}
	n := evalJS[int](p, `__log.statuses.length`)
	time.Sleep(1500 * time.Millisecond)
	if got := evalJS[int](p, `__log.statuses.length`); got != n || evalJS[bool](p, `__conn.connected`) {
		t.Errorf("the closed connection came back: statuses %q", evalJS[[]string](p, `__log.statuses`))
	}
	if got := evalJS[int](p, `__log.lost.length`); got != lost {
		t.Errorf("close() reported requests lost: %q", evalJS[[][]string](p, `__log.lost`))
	}
	checkNoJSErrors(t, p)
}
