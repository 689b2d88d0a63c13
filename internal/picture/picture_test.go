package picture

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"
)

func testImage(w, h int, alpha bool) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if alpha && x < w/2 {
				a = 100
			}
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 200, a})
		}
	}
	return img
}

// withPNGChunk puts a chunk right after IHDR.
func withPNGChunk(t *testing.T, data []byte, typ string, body []byte) []byte {
	t.Helper()
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(body)))
	c.WriteString(typ)
	c.Write(body)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), body...)))
	const afterIHDR = 8 + 25
	return append(append(append([]byte(nil), data[:afterIHDR]...), c.Bytes()...), data[afterIHDR:]...)
}

// withEXIF puts an APP1 EXIF segment (orientation o, a GPS-looking text,
// padding) right after the JPEG's SOI.
func withEXIF(data []byte, o uint16, pad int) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, binary.BigEndian, uint32(8))
	binary.Write(&tiff, binary.BigEndian, uint16(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3})
	binary.Write(&tiff, binary.BigEndian, uint32(1))
	binary.Write(&tiff, binary.BigEndian, []uint16{o, 0})
	binary.Write(&tiff, binary.BigEndian, uint32(0))
	tiff.WriteString("GPS 31.2304N 121.4737E SECRET-PLACE")
	tiff.Write(make([]byte, pad))
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	var app bytes.Buffer
	app.Write([]byte{0xFF, 0xE1})
	binary.Write(&app, binary.BigEndian, uint16(len(seg)+2))
	app.Write(seg)
	return append(append(append([]byte(nil), data[:2]...), app.Bytes()...), data[2:]...)
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPrepareStripsMetadataAndKeepsThePicture(t *testing.T) {
	// A PNG with transparency and a text chunk stays a PNG, without it.
	src := withPNGChunk(t, encodePNG(t, testImage(40, 30, true)), "tEXt", []byte("Location\x00GPS SECRET-PLACE"))
	p, err := Prepare(src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "image/png" || p.Width != 40 || p.Height != 30 || bytes.Contains(p.Data, []byte("SECRET-PLACE")) {
		t.Fatalf("PNG: %s %dx%d, metadata kept: %v", p.Type, p.Width, p.Height, bytes.Contains(p.Data, []byte("SECRET-PLACE")))
	}
	if _, err := png.Decode(bytes.NewReader(p.Data)); err != nil {
		t.Fatalf("stored PNG does not decode: %v", err)
	}

	// A phone photo turned by EXIF (6: turn right) comes out upright,
	// without its EXIF, however big that was.
	photo := withEXIF(encodeJPEG(t, testImage(64, 32, false)), 6, 60000)
	p, err = Prepare(photo)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "image/jpeg" || p.Width != 32 || p.Height != 64 {
		t.Fatalf("rotated photo: %s %dx%d, want image/jpeg 32x64", p.Type, p.Width, p.Height)
	}
	if bytes.Contains(p.Data, []byte("SECRET-PLACE")) || bytes.Contains(p.Data, []byte("Exif")) || len(p.Data) > len(photo)/4 {
		t.Fatalf("the EXIF survived (%d bytes out of %d)", len(p.Data), len(photo))
	}
	if jpegOrientation(photo) != 6 || jpegOrientation(p.Data) != 1 {
		t.Fatalf("orientation read %d, after %d", jpegOrientation(photo), jpegOrientation(p.Data))
	}

	// WebP (a 1×1 lossless one) is read too.
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	if p, err = Prepare(webp); err != nil || p.Width != 1 || p.Height != 1 {
		t.Fatalf("WebP: %+v %v", p, err)
	}

	// Big pictures are scaled to fit.
	if p, err = Prepare(encodeJPEG(t, testImage(3000, 1000, false))); err != nil || p.Width != MaxStoredSide || p.Height != MaxStoredSide/3 {
		t.Fatalf("scaled: %dx%d %v", p.Width, p.Height, err)
	}
}

// pixelBomb is a PNG whose header declares w×h pixels, with no pixels.
func pixelBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.WriteString("IHDR")
	b.Write(ihdr)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte("IHDR"), ihdr...)))
	return b.Bytes()
}

func TestPrepareRefusesBadPictures(t *testing.T) {
	good := encodePNG(t, testImage(20, 20, false))
	cases := []struct {
		name     string
		data     []byte
		want     string
		tooLarge bool
	}{
		{"empty", nil, "empty", false},
		{"text", []byte("hello, this is not a picture"), "send a PNG, JPEG or WebP", false},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image/gif", false},
		{"truncated", good[:len(good)/2], "not a readable image/png", false},
		{"pixel bomb", pixelBomb(100000, 100000), "100000×100000 pixels", true},
		{"too long a side", pixelBomb(20000, 10), "20000×10 pixels", true},
		{"too many bytes", append(append([]byte(nil), good...), make([]byte, MaxUploadBytes)...), "the limit is 10 MiB", true},
	}
	for _, tc := range cases {
		start := time.Now()
		_, err := Prepare(tc.data)
		var e *Error
		if err == nil || !IsRefusal(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a refusal saying %q", tc.name, err, tc.want)
			continue
		}
		if e, _ = err.(*Error); e.TooLarge != tc.tooLarge {
			t.Errorf("%s: TooLarge %v", tc.name, e.TooLarge)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %v: the header should have been enough", tc.name, d)
		}
	}
}

// FuzzPrepare: whatever the bytes, a refusal or a picture that decodes
// as what it says, within the stored size.
func FuzzPrepare(f *testing.F) {
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add(pixelBomb(5, 5))
	webp, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	f.Add(webp)
	var b bytes.Buffer
	png.Encode(&b, testImage(3, 2, true))
	f.Add(b.Bytes())
	b.Reset()
	jpeg.Encode(&b, testImage(3, 2, false), nil)
	f.Add(withEXIF(b.Bytes(), 8, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Prepare(data)
		if err != nil {
			if !IsRefusal(err) {
				t.Fatalf("not a refusal: %v", err)
			}
			return
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(p.Data))
		if err != nil || "image/"+format != p.Type || cfg.Width != p.Width || cfg.Height != p.Height || p.Width > MaxStoredSide || p.Height > MaxStoredSide {
			t.Fatalf("stored %s %dx%d decodes as %s %+v %v", p.Type, p.Width, p.Height, format, cfg, err)
		}
	})
}
