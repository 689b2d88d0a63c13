package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/models/hubtest"
)

func tinyGGUF(t *testing.T) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.gguf")
	spec := modelgen.Tiny("qwen3moe")
	spec.Vocab = 4000 // a few hundred KiB, so a download has several pieces
	if err := modelgen.Write(p, spec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func puller(t *testing.T, h *hubtest.Server) *Puller {
	return &Puller{Dir: filepath.Join(t.TempDir(), "models"), Hub: &Hub{Endpoint: h.URL}}
}

func TestPullResumesAfterACut(t *testing.T) {
	h := hubtest.Start(t)
	data := tinyGGUF(t)
	h.Add("test/tiny-GGUF", "tiny-model-Q4_K_M.gguf", data)
	h.Add("test/tiny-GGUF", "tiny-model-Q8_0.gguf", []byte("GGUF other"))
	p := puller(t, h)
	var last Progress
	p.Progress = func(pr Progress) { last = pr }

	h.CutNext(int64(len(data) / 2))
	_, err := p.Pull(context.Background(), "test/tiny-GGUF")
	if err == nil || !strings.Contains(err.Error(), "again to resume") {
		t.Fatalf("a cut download: %v, want an error saying how to resume", err)
	}
	part := filepath.Join(p.Dir, "tiny-model-Q4_K_M.gguf.partial")
	if st, err := os.Stat(part); err != nil || st.Size() == 0 || st.Size() >= int64(len(data)) {
		t.Fatalf("the part kept after the cut: %v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "tiny-model-Q4_K_M.gguf")); err == nil {
		t.Fatal("a partial download is in place as a model")
	}

	m, err := p.Pull(context.Background(), "test/tiny-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	if got := h.LastRange(); !strings.HasPrefix(got, "bytes=") || got == "bytes=0-" {
		t.Errorf("the second download asked for %q, want the rest", got)
	}
	b, _ := os.ReadFile(m.Path)
	if string(b) != string(data) {
		t.Fatal("the resumed file differs from the published one")
	}
	if last.Done != int64(len(data)) || last.Total != int64(len(data)) || last.Resumed == 0 {
		t.Errorf("last progress %+v", last)
	}
	if m.Arch != "qwen3moe" || m.Context != 512 || m.Source != "test/tiny-GGUF" || m.Name != "tiny-model-Q4_K_M" {
		t.Errorf("installed %+v", m)
	}
	if _, err := os.Stat(part); err == nil {
		t.Error("the part is still there")
	}
	// Pulling again downloads nothing.
	n := h.Downloads()
	if _, err := p.Pull(context.Background(), "test/tiny-GGUF:Q4_K_M"); err != nil || h.Downloads() != n {
		t.Fatalf("pulling an installed model: %v, %d more downloads", err, h.Downloads()-n)
	}
	list, err := List(p.Dir)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := Remove(p.Dir, "tiny-model-Q4_K_M"); err != nil {
		t.Fatal(err)
	}
	if list, _ := List(p.Dir); len(list) != 0 {
		t.Fatalf("after rm: %+v", list)
	}
}

func TestPullChecksumMismatchKeepsNothing(t *testing.T) {
	h := hubtest.Start(t)
	data := tinyGGUF(t)
	h.Add("test/tiny-GGUF", "tiny-Q4_K_M.gguf", data)
	h.PublishSHA("test/tiny-GGUF", "tiny-Q4_K_M.gguf", strings.Repeat("ab", 32))
	p := puller(t, h)
	_, err := p.Pull(context.Background(), "test/tiny-GGUF")
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "nothing was kept") {
		t.Fatalf("a corrupt download: %v", err)
	}
	entries, _ := os.ReadDir(p.Dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestPullErrors(t *testing.T) {
	h := hubtest.Start(t)
	data := tinyGGUF(t)
	h.Add("test/tiny-GGUF", "tiny-Q4_K_M.gguf", data)
	h.Add("gated/model-GGUF", "model-Q4_K_M.gguf", data)
	h.Gate("gated/model-GGUF")
	h.Add("test/not-gguf", "README-Q4_K_M.gguf", []byte("hello, not a model"))
	ctx := context.Background()

	p := puller(t, h)
	var he *HubError
	if _, err := p.Pull(ctx, "nobody/nothing"); !errors.As(err, &he) || he.Status != 404 || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing repository: %v", err)
	}
	if _, err := p.Pull(ctx, "test/tiny-GGUF:Q2_K"); err == nil || !strings.Contains(err.Error(), "tiny-Q4_K_M.gguf") {
		t.Errorf("a missing quantisation should list what there is: %v", err)
	}
	if _, err := p.Pull(ctx, "gated/model-GGUF"); !errors.As(err, &he) || he.Status != 401 || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Errorf("a gated repository without a token: %v", err)
	}
	p.Hub.Token = hubtest.GoodToken
	if _, err := p.Pull(ctx, "gated/model-GGUF"); err != nil {
		t.Errorf("a gated repository with a token: %v", err)
	}
	if _, err := p.Pull(ctx, "test/not-gguf"); err == nil || !strings.Contains(err.Error(), "not a GGUF") {
		t.Errorf("a file that is no model: %v", err)
	}
	if _, err := p.Pull(ctx, "not a model name"); err == nil || !strings.Contains(err.Error(), "catalogue name") {
		t.Errorf("a bad name: %v", err)
	}

	full := puller(t, h)
	full.FreeSpace = func(string) (uint64, error) { return 1 << 20, nil }
	n := h.Downloads()
	if _, err := full.Pull(ctx, "test/tiny-GGUF"); err == nil || !strings.Contains(err.Error(), "free") || h.Downloads() != n {
		t.Errorf("a full disk: %v (%d downloads)", err, h.Downloads()-n)
	}
}

// Ctrl-C (the context ends) keeps what arrived; the next pull resumes.
func TestPullInterruptedResumes(t *testing.T) {
	h := hubtest.Start(t)
	data := tinyGGUF(t)
	h.Add("test/tiny-GGUF", "tiny-Q4_K_M.gguf", data)
	h.SetSlow(20 * time.Millisecond)
	p := puller(t, h)
	ctx, cancel := context.WithCancel(context.Background())
	p.Progress = func(pr Progress) {
		if pr.Done > 64<<10 {
			cancel()
		}
	}
	_, err := p.Pull(ctx, "test/tiny-GGUF")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("an interrupted pull: %v", err)
	}
	st, err := os.Stat(filepath.Join(p.Dir, "tiny-Q4_K_M.gguf.partial"))
	if err != nil || st.Size() == 0 {
		t.Fatalf("nothing kept of an interrupted pull: %v", err)
	}
	h.SetSlow(0)
	p.Progress = nil
	m, err := p.Pull(context.Background(), "test/tiny-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(m.Path); string(b) != string(data) {
		t.Fatal("the resumed file differs")
	}
}

func TestHubFromEnvAndCatalogue(t *testing.T) {
	h := hubtest.Start(t)
	h.Add("bartowski/granite-3.1-1b-a400m-instruct-GGUF", "granite-3.1-1b-a400m-instruct-Q4_K_M.gguf", tinyGGUF(t))
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_TOKEN", "")
	r, err := FromEnv().Resolve(context.Background(), "granite-moe-1b")
	if err != nil || r.Name != "granite-moe-1b" || !strings.HasPrefix(r.URL, h.URL) || r.SHA256 == "" {
		t.Fatalf("resolve a catalogue name through HF_ENDPOINT: %+v %v", r, err)
	}
	if e, ok := BestFit(5 * gib); !ok || e.Name != "granite-moe-3b" {
		t.Errorf("best fit for 5 GiB: %+v", e)
	}
	if _, ok := BestFit(1 << 30); ok {
		t.Error("a model fits in 1 GiB")
	}
}
