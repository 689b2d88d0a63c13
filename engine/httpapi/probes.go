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

func newProbes(gen engine.Generator) *probes {
	reg := prometheus.NewRegistry()
	p := &probes{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "maopao_engine_requests_total", Help: "Chat completion requests, by outcome."}, []string{"outcome"}),
		tokens:   prometheus.NewCounter(prometheus.CounterOpts{Name: "maopao_engine_completion_tokens_total", Help: "Tokens generated."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "maopao_engine_requests_in_flight", Help: "Chat completion requests being answered."}),
	}
	reg.MustRegister(p.requests, p.tokens, p.inFlight, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerLoad(reg, gen)
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

// registerLoad exports the engine's Load, read at each scrape (the model
// behind a Swappable may change between two).
func registerLoad(reg *prometheus.Registry, gen engine.Generator) {
	load := func() engine.Load {
		if lr, ok := gen.(engine.LoadReporter); ok {
			return lr.Load()
		}
		return engine.Load{}
	}
	gauge := func(name, help string, f func(engine.Load) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(load()) }))
	}
	counter := func(name, help string, f func(engine.Load) float64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(load()) }))
	}
	gauge("maopao_engine_active_sequences", "Conversations running in the KV cache.", func(l engine.Load) float64 { return float64(l.Active) })
	gauge("maopao_engine_slots", "Conversations that may run at once (--parallel).", func(l engine.Load) float64 { return float64(l.Slots) })
	gauge("maopao_engine_queue_length", "Requests waiting for a conversation slot.", func(l engine.Load) float64 { return float64(l.Waiting) })
	gauge("maopao_engine_kv_bytes", "KV cache memory in use.", func(l engine.Load) float64 { return float64(l.KVBytes) })
	gauge("maopao_engine_kv_capacity_bytes", "KV cache memory the engine may use.", func(l engine.Load) float64 { return float64(l.KVCapacity) })
	gauge("maopao_engine_prefix_cache_bytes", "KV memory the prefix cache holds for conversations no longer running.", func(l engine.Load) float64 { return float64(l.PrefixCacheBytes) })
	counter("maopao_engine_prefix_cache_evicted_bytes_total", "KV memory the prefix cache gave back under memory pressure.", func(l engine.Load) float64 { return float64(l.PrefixEvictedBytes) })
	counter("maopao_engine_prompt_tokens_total", "Prompt tokens requested.", func(l engine.Load) float64 { return float64(l.PromptTokens) })
	counter("maopao_engine_cached_prompt_tokens_total", "Prompt tokens found in the KV cache and not recomputed.", func(l engine.Load) float64 { return float64(l.CachedPromptTokens) })
	counter("maopao_engine_prefix_cache_hits_total", "Requests that found part of their prompt cached.", func(l engine.Load) float64 { return float64(l.PrefixHits) })
	counter("maopao_engine_prefix_cache_lookups_total", "Requests that looked for their prompt in the cache.", func(l engine.Load) float64 { return float64(l.Requests) })
}
