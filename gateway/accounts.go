package gateway

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"
	"golang.org/x/time/rate"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

// Account rules.
const (
	MinUsernameLen   = 3
	MaxUsernameLen   = 32
	MinPasswordRunes = 8
	MaxPasswordBytes = 1024 // argon2 takes any length; this bounds the work a request can ask for
	maxAccountBody   = 4096
)

// maxConcurrentHashes bounds argon2 runs at once: each takes argonMemoryKiB.
const maxConcurrentHashes = 4

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
// 1 lane). Stored hashes carry their own parameters, so raising these later
// keeps old passwords working.
const (
	argonTime      = 2
	argonMemoryKiB = 19 * 1024
	argonThreads   = 1
	argonKeyLen    = 32
	argonSaltLen   = 16
)

// Login attempts per username and client address: a burst of loginBurst,
// then one every loginEvery.
const (
	loginBurst = 5
	loginEvery = 12 * time.Second
)

// AccountRequest is the body of register and login.
type AccountRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Device is the device token an earlier login on this device got
	// (AccountResponse.Device). With it, failed logins from elsewhere
	// behind the same address (a NAT, a proxy) cannot lock this device out.
	Device string `json:"device,omitempty"`
}

// AccountResponse answers register and login.
type AccountResponse struct {
	Token     string    `json:"token"`
	PlayerID  string    `json:"player_id"`
	Username  string    `json:"username"`
	ExpiresAt time.Time `json:"expires_at"`
	// Device marks this device as one that logged in to the account: send
	// it with later logins (AccountRequest.Device).
	Device string `json:"device,omitempty"`
}

func validUsername(name string) *FieldError {
	if n := len(name); n < MinUsernameLen || n > MaxUsernameLen {
		return &FieldError{Path: "username", Message: fmt.Sprintf("%d characters; want %d to %d", utf8.RuneCountInString(name), MinUsernameLen, MaxUsernameLen)}
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return &FieldError{Path: "username", Message: fmt.Sprintf("character %q at %d: use letters a-z, digits, '_', '-' and '.'", r, i)}
		}
	}
	// A separator at either end is easy to miss ("admin." beside "admin").
	if first, last := name[0], name[len(name)-1]; isSeparator(first) || isSeparator(last) {
		return &FieldError{Path: "username", Message: "begin and end with a letter or a digit"}
	}
	return nil
}

func isSeparator(c byte) bool { return c == '_' || c == '-' || c == '.' }

func validPassword(pw string) *FieldError {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordRunes:
		return &FieldError{Path: "password", Message: fmt.Sprintf("at least %d characters", MinPasswordRunes)}
	case len(pw) > MaxPasswordBytes:
		return &FieldError{Path: "password", Message: fmt.Sprintf("at most %d bytes", MaxPasswordBytes)}
	}
	return nil
}

// handleRegister creates an account. A request carrying a guest's token
// turns that guest into the account (keeping its conversations); otherwise
// (no token, or an account's token) a new player is made.
func (a *creatorAPI) handleRegister(w http.ResponseWriter, r *http.Request) *apiError {
	if wait, ok := a.s.sessions.allow(clientIP(r)); !ok {
		return retryAfter(wait, "new accounts")
	}
	var req AccountRequest
	if e := decodeJSONBody(w, r, maxAccountBody, &req); e != nil {
		return e
	}
	var errs []FieldError
	if fe := validUsername(req.Username); fe != nil {
		errs = append(errs, *fe)
	}
	if fe := validPassword(req.Password); fe != nil {
		errs = append(errs, *fe)
	}
	if len(errs) > 0 {
		return invalidFields(errs)
	}
	ctx := r.Context()
	playerID, e := a.s.viewer(r)
	if e != nil {
		return e
	}
	if playerID != "" {
		// Only a guest is upgraded; a token of another account means the
		// same client registers a second account, which gets a new player.
		if _, err := a.s.Store.GetAccount(ctx, playerID); err == nil {
			playerID = ""
		} else if !errors.Is(err, maopao.ErrNotFound) {
			return a.storeError("look up account", err)
		}
	}
	if _, err := a.s.Store.GetAccountByUsername(ctx, req.Username); err == nil {
		return usernameTaken(req.Username)
	}
	hash, err := a.hashPassword(ctx, req.Password)
	if err != nil {
		return problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "could not hash the password: %v", err)
	}
	now := time.Now().UTC()
	if playerID == "" {
		playerID = uuid.NewString()
		if err := a.s.Store.PutPlayer(ctx, maopao.Player{ID: playerID, Name: req.Username, CreatedAt: now}); err != nil {
			return a.storeError("create player", err)
		}
	}
	err = a.s.Store.CreateAccount(ctx, maopao.Account{PlayerID: playerID, Username: req.Username, PasswordHash: hash, CreatedAt: now})
	if errors.Is(err, maopao.ErrConflict) {
		return usernameTaken(req.Username)
	}
	if err != nil {
		return a.storeError("create account", err)
	}
	return a.writeToken(w, http.StatusCreated, maopao.Account{PlayerID: playerID, Username: req.Username})
}

