package storagetest

import (
	"bytes"
	"testing"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/storage"
)

func samplePicture(id, owner string, size int) (maopao.Picture, []byte) {
	data := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 255}, size/8+1)[:size]
	return maopao.Picture{ID: id, OwnerID: owner, Type: "image/png", Width: 3, Height: 2, Size: size, CreatedAt: oddTime()}, data
}

// Pictures: stored with their bytes, read whole or without them, summed
// per owner, deleted, refused when invalid or when the ID is taken, and
// gone with their owner.
func testPictures(t *testing.T, s storage.Store) {
	ctx := testContext(t)
	p1, d1 := samplePicture("pic-1", "p1", 3000)
	p2, d2 := samplePicture("pic-2", "p1", 5)
	p3, d3 := samplePicture("pic-3", "p2", 700)
	for _, x := range []struct {
		p maopao.Picture
		d []byte
	}{{p1, d1}, {p2, d2}, {p3, d3}} {
		must(t, s.PutPicture(ctx, x.p, x.d))
	}
	got, data, err := s.GetPicture(ctx, "pic-1")
	must(t, err)
	want := p1
	want.CreatedAt = msUTC(want.CreatedAt)
	equal(t, "picture", got, want)
	checkUTC(t, "picture CreatedAt", got.CreatedAt)
	if !bytes.Equal(data, d1) {
		t.Fatalf("picture bytes: %d read, %d stored", len(data), len(d1))
	}
	info, err := s.PictureInfo(ctx, "pic-2")
	must(t, err)
	if info.Size != 5 || info.OwnerID != "p1" {
		t.Fatalf("PictureInfo = %+v", info)
	}
	sum, err := s.PictureBytes(ctx, "p1")
	must(t, err)
	if sum != 3005 {
		t.Fatalf("PictureBytes(p1) = %d, want 3005", sum)
	}
	isErr(t, "PutPicture(a taken ID)", s.PutPicture(ctx, p1, d1), maopao.ErrConflict)
	bad := p2
	bad.ID = "pic-bad"
	isErr(t, "PutPicture(size not the bytes')", s.PutPicture(ctx, bad, d1), maopao.ErrInvalid)
	bad.Size, bad.Type = len(d1), "image/gif"
	isErr(t, "PutPicture(a GIF)", s.PutPicture(ctx, bad, d1), maopao.ErrInvalid)
	_, _, err = s.GetPicture(ctx, "pic-bad")
	isErr(t, "GetPicture(refused)", err, maopao.ErrNotFound)

	must(t, s.DeletePicture(ctx, "pic-2"))
	_, _, err = s.GetPicture(ctx, "pic-2")
	isErr(t, "GetPicture(deleted)", err, maopao.ErrNotFound)
	isErr(t, "DeletePicture(deleted)", s.DeletePicture(ctx, "pic-2"), maopao.ErrNotFound)

	// An owner's pictures go with them; others' stay.
	must(t, s.PutPlayer(ctx, maopao.Player{ID: "p1", Name: "p1"}))
	must(t, s.DeletePlayer(ctx, "p1"))
	_, _, err = s.GetPicture(ctx, "pic-1")
	isErr(t, "GetPicture(of a deleted player)", err, maopao.ErrNotFound)
	if sum, err := s.PictureBytes(ctx, "p1"); err != nil || sum != 0 {
		t.Fatalf("PictureBytes(deleted player) = %d, %v", sum, err)
	}
	_, data, err = s.GetPicture(ctx, "pic-3")
	must(t, err)
	if !bytes.Equal(data, d3) {
		t.Fatal("another player's picture changed")
	}
}
