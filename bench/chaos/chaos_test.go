package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary play the bench's children (NATS nodes, the
// engine stand-in), as the bench's own binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "nats":
			exitOn(runNATSNode(os.Args[2:]))
		case "engine":
			exitOn(runEngine(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(0)
}

// A short run of the bench: a world simulation, a gateway and a NATS node
// are killed -9 in turn while players talk; nothing may be lost,
// duplicated, reordered or left unanswered.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds maopao and runs a cluster of processes for about a minute")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "maopao")
	build := exec.Command("go", "build", "-o", bin, "./cmd/maopao")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build maopao: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "chaos.json")
	ok, err := runChaos([]string{"-maopao", bin, "-players", "4", "-rate", "8", "-duration", "60s", "-every", "12s", "-down", "3s",
		"-faults", "worldsim,gateway,nats", "-out", out})
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// How many faults fit in the minute depends on how long recovery takes
	// on a loaded machine; what must hold is the outcome.
	if !ok || sum.Accepted == 0 || len(sum.Faults) == 0 {
		t.Fatalf("chaos run:\n%s", b)
	}
	for _, f := range sum.Faults {
		if f.RecoveryS < 0 {
			t.Errorf("lines never flowed again after the kill of %s", f.Kill)
		}
	}
	t.Logf("%s", b)
}
