package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/protocol"
)

// Limits of draft previews.
const (
	// MaxPreviewBodyBytes bounds POST /api/v1/studio/preview; the request
	// crosses NATS, whose default payload limit is about this size.
	MaxPreviewBodyBytes = 1 << 20
	// PreviewTimeout bounds a whole preview, generation included.
	PreviewTimeout = 120 * time.Second
	// previewStartTimeout bounds the wait for the service's first event,
	// which it sends before generating: longer means it is stuck or gone.
	previewStartTimeout = 20 * time.Second
	// maxPreviewsPerPlayer bounds one account's concurrent previews on one
	// gateway; each holds an engine slot.
	maxPreviewsPerPlayer = 2
	previewKeepAlive     = 15 * time.Second
)

// studioAPI serves the creator studio's endpoints.
type studioAPI struct {
	s  *Server
	mu sync.Mutex
	// running counts each player's previews in flight on this gateway.
	running map[string]int
}

// registerStudioAPI mounts the creator studio's endpoints (draft previews).
func (s *Server) registerStudioAPI(mux *http.ServeMux) {
	a := &studioAPI{s: s, running: map[string]int{}}
	mux.HandleFunc("POST /api/v1/studio/preview", a.handlePreview)
	mux.HandleFunc("/api/v1/studio/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/studio/preview" {
			w.Header().Set("Allow", http.MethodPost)
			writeAPIError(w, problemf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "%s %s: use POST", r.Method, r.URL.Path))
			return
		}
		writeAPIError(w, problemf(http.StatusNotFound, codeNotFound, "no API endpoint at %s", r.URL.Path))
	})
}

// handlePreview runs a test chat with a draft character: the request goes
// to a world simulation over the bus and its events come back as
// server-sent events (lore, then deltas, then complete or error).
func (a *studioAPI) handlePreview(w http.ResponseWriter, r *http.Request) {
	acc, e := a.s.creator(r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	req, e := decodePreview(w, r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !a.acquire(acc.PlayerID) {
		e := problemf(http.StatusTooManyRequests, protocol.CodeRateLimited,
			"%d previews are already running for this account; wait for one to finish", maxPreviewsPerPlayer)
		e.header = http.Header{"Retry-After": {"5"}}
		writeAPIError(w, e)
		return
	}
	defer a.release(acc.PlayerID)

	req.ID = uuid.NewString()
	req.Deadline = time.Now().Add(PreviewTimeout)
	run, e := a.startPreview(req)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	defer run.end()
	// The first event decides between a problem answer and a stream.
	first, e := run.first(r.Context())
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if first.Kind != "" {
		run.stream(w, r, req.Deadline, first)
	}
}

// previewRun is one preview in flight: its request is out on the bus and
// its events come back to an inbox of its own.
type previewRun struct {
	s        *Server
	id       string
	sub      bus.Subscription
	events   chan bus.Msg
	finished bool // the service is done with it (no need to cancel)
}

// startPreview sends the request to whichever world simulation takes it.
func (a *studioAPI) startPreview(req protocol.PreviewRequest) (*previewRun, *apiError) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, problemf(http.StatusInternalServerError, protocol.CodeInternal, "encode the preview request: %v", err)
	}
	if max := a.s.Bus.MaxPayload(); int64(len(data)) > max {
		return nil, problemf(http.StatusRequestEntityTooLarge, codeTooLarge,
			"the draft is %d bytes as a preview request, more than the %d the message bus carries; shorten the lorebook or the test chat", len(data), max)
	}
	// A generous buffer: deltas arrive faster than a slow browser may read,
	// and a full channel drops events (caught by the sequence check).
	run := &previewRun{s: a.s, id: req.ID, events: make(chan bus.Msg, 4096)}
	inbox := a.s.Bus.NewInbox()
	run.sub, err = a.s.Bus.Subscribe(inbox, func(m bus.Msg) {
		select {
		case run.events <- m:
		default:
		}
	})
	if err != nil {
		return nil, problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "the message bus is unavailable: %v", err)
	}
	if err := a.s.Bus.PublishRequest(protocol.StudioPreviewSubject, inbox, data); err != nil {
		_ = run.sub.Unsubscribe()
		return nil, problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable, "the message bus is unavailable: %v", err)
	}
	return run, nil
}

// end stops listening; a preview the service did not finish (the browser
// left, or it timed out) is cancelled so the engine stops.
func (p *previewRun) end() {
	_ = p.sub.Unsubscribe()
	if !p.finished {
		_ = p.s.Bus.Publish(protocol.StudioPreviewCancelSubject(p.id), nil)
	}
}

