package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/maopao/maopao/clients/web"
)

func get(t *testing.T, srv *httptest.Server, method, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHandlerServesPage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	resp, body := get(t, srv, "GET", "/")
	if resp.StatusCode != 200 || !strings.Contains(body, `id="characters"`) || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	// Every file the page links to is served, and nothing comes from elsewhere
	// (the page must work on machines without internet).
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if strings.Contains(ref, "//") {
			t.Errorf("index.html loads %q from another origin", ref)
			continue
		}
		if r, _ := get(t, srv, "GET", "/"+ref); r.StatusCode != 200 {
			t.Errorf("GET /%s = %d", ref, r.StatusCode)
		}
	}
	for _, script := range []string{"/app.js", "/studio.js", "/studio_chat.js"} {
		if !strings.Contains(body, `src="`+script[1:]+`"`) {
			t.Errorf("index.html does not load %s", script)
		}
		if r, js := get(t, srv, "GET", script); !strings.Contains(r.Header.Get("Content-Type"), "javascript") || strings.Contains(js, "innerHTML") || strings.Contains(js, "insertAdjacentHTML") {
			t.Errorf("%s: type %q, builds markup from strings: %v", script, r.Header.Get("Content-Type"), strings.Contains(js, "HTML"))
		}
	}
	if r, _ := get(t, srv, "POST", "/"); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", r.StatusCode)
	}
	if r, _ := get(t, srv, "GET", "/nope.js"); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope.js = %d", r.StatusCode)
	}
}
