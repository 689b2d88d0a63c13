package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
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

// TestPageModules checks the page's scripts are ES modules that share code
// by import: every <script> is a module from this origin, every module an
// import reaches is served as JavaScript and listed in index.html (so the
// browser fetches them all at once), none builds markup from strings or
// talks through a window global, and the imports have no cycle (a module
// in a cycle can run before what it imports is initialised).
func TestPageModules(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	_, page := get(t, srv, "GET", "/")
	var listed []string
	for _, m := range regexp.MustCompile(`<script\b([^>]*)>`).FindAllStringSubmatch(page, -1) {
		src := regexp.MustCompile(`\bsrc="([^"]+)"`).FindStringSubmatch(m[1])
		if src == nil || !strings.Contains(m[1], `type="module"`) {
			t.Errorf("index.html has a script that is not a module from a file: <script%s>", m[1])
			continue
		}
		listed = append(listed, src[1])
	}
	for _, want := range []string{"dom.js", "connection.js", "app.js", "world.js"} {
		if !slices.Contains(listed, want) {
			t.Errorf("index.html does not load %s", want)
		}
	}
	importRE := regexp.MustCompile(`(?m)^import\s+(?:[^"';]*\bfrom\s+)?"([^"]+)";`)
	imports := map[string][]string{}
	queue := append([]string(nil), listed...)
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		if _, done := imports[file]; done {
			continue
		}
		r, js := get(t, srv, "GET", "/"+file)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("%s: %d %q", file, r.StatusCode, r.Header.Get("Content-Type"))
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "window.maopao", "\nvar ", " var "} {
			if strings.Contains(js, bad) {
				t.Errorf("%s uses %q", file, strings.TrimSpace(bad))
			}
		}
		imports[file] = []string{}
		for _, m := range importRE.FindAllStringSubmatch(js, -1) {
			dep, ok := strings.CutPrefix(m[1], "./")
			if !ok || strings.Contains(dep, "/") {
				t.Errorf("%s imports %q, not a file beside it", file, m[1])
				continue
			}
			imports[file] = append(imports[file], dep)
			if !slices.Contains(listed, dep) {
				t.Errorf("%s imports %s, which index.html does not list", file, dep)
			}
			queue = append(queue, dep)
		}
	}
	// No cycles: a depth-first walk never meets a module it is inside of.
	state := map[string]int{} // 1: on the current path, 2: done
	var walk func(file string, path []string)
	walk = func(file string, path []string) {
		switch state[file] {
		case 1:
			t.Errorf("import cycle: %s", strings.Join(append(path, file), " → "))
			return
		case 2:
			return
		}
		state[file] = 1
		for _, dep := range imports[file] {
			walk(dep, append(path, file))
		}
		state[file] = 2
	}
	for _, file := range listed {
		walk(file, nil)
	}
}
