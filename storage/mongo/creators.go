package mongo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// noAvatar is the projection for reads that must not carry up to 2 MiB of
// picture per character.
var noAvatar = bson.D{{Key: "avatar", Value: 0}}

// revisionDoc is one earlier revision. The avatar sits beside the
// character, not in it, so history lists can leave it out with a top-level
// projection (FerretDB v1 handles those; nested ones are less certain).
type revisionDoc struct {
	ID          string `bson:"_id"`
	CharacterID string `bson:"character_id"`
	Revision    int    `bson:"revision"`
	Avatar      []byte `bson:"avatar,omitempty"`
	// AvatarAsNext marks a copy whose picture is the next revision's: an
	// edit that keeps the picture does not store its bytes again.
	AvatarAsNext bool         `bson:"avatar_as_next,omitempty"`
	Character    characterDoc `bson:"character"`
	// Token and ClaimedAt identify the UpdateCharacter that wrote the copy.
	Token     string    `bson:"token"`
	ClaimedAt time.Time `bson:"claimed_at"`
}

// revisionID is unambiguous for any character ID, unlike a joined string.
func revisionID(id string, rev int) string {
	b, _ := json.Marshal([]any{id, rev}) // strings and ints always marshal
	return string(b)
}

// CreateCharacter stores c as revision 1; maopao.ErrConflict (wrapped) when
// c.ID is taken.
func (s *Store) CreateCharacter(ctx context.Context, c maopao.Character) (maopao.Character, error) {
	const op = "create character"
	if err := storage.ValidCharacter(c); err != nil {
		return maopao.Character{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return maopao.Character{}, fail(op, c.ID, err)
	}
	c.Revision = 1
	d, err := newCharacterDoc(c)
	if err != nil {
		return maopao.Character{}, fmt.Errorf("mongo: %s %q: %w", op, c.ID, err)
	}
	err = s.characters.FindOne(ctx, byID(c.ID), options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if err == nil {
		return maopao.Character{}, fmt.Errorf("mongo: %s %q: already exists: %w", op, c.ID, maopao.ErrConflict)
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return maopao.Character{}, fail(op, c.ID, err)
	}
	// History a crashed DeleteCharacter left behind must not be adopted.
	if _, err := s.revisions.DeleteMany(ctx, bson.D{{Key: "character_id", Value: c.ID}}); err != nil {
		return maopao.Character{}, fail(op, c.ID, err)
	}
	if _, err := s.characters.InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return maopao.Character{}, fmt.Errorf("mongo: %s %q: already exists: %w", op, c.ID, maopao.ErrConflict)
		}
		return maopao.Character{}, fail(op, c.ID, err)
	}
	return d.character()
}

// UpdateCharacter replaces the character if its stored Revision is
// expectedRevision.
//
// Without transactions, and with FerretDB not making a filtered replace an
// atomic compare-and-swap (two racing replaces under {_id, revision: N}
// can both match), the claim on revision N is an insert instead: the
// current revision's copy goes into character_revisions under
// _id [character, N], and the unique _id lets exactly one racing editor
// through; the others get ErrConflict. The winner then replaces the
// character. That copy is also the history entry, so history needs no
// further write.
//
// A crash between the two writes leaves a claim on a revision that is
// still current. Its claimed_at tells it apart from an editor still at
// work: a claim older than claimTimeout on a revision nobody moved past is
// taken over (deleted by its token, so only one taker succeeds).
func (s *Store) UpdateCharacter(ctx context.Context, c maopao.Character, expectedRevision int) (maopao.Character, error) {
	const op = "update character"
	if err := storage.ValidCharacter(c); err != nil {
		return maopao.Character{}, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return maopao.Character{}, fail(op, c.ID, err)
	}
	c.Revision = expectedRevision + 1
	next, err := newCharacterDoc(c)
	if err != nil {
		return maopao.Character{}, fmt.Errorf("mongo: %s %q: %w", op, c.ID, err)
	}
	var cur characterDoc
	if err := s.characters.FindOne(ctx, byID(c.ID)).Decode(&cur); err != nil {
		return maopao.Character{}, fail(op, c.ID, err)
	}
	conflict := func(rev int) error {
		return fmt.Errorf("mongo: %s %q: at revision %d, not %d: %w", op, c.ID, rev, expectedRevision, maopao.ErrConflict)
	}
	if cur.Revision != expectedRevision {
		return maopao.Character{}, conflict(cur.Revision)
	}
	claim := revisionDoc{
		ID: revisionID(c.ID, cur.Revision), CharacterID: c.ID, Revision: cur.Revision,
		Avatar: cur.Avatar, Character: cur, Token: uuid.NewString(), ClaimedAt: normTime(time.Now()),
	}
	claim.Character.Avatar = nil
	if len(cur.Avatar) > 0 && bytes.Equal(cur.Avatar, c.Avatar) {
		claim.Avatar, claim.AvatarAsNext = nil, true
	}
	for attempt := 0; ; attempt++ {
		_, err := s.revisions.InsertOne(ctx, claim)
		if err == nil {
			break
		}
		if !mongo.IsDuplicateKeyError(err) {
			return maopao.Character{}, fail(op, c.ID, err)
		}
		if attempt > 0 || !s.takeOverStaleClaim(ctx, claim.ID, c.ID, expectedRevision) {
			return maopao.Character{}, conflict(expectedRevision)
		}
	}
	res, err := s.characters.ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: c.ID}, {Key: "revision", Value: expectedRevision}}, next)
	if err != nil {
		// Unclaim, so the next editor need not wait out claimTimeout.
		_, _ = s.revisions.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: claim.ID}, {Key: "token", Value: claim.Token}})
		return maopao.Character{}, fail(op, c.ID, err)
	}
	if res.MatchedCount == 0 {
		// Only a delete (or an unguarded PutCharacter) gets past a claim.
		_, _ = s.revisions.DeleteOne(ctx, bson.D{{Key: "_id", Value: claim.ID}, {Key: "token", Value: claim.Token}})
		return maopao.Character{}, fail(op, c.ID, mongo.ErrNoDocuments)
	}
	return next.character()
}

