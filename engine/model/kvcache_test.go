package model

import (
	"context"
	"testing"

	"github.com/maopao/maopao/engine/modelgen"
)

// Blocks held outside any sequence (Hold) survive the sequence; a sequence
// that adopts them reads what was written; OnFull is asked for room when
// the cache is full, and a block a sequence still holds is never freed by
// a holder's Release.
func TestKVCacheHoldAdoptOnFull(t *testing.T) {
	m, _ := loadModel(t, modelgen.Tiny("qwen3moe"))
	c := NewKVCache(m, 3*BlockSize, 3*BlockSize)
	prompt := make([]int, 2*BlockSize+3)
	for i := range prompt {
		prompt[i] = (i*7 + 3) % m.Config.Vocab
	}
	want, err := m.Forward(context.Background(), SeqBatch(0, 0, prompt), NewKVCache(m, 64, 64))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(context.Background(), SeqBatch(0, 0, prompt[:2*BlockSize]), c); err != nil {
		t.Fatal(err)
	}
	held := c.Blocks(0)
	for _, b := range held {
		c.Hold(b)
	}
	c.Remove(0)
	if got := c.BlocksInUse(); got != 2 {
		t.Fatalf("%d blocks in use after the sequence went, want the 2 held", got)
	}
	// Another sequence adopts the held blocks and goes on from there.
	c.Adopt(1, held, 2*BlockSize)
	got, err := m.Forward(context.Background(), Batch{Tokens: prompt[2*BlockSize:], Pos: []int{32, 33, 34}, Seq: []int{1, 1, 1}, Logits: []bool{false, false, true}}, c)
	if err != nil {
		t.Fatal(err)
	}
	last, ref := got[len(got)-1], want[len(want)-1]
	for i := range ref {
		if d := last[i] - ref[i]; d > 1e-3 || d < -1e-3 {
			t.Fatalf("logit %d after adopting: %v, want %v", i, last[i], ref[i])
		}
	}
	// Full: sequence 2 needs a block; OnFull releases the holder's
	// references, which frees nothing sequence 1 still uses.
	asked := 0
	c.OnFull = func() bool {
		asked++
		if asked > 1 {
			return false
		}
		for _, b := range held {
			c.Release(b)
		}
		return true
	}
	if _, err := m.Forward(context.Background(), SeqBatch(2, 0, prompt[:1]), c); err == nil {
		t.Fatal("a write into a full cache succeeded though nothing could be freed")
	}
	if asked == 0 {
		t.Fatal("OnFull was not asked for room")
	}
	for _, b := range held {
		if c.Refs(b) != 1 {
			t.Errorf("block %d has %d references after the holder let go, want sequence 1's", b, c.Refs(b))
		}
	}
	c.Remove(1)
	if _, err := m.Forward(context.Background(), SeqBatch(2, 0, prompt[:1]), c); err != nil {
		t.Fatalf("a write once blocks are free: %v", err)
	}
}
