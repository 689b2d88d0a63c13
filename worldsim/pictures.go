package worldsim

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/engine"
)

// Pictures in prompts, for chats and worlds alike: a prompt names its
// pictures by ID; just before the engine is called their bytes are loaded
// (the newest few), or, for an engine that cannot see, they are put into
// words.

// maxPromptPictures is how many of a chat's newest pictures go to an
// engine that sees; older ones are named in words.
const maxPromptPictures = 3

// pictureStore reads stored pictures.
type pictureStore interface {
	GetPicture(ctx context.Context, id string) (maopao.Picture, []byte, error)
}

// attachPictures loads the bytes of the newest pictures a prompt names,
// for an engine that sees, and puts the others (all of them for a blind
// engine) into words. unseen says whether the last user message (the line
// answered) showed pictures the engine will not see for being blind.
func attachPictures(ctx context.Context, st pictureStore, log *slog.Logger, req engine.Request, blind bool) (out engine.Request, unseen bool) {
	msgs := slices.Clone(req.Messages)
	kept := 0
	last := true
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Role != "user" {
			continue
		}
		if len(m.Pictures) > 0 {
			var pics []engine.Picture
			dropped := 0
			for _, p := range m.Pictures {
				if !blind && kept < maxPromptPictures {
					info, data, err := st.GetPicture(ctx, p.ID)
					if err == nil {
						pics = append(pics, engine.Picture{ID: p.ID, Type: info.Type, Data: data})
						kept++
						continue
					}
					if !errors.Is(err, maopao.ErrNotFound) {
						log.Warn("load picture", "picture", p.ID, "err", err)
					}
				}
				dropped++
			}
			m.Pictures = pics
			if dropped > 0 {
				m.Content = strings.TrimSpace(m.Content + " " + pictureNote(dropped, blind))
			}
			unseen = unseen || (last && blind && dropped > 0)
			msgs[i] = m
		}
		last = false
	}
	req.Messages = msgs
	return req, unseen
}

// pictureNote names pictures a prompt does not carry.
func pictureNote(n int, blind bool) string {
	what := "a picture"
	if n > 1 {
		what = strconv.Itoa(n) + " pictures"
	}
	if blind {
		return "[shows " + what + ", which you cannot see]"
	}
	return "[showed " + what + " earlier]"
}
