package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/maopao/maopao/protocol"
)

type fakeModels struct{ pulled []string }

func (f *fakeModels) Status(context.Context) protocol.ModelStatus {
	return protocol.ModelStatus{Engine: "fake", Pull: &protocol.PullStatus{State: "pulling"}}
}
func (f *fakeModels) Pull(name string) error { f.pulled = append(f.pulled, name); return nil }

// Only the machine Maopao runs on may install models.
func TestPullOnlyFromThisMachine(t *testing.T) {
	a := newTestAPI(t)
	fm := &fakeModels{}
	a.s.Models = fm
	mux := http.NewServeMux()
	a.api.register(mux)
	for _, tc := range []struct {
		remote string
		want   int
	}{{"10.0.0.5:4242", http.StatusForbidden}, {"[2001:db8::1]:4242", http.StatusForbidden}, {"127.0.0.1:4242", http.StatusAccepted}, {"[::1]:4242", http.StatusAccepted}} {
		req := httptest.NewRequest("POST", "/api/v1/models/pull", strings.NewReader(`{"name":"granite-moe-1b"}`))
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("from %s: %d %s, want %d", tc.remote, rec.Code, rec.Body, tc.want)
		}
	}
	if len(fm.pulled) != 2 {
		t.Errorf("pulls started: %v", fm.pulled)
	}
	req := httptest.NewRequest("GET", "/api/v1/models", nil)
	req.RemoteAddr = "10.0.0.5:4242"
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"can_install":false`) {
		t.Errorf("status from elsewhere: %d %s", rec.Code, rec.Body)
	}
}
