package model

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/maopao/maopao/engine/gguf"
	"github.com/maopao/maopao/engine/modelgen"
)

// FuzzLoad feeds mutated model files through Load and, when they load, a
// short forward pass: outside files must give errors, never panics.
func FuzzLoad(f *testing.F) {
	for _, arch := range []string{"qwen3moe", "qwen2moe", "llama"} {
		s := modelgen.Tiny(arch)
		s.Hidden, s.Layers, s.Vocab, s.ExpertFF, s.FF = 32, 1, 300, 32, 32
		s.Heads, s.KVHeads, s.HeadDim = 2, 1, 16
		path := filepath.Join(f.TempDir(), arch+".gguf")
		if err := modelgen.Write(path, s); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := gguf.Parse(data)
		if err != nil {
			return
		}
		m, err := Load(file)
		if err != nil {
			return
		}
		if m.Config.ContextLength < 3 || m.Config.ContextLength > 1<<16 || m.Config.Layers*m.Config.KVHeads*m.Config.HeadDim > 1<<16 {
			return // loads fine; too big to run here
		}
		kv := NewKVCache(m, 8, 8)
		toks := []int{0, 1 % m.Config.Vocab, m.Config.Vocab - 1}
		if _, err := m.Forward(context.Background(), SeqBatch(0, 0, toks), kv); err != nil {
			t.Fatalf("loaded model failed its forward pass: %v", err)
		}
	})
}
