package local

import (
	"strings"
	"testing"

	"github.com/maopao/maopao/engine/model"
	"github.com/maopao/maopao/internal/sysmem"
)

func TestMemoryNeed(t *testing.T) {
	// The default cache is float16: 2 bytes a value.
	e := open(t, Options{Threads: 1, ContextSize: 256, MaxConcurrent: 3})
	n := e.Needs()
	c := e.model.Config
	if want := int64(c.Layers) * 2 * int64(c.KVHeads*c.HeadDim) * 2 * 256; n.KVPerConversation != want || n.Conversations != 3 || n.Context != 256 {
		t.Fatalf("need %+v, want %d bytes of KV per conversation", n, want)
	}
	f32 := open(t, Options{Threads: 1, ContextSize: 256, MaxConcurrent: 3, CacheTypeK: model.CacheF32, CacheTypeV: model.CacheF32}).Needs()
	if f32.KVPerConversation != 2*n.KVPerConversation || !strings.Contains(f32.String(), "keys f32, values f32") {
		t.Fatalf("float32 cache: %s", f32)
	}
	// The prefix cache defaults to the running conversations' size.
	if n.Weights <= 0 || n.PrefixCache != 3*n.KVPerConversation || n.Total() != n.Weights+6*n.KVPerConversation+n.Working {
		t.Fatalf("need %+v", n)
	}
	if off := open(t, Options{Threads: 1, ContextSize: 256, MaxConcurrent: 3, PrefixCacheBytes: -1}).Needs(); off.PrefixCache != 0 {
		t.Errorf("prefix cache off: %+v", off)
	}
	if one := open(t, Options{Threads: 1, ContextSize: 256, MaxConcurrent: 3, PrefixCacheBytes: 1 << 20}).Needs(); one.PrefixCache != 1<<20 {
		t.Errorf("prefix cache of 1 MiB: %+v", one)
	}
	if !strings.Contains(n.String(), "3 conversations of 256 tokens") {
		t.Errorf("need in words: %s", n)
	}
	total, err := sysmem.MemTotal()
	if err != nil {
		t.Skip("this system does not say how much memory it has")
	}
	huge := n
	huge.Weights = 2 * total
	if err := checkFits(huge); err == nil || !strings.Contains(err.Error(), "more than this machine's") {
		t.Fatalf("a model twice the memory: %v", err)
	}
	if err := checkFits(n); err != nil {
		t.Fatalf("a tiny model: %v", err)
	}
}
