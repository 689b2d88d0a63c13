package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/internal/loopback"
)

// front is a role's HTTP handler from the moment it listens: while the
// role starts (waiting for NATS, the store, the streams) it answers
// /healthz as alive, /readyz as not ready with what it waits for, and
// everything else with 503; once the role is ready its own handler
// serves, and /readyz says ready. A load balancer sends players only to
// roles that are ready, and an orchestrator restarts only ones that are
// not alive.
type front struct {
	mu      sync.RWMutex
	role    http.Handler // nil while starting
	waiting string
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.RLock()
	role, waiting := f.role, f.waiting
	f.mu.RUnlock()
	if r.URL.Path == "/readyz" {
		if role == nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "waiting_for": waiting})
			return
		}
		writeStatus(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	if role != nil {
		role.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		writeStatus(w, http.StatusOK, map[string]string{"status": "starting", "waiting_for": waiting})
		return
	}
	w.Header().Set("Retry-After", "2")
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": "Service Unavailable", "status": http.StatusServiceUnavailable,
		"code": "unavailable", "detail": "starting: waiting for " + waiting})
}

func writeStatus(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *front) wait(what string) {
	f.mu.Lock()
	f.waiting = what
	f.mu.Unlock()
}

func (f *front) ready(h http.Handler) {
	f.mu.Lock()
	f.role, f.waiting = h, ""
	f.mu.Unlock()
}

// listen opens the role's HTTP listener with the front handler in place.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("app: listen on %s: %w", s.cfg.Addr, err)
	}
	s.front = &front{waiting: "start-up"}
	// A request must arrive whole in ReadTimeout: a body trickled a byte at
	// a time cannot hold a connection (WebSockets clear the deadline when
	// they take the connection over). No write timeout: the studio streams
	// a reply for as long as it takes.
	hs := &http.Server{Handler: s.front, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: s.cfg.HTTPReadTimeout, IdleTimeout: s.cfg.HTTPIdleTimeout}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	s.url = "http://" + ln.Addr().String()
	s.http = hs
	return nil
}

// retry runs f until it succeeds, pausing longer after each failure (up to
// 10s): a role started before NATS or MongoDB is up waits for them
// instead of exiting. A configuration error (maopao.ErrInvalid) is not
// retried, nor is anything once ctx ends.
func (s *Server) retry(ctx context.Context, what string, f func(context.Context) error) error {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, maopao.ErrInvalid) || ctx.Err() != nil {
			return err
		}
		if s.front != nil {
			s.front.wait(what)
		}
		s.log.Warn("waiting for "+what, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up waiting for %s: %v)", err, what, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// probes is what a role without a player-facing surface (worldsim) serves
// once ready: /healthz, and /metrics to this machine unless made public.
func (s *Server) probes() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.engineHealth(ctx); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, map[string]string{"status": "degraded", "engine": err.Error()})
			return
		}
		writeStatus(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.MetricsPublic && !loopback.From(r) {
			writeStatus(w, http.StatusForbidden, map[string]string{"code": "forbidden", "detail": "metrics are served to the machine Maopao runs on only (--metrics-public serves them to all)"})
			return
		}
		metrics.ServeHTTP(w, r)
	})
	return mux
}

// processID is the name this process holds leases under. `maopao serve`
// with its embedded NATS is the only process on it: "maopao-serve". A
// world simulation keeps a name of its own in its (locked) data folder, so
// that it is the same after a restart and different from every other.
func (s *Server) processID(role Role) (string, error) {
	if s.cfg.NATSURL == "" {
		return "maopao-serve", nil
	}
	if role == RoleAll && s.cfg.MongoURI != "" {
		// Not locked: the data folder may be shared; a fresh name is safe.
		return "worldsim-" + uuid.NewString(), nil
	}
	path := filepath.Join(s.cfg.DataDir, "process-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	id := "worldsim-" + uuid.NewString()
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("app: keep the process name in %s: %w", path, err)
	}
	return id, nil
}
