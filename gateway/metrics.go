package gateway

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections prometheus.Gauge
	frames      *prometheus.CounterVec
	errors      *prometheus.CounterVec
	lines       prometheus.Counter
	slowClosed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "maopao_gateway_connections", Help: "Open WebSocket connections."}),
		frames:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "maopao_gateway_frames_total", Help: "Client frames received, by type."}, []string{"type"}),
		errors:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "maopao_gateway_errors_total", Help: "Error frames sent, by code."}, []string{"code"}),
		lines:       prometheus.NewCounter(prometheus.CounterOpts{Name: "maopao_gateway_player_lines_total", Help: "Player lines accepted into JetStream."}),
		slowClosed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "maopao_gateway_slow_clients_closed_total", Help: "Connections closed because their write queue overflowed."}),
	}
	reg.MustRegister(m.connections, m.frames, m.errors, m.lines, m.slowClosed, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}
