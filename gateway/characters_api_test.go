package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage/bolt"
)

type testAPI struct {
	t   *testing.T
	srv *httptest.Server
	s   *Server
	api *creatorAPI
}

func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "maopao.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	s := &Server{Store: st, Secret: []byte("0123456789abcdef0123456789abcdef"), Log: slog.New(slog.DiscardHandler)}
	s.tokens = Tokens{Secret: s.Secret}
	mux := http.NewServeMux()
	api := newCreatorAPI(s)
	api.register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAPI{t: t, srv: srv, s: s, api: api}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, dst any) {
	t.Helper()
	if err := json.Unmarshal(r.body, dst); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

// problem decodes a problem+json answer, failing unless it is one with
// the given status.
func (r response) problem(t *testing.T, status int) ValidationProblem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.body)
	}
	var p ValidationProblem
	r.json(t, &p)
	if p.Status != status || p.Code == "" || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.Type, "https://") {
		t.Fatalf("problem lacks RFC 9457 members: %+v", p)
	}
	return p
}

func hasPath(p ValidationProblem, path string) bool {
	for _, e := range p.Errors {
		if e.Path == path && e.Message != "" {
			return true
		}
	}
	return false
}

func (a *testAPI) do(method, path, token string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// register makes an account and returns its token and player ID.
func (a *testAPI) register(name string) (string, string) {
	a.t.Helper()
	r := a.do("POST", "/api/v1/accounts/register", "", AccountRequest{Username: name, Password: "correct horse"})
	if r.status != http.StatusCreated {
		a.t.Fatalf("register %s: %d %s", name, r.status, r.body)
	}
	var out AccountResponse
	r.json(a.t, &out)
	if out.Token == "" || out.PlayerID == "" || out.Username != name {
		a.t.Fatalf("register %s answered %+v", name, out)
	}
	return out.Token, out.PlayerID
}

func (a *testAPI) guest() string {
	a.t.Helper()
	return a.guestNamed("guest-" + fmt.Sprint(time.Now().UnixNano()))
}

// guestNamed makes a guest as POST /api/v1/session does: a player record
// and a token.
func (a *testAPI) guestNamed(playerID string) string {
	a.t.Helper()
	tok, _, err := a.s.tokens.Issue(playerID)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.s.Store.PutPlayer(context.Background(), maopao.Player{ID: playerID, Name: playerID}); err != nil {
		a.t.Fatal(err)
	}
	return tok
}

func (a *testAPI) create(token string, body map[string]any) CharacterView {
	a.t.Helper()
	r := a.do("POST", "/api/v1/characters", token, body)
	if r.status != http.StatusCreated {
		a.t.Fatalf("create: %d %s", r.status, r.body)
	}
	var v CharacterView
	r.json(a.t, &v)
	if r.header.Get("Location") != "/api/v1/characters/"+v.ID {
		a.t.Errorf("Location %q for character %s", r.header.Get("Location"), v.ID)
	}
	return v
}

func TestCreateAndGet(t *testing.T) {
	a := newTestAPI(t)
	alice, aliceID := a.register("alice")
	v := a.create(alice, map[string]any{
		"name": "Mira", "description": "a fox", "tags": []string{"fox"}, "first_mes": "Hi {{user}}",
		"character_book": map[string]any{"entries": []any{map[string]any{"keys": []string{"den"}, "content": "a den",
			"extensions": map[string]any{"a.b": 1, "$ref": "x"}, "enabled": true, "insertion_order": 0}}, "extensions": map[string]any{}},
		// Server-owned fields are ignored.
		"id": "chosen-by-client", "owner_id": "someone", "built_in": true, "revision": 9,
	})
	if v.ID == "chosen-by-client" || v.OwnerID != aliceID || v.BuiltIn || v.Revision != 1 {
		t.Errorf("server-owned fields taken from the body: %+v", v.Character)
	}
	if v.Visibility != maopao.VisibilityPrivate || v.Creator != "alice" || v.CreatedAt.IsZero() {
		t.Errorf("defaults: visibility %q creator %q created %v", v.Visibility, v.Creator, v.CreatedAt)
	}
	r := a.do("GET", "/api/v1/characters/"+v.ID, alice, nil)
	var got CharacterView
	r.json(t, &got)
	if r.status != 200 || got.Name != "Mira" || got.CharacterBook == nil || got.CharacterBook.Entries[0].Extensions["$ref"] != "x" {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	if r.header.Get("ETag") != `"r1"` {
		t.Errorf("ETag %q, want \"r1\"", r.header.Get("ETag"))
	}
}

func TestAuthorization(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	bob, _ := a.register("bob")
	secret := a.create(alice, map[string]any{"name": "Secret"})
	path := "/api/v1/characters/" + secret.ID
	edit := map[string]any{"name": "Hijacked", "revision": 1}

	// A private character of someone else does not exist, whatever is asked.
	for _, c := range []struct{ method, path string }{
		{"GET", path}, {"PUT", path}, {"PATCH", path}, {"DELETE", path}, {"GET", path + "/history"},
		{"GET", path + "/avatar"}, {"PUT", path + "/avatar"}, {"GET", path + "/export"}, {"GET", path + "/history/1"},
	} {
		var body any
		if c.method == "PUT" || c.method == "PATCH" {
			body = edit
		}
		for who, tok := range map[string]string{"bob": bob, "anonymous": ""} {
			if tok == "" && (c.method != "GET" || strings.Contains(c.path, "/history")) {
				continue // the owner-only endpoints answer anonymous callers with 401, tested below
			}
			p := a.do(c.method, c.path, tok, body).problem(t, http.StatusNotFound)
			if strings.Contains(p.Detail, "Secret") {
				t.Errorf("%s %s as %s: 404 detail leaks the name: %q", c.method, c.path, who, p.Detail)
			}
		}
	}
	missing := a.do("GET", "/api/v1/characters/no-such-id", bob, nil).problem(t, http.StatusNotFound)
	hidden := a.do("GET", path, bob, nil).problem(t, http.StatusNotFound)
	if strings.ReplaceAll(missing.Detail, "no-such-id", "X") != strings.ReplaceAll(hidden.Detail, secret.ID, "X") {
		t.Errorf("a hidden character answers differently from a missing one: %q vs %q", hidden.Detail, missing.Detail)
	}
	list := a.do("GET", "/api/v1/characters", bob, nil)
	if strings.Contains(string(list.body), secret.ID) {
		t.Errorf("bob's list shows alice's private character")
	}
	list = a.do("GET", "/api/v1/characters", alice, nil)
	if !strings.Contains(string(list.body), secret.ID) {
		t.Errorf("alice's list lacks her own private character: %s", list.body)
	}

	// Public: bob sees it but still cannot change it.
	r := a.do("PATCH", path, alice, map[string]any{"visibility": "public", "revision": 1})
	if r.status != 200 {
		t.Fatalf("owner PATCH: %d %s", r.status, r.body)
	}
	if a.do("GET", path, bob, nil).status != 200 {
		t.Fatal("bob cannot read a public character")
	}
	a.do("PUT", path, bob, map[string]any{"name": "Hijacked", "revision": 2}).problem(t, http.StatusForbidden)
	a.do("DELETE", path, bob, nil).problem(t, http.StatusForbidden)
	a.do("GET", path+"/history", bob, nil).problem(t, http.StatusForbidden)
	a.do("PUT", path+"/avatar", bob, pngBytes(100)).problem(t, http.StatusForbidden)

	// Guests cannot create; nobody anonymous can write.
	p := a.do("POST", "/api/v1/characters", a.guest(), map[string]any{"name": "Guest's"}).problem(t, http.StatusForbidden)
	if !strings.Contains(p.Detail, "register") {
		t.Errorf("guest 403 does not say how to register: %q", p.Detail)
	}
	r = a.do("POST", "/api/v1/characters", "", map[string]any{"name": "Nobody's"})
	r.problem(t, http.StatusUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	a.do("GET", path, "not-a-token", nil).problem(t, http.StatusUnauthorized)
	a.do("PUT", path, "", edit).problem(t, http.StatusUnauthorized)

	// The owner deletes; then it is gone for everyone.
	if r := a.do("DELETE", path, alice, nil); r.status != http.StatusNoContent {
		t.Fatalf("owner DELETE: %d %s", r.status, r.body)
	}
	a.do("GET", path, alice, nil).problem(t, http.StatusNotFound)
}

func TestBuiltInReadOnly(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	builtin := maopao.Character{ID: "builtin-1", Name: "Lin", Visibility: maopao.VisibilityPublic, BuiltIn: true, Revision: 1}
	if err := a.s.Store.PutCharacter(context.Background(), builtin); err != nil {
		t.Fatal(err)
	}
	p := a.do("PUT", "/api/v1/characters/builtin-1", alice, map[string]any{"name": "Mine now", "revision": 1}).problem(t, http.StatusForbidden)
	if !strings.Contains(p.Detail, "built-in") {
		t.Errorf("403 for a built-in does not say so: %q", p.Detail)
	}
	a.do("DELETE", "/api/v1/characters/builtin-1", alice, nil).problem(t, http.StatusForbidden)
	if r := a.do("GET", "/api/v1/characters/builtin-1/export?format=json", "", nil); r.status != 200 {
		t.Errorf("built-ins are exportable by anyone: %d %s", r.status, r.body)
	}
}

func TestRevisionsAndHistory(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	v := a.create(alice, map[string]any{"name": "One", "visibility": "public"})
	path := "/api/v1/characters/" + v.ID

	r := a.do("PUT", path, alice, map[string]any{"name": "Two", "revision": 1})
	var two CharacterView
	r.json(t, &two)
	if r.status != 200 || two.Revision != 2 || two.Name != "Two" || two.Visibility != maopao.VisibilityPublic || !two.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	// A second editor still holding revision 1 is refused, and told why.
	p := a.do("PUT", path, alice, map[string]any{"name": "Stale", "revision": 1}).problem(t, http.StatusConflict)
	if !strings.Contains(p.Detail, "revision 2") || !hasPath(p, "revision") {
		t.Errorf("409 does not name the current revision: %+v", p)
	}
	p = a.do("PUT", path, alice, map[string]any{"name": "No revision"}).problem(t, http.StatusUnprocessableEntity)
	if !hasPath(p, "revision") {
		t.Errorf("missing revision: %+v", p)
	}
	p = a.do("PUT", path, alice, map[string]any{"name": "Other id", "revision": 2, "id": "other"}).problem(t, http.StatusUnprocessableEntity)
	if !hasPath(p, "id") {
		t.Errorf("mismatched id: %+v", p)
	}
	// PATCH merges into the current revision.
	r = a.do("PATCH", path, alice, map[string]any{"description": "patched", "revision": 2, "tags": []string{"x"}})
	var three CharacterView
	r.json(t, &three)
	if r.status != 200 || three.Revision != 3 || three.Name != "Two" || three.Description != "patched" {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	a.do("PATCH", path, alice, map[string]any{"description": "late", "revision": 2}).problem(t, http.StatusConflict)

	r = a.do("GET", path+"/history", alice, nil)
	var hist CharacterHistory
	r.json(t, &hist)
	var got []string
	for _, h := range hist.Revisions {
		got = append(got, fmt.Sprintf("%d:%s", h.Revision, h.Name))
	}
	if strings.Join(got, " ") != "3:Two 2:Two 1:One" {
		t.Errorf("history %v, want [3:Two 2:Two 1:One]", got)
	}
	r = a.do("GET", path+"/history/1", alice, nil)
	var one CharacterView
	r.json(t, &one)
	if r.status != 200 || one.Name != "One" || one.Revision != 1 {
		t.Errorf("revision 1: %d %s", r.status, r.body)
	}
	a.do("GET", path+"/history/7", alice, nil).problem(t, http.StatusNotFound)
}

func TestListAndSearch(t *testing.T) {
	a := newTestAPI(t)
	alice, aliceID := a.register("alice")
	bob, _ := a.register("bob")
	a.create(alice, map[string]any{"name": "Captain Ren", "visibility": "public", "tags": []string{"Sci-Fi"}})
	a.create(alice, map[string]any{"name": "Lin", "nickname": "the tea keeper", "visibility": "public", "tags": []string{"cozy"}})
	a.create(bob, map[string]any{"name": "Bob's Captain", "visibility": "public", "creator": "Robert"})
	a.create(bob, map[string]any{"name": "Bob's draft", "visibility": "unlisted"})
	names := func(query, token string) string {
		t.Helper()
		r := a.do("GET", "/api/v1/characters"+query, token, nil)
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		var l CharacterList
		r.json(t, &l)
		var out []string
		for _, c := range l.Characters {
			out = append(out, c.Name)
		}
		return strings.Join(out, ", ")
	}
	for _, c := range []struct{ query, token, want string }{
		{"", "", "Bob's Captain, Captain Ren, Lin"},
		{"", bob, "Bob's Captain, Bob's draft, Captain Ren, Lin"},
		{"?q=captain", "", "Bob's Captain, Captain Ren"},
		{"?q=TEA", "", "Lin"},
		{"?tag=sci-fi", "", "Captain Ren"},
		{"?creator=robert", "", "Bob's Captain"},
		{"?creator=alice", "", "Captain Ren, Lin"},
		{"?owner=" + aliceID, "", "Captain Ren, Lin"},
		{"?limit=1&offset=1", "", "Captain Ren"},
		{"?offset=10", "", ""},
	} {
		if got := names(c.query, c.token); got != c.want {
			t.Errorf("list %s: [%s], want [%s]", c.query, got, c.want)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=abc", "?limit=100000", "?offset=-1"} {
		p := a.do("GET", "/api/v1/characters"+q, "", nil).problem(t, http.StatusBadRequest)
		if len(p.Errors) != 1 || !strings.Contains("?"+p.Errors[0].Path, q[:strings.Index(q, "=")]) {
			t.Errorf("list %s: errors %+v, want the parameter named", q, p.Errors)
		}
	}
}

func TestProblemShapes(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	post := func(body any) ValidationProblem {
		t.Helper()
		r := a.do("POST", "/api/v1/characters", alice, body)
		var p ValidationProblem
		r.json(t, &p)
		return p
	}
	cases := []struct {
		body   any
		status int
		paths  []string
	}{
		{map[string]any{"name": ""}, 422, []string{"name"}},
		{map[string]any{"name": strings.Repeat("x", 129)}, 422, []string{"name"}},
		{map[string]any{"name": "ok", "description": strings.Repeat("d", MaxTextFieldBytes+1)}, 422, []string{"description"}},
		{map[string]any{"name": "ok", "tags": []string{"fine", " "}}, 422, []string{"tags[1]"}},
		{map[string]any{"name": "ok", "visibility": "secret"}, 422, []string{"visibility"}},
		{map[string]any{"name": "", "visibility": "secret"}, 422, []string{"name", "visibility"}},
		{map[string]any{"name": "ok", "character_book": map[string]any{"entries": []any{
			map[string]any{"keys": []string{}, "content": strings.Repeat("c", MaxTextFieldBytes+1)}}}}, 422,
			[]string{"character_book.entries[0].content"}},
		{map[string]any{"name": "ok", "avatar": "aGVsbG8="}, 422, []string{"avatar"}},
		{map[string]any{"name": "ok", "colour": "red"}, 400, []string{"colour"}},
		{map[string]any{"name": "ok", "character_book": map[string]any{"entries": []any{map[string]any{"keyz": []string{}}}}}, 400, []string{"keyz"}},
		{map[string]any{"name": "ok", "tags": "one"}, 400, []string{"tags"}},
		{map[string]any{"name": "ok", "character_book": map[string]any{"entries": []any{map[string]any{"keys": "k"}}}}, 400,
			[]string{"character_book.entries[0].keys"}},
		{`{"name": "ok",`, 400, nil},
		{`{"name": "ok"} {"name": "two"}`, 400, nil},
		{``, 400, nil},
		{`[1,2]`, 400, nil},
	}
	for i, c := range cases {
		p := post(c.body)
		if p.Status != c.status || p.Detail == "" || p.Code == "" {
			t.Errorf("case %d: problem %+v, want status %d", i, p, c.status)
			continue
		}
		for _, path := range c.paths {
			if !hasPath(p, path) {
				t.Errorf("case %d: errors %+v lack path %q", i, p.Errors, path)
			}
		}
	}
	// Bodies over the limit are refused before they are read whole.
	big := `{"name":"big","description":"` + strings.Repeat("x", MaxCharacterBodyBytes) + `"}`
	a.do("POST", "/api/v1/characters", alice, big).problem(t, http.StatusRequestEntityTooLarge)
	// Routes and methods the API does not have answer with problems too.
	r := a.do("POST", "/api/v1/characters/some-id", alice, nil)
	r.problem(t, http.StatusMethodNotAllowed)
	if !strings.Contains(r.header.Get("Allow"), "PUT") {
		t.Errorf("405 Allow %q", r.header.Get("Allow"))
	}
	a.do("GET", "/api/v1/characters/a/b/c/d", "", nil).problem(t, http.StatusNotFound)
	a.do("DELETE", "/api/v1/characters", alice, nil).problem(t, http.StatusMethodNotAllowed)
}

// pngBytes is a real 8×8 PNG padded with a text chunk to n bytes (or
// more, when n is smaller than the picture).
func pngBytes(n int) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	pad := n - len(b) - 12
	if pad < 0 {
		return b
	}
	chunk := binary.BigEndian.AppendUint32(nil, uint32(pad))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, make([]byte, pad)...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	iend := len(b) - 12
	return append(append(append([]byte(nil), b[:iend]...), chunk...), b[iend:]...)
}

func jpegBytes() []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestAvatar(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	v := a.create(alice, map[string]any{"name": "Pic", "visibility": "public"})
	path := "/api/v1/characters/" + v.ID + "/avatar"
	a.do("GET", path, "", nil).problem(t, http.StatusNotFound)

	img := pngBytes(5000)
	r := a.do("PUT", path, alice, img)
	var after CharacterView
	r.json(t, &after)
	if r.status != 200 || after.Revision != 2 || after.AvatarType != "image/png" || after.AvatarURL != path {
		t.Fatalf("PUT avatar: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), `"avatar":`) {
		t.Errorf("character JSON carries the avatar bytes")
	}
	r = a.do("GET", path, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" || !bytes.Equal(r.body, img) {
		t.Fatalf("GET avatar: %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	if r := a.do("PUT", path, alice, jpegBytes()); r.status != 200 {
		t.Fatalf("PUT jpeg avatar: %d %s", r.status, r.body)
	}
	converted := a.do("GET", path, "", nil)
	if converted.header.Get("Content-Type") != "image/png" {
		t.Fatalf("a JPEG avatar is served as %q, want it converted to image/png", converted.header.Get("Content-Type"))
	}
	a.do("PUT", path, alice, []byte("GIF89a.......")).problem(t, http.StatusUnsupportedMediaType)
	a.do("PUT", path, alice, []byte{}).problem(t, http.StatusUnsupportedMediaType)
	a.do("PUT", path, alice, pngBytes(MaxAvatarBytes+1)).problem(t, http.StatusRequestEntityTooLarge)
	// Editing the card fields keeps the picture.
	r = a.do("PUT", "/api/v1/characters/"+v.ID, alice, map[string]any{"name": "Pic 2", "revision": 3})
	if r.status != 200 {
		t.Fatalf("PUT after avatar: %d %s", r.status, r.body)
	}
	if r := a.do("GET", path, "", nil); !bytes.Equal(r.body, converted.body) {
		t.Errorf("avatar lost by an edit of the card fields")
	}
}

func TestAccounts(t *testing.T) {
	a := newTestAPI(t)
	tok, id := a.register("Ada.L")
	r := a.do("POST", "/api/v1/accounts/register", "", AccountRequest{Username: "ada.l", Password: "another password"})
	p := r.problem(t, http.StatusConflict)
	if !hasPath(p, "username") {
		t.Errorf("taken username: %+v", p)
	}
	// Lookalikes of a taken name (issue: "Ilya"/"llya" and "admin"/
	// "admin." could both register).
	a.register("Ilya")
	a.register("admin")
	for _, name := range []string{"llya", "1lya", "adm1n", "ad.min", "AdrnIn"} {
		p := a.do("POST", "/api/v1/accounts/register", "", AccountRequest{Username: name, Password: "another password"}).problem(t, http.StatusConflict)
		if !hasPath(p, "username") || !strings.Contains(p.Detail, name) {
			t.Errorf("lookalike %s: %+v", name, p)
		}
	}
	for _, c := range []struct {
		req  AccountRequest
		path string
	}{
		{AccountRequest{Username: "ab", Password: "long enough"}, "username"},
		{AccountRequest{Username: strings.Repeat("a", 33), Password: "long enough"}, "username"},
		{AccountRequest{Username: "spaces here", Password: "long enough"}, "username"},
		{AccountRequest{Username: "ünïcode", Password: "long enough"}, "username"},
		{AccountRequest{Username: "admin.", Password: "long enough"}, "username"},
		{AccountRequest{Username: "_root", Password: "long enough"}, "username"},
		{AccountRequest{Username: "fine_name", Password: "short"}, "password"},
		{AccountRequest{Username: "fine_name", Password: strings.Repeat("p", MaxPasswordBytes+1)}, "password"},
	} {
		p := a.do("POST", "/api/v1/accounts/register", "", c.req).problem(t, http.StatusUnprocessableEntity)
		if !hasPath(p, c.path) {
			t.Errorf("register %+v: errors %+v, want path %s", c.req, p.Errors, c.path)
		}
	}
	p = a.do("POST", "/api/v1/accounts/register", "", `{"username":"x1234","password":"12345678","admin":true}`).problem(t, 400)
	if !hasPath(p, "admin") {
		t.Errorf("unknown field: %+v", p)
	}

	r = a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "ADA.l", Password: "correct horse"})
	var out AccountResponse
	r.json(t, &out)
	if r.status != 200 || out.PlayerID != id || out.Username != "Ada.L" {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/api/v1/accounts/me", out.Token, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"registered":true`) {
		t.Errorf("me: %d %s", r.status, r.body)
	}
	_ = tok
	a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "ada.l", Password: "wrong horse"}).problem(t, http.StatusUnauthorized)
	if p := a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "ada.l"}).problem(t, 422); !hasPath(p, "password") {
		t.Errorf("login without a password: %+v", p)
	}
	nobody := a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "nobody", Password: "correct horse"}).problem(t, http.StatusUnauthorized)
	if strings.Contains(nobody.Detail, "exist") {
		t.Errorf("login says whether the user exists: %q", nobody.Detail)
	}
	// Attempts per username and address are limited.
	var last response
	for range loginBurst + 1 {
		last = a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "target", Password: "guess guess"})
	}
	last.problem(t, http.StatusTooManyRequests)
	if last.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// Another username from the same address is not locked out.
	a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: "other", Password: "guess guess"}).problem(t, http.StatusUnauthorized)

	// A guest who registers keeps their player ID (and conversations).
	guestTok := a.guestNamed("guest-42")
	r = a.do("POST", "/api/v1/accounts/register", guestTok, AccountRequest{Username: "was_guest", Password: "correct horse"})
	r.json(t, &out)
	if r.status != 201 || out.PlayerID != "guest-42" {
		t.Errorf("guest upgrade: %d %s", r.status, r.body)
	}
	// Registering again with that (now an account's) token makes a new player.
	r = a.do("POST", "/api/v1/accounts/register", guestTok, AccountRequest{Username: "second", Password: "correct horse"})
	r.json(t, &out)
	if r.status != 201 || out.PlayerID == "guest-42" {
		t.Errorf("second account from an account's token: %d %s", r.status, r.body)
	}
}

