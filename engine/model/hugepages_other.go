//go:build !linux

package model

// pinWeights leaves the weights where the file put them: huge-page advice
// is Linux-only.
func pinWeights(*Model) {}
