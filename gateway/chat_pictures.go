package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/internal/picture"
	"github.com/maopao/maopao/protocol"
)

// Pictures in chat files. SillyTavern keeps a picture attached to a line
// in the line's extra.image; an exported chat puts the first picture there
// as a data URL, so the file stands alone, and every picture, in order,
// in extra.maopao_images. An import takes maopao_images, else image, when
// they are data URLs (a path or a URL names a file that did not come
// with the chat), checks each as an upload, and stores it as the player's.

// maxImportPictures bounds the pictures one imported chat may bring.
const maxImportPictures = 200

type pictureExtra struct {
	Image        string   `json:"image,omitempty"`
	MaopaoImages []string `json:"maopao_images,omitempty"`
}

// exportPictureExtra merges a message's pictures into a line's extra.
func (a *creatorAPI) exportPictureExtra(ctx context.Context, ids []string, extra json.RawMessage) (json.RawMessage, error) {
	if len(ids) == 0 {
		return extra, nil
	}
	fields := map[string]any{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &fields); err != nil {
			fields = map[string]any{}
		}
	}
	var urls []string
	for _, id := range ids {
		p, data, err := a.s.Store.GetPicture(ctx, id)
		if err != nil {
			continue // taken back by its owner: the line goes without it
		}
		urls = append(urls, "data:"+p.Type+";base64,"+base64.StdEncoding.EncodeToString(data))
	}
	if len(urls) == 0 {
		return extra, nil
	}
	fields["image"], fields["maopao_images"] = urls[0], urls
	return json.Marshal(fields)
}

// importPictures stores the pictures a line's extra carries as the
// player's and returns their ids; budget counts down the chat's pictures.
func (a *creatorAPI) importPictures(ctx context.Context, player string, extra json.RawMessage, budget *int) ([]string, error) {
	if len(extra) == 0 {
		return nil, nil
	}
	var x pictureExtra
	if json.Unmarshal(extra, &x) != nil {
		return nil, nil
	}
	urls := x.MaopaoImages
	if len(urls) == 0 && x.Image != "" {
		urls = []string{x.Image}
	}
	var ids []string
	for _, u := range urls {
		data, ok := dataURLBytes(u)
		if !ok || len(ids) >= protocol.MaxPicturesPerLine {
			continue
		}
		if *budget <= 0 {
			return nil, fmt.Errorf("more than %d pictures in one chat: %w", maxImportPictures, maopao.ErrInvalid)
		}
		*budget--
		p, err := picture.Prepare(data)
		if err != nil {
			return nil, fmt.Errorf("a picture: %v: %w", err, maopao.ErrInvalid)
		}
		info := maopao.Picture{ID: uuid.NewString(), OwnerID: player, Type: p.Type, Width: p.Width, Height: p.Height, Size: len(p.Data), CreatedAt: time.Now().UTC()}
		if err := a.s.Store.PutPicture(ctx, info, p.Data); err != nil {
			return nil, err
		}
		ids = append(ids, info.ID)
	}
	return ids, nil
}

// dataURLBytes reads a base64 data URL of an image.
func dataURLBytes(u string) ([]byte, bool) {
	head, b64, ok := strings.Cut(u, ",")
	if !ok || !strings.HasPrefix(head, "data:image/") || !strings.HasSuffix(head, ";base64") {
		return nil, false
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	return data, err == nil
}
