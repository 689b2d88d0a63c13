package gateway

import (
	"errors"
	"net/http"
	"strings"

	"golang.org/x/time/rate"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

// creatorAPI is the REST API for accounts and characters. Its state (the
// login rate limiter, the password-hashing slots) lives here rather than in
// Server, so the API is one self-contained piece mounted by
// registerCreatorAPI.
type creatorAPI struct {
	s      *Server
	logins *loginLimiter
	// loginsFrom bounds login attempts per address, over all usernames.
	loginsFrom *keyedLimiter
	// hashSlots bounds concurrent argon2 computations: each takes
	// argonMemoryKiB of memory, so unbounded logins would be a memory DoS.
	hashSlots chan struct{}
	exports   *exportCache
}

func newCreatorAPI(s *Server) *creatorAPI {
	return &creatorAPI{s: s, logins: newLoginLimiter(), loginsFrom: newKeyedLimiter(rate.Every(loginsFromEvery), loginsFromBurst), hashSlots: make(chan struct{}, maxConcurrentHashes),
		exports: newExportCache(exportCacheBytes)}
}

// registerCreatorAPI mounts the character and account REST API
// (/api/v1/characters..., /api/v1/accounts...).
func (s *Server) registerCreatorAPI(mux *http.ServeMux) {
	a := newCreatorAPI(s)
	a.register(mux)
}

type apiHandler func(w http.ResponseWriter, r *http.Request) *apiError

func (a *creatorAPI) handle(mux *http.ServeMux, pattern string, h apiHandler) {
	// A character written, deleted or given a picture changes what
	// players' lists show: they are told, and ask again.
	changesCharacters := strings.HasPrefix(pattern, "POST /api/v1/characters") || strings.HasPrefix(pattern, "PUT /api/v1/characters") ||
		strings.HasPrefix(pattern, "PATCH /api/v1/characters") || strings.HasPrefix(pattern, "DELETE /api/v1/characters")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		e := h(w, r)
		if e != nil {
			writeAPIError(w, e)
			return
		}
		if changesCharacters {
			a.s.charactersChanged()
		}
	})
}

func (a *creatorAPI) register(mux *http.ServeMux) {
	a.handle(mux, "POST /api/v1/accounts/register", a.handleRegister)
	a.handle(mux, "POST /api/v1/accounts/login", a.handleLogin)
	a.handle(mux, "GET /api/v1/accounts/me", a.handleMe)

	a.handle(mux, "GET /api/v1/characters", a.handleList)
	a.handle(mux, "POST /api/v1/characters", a.handleCreate)
	a.handle(mux, "POST /api/v1/characters/import", a.handleImport)
	a.handle(mux, "GET /api/v1/characters/{id}", a.handleGet)
	a.handle(mux, "PUT /api/v1/characters/{id}", a.handlePut)
	a.handle(mux, "PATCH /api/v1/characters/{id}", a.handlePatch)
	a.handle(mux, "DELETE /api/v1/characters/{id}", a.handleDelete)
	a.handle(mux, "GET /api/v1/characters/{id}/history", a.handleHistory)
	a.handle(mux, "GET /api/v1/characters/{id}/history/{rev}", a.handleRevision)
	a.handle(mux, "GET /api/v1/characters/{id}/avatar", a.handleGetAvatar)
	a.handle(mux, "PUT /api/v1/characters/{id}/avatar", a.handlePutAvatar)
	a.handle(mux, "GET /api/v1/characters/{id}/export", a.handleExport)

	a.registerWorlds(mux)
	a.registerChats(mux)
	a.registerModels(mux)

	// Whatever the patterns above do not take gets a problem too, rather
	// than net/http's plain-text 404 or 405.
	for _, prefix := range []string{"/api/v1/characters", "/api/v1/characters/", "/api/v1/accounts/", "/api/v1/worlds", "/api/v1/worlds/", "/api/v1/chats/", "/api/v1/models", "/api/v1/models/"} {
		a.handle(mux, prefix, a.handleUnmatched)
	}
}

// knownRoutes are the creator API's paths (as segment shapes) and their
// methods, for the 405 answers of handleUnmatched.
var knownRoutes = []struct {
	shape, allow string
}{
	{"accounts/register", "POST"}, {"accounts/login", "POST"}, {"accounts/me", "GET"},
	{"characters", "GET, POST"}, {"characters/import", "POST"},
	{"characters/*", "GET, PUT, PATCH, DELETE"}, {"characters/*/history", "GET"},
	{"characters/*/history/*", "GET"}, {"characters/*/avatar", "GET, PUT"}, {"characters/*/export", "GET"},
	{"worlds", "GET, POST"}, {"worlds/*", "GET, PUT, DELETE"},
	{"chats/import", "POST"}, {"chats/*/export", "GET"}, {"models", "GET"}, {"models/pull", "POST"},
}

func (a *creatorAPI) handleUnmatched(w http.ResponseWriter, r *http.Request) *apiError {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/"), "/")
	for _, route := range knownRoutes {
		shape := strings.Split(route.shape, "/")
		if len(shape) != len(segs) {
			continue
		}
		match := true
		for i := range shape {
			if shape[i] != "*" && shape[i] != segs[i] {
				match = false
				break
			}
		}
		if match {
			w.Header().Set("Allow", route.allow)
			return problemf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "%s %s: use %s", r.Method, r.URL.Path, route.allow)
		}
	}
	return problemf(http.StatusNotFound, codeNotFound, "no API endpoint at %s", r.URL.Path)
}

// viewer returns the player a request's bearer token names, "" when it has
// none. A token that is present but does not verify is an error, not an
// anonymous request: a client with an expired token should learn so.
func (a *creatorAPI) viewer(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthenticated(protocol.CodeBadToken, "the Authorization header must be \"Bearer <token>\"")
	}
	id, err := a.s.tokens.Verify(strings.TrimSpace(token))
	if err != nil {
		return "", unauthenticated(protocol.CodeBadToken, "the token is not valid (expired, or from another server); log in again")
	}
	return id, nil
}

// player is viewer for endpoints that need someone signed in.
func (a *creatorAPI) player(r *http.Request) (string, *apiError) {
	id, e := a.viewer(r)
	if e == nil && id == "" {
		e = unauthenticated(protocol.CodeUnauthenticated, "sign in: send \"Authorization: Bearer <token>\"")
	}
	return id, e
}

func unauthenticated(code, detail string) *apiError {
	e := problemf(http.StatusUnauthorized, code, "%s", detail)
	e.header = http.Header{"Www-Authenticate": {`Bearer realm="maopao"`}}
	return e
}

// creator is player for endpoints that need a registered account, which
// guests do not have.
func (a *creatorAPI) creator(r *http.Request) (maopao.Account, *apiError) {
	id, e := a.player(r)
	if e != nil {
		return maopao.Account{}, e
	}
	acc, err := a.s.Store.GetAccount(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) {
		return maopao.Account{}, problemf(http.StatusForbidden, codeForbidden,
			"guests cannot create or edit characters: register with POST /api/v1/accounts/register")
	}
	if err != nil {
		return maopao.Account{}, a.storeError("look up account", err)
	}
	return acc, nil
}

// storeError turns an unexpected store failure into a 503, logging it.
func (a *creatorAPI) storeError(what string, err error) *apiError {
	a.s.Log.Error("creator API: "+what, "err", err)
	return problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "%s failed; try again", what)
}
