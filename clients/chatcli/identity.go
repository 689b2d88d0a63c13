package chatcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Identity is a guest player identity kept between runs so that a later run
// continues the same conversations.
type Identity struct {
	URL      string `json:"url"`
	Token    string `json:"token"`
	PlayerID string `json:"player_id"`
	// Device is the account login's device token (sent with later logins
	// so failed guesses from the same address cannot lock this one out).
	Device string `json:"device,omitempty"`
}

// DefaultIdentityPath is where the identity for the server at baseURL lives:
// maopao/identity-<host>_<port>.json under the user's config directory
// ($XDG_CONFIG_HOME, else ~/.config on Linux).
func DefaultIdentityPath(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server URL %q: want http(s)://host[:port]", baseURL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443"}[u.Scheme]
		if port == "" {
			port = "80"
		}
	}
	name := "identity-" + sanitize(u.Hostname()) + "_" + port + ".json"
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find config directory (or pass --identity): %w", err)
	}
	return filepath.Join(dir, "maopao", name), nil
}

// sanitize keeps host names (including IPv6 literals) safe as file names.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, s)
}

// LoadIdentity reads an identity file. A missing file is not an error: it
// returns the zero Identity.
func LoadIdentity(path string) (Identity, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Identity{}, nil
	}
	if err != nil {
		return Identity{}, fmt.Errorf("identity file: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(data, &id); err != nil {
		return Identity{}, fmt.Errorf("identity file %s is not valid JSON (%v); delete it to start a new guest identity", path, err)
	}
	return id, nil
}

// SaveIdentity writes an identity file readable by the user only, replacing
// any old one atomically so a crash never leaves half a token behind.
func SaveIdentity(path string, id Identity) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	data, _ := json.MarshalIndent(id, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(path), ".identity-*.tmp")
	if err != nil {
		return fmt.Errorf("save identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save identity: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save identity %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save identity %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save identity %s: %w", path, err)
	}
	return nil
}
