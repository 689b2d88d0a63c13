package card

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"

	"github.com/maopao/maopao/internal/picture"
)

// Limits on a character's picture, checked from its header before any
// pixel is decoded. A JPEG is turned into a PNG once, when it is uploaded,
// and scaled to fit ConvertedAvatarSide: cards are PNG files, and
// converting a 16-megapixel photo on every export cost seconds of CPU
// and tens of megabytes per request.
const (
	MaxAvatarSide       = 4096 // pixels, either side
	MaxAvatarPixels     = MaxAvatarSide * MaxAvatarSide
	ConvertedAvatarSide = 1024 // a converted JPEG's longer side at most
)

// AvatarError says why a picture cannot be a character's avatar.
type AvatarError struct {
	Unsupported bool // not a PNG or JPEG (ContentType says what it is)
	ContentType string
	Detail      string
}

func (e *AvatarError) Error() string { return e.Detail }

// PrepareAvatar checks a picture and returns what to store: a PNG as it
// is, a JPEG converted to PNG (scaled down to fit ConvertedAvatarSide).
// Pictures that are not PNG or JPEG, that do not decode, or whose header
// declares more than MaxAvatarSide pixels a side are refused.
func PrepareAvatar(data []byte) ([]byte, string, error) {
	if len(data) == 0 {
		return nil, "", &AvatarError{Unsupported: true, ContentType: "empty", Detail: "the picture is empty"}
	}
	ct := http.DetectContentType(data)
	var (
		cfg image.Config
		err error
	)
	switch ct {
	case "image/png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "image/jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	default:
		return nil, "", &AvatarError{Unsupported: true, ContentType: ct, Detail: fmt.Sprintf("the picture is %s; send a PNG or JPEG", ct)}
	}
	if err != nil {
		return nil, "", &AvatarError{ContentType: ct, Detail: fmt.Sprintf("the picture is not a readable %s: %v", ct, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxAvatarSide || cfg.Height > MaxAvatarSide {
		return nil, "", &AvatarError{ContentType: ct, Detail: fmt.Sprintf("the picture is %d×%d pixels; the limit is %d×%d", cfg.Width, cfg.Height, MaxAvatarSide, MaxAvatarSide)}
	}
	if ct == "image/png" {
		return data, ct, nil
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", &AvatarError{ContentType: ct, Detail: fmt.Sprintf("the picture is not a readable JPEG: %v", err)}
	}
	img = picture.FitWithin(img, ConvertedAvatarSide)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, "", fmt.Errorf("card: encode avatar as PNG: %w", err)
	}
	return buf.Bytes(), "image/png", nil
}
