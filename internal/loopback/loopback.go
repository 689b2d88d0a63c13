// Package loopback tells whether an HTTP request comes from the machine the
// server runs on: what every role serves to its own machine only (metrics,
// model installs) checks it.
package loopback

import (
	"net"
	"net/http"
)

// From reports whether r came over a loopback address. It reads the
// connection's address, never a header a client could write.
func From(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
