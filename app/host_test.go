package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Listening on loopback, the server answers only requests naming this
// machine: a page on another name pointed at 127.0.0.1 (DNS rebinding)
// gets nothing.
func TestDNSRebindingRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := startServe(t, t.TempDir(), nil)
	defer srv.Close()
	for host, want := range map[string]int{"evil.example": http.StatusMisdirectedRequest, "evil.example:8080": http.StatusMisdirectedRequest,
		"localhost:8080": http.StatusOK, "127.0.0.1": http.StatusOK, "[::1]:80": http.StatusOK} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL()+"/api/v1/characters", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if m := metricsText(t, ctx, srv.URL()); m == "" {
		t.Error("metrics refused to this machine")
	}
}
