package loopback

import (
	"net/http"
	"testing"
)

func TestFrom(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "10.0.0.2:5000": false, "192.168.1.9:80": false, "garbage": false,
	} {
		r := &http.Request{RemoteAddr: addr, Header: http.Header{"X-Forwarded-For": {"127.0.0.1"}}}
		if got := From(r); got != want {
			t.Errorf("From(%s) = %v, want %v", addr, got, want)
		}
	}
}
