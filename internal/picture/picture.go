// Package picture checks the pictures players attach to chat lines and
// turns them into what is stored: only PNG, JPEG and WebP are taken; the
// header's size is checked before any pixel is decoded (a "pixel bomb"
// declares gigapixels in a few bytes); the picture is decoded, turned the
// way its EXIF orientation says, scaled to fit MaxStoredSide, and encoded
// anew, which leaves every piece of metadata behind (EXIF with GPS
// positions, PNG text chunks, ICC profiles).
package picture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"net/http"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Limits.
const (
	MaxUploadBytes = 10 << 20 // what a player may send
	MaxSide        = 16384    // pixels, either side, as the header declares
	MaxPixels      = 50e6     // pixels in all, as the header declares
	MaxStoredSide  = 2048     // the stored picture's longer side at most
	maxStoredBytes = 8 << 20  // a PNG larger than this is stored as a JPEG
	jpegQuality    = 88
)

// Picture is a checked picture, ready to store.
type Picture struct {
	Data          []byte
	Type          string // "image/png" or "image/jpeg"
	Width, Height int
}

// Error says why a picture was refused, in words for the player.
type Error struct {
	Detail string
	// TooLarge: refused for its size (bytes or pixels), not its content.
	TooLarge bool
}

func (e *Error) Error() string { return e.Detail }

func refuse(format string, args ...any) error { return &Error{Detail: fmt.Sprintf(format, args...)} }

// Prepare checks data and returns the picture to store.
func Prepare(data []byte) (Picture, error) {
	if len(data) == 0 {
		return Picture{}, refuse("the picture is empty")
	}
	if len(data) > MaxUploadBytes {
		return Picture{}, &Error{Detail: fmt.Sprintf("the picture is %.1f MiB; the limit is %d MiB", float64(len(data))/(1<<20), MaxUploadBytes>>20), TooLarge: true}
	}
	ct := http.DetectContentType(data)
	var (
		cfg    image.Config
		err    error
		decode func([]byte) (image.Image, error)
	)
	switch ct {
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "image/webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return Picture{}, refuse("the file is %s; send a PNG, JPEG or WebP picture", ct)
	}
	if err != nil {
		return Picture{}, refuse("the picture is not a readable %s: %v", ct, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxSide || cfg.Height > MaxSide || float64(cfg.Width)*float64(cfg.Height) > MaxPixels {
		return Picture{}, &Error{Detail: fmt.Sprintf("the picture is %d×%d pixels; the limit is %d megapixels and %d pixels a side", cfg.Width, cfg.Height, int(MaxPixels/1e6), MaxSide), TooLarge: true}
	}
	img, err := decode(data)
	if err != nil {
		return Picture{}, refuse("the picture is not a readable %s: %v", ct, err)
	}
	img = FitWithin(img, MaxStoredSide) // first: turning fewer pixels is quicker
	if ct == "image/jpeg" {
		img = orient(img, jpegOrientation(data))
	}
	b := img.Bounds()
	out := Picture{Width: b.Dx(), Height: b.Dy()}
	// Photos stay JPEG; drawings and anything with transparency PNG.
	if ct != "image/jpeg" && !opaque(img) {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return Picture{}, fmt.Errorf("picture: encode PNG: %w", err)
		}
		if buf.Len() <= maxStoredBytes {
			out.Data, out.Type = buf.Bytes(), "image/png"
			return out, nil
		}
		img = onWhite(img) // too big as a PNG: a JPEG it is
	}
	if ct == "image/png" && opaque(img) {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err == nil && buf.Len() <= maxStoredBytes {
			out.Data, out.Type = buf.Bytes(), "image/png"
			return out, nil
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality}); err != nil {
		return Picture{}, fmt.Errorf("picture: encode JPEG: %w", err)
	}
	out.Data, out.Type = buf.Bytes(), "image/jpeg"
	return out, nil
}

// IsRefusal says whether err is a picture refused for what it is (not a
// failure of ours).
func IsRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

func onWhite(img image.Image) image.Image {
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, b, img, b.Min, draw.Over)
	return dst
}

// FitWithin scales img down so neither side exceeds side pixels, keeping
// its proportions; smaller pictures are returned as they are.
func FitWithin(img image.Image, side int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= side && h <= side {
		return img
	}
	if w >= h {
		w, h = side, max(1, h*side/w)
	} else {
		w, h = max(1, w*side/h), side
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, xdraw.Src, nil)
	return dst
}
