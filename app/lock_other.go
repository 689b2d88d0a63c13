//go:build !unix

package app

// lockDataDir is a no-op where flock is not available; the embedded store
// still refuses a second opener.
func lockDataDir(string) (func(), error) { return func() {}, nil }