func usernameTaken(name string) *apiError {
	e := problemf(http.StatusConflict, codeConflict, "username %q is taken, or looks too much like one that is", name)
	e.errs = []FieldError{{Path: "username", Message: "taken: usernames are compared ignoring case, '.', '-', '_' and letters drawn alike (I, l and 1; O and 0; rn and m; vv and w)"}}
	return e
}

func (a *creatorAPI) writeToken(w http.ResponseWriter, status int, acc maopao.Account) *apiError {
	return a.writeTokenOn(w, status, acc, a.s.tokens.issueDevice(acc.Username))
}

// writeTokenOn answers with a token for acc and the device token device.
func (a *creatorAPI) writeTokenOn(w http.ResponseWriter, status int, acc maopao.Account, device string) *apiError {
	tok, exp, err := a.s.tokens.IssueAccount(acc)
	if err != nil {
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "sign token")
	}
	writeToken(w, status, AccountResponse{Token: tok, PlayerID: acc.PlayerID, Username: acc.Username, ExpiresAt: exp, Device: device})
	return nil
}

// handleRevokeTokens signs the account out everywhere: every token issued
// before stops working, on every gateway, and the answer carries a new one
// for the caller.
func (a *creatorAPI) handleRevokeTokens(w http.ResponseWriter, r *http.Request) *apiError {
	acc, e := a.s.creator(r)
	if e != nil {
		return e
	}
	acc, err := a.s.Store.RevokeTokens(r.Context(), acc.PlayerID)
	if err != nil {
		return a.storeError("revoke tokens", err)
	}
	return a.writeToken(w, http.StatusOK, acc)
}

// dummyHash is verified against when a username does not exist, so a login
// takes as long whether or not it does.
var dummyHash = sync.OnceValue(func() string {
	return encodeArgon2id(make([]byte, argonSaltLen), []byte("no such user"), argonTime, argonMemoryKiB, argonThreads)
})

func (a *creatorAPI) handleLogin(w http.ResponseWriter, r *http.Request) *apiError {
	var req AccountRequest
	if e := decodeJSONBody(w, r, maxAccountBody, &req); e != nil {
		return e
	}
	var missing []FieldError
	for _, f := range []struct{ path, value string }{{"username", req.Username}, {"password", req.Password}} {
		if f.value == "" {
			missing = append(missing, FieldError{Path: f.path, Message: "required"})
		}
	}
	if len(missing) > 0 {
		return invalidFields(missing)
	}
	if len(req.Username) > MaxUsernameLen || len(req.Password) > MaxPasswordBytes {
		// No account can have these; say no more than for a wrong password.
		return problemf(http.StatusUnauthorized, codeBadCredentials, "wrong username or password")
	}
	// Every login costs an argon2 hash, whatever the username: one
	// address trying many usernames is limited as a whole, so it cannot
	// keep the hashing slots from everyone else.
	if wait, ok := a.loginsFrom.allow(clientIP(r)); !ok {
		return retryAfter(wait, "login attempts")
	}
	// Failed attempts are counted per username and address, or per
	// username and device for a device that logged in before: the owner's
	// device is not locked out by someone guessing behind the same NAT.
	key := strings.ToLower(req.Username) + "\x00" + clientIP(r)
	device, known := a.s.tokens.checkDevice(req.Username, req.Device)
	if known {
		key = strings.ToLower(req.Username) + "\x00device\x00" + req.Device
	}
	if wait, ok := a.logins.check(key); !ok {
		e := problemf(http.StatusTooManyRequests, protocol.CodeRateLimited, "too many failed logins for %q; retry in %s", req.Username, wait.Round(time.Second))
		e.header = http.Header{"Retry-After": {strconv.Itoa(int(wait.Seconds()) + 1)}}
		return e
	}
	ctx := r.Context()
	acc, err := a.s.Store.GetAccountByUsername(ctx, req.Username)
	stored := acc.PasswordHash
	if errors.Is(err, maopao.ErrNotFound) {
		stored = dummyHash()
	} else if err != nil {
		return a.storeError("look up account", err)
	}
	ok, verr := a.verifyPassword(ctx, stored, req.Password)
	if verr != nil && !errors.Is(err, maopao.ErrNotFound) {
		a.s.Log.Error("creator API: stored password hash unreadable", "player", acc.PlayerID, "err", verr)
	}
	if err != nil || !ok {
		a.logins.failed(key)
		return problemf(http.StatusUnauthorized, codeBadCredentials, "wrong username or password")
	}
	if !known {
		device = a.s.tokens.issueDevice(acc.Username)
	}
	return a.writeTokenOn(w, http.StatusOK, acc, device)
}

