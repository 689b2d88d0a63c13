package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	imgpng "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/characters/card"
	"github.com/maopao/maopao/clients/chatclient"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/storage/ferrettest"
)

// creatorClient talks to the creator REST API of a running server.
type creatorClient struct {
	t     *testing.T
	ctx   context.Context
	base  string
	token string
}

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

func (a apiAnswer) decode(t *testing.T, dst any) {
	t.Helper()
	// Card extensions hold numbers no float64 can (1e400, 30-digit ints).
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%.500s", a.status, err, a.body)
	}
}

// problem checks a problem+json answer and returns it.
func (a apiAnswer) problem(t *testing.T, status int) gateway.ValidationProblem {
	t.Helper()
	if a.status != status || a.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer %d (%s), want a %d problem: %.500s", a.status, a.header.Get("Content-Type"), status, a.body)
	}
	var p gateway.ValidationProblem
	a.decode(t, &p)
	if p.Status != status || p.Title == "" || p.Detail == "" || p.Type == "" || p.Code == "" {
		t.Fatalf("problem lacks RFC 9457 members: %+v", p)
	}
	return p
}

func (c *creatorClient) do(method, path, contentType string, body io.Reader) apiAnswer {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return apiAnswer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *creatorClient) json(method, path string, v any) apiAnswer {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(method, path, "application/json", bytes.NewReader(b))
}

func registerCreator(t *testing.T, ctx context.Context, base, name string) *creatorClient {
	t.Helper()
	c := &creatorClient{t: t, ctx: ctx, base: base}
	a := c.json("POST", "/api/v1/accounts/register", gateway.AccountRequest{Username: name, Password: "a long password"})
	if a.status != http.StatusCreated {
		t.Fatalf("register %s: %d %s", name, a.status, a.body)
	}
	var out gateway.AccountResponse
	a.decode(t, &out)
	c.token = out.Token
	return c
}

func (c *creatorClient) importCard(name string, data []byte, visibility string) gateway.ImportResponse {
	c.t.Helper()
	a := c.upload(name, data, visibility)
	if a.status != http.StatusCreated {
		c.t.Fatalf("import %s: %d %s", name, a.status, a.body)
	}
	var out gateway.ImportResponse
	a.decode(c.t, &out)
	return out
}

func (c *creatorClient) upload(name string, data []byte, visibility string) apiAnswer {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if visibility != "" {
		_ = mw.WriteField("visibility", visibility)
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return c.do("POST", "/api/v1/characters/import", mw.FormDataContentType(), &body)
}

func (c *creatorClient) get(id string) maopao.Character {
	c.t.Helper()
	a := c.do("GET", "/api/v1/characters/"+id, "", nil)
	if a.status != 200 {
		c.t.Fatalf("GET %s: %d %s", id, a.status, a.body)
	}
	var v gateway.CharacterView
	a.decode(c.t, &v)
	return v.Character
}

func (c *creatorClient) avatar(id string) []byte {
	c.t.Helper()
	a := c.do("GET", "/api/v1/characters/"+id+"/avatar", "", nil)
	if a.status != 200 {
		c.t.Fatalf("GET avatar of %s: %d %s", id, a.status, a.body)
	}
	return a.body
}

func (c *creatorClient) export(id, format string) []byte {
	c.t.Helper()
	a := c.do("GET", "/api/v1/characters/"+id+"/export?format="+format, "", nil)
	if a.status != 200 {
		c.t.Fatalf("export %s as %s: %d %s", id, format, a.status, a.body)
	}
	if cd := a.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "."+format) {
		c.t.Errorf("export as %s: Content-Disposition %q", format, cd)
	}
	return a.body
}

// cardFields is a character without what the server assigns, for comparing
// what a card carried.
func cardFields(c maopao.Character) maopao.Character {
	c.ID, c.OwnerID, c.Revision, c.Visibility = "", "", 0, ""
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	c.Avatar, c.AvatarType, c.AvatarSize = nil, "", 0
	return c
}

func startCreatorServer(t *testing.T) (string, context.Context) {
	t.Helper()
	return startCreatorServerOn(t, "")
}

