//go:build unix

package gateway

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A body within the byte limit whose values are tiny ("[{},{},…]") must be
// refused before it is decoded: decoding 16 MiB of empty objects into
// maps took some 540 MB. The bound is on all bytes allocated while the
// request is handled, which includes reading the body once.
func TestManySmallValuesCostLittle(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	v := a.create(alice, map[string]any{"name": "Mira", "description": "a fox"})

	var body bytes.Buffer
	body.WriteString(`{"name":"Mira","extensions":{"spam":[`)
	for body.Len() < MaxCharacterBodyBytes-64 {
		body.WriteString(`{},`)
	}
	body.WriteString(`{}]}}`)
	size := body.Len()

	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/v1/characters"},
		{"PATCH", "/api/v1/characters/" + v.ID},
		{"PUT", "/api/v1/characters/" + v.ID},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := a.do(tc.method, tc.path, alice, body.Bytes())
		runtime.ReadMemStats(&after)
		p := r.problem(t, http.StatusRequestEntityTooLarge)
		if !strings.Contains(p.Detail, "values") {
			t.Errorf("%s: detail %q does not say what is too large", tc.method, p.Detail)
		}
		grew := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d-byte body, %d bytes allocated", tc.method, size, grew)
		if grew > uint64(6*size) {
			t.Errorf("%s of a %d-byte body allocated %d MB (more than 6× the body)", tc.method, size, grew>>20)
		}
	}
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A public character with a 4096×4096 JPEG avatar used to cost 11 s of CPU
// and 28.8 MB per anonymous PNG export. The JPEG is now converted once, at
// upload, and exports are kept by revision.
func TestBigJPEGAvatarExportIsCheap(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	v := a.create(alice, map[string]any{"name": "Mira", "description": "a fox", "visibility": "public"})

	img := image.NewYCbCr(image.Rect(0, 0, 4096, 4096), image.YCbCrSubsampleRatio420)
	for y := 0; y < 4096; y++ {
		for x := 0; x < 4096; x++ {
			img.Y[y*img.YStride+x] = uint8((x + 2*y) >> 5)
		}
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	if jpg.Len() > MaxAvatarBytes {
		t.Fatalf("test picture is %d bytes, over the avatar limit", jpg.Len())
	}
	if r := a.do("PUT", "/api/v1/characters/"+v.ID+"/avatar", alice, jpg.Bytes()); r.status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	av := a.do("GET", "/api/v1/characters/"+v.ID+"/avatar", "", nil)
	cfg, format, err := image.DecodeConfig(bytes.NewReader(av.body))
	if err != nil || format != "png" || max(cfg.Width, cfg.Height) > 1024 {
		t.Fatalf("stored avatar: %s %dx%d %v; want a PNG of at most 1024 pixels a side", format, cfg.Width, cfg.Height, err)
	}

	export := func() (response, time.Duration) {
		before := cpuTime(t)
		r := a.do("GET", "/api/v1/characters/"+v.ID+"/export?format=png", "", nil)
		return r, cpuTime(t) - before
	}
	first, cost := export()
	if first.status != http.StatusOK {
		t.Fatalf("anonymous export: %d %s", first.status, first.body)
	}
	t.Logf("first export: %d bytes, %v of CPU", len(first.body), cost)
	if cost > time.Second {
		t.Errorf("the first export took %v of CPU; the bound is 1s", cost)
	}
	if len(first.body) > 4<<20 {
		t.Errorf("the export is %d bytes for a %d-byte avatar", len(first.body), jpg.Len())
	}
	second, _ := export()
	if !bytes.Equal(first.body, second.body) {
		t.Fatal("a second export of the same revision differs")
	}
	if n := a.api.exports.lru.Len(); n != 1 {
		t.Fatalf("the export cache holds %d entries after two exports of one revision, want 1", n)
	}
}

// A PNG whose header declares 100,000×100,000 pixels is refused at upload
// (it used to be stored, served and embedded in exported cards).
func TestAvatarPixelBombRefused(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	v := a.create(alice, map[string]any{"name": "Mira", "description": "a fox"})
	var small bytes.Buffer
	if err := png.Encode(&small, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	bomb := small.Bytes()
	// IHDR starts at byte 8: length, "IHDR", width, height, ..., CRC.
	binary.BigEndian.PutUint32(bomb[16:], 100_000)
	binary.BigEndian.PutUint32(bomb[20:], 100_000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	r := a.do("PUT", "/api/v1/characters/"+v.ID+"/avatar", alice, bomb)
	p := r.problem(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "100000×100000") {
		t.Fatalf("detail %q does not give the picture's size", p.Detail)
	}
	if r := a.do("GET", "/api/v1/characters/"+v.ID+"/avatar", alice, nil); r.status != http.StatusNotFound {
		t.Fatalf("after a refused upload the avatar answers %d, want 404", r.status)
	}
}

// Logins with ever new usernames from one address are limited as a whole:
// each costs an argon2 hash (they used to slow a real user's login 40-fold).
func TestLoginsPerAddress(t *testing.T) {
	a := newTestAPI(t)
	refusedAt := -1
	for i := range 40 {
		r := a.do("POST", "/api/v1/accounts/login", "", AccountRequest{Username: fmt.Sprintf("nobody%d", i), Password: "wrong password"})
		if r.status == http.StatusTooManyRequests {
			if r.header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			refusedAt = i
			break
		}
	}
	if refusedAt < 0 || refusedAt > 25 {
		t.Fatalf("logins with new usernames refused only at %d", refusedAt)
	}
}

// Lists clip what they show: ten characters with book-length descriptions
// made every list 7.7 MB.
func TestListsStaySmall(t *testing.T) {
	a := newTestAPI(t)
	alice, _ := a.register("alice")
	long := strings.Repeat("A tale of the sea. ", 12_000) // about 230 KB
	for i := range 10 {
		a.create(alice, map[string]any{"name": fmt.Sprintf("Teller %d", i), "description": long, "creator_notes": long, "visibility": "public"})
	}
	r := a.do("GET", "/api/v1/characters?limit=5", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if len(r.body) > 64<<10 {
		t.Errorf("a page of 5 characters is %d bytes", len(r.body))
	}
	var page CharacterList
	r.json(t, &page)
	if len(page.Characters) != 5 || page.Next == nil || *page.Next != 5 {
		t.Fatalf("page: %d characters, next %v", len(page.Characters), page.Next)
	}
	// The character itself still has every word.
	one := a.do("GET", "/api/v1/characters/"+page.Characters[0].ID, "", nil)
	if !strings.Contains(string(one.body), long) {
		t.Error("GET of one character lost its description")
	}
}
