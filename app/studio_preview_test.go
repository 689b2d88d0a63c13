package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/protocol"
	"github.com/maopao/maopao/storage/bolt"
	"github.com/maopao/maopao/worldsim"
)

// sse is one server-sent event.
type sse struct {
	name string
	data map[string]any
}

// readSSE reads events from an event stream until it ends.
func readSSE(t *testing.T, body io.Reader) []sse {
	t.Helper()
	var out []sse
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	cur := sse{name: "message"}
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) > 0 {
				if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &cur.data); err != nil {
					t.Fatalf("event %s: data %q: %v", cur.name, data, err)
				}
				out = append(out, cur)
			}
			cur, data = sse{name: "message"}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			cur.name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read event stream: %v", err)
	}
	return out
}

func register(t testing.TB, ctx context.Context, baseURL, username string) string {
	t.Helper()
	resp, err := postJSON(ctx, baseURL+"/api/v1/accounts/register", `{"username":"`+username+`","password":"correct horse battery"}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var acc struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&acc); err != nil || resp.StatusCode != http.StatusCreated || acc.Token == "" {
		t.Fatalf("register %s: %d %v %+v", username, resp.StatusCode, err, acc)
	}
	return acc.Token
}

func postPreview(ctx context.Context, baseURL, token, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/studio/preview", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}

// problemOf checks that resp is an RFC 9457 problem with status and returns it.
func problemOf(t *testing.T, what string, resp *http.Response, status int) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var p map[string]any
	err := json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/problem+json" || err != nil || p["detail"] == "" {
		t.Errorf("%s: %d %q %v %v, want a %d problem", what, resp.StatusCode, resp.Header.Get("Content-Type"), err, p, status)
	}
	return p
}

func errorPaths(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		s, _ := m["path"].(string)
		out = append(out, s)
	}
	return out
}

// startPreviewService runs a preview service on the server's NATS, as the
// world simulation role does.
func startPreviewService(t *testing.T, natsURL string, gen engine.Generator) {
	t.Helper()
	nc, err := bus.Connect(natsURL, "preview-test", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	svc := &worldsim.PreviewService{Bus: nc, Engine: gen, Log: quietLog(), MaxTokens: 12}
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("preview service: %v", err)
		}
		nc.Close()
	})
	// Ready when it answers (a malformed request gets an error event).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := nc.Request(rctx, protocol.StudioPreviewSubject, []byte("{"))
		cancel()
		if err == nil {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("the preview service never answered: %v", err)
		}
	}
}

const dragonDraft = `{"name":"Ember","description":"A keeper of old stories.","first_mes":"Welcome, {{user}}.",
	"avatar_url":"/ignored","revision":3,
	"character_book":{"extensions":{},"entries":[
		{"name":"castle","keys":["castle"],"content":"The castle fell.","enabled":true,"insertion_order":1,"extensions":{}},
		{"name":"dragon lore","keys":["dragon"],"content":"Kaldra the dragon sleeps under the lake.","enabled":true,"insertion_order":2,"extensions":{}}]}}`

const goodPreview = `{"character":` + dragonDraft + `,"messages":[{"role":"user","content":"tell me about the dragon"}],"user_name":"Ada"}`

// TestStudioPreviewRefusesBadRequests runs on a gateway without any world
// simulation: everything here is answered by the gateway itself.
func TestStudioPreviewRefusesBadRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, _ := standaloneGateway(t)
	token := register(t, ctx, base, "ember_maker")
	good := goodPreview
	guest, _, err := newGuest(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token, body string
		status            int
		paths             []string
	}{
		{"no token", "", good, http.StatusUnauthorized, nil},
		{"guest token", guest, good, http.StatusForbidden, nil},
		{"not JSON", token, `{"character":`, http.StatusBadRequest, nil},
		{"unknown field", token, `{"character":{"name":"x"},"messages":[],"colour":1}`, http.StatusBadRequest, []string{"colour"}},
		{"no messages, bad lore position, unnamed", token,
			`{"character":{"name":"","character_book":{"extensions":{},"entries":[{"keys":["a"],"content":"b","extensions":{},"enabled":true,"insertion_order":0,"position":"middle"}]}},"messages":[]}`,
			http.StatusUnprocessableEntity, []string{"character.name", "character.character_book.entries[0].position", "messages"}},
		{"wrong type inside the character", token, `{"character":{"name":"x","tags":"a,b"},"messages":[{"role":"user","content":"hi"}]}`,
			http.StatusBadRequest, []string{"character.tags"}},
		{"last line not the user's", token, `{"character":{"name":"x"},"messages":[{"role":"user","content":"hi"},{"role":"character","content":"yo"}]}`,
			http.StatusUnprocessableEntity, []string{"messages[1].role"}},
		{"too large", token, `{"character":{"name":"x","description":"` + strings.Repeat("a", 1<<20) + `"},"messages":[]}`, http.StatusRequestEntityTooLarge, nil},
		{"no world simulation", token, good, http.StatusServiceUnavailable, nil},
	} {
		resp, err := postPreview(ctx, base, c.token, c.body)
		if err != nil {
			t.Fatal(err)
		}
		p := problemOf(t, c.name, resp, c.status)
		got := strings.Join(errorPaths(p), " ")
		for _, want := range c.paths {
			if !strings.Contains(" "+got+" ", " "+want+" ") {
				t.Errorf("%s: error paths %q lack %q (%v)", c.name, got, want, p)
			}
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/studio/preview", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else if problemOf(t, "GET", resp, http.StatusMethodNotAllowed); resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET preview: Allow %q", resp.Header.Get("Allow"))
	}
}

// TestStudioPreviewStreamsLoreAndReply runs a preview through the whole
// platform as `maopao serve` starts it, with the local engine: gateway,
// NATS, the world simulation's preview service.
func TestStudioPreviewStreamsLoreAndReply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	token := register(t, ctx, srv.URL(), "ember_maker")
	resp, err := postPreview(ctx, srv.URL(), token, goodPreview)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("preview: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	evs := readSSE(t, resp.Body)
	resp.Body.Close()
	if len(evs) < 3 || evs[0].name != "lore" || evs[len(evs)-1].name != "complete" {
		t.Fatalf("events %+v, want lore, deltas, complete", evs)
	}
	entries, _ := evs[0].data["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("lore event %v: want only the dragon entry", evs[0].data)
	}
	e := entries[0].(map[string]any)
	if e["index"] != float64(1) || e["name"] != "dragon lore" || !strings.Contains(e["reason"].(string), "dragon") || e["position"] == "" {
		t.Errorf("fired entry %v", e)
	}
	var streamed strings.Builder
	for _, ev := range evs[1 : len(evs)-1] {
		if ev.name != "delta" {
			t.Fatalf("event %s between lore and complete", ev.name)
		}
		streamed.WriteString(ev.data["text"].(string))
	}
	done := evs[len(evs)-1].data
	if streamed.Len() == 0 || done["text"] != strings.TrimSpace(streamed.String()) || done["finish_reason"] == "" {
		t.Errorf("complete %v after streaming %q", done, streamed.String())
	}
	if msgs, err := srv.Store().ListCharacters(ctx); err == nil {
		for _, c := range msgs {
			if c.Name == "Ember" {
				t.Errorf("a preview stored its draft: %+v", c)
			}
		}
	}
}

// TestStudioPreviewLimitsAndCancels checks the limits on concurrent
// previews (per account at the gateway, per process at the service) and
// that a client going away stops the engine rather than letting it run to
// the time limit.
func TestStudioPreviewLimitsAndCancels(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base, natsURL := standaloneGateway(t)
	token := register(t, ctx, base, "quitter")
	other := register(t, ctx, base, "neighbour")
	gen := &heldGen{stopped: make(chan error, 4)}
	startPreviewService(t, natsURL, gen) // two previews at once, the default
	body := `{"character":` + dragonDraft + `,"messages":[{"role":"user","content":"dragon?"}]}`

	// open starts a preview and reads up to its lore event; the engine is
	// then holding it.
	open := func(token string) (leave func()) {
		reqCtx, stop := context.WithCancel(ctx)
		resp, err := postPreview(reqCtx, base, token, body)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); err != nil || line != "event: lore\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		return func() { stop(); resp.Body.Close() }
	}
	leaveA, leaveB := open(token), open(token)
	resp, err := postPreview(ctx, base, token, body)
	if err != nil {
		t.Fatal(err)
	}
	if problemOf(t, "third preview of one account", resp, http.StatusTooManyRequests); resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	resp, err = postPreview(ctx, base, other, body)
	if err != nil {
		t.Fatal(err)
	}
	problemOf(t, "preview while the service is full", resp, http.StatusTooManyRequests)

	leaveA()
	leaveB()
	for range 2 {
		select {
		case err := <-gen.stopped:
			if err != context.Canceled {
				t.Errorf("the engine stopped with %v, want cancellation", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the engine kept generating after the browser left")
		}
	}
	// The slots are free again once the service has wound the two down.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		reqCtx, stop := context.WithCancel(ctx)
		resp, err := postPreview(reqCtx, base, other, body)
		if err != nil {
			t.Fatal(err)
		}
		status := resp.StatusCode
		stop()
		resp.Body.Close()
		if status == http.StatusOK {
			break
		}
		if status != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("preview after the others left: HTTP %d", status)
		}
	}
}

// heldGen generates nothing until its context ends, then reports why.
type heldGen struct {
	stopped chan error
}

func (g *heldGen) CountTokens(s string) int { return len(s)/4 + 1 }
func (g *heldGen) ContextSize() int         { return 4096 }
func (g *heldGen) Describe() string         { return "held test generator" }

func (g *heldGen) Generate(ctx context.Context, _ engine.Request, _ func(engine.Token) error) (engine.Result, error) {
	<-ctx.Done()
	g.stopped <- ctx.Err()
	return engine.Result{}, ctx.Err()
}

func newGuest(ctx context.Context, baseURL string) (string, string, error) {
	resp, err := postJSON(ctx, baseURL+"/api/v1/session", `{"name":"Guest"}`)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var s struct {
		Token    string `json:"token"`
		PlayerID string `json:"player_id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s.Token, s.PlayerID, err
}

// standaloneGateway serves a gateway alone on an embedded NATS, with no
// world simulation: what answers previews is up to the test.
func standaloneGateway(t testing.TB) (baseURL, natsURL string) {
	t.Helper()
	dir := t.TempDir()
	emb, err := bus.StartEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	st, err := bolt.Open(filepath.Join(dir, "maopao.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	nc, err := bus.Connect(emb.URL(), "gateway-test", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	gw := &gateway.Server{Store: st, Bus: nc, Secret: []byte("0123456789abcdef0123"), Log: quietLog()}
	if err := gw.Init(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gw.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, emb.URL()
}
