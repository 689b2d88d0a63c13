package gateway

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/internal/picture"
	"github.com/maopao/maopao/protocol"
)

// Pictures players show characters: uploaded here, then named in a say
// frame. The upload is checked and encoded anew without metadata
// (internal/picture). A picture is served to whoever has its ID (random,
// unguessable), as the page's <img> tags cannot send a token.

// MaxPictureBytesPerPlayer bounds what one player's pictures take.
const MaxPictureBytesPerPlayer = 256 << 20

// pictureDecodes bounds the pictures decoded at once: one can take a few
// hundred megabytes while it is scaled.
var pictureDecodes = make(chan struct{}, 2)

func (a *creatorAPI) registerPictures(mux *http.ServeMux) {
	a.handle(mux, "POST /api/v1/pictures", a.handleUploadPicture)
	a.handle(mux, "GET /api/v1/pictures/{id}", a.handleGetPicture)
	a.handle(mux, "DELETE /api/v1/pictures/{id}", a.handleDeletePicture)
}

// handleUploadPicture answers POST /api/v1/pictures: the body is the
// picture (any Content-Type; the bytes say what it is), or a
// multipart/form-data body with it in the part "file".
func (a *creatorAPI) handleUploadPicture(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	data, e := readPictureBody(w, r)
	if e != nil {
		return e
	}
	select {
	case pictureDecodes <- struct{}{}:
		defer func() { <-pictureDecodes }()
	case <-r.Context().Done():
		return problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "the upload was given up")
	}
	p, err := picture.Prepare(data)
	var pe *picture.Error
	switch {
	case errors.As(err, &pe) && pe.TooLarge:
		return problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "%s", pe.Detail)
	case errors.As(err, &pe):
		return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "%s", pe.Detail)
	case err != nil:
		return problemf(http.StatusInternalServerError, protocol.CodeInternal, "the picture: %v", err)
	}
	used, err := a.s.Store.PictureBytes(r.Context(), player)
	if err != nil {
		return a.storeError("count pictures", err)
	}
	if used+int64(len(p.Data)) > MaxPictureBytesPerPlayer {
		return problemf(http.StatusForbidden, codeQuota, "your pictures take %.1f MiB of %d MiB; this one is %.1f MiB",
			float64(used)/(1<<20), MaxPictureBytesPerPlayer>>20, float64(len(p.Data))/(1<<20))
	}
	info := maopao.Picture{ID: uuid.NewString(), OwnerID: player, Type: p.Type, Width: p.Width, Height: p.Height, Size: len(p.Data), CreatedAt: time.Now().UTC()}
	if err := a.s.Store.PutPicture(r.Context(), info, p.Data); err != nil {
		return a.storeError("store picture", err)
	}
	w.Header().Set("Location", protocol.PictureURL(info.ID))
	writeJSON(w, http.StatusCreated, protocol.PictureInfo{ID: info.ID, URL: protocol.PictureURL(info.ID), Type: info.Type, Width: info.Width, Height: info.Height, Size: info.Size})
	return nil
}

// readPictureBody reads an upload, refusing more than picture.MaxUploadBytes.
func readPictureBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	limit := int64(picture.MaxUploadBytes)
	body := http.MaxBytesReader(w, r.Body, limit+64<<10)
	var src io.Reader = body
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				return nil, problemf(http.StatusBadRequest, protocol.CodeInvalid, "the form has no part \"file\" with the picture")
			}
			if part.FormName() == "file" {
				src = part
				break
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(src, limit+1))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr) || int64(len(data)) > limit:
		return nil, problemf(http.StatusRequestEntityTooLarge, codeTooLarge, "the picture is larger than %d MiB", limit>>20)
	case err != nil:
		return nil, problemf(http.StatusBadRequest, protocol.CodeInvalid, "read the picture: %v", err)
	case len(data) == 0:
		return nil, problemf(http.StatusBadRequest, protocol.CodeInvalid, "the body is empty: send the picture")
	}
	return data, nil
}

// handleGetPicture answers GET /api/v1/pictures/{id}.
func (a *creatorAPI) handleGetPicture(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.PathValue("id")
	if r.Header.Get("If-None-Match") == `"`+id+`"` {
		w.WriteHeader(http.StatusNotModified) // a picture never changes
		return nil
	}
	p, data, err := a.s.Store.GetPicture(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || errors.Is(err, maopao.ErrInvalid) {
		return problemf(http.StatusNotFound, codeNotFound, "no picture %q", id)
	}
	if err != nil {
		return a.storeError("read picture", err)
	}
	h := w.Header()
	h.Set("Content-Type", p.Type)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	h.Set("ETag", `"`+id+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	http.ServeContent(w, r, "", p.CreatedAt, bytes.NewReader(data))
	return nil
}

// handleDeletePicture answers DELETE /api/v1/pictures/{id}: its owner
// takes it back (lines that showed it show it no more).
func (a *creatorAPI) handleDeletePicture(w http.ResponseWriter, r *http.Request) *apiError {
	player, e := a.s.player(r)
	if e != nil {
		return e
	}
	id := r.PathValue("id")
	p, err := a.s.Store.PictureInfo(r.Context(), id)
	if errors.Is(err, maopao.ErrNotFound) || (err == nil && p.OwnerID != player) {
		return problemf(http.StatusNotFound, codeNotFound, "no picture %q of yours", id)
	}
	if err != nil {
		return a.storeError("read picture", err)
	}
	if err := a.s.Store.DeletePicture(r.Context(), id); err != nil && !errors.Is(err, maopao.ErrNotFound) {
		return a.storeError("delete picture", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
