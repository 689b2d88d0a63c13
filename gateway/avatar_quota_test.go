package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// An account's pictures together are bounded: uploads (and imports) past
// the quota are refused with a quota problem; replacing a picture counts
// the new one instead of the old.
func TestAvatarQuotaPerAccount(t *testing.T) {
	a := newTestAPI(t)
	a.api.avatarQuota = 100_000
	alice, _ := a.register("alice")
	bob, _ := a.register("bob")
	var ids []string
	for _, name := range []string{"One", "Two", "Three"} {
		ids = append(ids, a.create(alice, map[string]any{"name": name}).ID)
	}
	put := func(tok, id string, size int) response {
		return a.do("PUT", "/api/v1/characters/"+id+"/avatar", tok, pngBytes(size))
	}
	for _, id := range ids[:2] {
		r := put(alice, id, 40_000)
		var v CharacterView
		r.json(t, &v)
		if r.status != http.StatusOK || v.AvatarSize < 39_000 {
			t.Fatalf("upload within the quota: %d, avatar_size %d", r.status, v.AvatarSize)
		}
	}
	p := put(alice, ids[2], 40_000).problem(t, http.StatusForbidden)
	if p.Code != codeQuota || !strings.Contains(p.Detail, "MiB") {
		t.Errorf("upload past the quota: %+v", p)
	}
	// Replacing a picture frees the old one's bytes.
	if r := put(alice, ids[0], 45_000); r.status != http.StatusOK {
		t.Errorf("replacing a picture within the quota: %d %s", r.status, r.body)
	}
	// The quota is per account: Bob is not charged for Alice's pictures.
	bobs := a.create(bob, map[string]any{"name": "Bob's"})
	if r := put(bob, bobs.ID, 40_000); r.status != http.StatusOK {
		t.Errorf("another account's upload: %d %s", r.status, r.body)
	}
	// Removing a character frees its picture.
	if r := a.do("DELETE", "/api/v1/characters/"+ids[1], alice, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	if r := put(alice, ids[2], 40_000); r.status != http.StatusOK {
		t.Errorf("upload after deleting a character with a picture: %d %s", r.status, r.body)
	}
}
