package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/maopao/maopao/app"
	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/models/hubtest"
)

func runModel(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "maopao", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newModelCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"model"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestModelCommands(t *testing.T) {
	hub := hubtest.Start(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "src.gguf")
	if err := modelgen.Write(p, modelgen.Tiny("granitemoe")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	hub.Add("bartowski/granite-3.1-1b-a400m-instruct-GGUF", "granite-3.1-1b-a400m-instruct-Q4_K_M.gguf", data)
	t.Setenv("HF_ENDPOINT", hub.URL)
	t.Setenv("HF_TOKEN", "")
	home := filepath.Join(dir, "data")

	out, progress, err := runModel(t, "pull", "granite-moe-1b", "--data", home)
	if err != nil {
		t.Fatalf("pull: %v (%s)", err, progress)
	}
	if !strings.HasPrefix(out, "granite-moe-1b\t") || !strings.Contains(progress, "100%") {
		t.Fatalf("pull printed %q, progress %q", out, progress)
	}
	out, _, err = runModel(t, "list", "--data", home)
	if err != nil || !strings.Contains(out, "granite-moe-1b") || !strings.Contains(out, "granitemoe") || !strings.Contains(out, "512") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, _, err = runModel(t, "catalogue")
	if err != nil || !strings.Contains(out, "qwen3-30b-a3b") || !strings.Contains(out, "Apache-2.0") {
		t.Fatalf("catalogue: %v\n%s", err, out)
	}

	// serve --model NAME: an installed name, or a model to pull.
	cfg := app.Config{DataDir: home, ModelPath: "granite-moe-1b"}
	if err := resolveModelFlag(context.Background(), &cfg, &bytes.Buffer{}); err != nil || filepath.Dir(cfg.ModelPath) != modelsDir(home) {
		t.Fatalf("--model by name: %v, %q", err, cfg.ModelPath)
	}
	n := hub.Downloads()
	fresh := app.Config{DataDir: filepath.Join(dir, "fresh"), ModelPath: "granite-moe-1b"}
	if err := resolveModelFlag(context.Background(), &fresh, &bytes.Buffer{}); err != nil || hub.Downloads() != n+1 {
		t.Fatalf("--model of a model not installed: %v (%d downloads)", err, hub.Downloads()-n)
	}

	out, _, err = runModel(t, "rm", "granite-moe-1b", "--data", home)
	if err != nil || !strings.Contains(out, "removed granite-moe-1b") {
		t.Fatalf("rm: %v %q", err, out)
	}
	if _, _, err := runModel(t, "rm", "granite-moe-1b", "--data", home); err == nil || !strings.Contains(err.Error(), "model list") {
		t.Fatalf("rm of a model not there: %v", err)
	}
	if _, _, err := runModel(t, "pull", "no/such-GGUF", "--data", home); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("pull of a missing repository: %v", err)
	}
}
