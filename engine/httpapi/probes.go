package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/internal/loopback"
)

// probes are the engine role's /healthz, /readyz and /metrics, as every
// role has them. The engine is ready as soon as it serves: its model is
// loaded before the listener opens.
type probes struct {
	requests *prometheus.CounterVec
	tokens   prometheus.Counter
	inFlight prometheus.Gauge
	metrics  http.Handler
}

func newProbes() *probes {
	reg := prometheus.NewRegistry()
	p := &probes{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "maopao_engine_requests_total", Help: "Chat completion requests, by outcome."}, []string{"outcome"}),
		tokens:   prometheus.NewCounter(prometheus.CounterOpts{Name: "maopao_engine_completion_tokens_total", Help: "Tokens generated."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "maopao_engine_requests_in_flight", Help: "Chat completion requests being answered."}),
	}
	reg.MustRegister(p.requests, p.tokens, p.inFlight, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return p
}

// count records one answered request.
func (p *probes) count(ctx context.Context, res engine.Result, err error) {
	outcome := "ok"
	switch {
	case ctx.Err() != nil:
		outcome = "cancelled"
	case err != nil:
		outcome = "error"
	}
	p.requests.WithLabelValues(outcome).Inc()
	p.tokens.Add(float64(res.CompletionTokens))
}

func (s *Server) registerProbes() {
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "model": s.model})
	}
	s.mux.HandleFunc("GET /healthz", ok)
	s.mux.HandleFunc("GET /readyz", ok)
	s.mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if !s.MetricsPublic && !loopback.From(r) {
			problem(w, http.StatusForbidden, "forbidden", "Forbidden", "metrics are served to the machine the engine runs on only")
			return
		}
		s.probes.metrics.ServeHTTP(w, r)
	})
}
