// Package web owns the browser client: a plain HTML, CSS and JavaScript page
// (no build step, no external resources, so it works on offline machines)
// embedded into the binary and served by the gateway at /. The page speaks
// protocol v1 over the gateway's /ws endpoint.
//
// The scripts in static/ are native ES modules, all listed in index.html as
// <script type="module"> and sharing code by import, never by window
// globals:
//
//   - dom.js: DOM and localStorage helpers; text goes in through
//     textContent, never as markup.
//   - connection.js: the one WebSocket client (hello, request ids and their
//     answers, ping and dead-link check, reconnect with backoff, the guest
//     token).
//   - app.js: the character list and chat, on a connection kept for the
//     whole visit.
//   - models.js: the untrained-model hint and the model catalogue.
//   - studio.js and studio_chat.js: the creator studio and its test chat.
//   - world.js and world_map.js: the open worlds, on a connection of their
//     own while the view is shown.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// FS holds the page's files under static/.
//
//go:embed static
var FS embed.FS

// csp keeps the page to its own files: the page only ever needs its origin
// (module scripts included) and its WebSocket (which 'self' covers in
// connect-src), plus blob: images and media (the previews of pictures
// being attached, made from the player's own files, and speech fetched
// with the player's token), and a policy this strict also
// stops injected markup from running, or talking to another host, if
// escaping were ever missed.
const csp = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

// Handler serves the page's files, index.html at /.
func Handler() http.Handler {
	sub, err := fs.Sub(FS, "static")
	if err != nil {
		// The embed pattern above guarantees the directory exists.
		panic("web: embedded static directory missing: " + err.Error())
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files are small; revalidating keeps an upgraded server's page
		// from mixing with a cached old script.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