// claimTimeout is how long a claim on a revision that is still current may
// sit before another editor treats its owner as crashed.
const claimTimeout = 30 * time.Second

func (s *Store) takeOverStaleClaim(ctx context.Context, claimID, id string, rev int) bool {
	var old revisionDoc
	err := s.revisions.FindOne(ctx, byID(claimID), options.FindOne().SetProjection(bson.D{
		{Key: "token", Value: 1}, {Key: "claimed_at", Value: 1}})).Decode(&old)
	if err != nil || time.Since(old.ClaimedAt) < claimTimeout {
		return false
	}
	var now struct {
		Revision int `bson:"revision"`
	}
	err = s.characters.FindOne(ctx, byID(id), options.FindOne().SetProjection(bson.D{{Key: "revision", Value: 1}})).Decode(&now)
	if err != nil || now.Revision != rev {
		return false
	}
	res, err := s.revisions.DeleteOne(ctx, bson.D{{Key: "_id", Value: claimID}, {Key: "token", Value: old.Token}})
	return err == nil && res.DeletedCount == 1
}

// CharacterHistory returns every revision, the current one first, without
// avatars.
func (s *Store) CharacterHistory(ctx context.Context, id string) ([]maopao.Character, error) {
	const op = "character history"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, id, err)
	}
	var d characterDoc
	if err := s.characters.FindOne(ctx, byID(id), options.FindOne().SetProjection(noAvatar)).Decode(&d); err != nil {
		return nil, fail(op, id, err)
	}
	cur, err := d.character()
	if err != nil {
		return nil, fail(op, id, err)
	}
	cursor, err := s.revisions.Find(ctx, bson.D{{Key: "character_id", Value: id}}, options.Find().SetProjection(noAvatar))
	if err != nil {
		return nil, fail(op, id, err)
	}
	var docs []revisionDoc
	if err := cursor.All(ctx, &docs); err != nil {
		return nil, fail(op, id, err)
	}
	// Sorted here: the order is the contract, whatever the server does.
	sort.Slice(docs, func(i, j int) bool { return docs[i].Revision > docs[j].Revision })
	out := []maopao.Character{cur}
	for _, rd := range docs {
		// A copy at or above the current revision is what a crash between
		// UpdateCharacter's two writes (or a PutCharacter rewinding
		// Revision) leaves; the current record is the truth.
		if rd.Revision >= cur.Revision {
			continue
		}
		c, err := rd.Character.character()
		if err != nil {
			return nil, fail(op, id, err)
		}
		c.Avatar = nil
		out = append(out, c)
	}
	return out, nil
}

// GetCharacterRevision returns one revision, avatar included.
func (s *Store) GetCharacterRevision(ctx context.Context, id string, revision int) (maopao.Character, error) {
	const op = "get character revision"
	cur, err := s.GetCharacter(ctx, id)
	if err != nil {
		return maopao.Character{}, err
	}
	if cur.Revision == revision {
		return cur, nil
	}
	where := fmt.Sprintf("%s %d of", op, revision)
	if revision < 0 || revision > cur.Revision {
		return maopao.Character{}, fail(where, id, mongo.ErrNoDocuments)
	}
	var rd revisionDoc
	if err := s.revisions.FindOne(ctx, byID(revisionID(id, revision))).Decode(&rd); err != nil {
		return maopao.Character{}, fail(where, id, err)
	}
	c, err := rd.Character.character()
	if err != nil {
		return maopao.Character{}, fail(where, id, err)
	}
	c.Avatar = rd.Avatar
	for rev := revision + 1; rd.AvatarAsNext; rev++ {
		if rev >= cur.Revision {
			c.Avatar = cur.Avatar
			break
		}
		rd = revisionDoc{}
		if err := s.revisions.FindOne(ctx, byID(revisionID(id, rev))).Decode(&rd); err != nil {
			return maopao.Character{}, fail(fmt.Sprintf("%s (its picture is revision %d's)", where, rev), id, err)
		}
		c.Avatar = rd.Avatar
	}
	return c, nil
}

