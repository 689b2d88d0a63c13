package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

// TokenTTL is how long a player token stays valid.
const TokenTTL = 90 * 24 * time.Hour

const secretSetting = "gateway.jwt_secret"

// LoadOrCreateSecret returns the token-signing secret kept in the store,
// creating it on first use. Every gateway sharing a store agrees on it.
func LoadOrCreateSecret(ctx context.Context, kv storage.KV) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("gateway: generate token secret: %w", err)
	}
	s, err := kv.PutSettingIfAbsent(ctx, secretSetting, fresh)
	if err != nil {
		return nil, fmt.Errorf("gateway: keep token secret: %w", err)
	}
	return s, nil
}

// Tokens signs and checks player tokens (HMAC-SHA256 JWTs).
type Tokens struct {
	Secret []byte
	Now    func() time.Time // nil: time.Now
}

const issuer = "maopao"

func (t Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// claims are a player token's: the player, and for a registered account
// the account's token version, which revocation raises.
type claims struct {
	jwt.RegisteredClaims
	Account bool `json:"acct,omitempty"`
	Version int  `json:"ver,omitempty"`
}

// Issue returns a guest's token naming playerID.
func (t Tokens) Issue(playerID string) (string, time.Time, error) {
	return t.issue(claims{RegisteredClaims: jwt.RegisteredClaims{Subject: playerID}})
}

// IssueAccount returns a token for a registered account, valid until the
// account's token version changes.
func (t Tokens) IssueAccount(a maopao.Account) (string, time.Time, error) {
	return t.issue(claims{RegisteredClaims: jwt.RegisteredClaims{Subject: a.PlayerID}, Account: true, Version: a.TokenVersion})
}

func (t Tokens) issue(c claims) (string, time.Time, error) {
	exp := t.now().Add(TokenTTL)
	c.Issuer = issuer
	c.IssuedAt = jwt.NewNumericDate(t.now())
	c.ExpiresAt = jwt.NewNumericDate(exp)
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.Secret)
	return s, exp, err
}

// ErrBadToken is returned (wrapped) for any token that does not verify.
var ErrBadToken = errors.New("bad token")

// Verify returns the player ID a valid token names. It checks the
// signature and expiry only: Server.verifyToken also checks revocation.
func (t Tokens) Verify(token string) (string, error) {
	c, err := t.parse(token)
	return c.Subject, err
}

func (t Tokens) parse(token string) (claims, error) {
	var claims claims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return claims, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if claims.Subject == "" {
		return claims, fmt.Errorf("%w: no subject", ErrBadToken)
	}
	return claims, nil
}

// errRevoked is why a well-signed token of a registered account fails.
var errRevoked = fmt.Errorf("%w: revoked (signed out everywhere) or the account is gone", ErrBadToken)

// verifyToken is Tokens.Verify plus revocation: a token of a player who
// has an account must carry the account's current token version (a guest
// token of a player who registered later counts as version 0), an account
// token whose account is gone is refused, and so is a guest token whose
// player is gone (a deleted account's guest tokens from before it
// registered).
func (s *Server) verifyToken(ctx context.Context, token string) (string, error) {
	c, err := s.tokens.parse(token)
	if err != nil {
		return "", err
	}
	acc, err := s.Store.GetAccount(ctx, c.Subject)
	switch {
	case errors.Is(err, maopao.ErrNotFound):
		if c.Account {
			return "", errRevoked
		}
		if _, err := s.Store.GetPlayer(ctx, c.Subject); errors.Is(err, maopao.ErrNotFound) {
			return "", errRevoked
		} else if err != nil {
			return "", err
		}
		return c.Subject, nil
	case err != nil:
		return "", err
	case acc.TokenVersion != c.Version:
		return "", errRevoked
	}
	return c.Subject, nil
}

// issueDevice returns a device token for username: a random id and its
// HMAC under the token secret, so only this server's gateways make valid
// ones and a device token of one account says nothing about another.
func (t Tokens) issueDevice(username string) string {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "" // no device token: logins fall back to the address budget
	}
	nonce := base64.RawURLEncoding.EncodeToString(id)
	return nonce + "." + t.deviceMAC(username, nonce)
}

// checkDevice reports whether device is a device token issued for
// username, returning it.
func (t Tokens) checkDevice(username, device string) (string, bool) {
	nonce, mac, ok := strings.Cut(device, ".")
	if !ok || nonce == "" || len(device) > 200 {
		return "", false
	}
	if !hmac.Equal([]byte(mac), []byte(t.deviceMAC(username, nonce))) {
		return "", false
	}
	return device, true
}

func (t Tokens) deviceMAC(username, nonce string) string {
	h := hmac.New(sha256.New, t.Secret)
	h.Write([]byte("maopao device\x00" + strings.ToLower(username) + "\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
