package web_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maopao/maopao/clients/web"
)

// TestWorldFilesServed checks the world view is wired into the page and
// builds its markup from nodes, never from strings.
func TestWorldFilesServed(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	_, page := get(t, srv, "GET", "/")
	for _, want := range []string{`src="world.js"`, `src="world_map.js"`, `href="world.css"`, `id="worlds-link"`, `id="world-view"`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	// world.js speaks the world protocol and draws with world_map.js's
	// exports, imported, not through a global.
	for file, markers := range map[string][]string{
		"world.js":     {`"join_world"`, `from "./world_map.js"`, `from "./connection.js"`},
		"world_map.js": {"export function drawMap", "export function worldClock"},
	} {
		r, js := get(t, srv, "GET", "/"+file)
		if !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Fatalf("%s: %d %q", file, r.StatusCode, r.Header.Get("Content-Type"))
		}
		for _, m := range markers {
			if !strings.Contains(js, m) {
				t.Errorf("%s lacks %s", file, m)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "window.maopao"} {
			if strings.Contains(js, bad) {
				t.Errorf("%s uses %s", file, bad)
			}
		}
	}
	if r, css := get(t, srv, "GET", "/world.css"); !strings.Contains(r.Header.Get("Content-Type"), "text/css") || !strings.Contains(css, "#world-map") {
		t.Errorf("world.css: %q", r.Header.Get("Content-Type"))
	}
}
