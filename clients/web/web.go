// Package web owns the browser client: a plain HTML, CSS and JavaScript page
// (no build step, no external resources, so it works on offline machines)
// embedded into the binary and served by the gateway at /. The page speaks
// protocol v1 over the gateway's /ws endpoint.
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
// and its WebSocket (which 'self' covers), and a policy this strict also
// stops injected markup from running, or talking to another host, if
// escaping were ever missed.
const csp = "default-src 'self'; connect-src 'self'; img-src 'self' data:; " +
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
