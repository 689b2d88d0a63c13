//go:build !linux

package model

import "github.com/maopao/maopao/engine/gguf"

// pinWeights leaves the weights where the file put them: huge-page advice
// is Linux-only.
func pinWeights(*Model, *gguf.File) {}