// first waits for the preview's first event: an error before any output
// is a problem answer. A zero event with no problem means the client left.
func (p *previewRun) first(ctx context.Context) (protocol.PreviewEvent, *apiError) {
	var first protocol.PreviewEvent
	start := time.NewTimer(previewStartTimeout)
	defer start.Stop()
	select {
	case <-ctx.Done():
		return first, nil
	case <-start.C:
		return first, problemf(http.StatusGatewayTimeout, protocol.CodeUnavailable,
			"no world simulation took the preview within %v; try again", previewStartTimeout)
	case m := <-p.events:
		if m.NoResponders {
			p.finished = true
			return first, problemf(http.StatusServiceUnavailable, protocol.CodeUnavailable,
				"no world simulation is running to answer previews; try again later")
		}
		if err := json.Unmarshal(m.Data, &first); err != nil || first.Seq != 0 || first.Kind == "" {
			return protocol.PreviewEvent{}, problemf(http.StatusBadGateway, protocol.CodeInternal, "the preview service sent a malformed first event")
		}
		if first.Kind == protocol.PreviewError {
			p.finished = true
			return protocol.PreviewEvent{}, serviceProblem(first.Error)
		}
		return first, nil
	}
}

// stream relays the preview's events to the browser as server-sent
// events, in order, until it completes, fails, times out or the browser
// leaves.
func (p *previewRun) stream(w http.ResponseWriter, r *http.Request, deadline time.Time, first protocol.PreviewEvent) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies must not hold the stream back
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(deadline.Add(10 * time.Second))
	w.WriteHeader(http.StatusOK)

	send := func(ev protocol.PreviewEvent) error {
		name, payload := sseData(ev)
		b, _ := json.Marshal(payload)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(first); err != nil {
		return
	}
	overall := time.NewTimer(time.Until(deadline))
	defer overall.Stop()
	keepAlive := time.NewTicker(previewKeepAlive)
	defer keepAlive.Stop()
	next := 1
	for {
		select {
		case <-r.Context().Done():
			return
		case <-overall.C:
			_ = send(protocol.PreviewEvent{Kind: protocol.PreviewError, Error: &protocol.PreviewErrorData{
				Code: protocol.CodeEngine, Message: fmt.Sprintf("the preview took longer than %v and was stopped", PreviewTimeout)}})
			return
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case m := <-p.events:
			var ev protocol.PreviewEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Seq != next {
				_ = send(protocol.PreviewEvent{Kind: protocol.PreviewError, Error: &protocol.PreviewErrorData{
					Code: protocol.CodeInternal, Message: "part of the preview was lost on the way; send the line again"}})
				return
			}
			next++
			if err := send(ev); err != nil {
				return
			}
			if ev.Kind == protocol.PreviewComplete || ev.Kind == protocol.PreviewError {
				p.finished = true
				return
			}
		}
	}
}

// sseData is the server-sent event name and data object for ev.
func sseData(ev protocol.PreviewEvent) (string, any) {
	switch ev.Kind {
	case protocol.PreviewLore:
		if ev.Lore == nil {
			return ev.Kind, protocol.PreviewLoreData{Entries: []protocol.PreviewLoreEntry{}, Dropped: []protocol.PreviewLoreEntry{}, Warnings: []string{}}
		}
		return ev.Kind, ev.Lore
	case protocol.PreviewDelta:
		return ev.Kind, protocol.PreviewDeltaData{Text: ev.Text}
	case protocol.PreviewComplete:
		return ev.Kind, protocol.PreviewCompleteData{Text: ev.Text, FinishReason: ev.FinishReason}
	case protocol.PreviewError:
		if ev.Error == nil {
			return ev.Kind, protocol.PreviewErrorData{Code: protocol.CodeInternal, Message: "the preview failed"}
		}
		return ev.Kind, ev.Error
	}
	return protocol.PreviewError, protocol.PreviewErrorData{Code: protocol.CodeInternal, Message: "the preview service sent an unknown event " + strconv.Quote(ev.Kind)}
}

