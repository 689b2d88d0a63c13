package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/maopao/maopao/app"
)

// TestBrowserWithPlatform runs the page against the whole platform in one
// process: gateway, world simulation and the local engine.
func TestBrowserWithPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the platform: %v", err)
		}
	}()
	res := chatFlow(t, p, srv.URL(), 2*time.Minute)
	if res.final == "" {
		t.Error("the completed reply is empty")
	}
	checkNoJSErrors(t, p)
}
