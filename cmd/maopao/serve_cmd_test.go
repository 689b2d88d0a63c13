package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/maopao/maopao/app"
)

func TestServeFlagsComeFromEnvUnlessGiven(t *testing.T) {
	t.Setenv("MAOPAO_LLM_URL", "http://127.0.0.1:9999")
	t.Setenv("MAOPAO_ADDR", "127.0.0.1:7000")
	t.Setenv("MAOPAO_THREADS", "3")
	var f serverFlags
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.register(fs, app.RoleAll)
	if err := fs.Parse([]string{"--addr", "127.0.0.1:8181", "--allowed-origins", "https://a.example, https://b.example"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	if cfg.LLMURL != "http://127.0.0.1:9999" || cfg.Threads != 3 {
		t.Errorf("env not applied: %+v", cfg)
	}
	if cfg.Addr != "127.0.0.1:8181" {
		t.Errorf("a flag given on the command line must win over the env: %s", cfg.Addr)
	}
	if len(cfg.AllowedOrigins) != 2 || cfg.AllowedOrigins[1] != "https://b.example" {
		t.Errorf("origins: %q", cfg.AllowedOrigins)
	}

	t.Setenv("MAOPAO_THREADS", "many")
	fs = pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.register(fs, app.RoleAll)
	_ = fs.Parse(nil)
	if err := applyEnv(fs); err == nil || !strings.Contains(err.Error(), "MAOPAO_THREADS") {
		t.Fatalf("a bad env value must be named: %v", err)
	}
	// Role flags: a gateway has no engine flags.
	fs = pflag.NewFlagSet("gateway", pflag.ContinueOnError)
	var g serverFlags
	g.register(fs, app.RoleGateway)
	if fs.Lookup("model") != nil || fs.Lookup("nats") == nil {
		t.Fatal("gateway flags: no --model, but --nats")
	}
}
