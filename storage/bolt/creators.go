package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	bbolt "go.etcd.io/bbolt"
)

// CreateCharacter stores c as revision 1; maopao.ErrConflict (wrapped) when
// c.ID is taken.
func (s *Store) CreateCharacter(ctx context.Context, c maopao.Character) (maopao.Character, error) {
	if err := storage.ValidCharacter(c); err != nil {
		return maopao.Character{}, fmt.Errorf("bolt: create character: %w", err)
	}
	c.Revision = 1
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	err := s.update(ctx, "create character "+c.ID, func(tx *bbolt.Tx) (err error) {
		if tx.Bucket(bucketCharacters).Get([]byte(c.ID)) != nil {
			return fmt.Errorf("character %q already exists: %w", c.ID, maopao.ErrConflict)
		}
		// A history left behind by anything but DeleteCharacter would
		// otherwise be adopted by the new character.
		if err := deleteHistory(tx, c.ID); err != nil {
			return err
		}
		if err := putCurrent(tx, c); err != nil {
			return err
		}
		// Read back, so callers see what later reads return (JSON numbers).
		c, err = getCurrent(tx, c.ID, true)
		return err
	})
	if err != nil {
		return maopao.Character{}, err
	}
	return c, nil
}

// UpdateCharacter replaces the character if its stored Revision is
// expectedRevision. The check, the copy into the history and the write are
// one transaction.
func (s *Store) UpdateCharacter(ctx context.Context, c maopao.Character, expectedRevision int) (maopao.Character, error) {
	if err := storage.ValidCharacter(c); err != nil {
		return maopao.Character{}, fmt.Errorf("bolt: update character: %w", err)
	}
	c.Revision = expectedRevision + 1
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	err := s.update(ctx, "update character "+c.ID, func(tx *bbolt.Tx) error {
		cur, err := getCurrent(tx, c.ID, true)
		if err != nil {
			return err
		}
		if cur.Revision != expectedRevision {
			return fmt.Errorf("character %q is at revision %d, not %d: %w", c.ID, cur.Revision, expectedRevision, maopao.ErrConflict)
		}
		hist, err := tx.Bucket(bucketRevisions).CreateBucketIfNotExists([]byte(c.ID))
		if err != nil {
			return err
		}
		// An edit that keeps the picture does not copy its bytes into the
		// history: the copy keeps AvatarSize and no bytes, meaning "as the
		// next revision" (see GetCharacterRevision). Otherwise every edit
		// of a few bytes would store up to 2 MiB again.
		copied := cur
		if len(cur.Avatar) > 0 && bytes.Equal(cur.Avatar, c.Avatar) {
			copied.Avatar = nil
		}
		v, err := encode("character "+c.ID, copied)
		if err != nil {
			return err
		}
		if err := hist.Put(revKey(cur.Revision), v); err != nil {
			return err
		}
		if err := putCurrent(tx, c); err != nil {
			return err
		}
		c, err = getCurrent(tx, c.ID, true)
		return err
	})
	if err != nil {
		return maopao.Character{}, err
	}
	return c, nil
}

