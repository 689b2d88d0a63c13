package local

import (
	"fmt"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/internal/sysmem"
)

// MemoryNeed is what running a model takes: its weights (mapped from the
// file, so they are read through the page cache), and a KV cache per
// conversation held at once.
type MemoryNeed struct {
	Weights           int64
	KVPerConversation int64
	Conversations     int
	Context           int
	CacheTypeK        model.CacheType
	CacheTypeV        model.CacheType
	// PrefixCache is the KV memory kept for prompts of conversations no
	// longer running (Options.PrefixCacheBytes).
	PrefixCache int64
	Working     int64 // scratch buffers and the rest
}

// Total is the memory the engine may use at most.
func (n MemoryNeed) Total() int64 {
	return n.Weights + int64(n.Conversations)*n.KVPerConversation + n.PrefixCache + n.Working
}

func (n MemoryNeed) String() string {
	return fmt.Sprintf("%s of weights + %s of KV cache (%d conversations of %d tokens, %s each, keys %v, values %v) + %s of prefix cache + %s working = %s",
		mib(n.Weights), mib(int64(n.Conversations)*n.KVPerConversation), n.Conversations, n.Context, mib(n.KVPerConversation), n.CacheTypeK, n.CacheTypeV,
		mib(n.PrefixCache), mib(n.Working), mib(n.Total()))
}

func mib(b int64) string {
	if b >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// workingMemory covers the forward pass's scratch buffers.
const workingMemory = 256 << 20

// needs is what m in f takes with conc conversations of ctx tokens, the KV
// cache holding keys and values of every layer as k and v.
func needs(f *gguf.File, m *model.Model, conc, ctx int, k, v model.CacheType) MemoryNeed {
	var weights int64
	for _, t := range f.Tensors {
		weights += int64(len(t.Data))
	}
	c := m.Config
	kvDim := c.KVHeads * c.HeadDim
	perPos := int64(c.Layers) * int64(k.Bytes(kvDim)+v.Bytes(kvDim))
	return MemoryNeed{Weights: weights, KVPerConversation: perPos * int64(ctx), Conversations: conc, Context: ctx,
		CacheTypeK: k, CacheTypeV: v, Working: workingMemory}
}

// checkFits refuses a model that cannot fit in this machine's memory,
// saying what it needs, instead of letting the process be killed later.
func checkFits(n MemoryNeed) error {
	total, err := sysmem.MemTotal()
	if err != nil {
		return nil // unknown here: let it try
	}
	if n.Total() > total {
		return fmt.Errorf("the model needs %s, more than this machine's %s of memory: use a smaller model or quantisation, a shorter context, fewer parallel conversations or a smaller prefix cache (--cache-ram)", n, mib(total))
	}
	return nil
}
