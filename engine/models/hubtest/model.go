package hubtest

import (
	"bytes"
	"testing"

	"github.com/maopao/maopao/engine/modelgen"
)

// TinyTrained is a tiny GGUF model of arch with a context of 4096 that, as
// a trained model's file would, does not say its weights are random.
func TinyTrained(t testing.TB, arch string) []byte {
	t.Helper()
	spec := modelgen.Tiny(arch)
	spec.ContextLength = 4096
	w, err := modelgen.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetKV("maopao.untrained", false); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Use points HF_ENDPOINT at h, without a token, for the rest of the test.
func (h *Server) Use(t testing.TB) {
	t.Setenv("HF_ENDPOINT", h.URL)
	t.Setenv("HF_TOKEN", "")
}