// SearchCharacters filters on the server with operators FerretDB v1 runs
// like MongoDB (equality on arrays, $regex, $or, $and, $in), then orders in
// Go: the contract is Go's byte order, and the server's string order
// depends on collation settings this store does not own. So that the
// ordering does not decode whole cards, a first query fetches only _id and
// name; the page is then read by _id, without avatars.
func (s *Store) SearchCharacters(ctx context.Context, q storage.CharacterQuery) ([]maopao.Character, error) {
	const op = "search characters"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, "", err)
	}
	filter := searchFilter(q)
	cur, err := s.characters.Find(ctx, filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "name", Value: 1}}))
	if err != nil {
		return nil, fail(op, "", err)
	}
	var keys []struct {
		ID   string `bson:"_id"`
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &keys); err != nil {
		return nil, fail(op, "", err)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Name != keys[j].Name {
			return keys[i].Name < keys[j].Name
		}
		return keys[i].ID < keys[j].ID
	})
	if q.Offset > 0 {
		keys = keys[min(q.Offset, len(keys)):]
	}
	if q.Limit > 0 && len(keys) > q.Limit {
		keys = keys[:q.Limit]
	}
	out := []maopao.Character{}
	if len(keys) == 0 {
		return out, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	cur, err = s.characters.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(noAvatar))
	if err != nil {
		return nil, fail(op, "", err)
	}
	var docs []characterDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fail(op, "", err)
	}
	for _, d := range docs {
		c, err := d.character()
		if err != nil {
			return nil, fail(op, "", err)
		}
		c.Avatar = nil
		// A character changed between the two queries is checked again, so
		// the result never holds one the query does not match.
		if q.Matches(c) {
			out = append(out, c)
		}
	}
	sortCharacters(out)
	return out, nil
}

func searchFilter(q storage.CharacterQuery) bson.D {
	visible := bson.A{bson.D{{Key: "visibility", Value: string(maopao.VisibilityPublic)}}}
	if q.IncludeUnlisted {
		visible = append(visible, bson.D{{Key: "visibility", Value: string(maopao.VisibilityUnlisted)}})
	}
	if q.ViewerID != "" {
		visible = append(visible, bson.D{{Key: "owner_id", Value: q.ViewerID}})
	}
	and := bson.A{bson.D{{Key: "$or", Value: visible}}}
	if q.OwnerID != "" {
		and = append(and, bson.D{{Key: "owner_id", Value: q.OwnerID}})
	}
	if q.Creator != "" {
		and = append(and, bson.D{{Key: "creator_lc", Value: strings.ToLower(q.Creator)}})
	}
	if q.Tag != "" {
		// Equality with an array field matches when any element is equal.
		and = append(and, bson.D{{Key: "tags_lc", Value: strings.ToLower(q.Tag)}})
	}
	if q.Text != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(strings.ToLower(q.Text))}
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "name_lc", Value: re}},
			bson.D{{Key: "nickname_lc", Value: re}},
		}}})
	}
	return bson.D{{Key: "$and", Value: and}}
}

// backfillSearchFields gives characters written before the *_lc fields
// existed their lower-cased copies, so searches find them, and those
// written before avatar_size existed their avatar's size.
func (s *Store) backfillSearchFields(ctx context.Context) error {
	missing := func(field string) bson.D { return bson.D{{Key: field, Value: bson.D{{Key: "$exists", Value: false}}}} }
	cur, err := s.characters.Find(ctx, bson.D{{Key: "$or", Value: bson.A{
		missing("name_lc"),
		bson.D{{Key: "avatar", Value: bson.D{{Key: "$exists", Value: true}}}, {Key: "avatar_size", Value: bson.D{{Key: "$exists", Value: false}}}},
	}}})
	if err != nil {
		return fmt.Errorf("find characters without search fields: %w", err)
	}
	var docs []characterDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("read characters without search fields: %w", err)
	}
	for _, d := range docs {
		c, err := d.character()
		if err != nil {
			return err
		}
		nd, err := newCharacterDoc(c)
		if err != nil {
			return fmt.Errorf("character %q: %w", c.ID, err)
		}
		if _, err := s.characters.ReplaceOne(ctx, byID(c.ID), nd); err != nil {
			return fmt.Errorf("add search fields to character %q: %w", c.ID, err)
		}
	}
	return nil
}