// startCreatorServerOn starts a server on the embedded store, or on the
// MongoDB at mongoURI.
func startCreatorServerOn(t *testing.T, mongoURI string) (string, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	srv := startServe(t, t.TempDir(), func(c *app.Config) { c.MongoURI = mongoURI })
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL(), ctx
}

// onEachStore runs a test against a server on each store adapter: the
// embedded one, and MongoDB (FerretDB here, or a real one when
// MAOPAO_TEST_MONGO_URI is set).
func onEachStore(t *testing.T, test func(t *testing.T, base string, ctx context.Context)) {
	t.Run("bolt", func(t *testing.T) {
		base, ctx := startCreatorServerOn(t, "")
		test(t, base, ctx)
	})
	t.Run("mongo", func(t *testing.T) {
		base, ctx := startCreatorServerOn(t, ferrettest.Start(t))
		test(t, base, ctx)
	})
}

// TestCreatorsCardRoundTrip imports cards through the real HTTP API,
// exports them in each format and imports the exports: the card fields
// (lorebooks, extensions with big numbers and odd keys included) and the
// pictures must come back unchanged.
func TestCreatorsCardRoundTrip(t *testing.T) { onEachStore(t, testCardRoundTrip) }

func testCardRoundTrip(t *testing.T, base string, ctx context.Context) {
	alice := registerCreator(t, ctx, base, "alice")

	sources := map[string][]byte{}
	for _, name := range []string{"full_v3.json", "sillytavern_v2.json"} {
		b, err := os.ReadFile(filepath.Join("..", "characters", "card", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		sources[name] = b
	}
	// A PNG and a CHARX made from the V3 card, with a picture.
	first := alice.importCard("full_v3.json", sources["full_v3.json"], "")
	orig := alice.get(first.ID)
	pngCard, err := card.EncodePNG(orig, nil)
	if err != nil {
		t.Fatal(err)
	}
	sources["made.png"] = pngCard
	placeholder := alice.importCard("made.png", pngCard, "")
	pic := alice.avatar(placeholder.ID)
	charx, err := card.EncodeCHARX(orig, nil, pic)
	if err != nil {
		t.Fatal(err)
	}
	sources["made.charx"] = charx

	for name, data := range sources {
		imp := alice.importCard(name, data, "public")
		if imp.Character.Visibility != maopao.VisibilityPublic || imp.Character.Revision != 1 {
			t.Errorf("%s: imported as %+v", name, imp.Character.Character)
		}
		one := alice.get(imp.ID)
		var pic1 []byte
		if one.AvatarType != "" {
			pic1 = alice.avatar(imp.ID)
		}
		for _, format := range []string{"json", "png", "charx"} {
			exported := alice.export(imp.ID, format)
			again := alice.importCard("again."+format, exported, "")
			two := alice.get(again.ID)
			if !reflect.DeepEqual(cardFields(two), cardFields(one)) {
				t.Errorf("%s → %s → import: card fields differ\n got  %+v\n want %+v", name, format, cardFields(two), cardFields(one))
			}
			// A picture survives the formats that carry one.
			if format != "json" && pic1 != nil {
				if pic2 := alice.avatar(again.ID); !bytes.Equal(pic2, pic1) {
					t.Errorf("%s → %s → import: avatar of %d bytes became %d bytes", name, format, len(pic1), len(pic2))
				}
			}
			// Exporting the re-import gives the same file for JSON.
			if format == "json" {
				if b := alice.export(again.ID, "json"); !bytes.Equal(b, exported) {
					t.Errorf("%s: JSON export of the re-import differs from the first export", name)
				}
			}
		}
	}
	// Numbers and keys that defeat naive stores came through the store.
	got := alice.get(first.ID)
	if got.Extensions["big"] != json.Number("123456789012345678901234567890") {
		t.Errorf("big extension number read back as %#v", got.Extensions["big"])
	}
}

// TestCreatorsAuthorizationAndHistory runs the creator rules against a
// real server: guests cannot create, other creators cannot see, edit or
// delete a private character, stale edits are refused, history is kept,
// and the WebSocket list agrees with the REST one.
func TestCreatorsAuthorizationAndHistory(t *testing.T) { onEachStore(t, testAuthorizationAndHistory) }

func testAuthorizationAndHistory(t *testing.T, base string, ctx context.Context) {
	alice := registerCreator(t, ctx, base, "alice")
	bob := registerCreator(t, ctx, base, "Bob")

	guestToken, _, err := chatclient.NewSession(ctx, base, "Guest")
	if err != nil {
		t.Fatal(err)
	}
	guest := &creatorClient{t: t, ctx: ctx, base: base, token: guestToken}
	guest.json("POST", "/api/v1/characters", map[string]any{"name": "Guest's"}).problem(t, http.StatusForbidden)
	anon := &creatorClient{t: t, ctx: ctx, base: base}
	anon.json("POST", "/api/v1/characters", map[string]any{"name": "Nobody's"}).problem(t, http.StatusUnauthorized)

	a := alice.json("POST", "/api/v1/characters", map[string]any{"name": "Secret Fox", "tags": []string{"Fox"}, "first_mes": "Hello."})
	if a.status != http.StatusCreated {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	var secret gateway.CharacterView
	a.decode(t, &secret)
	path := "/api/v1/characters/" + secret.ID
	bob.do("GET", path, "", nil).problem(t, http.StatusNotFound)
	bob.json("PUT", path, map[string]any{"name": "Mine", "revision": 1}).problem(t, http.StatusNotFound)
	bob.do("DELETE", path, "", nil).problem(t, http.StatusNotFound)
	bob.do("GET", path+"/export?format=png", "", nil).problem(t, http.StatusNotFound)

	// Bob's chat client does not list it either, and cannot open it.
	bobChat, err := chatclient.Dial(ctx, base, bob.token)
	if err != nil {
		t.Fatal(err)
	}
	defer bobChat.Close()
	list, err := bobChat.ListCharacters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.ID == secret.ID {
			t.Errorf("bob's WebSocket list shows alice's private character")
		}
	}
	if _, err := bobChat.OpenChat(ctx, secret.ID); err == nil {
		t.Errorf("bob opened a chat with alice's private character")
	}

	// Edits: revisions, conflicts, history.
	a = alice.json("PUT", path, map[string]any{"name": "Public Fox", "tags": []string{"Fox", "forest"}, "visibility": "public", "revision": 1})
	if a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	p := alice.json("PUT", path, map[string]any{"name": "Stale Fox", "revision": 1}).problem(t, http.StatusConflict)
	if !strings.Contains(p.Detail, "revision 2") {
		t.Errorf("conflict detail %q does not name the current revision", p.Detail)
	}
	bob.json("PUT", path, map[string]any{"name": "Bob's Fox", "revision": 2}).problem(t, http.StatusForbidden)
	bob.do("DELETE", path, "", nil).problem(t, http.StatusForbidden)
	if got := bob.get(secret.ID); got.Name != "Public Fox" {
		t.Errorf("bob sees %q", got.Name)
	}
	a = alice.do("GET", path+"/history", "", nil)
	var hist gateway.CharacterHistory
	a.decode(t, &hist)
	if len(hist.Revisions) != 2 || hist.Revisions[0].Name != "Public Fox" || hist.Revisions[1].Name != "Secret Fox" {
		t.Errorf("history: %d %s", a.status, a.body)
	}

	// Search by name, tag and creator, over REST.
	bob.json("POST", "/api/v1/characters", map[string]any{"name": "Bob's Owl", "tags": []string{"forest"}, "visibility": "public"})
	search := func(query string) []string {
		t.Helper()
		a := anon.do("GET", "/api/v1/characters"+query, "", nil)
		var l gateway.CharacterList
		a.decode(t, &l)
		var names []string
		for _, c := range l.Characters {
			names = append(names, c.Name)
		}
		return names
	}
	for q, want := range map[string]string{
		"?q=fox":          "[Public Fox]",
		"?tag=FOREST":     "[Bob's Owl Public Fox]",
		"?creator=bob":    "[Bob's Owl]",
		"?q=lin":          "[Lin Xiaoyu]", // built-ins are listed too
		"?tag=forest&q=o": "[Bob's Owl Public Fox]",
	} {
		if got := fmt.Sprint(search(q)); got != want {
			t.Errorf("search %s: %s, want %s", q, got, want)
		}
	}
	// Built-ins stay read-only.
	anonList := search("?q=lin")
	_ = anonList
	builtins := anon.do("GET", "/api/v1/characters?creator=Maopao", "", nil)
	var bl gateway.CharacterList
	builtins.decode(t, &bl)
	if len(bl.Characters) == 0 {
		t.Fatal("no built-in characters listed")
	}
	alice.json("PUT", "/api/v1/characters/"+bl.Characters[0].ID, map[string]any{"name": "Mine", "revision": 1}).problem(t, http.StatusForbidden)

	if a := alice.do("DELETE", path, "", nil); a.status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", a.status, a.body)
	}
	alice.do("GET", path+"/history", "", nil).problem(t, http.StatusNotFound)
}

// TestCreatorsLimitsAndProblems checks the limits and error shapes over
// real HTTP: field paths in validation problems, 413 for oversized bodies,
// uploads and avatars, 415 for pictures that are not PNG or JPEG.
func TestCreatorsLimitsAndProblems(t *testing.T) {
	base, ctx := startCreatorServer(t)
	alice := registerCreator(t, ctx, base, "alice")

	p := alice.json("POST", "/api/v1/characters", map[string]any{"name": "", "tags": []string{"ok", ""}}).problem(t, http.StatusUnprocessableEntity)
	paths := map[string]bool{}
	for _, e := range p.Errors {
		paths[e.Path] = true
	}
	if !paths["name"] || !paths["tags[1]"] {
		t.Errorf("validation errors %+v, want paths name and tags[1]", p.Errors)
	}
	p = alice.json("POST", "/api/v1/characters", map[string]any{"name": "x", "favourite_colour": "red"}).problem(t, http.StatusBadRequest)
	if len(p.Errors) != 1 || p.Errors[0].Path != "favourite_colour" {
		t.Errorf("unknown field: %+v", p)
	}
	p = alice.json("POST", "/api/v1/accounts/register", map[string]any{"username": "a b", "password": "short"}).problem(t, http.StatusUnprocessableEntity)
	if len(p.Errors) != 2 {
		t.Errorf("register with a bad name and password: %+v", p.Errors)
	}
	// A card whose field breaks the card rules names the field.
	bad := []byte(`{"spec":"chara_card_v2","spec_version":"2.0","data":{"name":"x","tags":"not a list"}}`)
	p = alice.upload("bad.json", bad, "").problem(t, http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0].Path, "data.") {
		t.Errorf("bad card: %+v", p)
	}
	alice.upload("junk.bin", []byte("neither json nor png nor zip"), "").problem(t, http.StatusUnprocessableEntity)
	alice.upload("huge.json", bytes.Repeat([]byte(" "), gateway.MaxImportBytes+1), "").problem(t, http.StatusRequestEntityTooLarge)
	alice.do("POST", "/api/v1/characters/import", "application/json", strings.NewReader("{}")).problem(t, http.StatusUnsupportedMediaType)

	huge := `{"name":"x","description":"` + strings.Repeat("d", gateway.MaxCharacterBodyBytes) + `"}`
	alice.do("POST", "/api/v1/characters", "application/json", strings.NewReader(huge)).problem(t, http.StatusRequestEntityTooLarge)

	a := alice.json("POST", "/api/v1/characters", map[string]any{"name": "Pic"})
	var v gateway.CharacterView
	a.decode(t, &v)
	avatarPath := "/api/v1/characters/" + v.ID + "/avatar"
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, gateway.MaxAvatarBytes)...)
	alice.do("PUT", avatarPath, "image/png", bytes.NewReader(png)).problem(t, http.StatusRequestEntityTooLarge)
	alice.do("PUT", avatarPath, "image/png", strings.NewReader("GIF89a not a png")).problem(t, http.StatusUnsupportedMediaType)
	var small bytes.Buffer
	if err := imgpng.Encode(&small, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	if a := alice.do("PUT", avatarPath, "image/png", bytes.NewReader(small.Bytes())); a.status != 200 {
		t.Fatalf("PUT avatar: %d %s", a.status, a.body)
	}
	if got := alice.avatar(v.ID); !bytes.Equal(got, small.Bytes()) {
		t.Errorf("avatar read back as %d bytes", len(got))
	}
}
