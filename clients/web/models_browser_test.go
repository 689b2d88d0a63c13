package web_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/models/hubtest"
)

// TestBrowserInstallModel: with only the untrained model, the page says
// so in plain words and offers the catalogue; a click installs a model
// (from a stand-in Hub), with its progress, and the page stops warning.
func TestBrowserInstallModel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	p := newPage(t)
	hub := hubtest.Start(t)
	data := hubtest.TinyTrained(t, "granitemoe")
	hub.Add("bartowski/granite-3.1-1b-a400m-instruct-GGUF", "granite-3.1-1b-a400m-instruct-Q4_K_M.gguf", data)
	hub.SetSlow(30 * time.Millisecond) // slow enough to see the progress
	hub.Use(t)

	dir := t.TempDir()
	model := filepath.Join(dir, "models", "maopao-bundled-untrained.gguf")
	if err := os.MkdirAll(filepath.Dir(model), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := modelgen.Write(model, modelgen.Tiny("qwen3moe")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DataDir: dir, ModelPath: model, Threads: 1, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	const wait = 30 * time.Second
	p.do("open the page", chromedp.Navigate(srv.URL()+"/"))
	p.waitJS("the plain-words hint", `!document.getElementById("model-hint").hidden && document.getElementById("model-hint-text").textContent.includes("random text")`, wait)
	click(p, "#models-open")
	p.waitJS("the catalogue", `document.querySelectorAll("#models-list .model-row").length >= 5`, wait)
	click(p, `#models-list .model-row[data-name="granite-moe-1b"] button.install`)
	p.waitJS("the progress", `!document.getElementById("pull-progress").hidden && /Downloading|Loading|installed/.test(document.getElementById("pull-label").textContent)`, wait)
	p.waitJS("installed and in use", `document.getElementById("pull-label").textContent.includes("is installed") &&
		document.querySelector('#models-list .model-row[data-name="granite-moe-1b"] .badge.ok')`, wait)
	p.waitJS("no more warning", `document.getElementById("model-hint").hidden && document.getElementById("engine-banner").textContent.includes("granitemoe")`, wait)
	checkNoJSErrors(t, p)
}