// handleMe says who a token belongs to.
func (a *creatorAPI) handleMe(w http.ResponseWriter, r *http.Request) *apiError {
	id, e := a.s.player(r)
	if e != nil {
		return e
	}
	out := map[string]any{"player_id": id, "registered": false}
	acc, err := a.s.Store.GetAccount(r.Context(), id)
	switch {
	case err == nil:
		out["registered"], out["username"] = true, acc.Username
	case !errors.Is(err, maopao.ErrNotFound):
		return a.storeError("look up account", err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// hashPassword returns the argon2id hash in the PHC string form
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash) that other tools read.
func (a *creatorAPI) hashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := a.acquireHashSlot(ctx); err != nil {
		return "", err
	}
	defer a.releaseHashSlot()
	return encodeArgon2id(salt, []byte(pw), argonTime, argonMemoryKiB, argonThreads), nil
}

func (a *creatorAPI) acquireHashSlot(ctx context.Context) error {
	select {
	case a.hashSlots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *creatorAPI) releaseHashSlot() { <-a.hashSlots }

func encodeArgon2id(salt, pw []byte, t, m uint32, p uint8) string {
	key := argon2.IDKey(pw, salt, t, m, p, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// verifyPassword checks pw against an encoded argon2id hash in constant
// time. Parameters come from the hash, within bounds, so a corrupt record
// cannot make one login allocate gigabytes.
func (a *creatorAPI) verifyPassword(ctx context.Context, encoded, pw string) (bool, error) {
	salt, key, t, m, p, err := parseArgon2id(encoded)
	if err != nil {
		return false, err
	}
	if err := a.acquireHashSlot(ctx); err != nil {
		return false, err
	}
	defer a.releaseHashSlot()
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func parseArgon2id(encoded string) (salt, key []byte, t, m uint32, p uint8, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, nil, 0, 0, 0, errors.New("not an argon2id hash")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, nil, 0, 0, 0, fmt.Errorf("argon2 version %q, want v=%d", parts[2], argon2.Version)
	}
	var mm, tt, pp uint64
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mm, &tt, &pp); err != nil {
		return nil, nil, 0, 0, 0, fmt.Errorf("argon2 parameters %q: %v", parts[3], err)
	}
	if mm < 8 || mm > 1<<20 || tt < 1 || tt > 16 || pp < 1 || pp > 16 {
		return nil, nil, 0, 0, 0, fmt.Errorf("argon2 parameters %q out of bounds", parts[3])
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return nil, nil, 0, 0, 0, fmt.Errorf("argon2 salt unreadable or short")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 128 {
		return nil, nil, 0, 0, 0, fmt.Errorf("argon2 hash unreadable or of odd length")
	}
	return salt, key, uint32(tt), uint32(mm), uint8(pp), nil
}

// loginLimiter keeps a token bucket per (username, client address), so
// guessing one account's password is slow from any one address, and one
// address hammering many usernames does not lock out their owners
// elsewhere.
type loginLimiter struct{ *keyedLimiter }

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{newKeyedLimiter(rate.Every(loginEvery), loginBurst)}
}

// failed spends one attempt of key's budget: only failures count, so
// logging in with the right password never uses it up.
func (l *loginLimiter) failed(key string) { l.keyedLimiter.allow(key) }
