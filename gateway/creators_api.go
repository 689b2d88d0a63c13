package gateway

import (
	"errors"
	"net/http"
	"slices"
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
	// speechCache keeps spoken sentences (speech_api.go).
	speechCache audioCache
	routes      []route // what register mounted, for the 405 answers
	// avatarQuota is MaxAvatarBytesPerAccount (smaller in tests).
	avatarQuota int
}

func newCreatorAPI(s *Server) *creatorAPI {
	return &creatorAPI{s: s, logins: newLoginLimiter(), loginsFrom: newKeyedLimiter(rate.Every(loginsFromEvery), loginsFromBurst), hashSlots: make(chan struct{}, maxConcurrentHashes),
		exports: newExportCache(exportCacheBytes), avatarQuota: MaxAvatarBytesPerAccount}
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
	if method, path, ok := strings.Cut(pattern, " "); ok {
		a.routes = append(a.routes, route{method: method, shape: shapeOf(path)})
	}
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
	a.handle(mux, "POST /api/v1/accounts/revoke-tokens", a.handleRevokeTokens)
	a.handle(mux, "DELETE /api/v1/accounts/me", a.handleDeleteAccount)

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
	a.registerMemories(mux)
	a.registerPictures(mux)
	a.registerSpeech(mux)
	a.registerModels(mux)

	// Whatever the patterns above do not take gets a problem too, rather
	// than net/http's plain-text 404 or 405: a 405 names the methods the
	// routes above take at that path.
	seen := map[string]bool{}
	for _, rt := range a.routes {
		top := "/api/v1/" + strings.SplitN(strings.Join(rt.shape, "/"), "/", 2)[0]
		for _, prefix := range []string{top, top + "/"} {
			if !seen[prefix] {
				seen[prefix] = true
				a.handle(mux, prefix, a.handleUnmatched)
			}
		}
	}
}

// route is a registered method and path, the path as segments after
// /api/v1/ with "*" for each {wildcard}.
type route struct {
	method string
	shape  []string
}

func shapeOf(path string) []string {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(path, "/api/v1/"), "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "*"
		}
	}
	return segs
}

func (a *creatorAPI) handleUnmatched(w http.ResponseWriter, r *http.Request) *apiError {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/"), "/")
	var allow []string
	for _, rt := range a.routes {
		if len(rt.shape) != len(segs) {
			continue
		}
		match := true
		for i := range rt.shape {
			if rt.shape[i] != "*" && rt.shape[i] != segs[i] {
				match = false
				break
			}
		}
		if match && !slices.Contains(allow, rt.method) {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) > 0 {
		list := strings.Join(allow, ", ")
		w.Header().Set("Allow", list)
		return problemf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "%s %s: use %s", r.Method, r.URL.Path, list)
	}
	return problemf(http.StatusNotFound, codeNotFound, "no API endpoint at %s", r.URL.Path)
}

// viewer returns the player a request's bearer token names, "" when it has
// none. A token that is present but does not verify is an error, not an
// anonymous request: a client with an expired token should learn so.
func (s *Server) viewer(r *http.Request) (string, *apiError) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", unauthenticated(protocol.CodeBadToken, "the Authorization header must be \"Bearer <token>\"")
	}
	id, err := s.verifyToken(r.Context(), strings.TrimSpace(token))
	if errors.Is(err, errRevoked) {
		return "", unauthenticated(protocol.CodeBadToken, "the token was revoked (signed out everywhere); log in again")
	}
	if errors.Is(err, ErrBadToken) {
		return "", unauthenticated(protocol.CodeBadToken, "the token is not valid (expired, or from another server); log in again")
	}
	if err != nil {
		s.Log.Error("check token", "err", err)
		return "", problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "checking the token failed; try again")
	}
	return id, nil
}

// player is viewer for endpoints that need someone signed in.
func (s *Server) player(r *http.Request) (string, *apiError) {
	id, e := s.viewer(r)
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
func (s *Server) creator(r *http.Request) (maopao.Account, *apiError) {
	id, e := s.player(r)
	if e != nil {
		return maopao.Account{}, e
	}
	acc, err := s.Store.GetAccount(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) {
		return maopao.Account{}, problemf(http.StatusForbidden, codeForbidden,
			"guests cannot create or edit characters: register with POST /api/v1/accounts/register")
	}
	if err != nil {
		s.Log.Error("look up account", "err", err)
		return maopao.Account{}, problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "look up account failed; try again")
	}
	return acc, nil
}

// storeError turns an unexpected store failure into a 503, logging it.
func (a *creatorAPI) storeError(what string, err error) *apiError {
	a.s.Log.Error("creator API: "+what, "err", err)
	return problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "%s failed; try again", what)
}
