package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// FuzzStudioPreviewBody sends arbitrary bodies to the preview endpoint of a
// gateway with no world simulation: every answer must be a problem the
// client can show, never a server error or a stream.
func FuzzStudioPreviewBody(f *testing.F) {
	base, _ := standaloneGateway(f)
	ctx := context.Background()
	token := register(f, ctx, base, "fuzzer")
	for _, seed := range []string{
		goodPreview,
		`{}`, `[]`, `null`, `{"character":null,"messages":null}`,
		`{"character":{"name":"x"},"messages":[{"role":"user","content":"hi"}]}`,
		`{"character":{"name":"x","character_book":{"entries":[{"keys":["("],"use_regex":true,"content":"c","position":"?","id":[1]}]}},"messages":[{"role":"user","content":"("}]}`,
		`{"character":{"name":"x","tags":[1]},"messages":[{"role":"bot"}],"user_name":7}`,
		`{"character":"x","messages":{}}`,
		"{\"character\":{\"name\":\"\xff\xfe\"},\"messages\":[{\"role\":\"user\",\"content\":\"\x00\"}]}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		resp, err := postPreview(ctx, base, token, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		switch resp.StatusCode {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusServiceUnavailable:
		default:
			t.Fatalf("body %q: HTTP %d %s", body, resp.StatusCode, b)
		}
		if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Status != resp.StatusCode || p.Detail == "" {
			t.Fatalf("body %q: not a problem: %q %s", body, resp.Header.Get("Content-Type"), b)
		}
	})
}
