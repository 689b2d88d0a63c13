package gateway

import (
	"context"
	"errors"
	"net/http"

	"github.com/maopao/maopao/internal/loopback"
	"github.com/maopao/maopao/protocol"
)

// Models installs models and switches the in-process engine to them; the
// app provides it where this process runs the engine.
type Models interface {
	// Status says what is installed, what can be, and how an install goes.
	Status(ctx context.Context) protocol.ModelStatus
	// Pull starts installing a catalogue model in the background; the
	// engine switches to it when it is ready. ErrPullRunning when an
	// install is under way.
	Pull(name string) error
}

// ErrPullRunning says an install is under way already.
var ErrPullRunning = errors.New("a model is being installed already")

func (a *creatorAPI) registerModels(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/models", a.handleModels)
	a.handle(mux, "POST /api/v1/models/pull", a.handlePull)
}

func (a *creatorAPI) handleModels(w http.ResponseWriter, r *http.Request) *apiError {
	if a.s.Models == nil {
		return problemf(http.StatusNotFound, codeNotFound, "this gateway runs no engine; models are managed where the engine runs (maopao model pull)")
	}
	st := a.s.Models.Status(r.Context())
	st.CanInstall = loopback.From(r)
	writeJSON(w, http.StatusOK, st)
	return nil
}

// handlePull answers POST /api/v1/models/pull {name}: 202 and the install
// runs; GET /api/v1/models follows it. Only the machine Maopao runs on may
// install: a download of tens of gigabytes is the operator's decision.
func (a *creatorAPI) handlePull(w http.ResponseWriter, r *http.Request) *apiError {
	if a.s.Models == nil {
		return problemf(http.StatusNotFound, codeNotFound, "this gateway runs no engine; models are managed where the engine runs (maopao model pull)")
	}
	if !loopback.From(r) {
		return problemf(http.StatusForbidden, codeForbidden, "models can be installed only from the machine Maopao runs on (or there with: maopao model pull)")
	}
	var req protocol.PullRequest
	if e := decodeJSONBody(w, r, 4096, &req); e != nil {
		return e
	}
	if req.Name == "" {
		return invalidFields([]FieldError{{Path: "name", Message: "required: a catalogue model's name"}})
	}
	switch err := a.s.Models.Pull(req.Name); {
	case errors.Is(err, ErrPullRunning):
		return problemf(http.StatusConflict, codeConflict, "%v; wait for it to finish", err)
	case err != nil:
		return problemf(http.StatusUnprocessableEntity, protocol.CodeInvalid, "%v", err)
	}
	writeJSON(w, http.StatusAccepted, a.s.Models.Status(r.Context()).Pull)
	return nil
}

// EngineChanged tells every player on this gateway that replies now come
// from another model.
func (s *Server) EngineChanged(describe string, untrained bool) {
	s.engineMu.Lock()
	s.Engine, s.untrained = describe, untrained
	s.engineMu.Unlock()
	s.broadcast(protocol.Marshal(protocol.EngineChanged{Envelope: protocol.Envelope{Type: protocol.TypeEngineChanged}, Engine: describe, Untrained: untrained}))
}

// engine is what writes replies now, and whether its weights are random.
func (s *Server) engine() (string, bool) {
	s.engineMu.Lock()
	defer s.engineMu.Unlock()
	return s.Engine, s.untrained
}
