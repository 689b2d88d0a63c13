package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

// Issue returns a token naming playerID.
func (t Tokens) Issue(playerID string) (string, time.Time, error) {
	exp := t.now().Add(TokenTTL)
	claims := jwt.RegisteredClaims{
		Subject:   playerID,
		Issuer:    issuer,
		IssuedAt:  jwt.NewNumericDate(t.now()),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.Secret)
	return s, exp, err
}

// ErrBadToken is returned (wrapped) for any token that does not verify.
var ErrBadToken = errors.New("bad token")

// Verify returns the player ID a valid token names.
func (t Tokens) Verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if claims.Subject == "" {
		return "", fmt.Errorf("%w: no subject", ErrBadToken)
	}
	return claims.Subject, nil
}