// serviceProblem turns an error the service answered with before any
// output into the HTTP problem a client can act on.
func serviceProblem(d *protocol.PreviewErrorData) *apiError {
	if d == nil {
		return problemf(http.StatusBadGateway, protocol.CodeInternal, "the preview failed")
	}
	status := http.StatusBadGateway
	switch d.Code {
	case protocol.CodeRateLimited:
		e := problemf(http.StatusTooManyRequests, d.Code, "%s", d.Message)
		e.header = http.Header{"Retry-After": {"5"}}
		return e
	case protocol.CodeInvalid, protocol.CodeBadJSON:
		status = http.StatusUnprocessableEntity
	case protocol.CodeUnavailable:
		status = http.StatusServiceUnavailable
	}
	return problemf(status, d.Code, "%s", d.Message)
}

func (a *studioAPI) acquire(player string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running[player] >= maxPreviewsPerPlayer {
		return false
	}
	a.running[player]++
	return true
}

func (a *studioAPI) release(player string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running[player]--; a.running[player] <= 0 {
		delete(a.running, player)
	}
}

// decodePreview reads and checks a preview body, naming every field at
// fault with the creator API's paths ("character.name", "messages[2].role").
func decodePreview(w http.ResponseWriter, r *http.Request) (protocol.PreviewRequest, *apiError) {
	var out protocol.PreviewRequest
	var body protocol.PreviewBody
	if e := decodeJSONBody(w, r, MaxPreviewBodyBytes, &body); e != nil {
		return out, e
	}
	var errs []FieldError
	raw := bytes.TrimSpace(body.Character)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		errs = append(errs, FieldError{Path: "character", Message: "required: the draft character"})
	} else {
		var c characterBody
		if e := decodeJSON(bytes.NewReader(raw), MaxPreviewBodyBytes, &c); e != nil {
			prefixPaths(e, "character")
			return out, e
		}
		// The avatar does not reach a prompt, and a draft read back with GET
		// may carry it.
		c.Avatar, c.AvatarType = nil, ""
		for _, fe := range validateCharacter(&c.Character) {
			errs = append(errs, FieldError{Path: "character." + fe.Path, Message: fe.Message})
		}
		out.Character = c.Character
	}
	switch n := len(body.Messages); {
	case n == 0:
		errs = append(errs, FieldError{Path: "messages", Message: "required: at least the user's line to answer"})
	case n > protocol.MaxPreviewMessages:
		errs = append(errs, FieldError{Path: "messages", Message: fmt.Sprintf("%d messages, more than %d", n, protocol.MaxPreviewMessages)})
	default:
		for i, m := range body.Messages {
			p := fmt.Sprintf("messages[%d]", i)
			if m.Role != string(maopao.RoleUser) && m.Role != string(maopao.RoleCharacter) {
				errs = append(errs, FieldError{Path: p + ".role", Message: fmt.Sprintf("%q: want user or character", m.Role)})
			}
			if n := utf8.RuneCountInString(m.Content); n > protocol.MaxPreviewMessageRunes {
				errs = append(errs, FieldError{Path: p + ".content", Message: fmt.Sprintf("%d characters, more than %d", n, protocol.MaxPreviewMessageRunes)})
			} else if strings.TrimSpace(m.Content) == "" && m.Role == string(maopao.RoleUser) {
				errs = append(errs, FieldError{Path: p + ".content", Message: "empty line"})
			}
		}
		if last := body.Messages[len(body.Messages)-1]; last.Role != string(maopao.RoleUser) {
			errs = append(errs, FieldError{Path: fmt.Sprintf("messages[%d].role", len(body.Messages)-1),
				Message: "the last line must be the user's, for the character to answer it"})
		}
	}
	name := strings.TrimSpace(body.UserName)
	if n := utf8.RuneCountInString(name); n > maxPlayerNameRunes {
		errs = append(errs, FieldError{Path: "user_name", Message: fmt.Sprintf("%d characters, more than %d", n, maxPlayerNameRunes)})
	}
	if len(errs) > 0 {
		if len(errs) > 16 {
			errs = append(errs[:16], FieldError{Path: "(body)", Message: fmt.Sprintf("and %d more errors", len(errs)-16)})
		}
		return out, invalidFields(errs)
	}
	out.Messages = body.Messages
	out.UserName = name
	return out, nil
}

// prefixPaths moves the field paths of a problem found in a nested
// document under prefix.
func prefixPaths(e *apiError, prefix string) {
	for i := range e.errs {
		if e.errs[i].Path == "(body)" {
			e.errs[i].Path = prefix
		} else {
			e.errs[i].Path = prefix + "." + e.errs[i].Path
		}
	}
	if len(e.errs) == 0 {
		e.errs = []FieldError{{Path: prefix, Message: e.detail}}
	}
	e.detail = prefix + ": " + e.detail
}
