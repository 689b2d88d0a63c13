package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/bus"
	"github.com/maopao/maopao/storage/ferrettest"
)

func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String(), l.Addr().(*net.TCPAddr).Port
}

func readyz(url string) (int, map[string]string) {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// A gateway started before its NATS is up waits for it, saying so on
// /readyz, and serves once NATS comes: it does not exit.
func TestGatewayWaitsForNATSAndSaysSoOnReadyz(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mongoURI := ferrettest.Start(t)
	httpAddr, _ := freeAddr(t)
	_, natsPort := freeAddr(t)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)

	started := make(chan error, 1)
	var gw *app.Server
	go func() {
		var err error
		gw, err = app.StartRole(ctx, app.RoleGateway, app.Config{Addr: httpAddr, DataDir: t.TempDir(), NATSURL: natsURL, MongoURI: mongoURI, Log: quietLog()})
		started <- err
	}()
	base := "http://" + httpAddr
	for {
		status, body := readyz(base)
		if status == http.StatusServiceUnavailable && body["waiting_for"] == "NATS" {
			break
		}
		select {
		case err := <-started:
			t.Fatalf("the gateway returned (%v) before NATS was up", err)
		case <-ctx.Done():
			t.Fatalf("/readyz never said it waits for NATS (last: %d %v)", status, body)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if resp, err := http.Get(base + "/api/v1/characters"); err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("an API call while starting: %v %v, want 503 with Retry-After", resp, err)
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz while starting: %v %v, want 200 (alive)", resp, err)
	}

	nats, err := bus.StartEmbeddedWith(bus.EmbeddedOptions{Port: natsPort, StoreDir: filepath.Join(t.TempDir(), "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()
	if err := <-started; err != nil {
		t.Fatalf("the gateway gave up: %v", err)
	}
	defer gw.Close()
	if status, body := readyz(base); status != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("/readyz after start: %d %v", status, body)
	}
	if resp, err := http.Get(base + "/api/v1/characters"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the API once ready: %v %v", resp, err)
	}
}

// The world simulation role serves /healthz, /readyz and /metrics too.
func TestWorldsimRoleServesProbes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nats, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer nats.Shutdown()
	model, err := tinyModel()
	if err != nil {
		t.Fatal(err)
	}
	ws, err := app.StartRole(ctx, app.RoleWorldsim, app.Config{DataDir: t.TempDir(), NATSURL: nats.URL(), MongoURI: ferrettest.Start(t), ModelPath: model, Threads: 1, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if status, _ := readyz(ws.URL()); status != http.StatusOK {
		t.Fatalf("/readyz of a started worldsim: %d", status)
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(ws.URL() + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
}
