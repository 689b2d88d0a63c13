package local

import (
	"os"

	"github.com/maopao/maopao/engine/model"
)

var (
	osMkdirTemp = func() (string, error) { return os.MkdirTemp("", "maopao-local-test") }
	osRemoveAll = os.RemoveAll
	osExit      = os.Exit
)

func newCacheFor(e *Engine) *model.KVCache { return model.NewKVCache(e.model, e.ctxSize, e.ctxSize) }

func seqBatch(tokens []int) model.Batch { return model.SeqBatch(0, 0, tokens) }

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