// CharacterHistory returns every revision, the current one first, without
// avatars.
func (s *Store) CharacterHistory(ctx context.Context, id string) ([]maopao.Character, error) {
	var out []maopao.Character
	err := s.view(ctx, "character history "+id, func(tx *bbolt.Tx) error {
		cur, err := getCurrent(tx, id, false)
		if err != nil {
			return err
		}
		out = append(out, cur)
		hist := tx.Bucket(bucketRevisions).Bucket([]byte(id))
		if hist == nil {
			return nil
		}
		c := hist.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if err := ctx.Err(); err != nil {
				return err
			}
			r, err := decodeRevision(id, k, v)
			if err != nil {
				return err
			}
			// A revision at or above the current one can only come from a
			// PutCharacter that rewound Revision; the current record wins.
			if r.Revision >= cur.Revision {
				continue
			}
			r.Avatar = nil
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetCharacterRevision returns one revision, avatar included.
func (s *Store) GetCharacterRevision(ctx context.Context, id string, revision int) (maopao.Character, error) {
	var out maopao.Character
	err := s.view(ctx, fmt.Sprintf("get character %s revision %d", id, revision), func(tx *bbolt.Tx) error {
		cur, err := getCurrent(tx, id, true)
		if err != nil {
			return err
		}
		if cur.Revision == revision {
			out = cur
			return nil
		}
		missing := fmt.Errorf("character %q revision %d: %w", id, revision, maopao.ErrNotFound)
		hist := tx.Bucket(bucketRevisions).Bucket([]byte(id))
		if hist == nil || revision < 0 || revision > cur.Revision {
			return missing
		}
		v := hist.Get(revKey(revision))
		if v == nil {
			return missing
		}
		out, err = decodeRevision(id, revKey(revision), v)
		if err != nil {
			return err
		}
		// A copy with a size and no bytes has the next revision's picture.
		for rev := revision + 1; out.AvatarSize > 0 && len(out.Avatar) == 0; rev++ {
			if rev >= cur.Revision {
				out.Avatar = cur.Avatar
				break
			}
			v := hist.Get(revKey(rev))
			if v == nil {
				return fmt.Errorf("character %q revision %d: its picture is that of revision %d, which is missing", id, revision, rev)
			}
			next, err := decodeRevision(id, revKey(rev), v)
			if err != nil {
				return err
			}
			out.Avatar = next.Avatar
			if next.AvatarSize == 0 && len(next.Avatar) == 0 {
				return fmt.Errorf("character %q revision %d: its picture is that of revision %d, which has none", id, revision, rev)
			}
		}
		return nil
	})
	return out, err
}

// SearchCharacters walks every record; bbolt has no secondary indexes and
// a single node holds few enough characters for that to be cheap, since
// avatars are stored apart.
func (s *Store) SearchCharacters(ctx context.Context, q storage.CharacterQuery) ([]maopao.Character, error) {
	out := []maopao.Character{}
	err := s.view(ctx, "search characters", func(tx *bbolt.Tx) error {
		return s.eachCharacter(ctx, tx, func(c maopao.Character) {
			if q.Matches(c) {
				out = append(out, c)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	sortCharacters(out)
	return page(out, q.Offset, q.Limit), nil
}

func page(cs []maopao.Character, offset, limit int) []maopao.Character {
	if offset > 0 {
		if offset >= len(cs) {
			return []maopao.Character{}
		}
		cs = cs[offset:]
	}
	if limit > 0 && len(cs) > limit {
		cs = cs[:limit]
	}
	return cs
}

func deleteHistory(tx *bbolt.Tx, id string) error {
	revs := tx.Bucket(bucketRevisions)
	if revs.Bucket([]byte(id)) == nil {
		return nil
	}
	return revs.DeleteBucket([]byte(id))
}

func revKey(rev int) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(rev))
}

func decodeRevision(id string, k, v []byte) (maopao.Character, error) {
	var c maopao.Character
	if err := decodeCharacter(v, &c); err != nil {
		return c, fmt.Errorf("character %q history key %x: corrupt record: %w", id, k, err)
	}
	return c, nil
}

// accountRecord is how accounts are kept: maopao.Account hides the hash
// from JSON, which is what the store writes.
type accountRecord struct {
	maopao.Account
	PasswordHash string `json:"password_hash"`
}

func (r accountRecord) account() maopao.Account {
	a := r.Account
	a.PasswordHash = r.PasswordHash
	return a
}

// CreateAccount stores a; maopao.ErrConflict (wrapped) when the username
// (in any case) or the player ID is taken. Both checks and both writes are
// one transaction.
func (s *Store) CreateAccount(ctx context.Context, a maopao.Account) error {
	if err := storage.ValidAccount(a); err != nil {
		return fmt.Errorf("bolt: create account: %w", err)
	}
	a.CreatedAt = normTime(a.CreatedAt)
	v, err := encode("account", accountRecord{Account: a, PasswordHash: a.PasswordHash})
	if err != nil {
		return fmt.Errorf("bolt: create account: %w", err)
	}
	key, lookalike := []byte(strings.ToLower(a.Username)), []byte(maopao.UsernameKey(a.Username))
	return s.update(ctx, "create account "+a.Username, func(tx *bbolt.Tx) error {
		names, keys, accounts := tx.Bucket(bucketUsernames), tx.Bucket(bucketUsernameKeys), tx.Bucket(bucketAccounts)
		if names.Get(key) != nil {
			return fmt.Errorf("username %q is taken: %w", a.Username, maopao.ErrConflict)
		}
		if keys.Get(lookalike) != nil {
			return fmt.Errorf("username %q looks like one taken: %w", a.Username, maopao.ErrConflict)
		}
		if accounts.Get([]byte(a.PlayerID)) != nil {
			return fmt.Errorf("player %q already has an account: %w", a.PlayerID, maopao.ErrConflict)
		}
		if err := accounts.Put([]byte(a.PlayerID), v); err != nil {
			return err
		}
		if err := keys.Put(lookalike, []byte(a.PlayerID)); err != nil {
			return err
		}
		return names.Put(key, []byte(a.PlayerID))
	})
}

// GetAccountByUsername finds an account whatever the case of username.
func (s *Store) GetAccountByUsername(ctx context.Context, username string) (maopao.Account, error) {
	var a maopao.Account
	err := s.view(ctx, "get account "+username, func(tx *bbolt.Tx) error {
		id := tx.Bucket(bucketUsernames).Get([]byte(strings.ToLower(username)))
		if id == nil {
			return fmt.Errorf("account %q: %w", username, maopao.ErrNotFound)
		}
		var err error
		a, err = getAccount(tx, string(id))
		return err
	})
	return a, err
}

// GetAccount returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetAccount(ctx context.Context, playerID string) (maopao.Account, error) {
	var a maopao.Account
	err := s.view(ctx, "get account of player "+playerID, func(tx *bbolt.Tx) error {
		var err error
		a, err = getAccount(tx, playerID)
		return err
	})
	return a, err
}

// RevokeTokens raises the account's TokenVersion in one transaction.
func (s *Store) RevokeTokens(ctx context.Context, playerID string) (maopao.Account, error) {
	var a maopao.Account
	err := s.update(ctx, "revoke tokens of player "+playerID, func(tx *bbolt.Tx) error {
		var r accountRecord
		if err := getJSON(tx.Bucket(bucketAccounts), playerID, "account of player", &r); err != nil {
			return err
		}
		r.Account.TokenVersion++
		v, err := encode("account", r)
		if err != nil {
			return err
		}
		a = r.account()
		return tx.Bucket(bucketAccounts).Put([]byte(playerID), v)
	})
	return a, err
}

// DeleteAccount removes the account and its username entries in one
// transaction.
func (s *Store) DeleteAccount(ctx context.Context, playerID string) error {
	return s.update(ctx, "delete account of player "+playerID, func(tx *bbolt.Tx) error {
		a, err := getAccount(tx, playerID)
		if errors.Is(err, maopao.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, index := range []struct {
			bucket []byte
			key    string
		}{{bucketUsernames, strings.ToLower(a.Username)}, {bucketUsernameKeys, maopao.UsernameKey(a.Username)}} {
			b := tx.Bucket(index.bucket)
			// An old lookalike key may be held by another account.
			if bytes.Equal(b.Get([]byte(index.key)), []byte(playerID)) {
				if err := b.Delete([]byte(index.key)); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketAccounts).Delete([]byte(playerID))
	})
}

func getAccount(tx *bbolt.Tx, playerID string) (maopao.Account, error) {
	var r accountRecord
	if err := getJSON(tx.Bucket(bucketAccounts), playerID, "account of player", &r); err != nil {
		return maopao.Account{}, err
	}
	return r.account(), nil
}

// indexUsernameKeys fills the username_keys bucket once, for files written
// before usernames had lookalike keys. Old accounts that share a key all
// keep their names; the key is held by one of them, which is enough to
// refuse new lookalikes.
func indexUsernameKeys(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyUsernameKeysIndexed) != nil {
		return nil
	}
	keys := tx.Bucket(bucketUsernameKeys)
	err := tx.Bucket(bucketUsernames).ForEach(func(name, id []byte) error {
		k := []byte(maopao.UsernameKey(string(name)))
		if keys.Get(k) != nil {
			return nil
		}
		return keys.Put(k, id)
	})
	if err != nil {
		return fmt.Errorf("index username keys: %w", err)
	}
	return meta.Put(keyUsernameKeysIndexed, []byte("1"))
}