func TestLoginLimiterCountsFailures(t *testing.T) {
	l := newLoginLimiter()
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	key := "ada\x001.2.3.4"
	for i := range loginBurst {
		if _, ok := l.check(key); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
		l.failed(key)
	}
	wait, ok := l.check(key)
	if ok || wait <= 0 || wait > loginEvery {
		t.Fatalf("attempt past the burst: ok %v wait %v", ok, wait)
	}
	if _, ok := l.check("ada\x005.6.7.8"); !ok {
		t.Errorf("another address is limited too")
	}
	now = now.Add(loginEvery)
	if _, ok := l.check(key); !ok {
		t.Errorf("no attempt allowed after waiting %v", loginEvery)
	}
}

// Device tokens belong to one username and this server's secret.
func TestDeviceTokens(t *testing.T) {
	tok := Tokens{Secret: []byte("0123456789abcdef0123456789abcdef")}
	d := tok.issueDevice("Ada")
	if _, ok := tok.checkDevice("ada", d); !ok {
		t.Fatalf("a device token of Ada is refused for ada: %q", d)
	}
	other := Tokens{Secret: []byte("another secret, another server..")}
	for name, c := range map[string]struct {
		tok      Tokens
		user, dv string
	}{
		"other user":   {tok, "grace", d},
		"other server": {other, "ada", d},
		"no mac":       {tok, "ada", strings.Split(d, ".")[0]},
		"garbage":      {tok, "ada", "x.y"},
		"empty":        {tok, "ada", ""},
	} {
		if _, ok := c.tok.checkDevice(c.user, c.dv); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPasswordHash(t *testing.T) {
	a := newCreatorAPI(&Server{})
	ctx := context.Background()
	h, err := a.hashPassword(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not in the standard encoded form", h)
	}
	h2, _ := a.hashPassword(ctx, "correct horse")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false} {
		if ok, err := a.verifyPassword(ctx, h, pw); err != nil || ok != want {
			t.Errorf("verify %q: %v %v, want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaA"} {
		if _, err := a.verifyPassword(ctx, bad, "x"); err == nil {
			t.Errorf("verify against %q: no error", bad)
		}
	}
}