// accountDoc adds the lower-cased username and its lookalike key, each
// with a unique index.
type accountDoc struct {
	maopao.Account `bson:",inline"`
	UsernameLC     string `bson:"username_lc"`
	UsernameKey    string `bson:"username_key"`
}

// CreateAccount stores a; maopao.ErrConflict (wrapped) when the username
// (in any case) or the player ID is taken. One insert, checked by the _id
// index and the unique username_lc and username_key indexes, so racing
// registrations of one name (or two lookalikes) cannot both succeed.
func (s *Store) CreateAccount(ctx context.Context, a maopao.Account) error {
	const op = "create account"
	if err := storage.ValidAccount(a); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, a.Username, err)
	}
	a.CreatedAt = normTime(a.CreatedAt)
	_, err := s.accounts.InsertOne(ctx, accountDoc{Account: a, UsernameLC: strings.ToLower(a.Username), UsernameKey: maopao.UsernameKey(a.Username)})
	if mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongo: %s %q: username or player already registered: %w", op, a.Username, maopao.ErrConflict)
	}
	return fail(op, a.Username, err)
}

// GetAccountByUsername finds an account whatever the case of username.
func (s *Store) GetAccountByUsername(ctx context.Context, username string) (maopao.Account, error) {
	return s.findAccount(ctx, "get account", username, bson.D{{Key: "username_lc", Value: strings.ToLower(username)}})
}

// GetAccount returns maopao.ErrNotFound (wrapped) when absent.
func (s *Store) GetAccount(ctx context.Context, playerID string) (maopao.Account, error) {
	return s.findAccount(ctx, "get account of player", playerID, byID(playerID))
}

// RevokeTokens raises the account's TokenVersion with one $inc.
func (s *Store) RevokeTokens(ctx context.Context, playerID string) (maopao.Account, error) {
	const op = "revoke tokens of player"
	if err := ctx.Err(); err != nil {
		return maopao.Account{}, fail(op, playerID, err)
	}
	var d accountDoc
	err := s.accounts.FindOneAndUpdate(ctx, byID(playerID), bson.D{{Key: "$inc", Value: bson.D{{Key: "token_version", Value: 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return maopao.Account{}, fail(op, playerID, err)
	}
	d.Account.CreatedAt = normTime(d.Account.CreatedAt)
	return d.Account, nil
}

// DeleteAccount removes the account; its unique username fields go with
// the document.
func (s *Store) DeleteAccount(ctx context.Context, playerID string) error {
	_, err := s.accounts.DeleteOne(ctx, byID(playerID))
	return fail("delete account of player", playerID, err)
}

func (s *Store) findAccount(ctx context.Context, op, key string, filter bson.D) (maopao.Account, error) {
	if err := ctx.Err(); err != nil {
		return maopao.Account{}, fail(op, key, err)
	}
	var d accountDoc
	if err := s.accounts.FindOne(ctx, filter).Decode(&d); err != nil {
		return maopao.Account{}, fail(op, key, err)
	}
	d.Account.CreatedAt = normTime(d.Account.CreatedAt)
	return d.Account, nil
}

// keyAccounts gives accounts stored before usernames had lookalike keys
// their username_key, before its unique index is made. Old accounts that
// share a key all keep their names: the first holds the key, the others
// get one no name can have.
func (s *Store) keyAccounts(ctx context.Context) error {
	cur, err := s.accounts.Find(ctx, bson.D{{Key: "username_key", Value: bson.D{{Key: "$exists", Value: false}}}})
	if err != nil {
		return fmt.Errorf("find accounts without username_key: %w", err)
	}
	var old []accountDoc
	if err := cur.All(ctx, &old); err != nil {
		return fmt.Errorf("read accounts without username_key: %w", err)
	}
	for _, d := range old {
		key := maopao.UsernameKey(d.Username)
		n, err := s.accounts.CountDocuments(ctx, bson.D{{Key: "username_key", Value: key}})
		if err != nil {
			return fmt.Errorf("look up username_key %q: %w", key, err)
		}
		if n > 0 {
			key = "#" + d.PlayerID
		}
		set := bson.D{{Key: "$set", Value: bson.D{{Key: "username_key", Value: key}}}}
		if _, err := s.accounts.UpdateOne(ctx, byID(d.PlayerID), set); err != nil {
			return fmt.Errorf("give account %q its username_key: %w", d.PlayerID, err)
		}
	}
	return nil
}
