package httpapi

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/openai"
)

// `engine serve`'s /v1/embeddings gives the local engine's embeddings, and
// the OpenAI client reads them back exactly; an engine without them and a
// bad request answer problems.
func TestEmbeddingsEndpoint(t *testing.T) {
	e := openTiny(t)
	srv := httptest.NewServer(New(e, "tiny"))
	defer srv.Close()
	ctx := context.Background()
	texts := []string{"the sea at dawn", "我的猫叫饼干", ""}
	want, err := e.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openai.New(srv.URL).Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if len(got[i]) != len(want[i]) || len(got[i]) == 0 {
			t.Fatalf("text %d: %d values, want %d", i, len(got[i]), len(want[i]))
		}
		for j := range got[i] {
			if math.Abs(float64(got[i][j]-want[i][j])) > 1e-6 {
				t.Fatalf("text %d value %d: %v over HTTP, %v in process", i, j, got[i][j], want[i][j])
			}
		}
	}
	resp, err := http.Post(srv.URL+"/v1/embeddings", "application/json", strings.NewReader(`{"input": 42}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad input: %v %v", resp.Status, err)
	}
	resp.Body.Close()
	// A server without embeddings: the client learns it once.
	none := httptest.NewServer(http.NotFoundHandler())
	defer none.Close()
	c := openai.New(none.URL)
	for range 2 {
		if _, err := c.Embed(ctx, []string{"x"}); err == nil || !strings.Contains(err.Error(), engine.ErrNoEmbeddings.Error()) {
			t.Fatalf("a server without embeddings: %v", err)
		}
	}
}

// FuzzEmbeddingsRequest: any body gives texts or a clear error.
func FuzzEmbeddingsRequest(f *testing.F) {
	for _, s := range []string{`{"input":"a"}`, `{"input":["a","b"]}`, `{"input":[]}`, `{"input":1}`, `{`, `{"input":["\xff"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		texts, err := ParseEmbeddingsRequest(body)
		if err == nil && len(texts) == 0 {
			t.Fatal("no texts and no error")
		}
	})
}
