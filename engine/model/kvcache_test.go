package model

import (
	"context"
	"math"
	"testing"

	"github.com/maopao/maopao/engine/modelgen"
	"github.com/maopao/maopao/engine/tensor"
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

// TestKeyDotsFollowGGML pins which summation order multiplies queries by
// keys, as ggml dispatches it: float16 keys in a batch of two or more
// tokens go through tinyBLAS (one 16-lane accumulator), everything else
// through ggml_vec_dot (four accumulators over 64-element steps). The two
// orders round differently on these operands; with the wrong one, f16
// caches part from llama.cpp's greedy tokens (TestLlamaCppGreedy with
// MAOPAO_LLAMA_CPP_CACHE=f16 on Qwen3-30B-A3B's shapes, at step 36).
func TestKeyDotsFollowGGML(t *testing.T) {
	const hd = 128
	q, k := make([]float32, hd), make([]float32, hd)
	for i := range q {
		q[i] = float32(math.Sin(float64(i)*1.7)) * 3
		k[i] = float32(math.Cos(float64(i)*0.9)) * float32(1+i%7)
	}
	got := func(t CacheType, n int) float32 {
		out := make([]float32, 1)
		keyDots(t, n)(q, k, hd, out)
		return out[0]
	}
	want := func(f func(x, rows []float32, stride int, out []float32)) float32 {
		out := make([]float32, 1)
		f(q, k, hd, out)
		return out[0]
	}
	tiny, vec := want(tensor.DotF32x16Rows), want(tensor.DotF32x64Rows)
	if tiny == vec {
		t.Fatalf("operands do not tell the orders apart (%g)", tiny)
	}
	for _, c := range []struct {
		t    CacheType
		n    int
		want float32
	}{{CacheF16, 2, tiny}, {CacheF16, 64, tiny}, {CacheF16, 1, vec}, {CacheF32, 2, vec}, {CacheF32, 1, vec}} {
		if g := got(c.t, c.n); g != c.want {
			t.Errorf("keys %v, %d tokens: %g, want %g", c.t, c.n, g, c.want)
		}
	}
}

// A q8_0 cache's values read as columns and its keys multiplied in one
// product over all blocks give, to the bit, what dequantizing each row and
// multiplying block by block gives.
func TestKVCacheQ8_0ReadsAsRows(t *testing.T) {
	m, _ := loadModel(t, modelgen.Tiny("qwen3moe"))
	c := NewKVCache(m, 4*BlockSize, 4*BlockSize)
	hd := 64 // q8_0 needs whole 32-blocks: planes of one head of 64 instead of the model's
	c.k, c.v = newPlane(CacheQ8_0, false, 4, 1, 1, hd), newPlane(CacheQ8_0, true, 4, 1, 1, hd)
	c.kvDim = hd
	const n = 2*BlockSize + 5
	for pos := 0; pos < n; pos++ {
		if err := c.prepare(0, pos); err != nil {
			t.Fatal(err)
		}
		k, v := make([]float32, hd), make([]float32, hd)
		for i := range k {
			k[i] = float32(math.Sin(float64(pos*hd+i))) * float32(1+pos%5)
			v[i] = float32(math.Cos(float64(pos*hd+i)*1.3)) * float32(1+i%3)
		}
		c.store(0, c.seqs[0], pos, k, v, hd)
		c.seqs[0].n = pos + 1
	}
	s := c.seqs[0]
	const stride = 3 * BlockSize
	vt := make([]float32, hd*stride)
	c.gatherVT(0, s, 0, n, stride, hd, vt)
	q := make([]float32, 2*hd)
	for i := range q {
		q[i] = float32(math.Sin(float64(i) * 0.7))
	}
	out := make([]float32, 2*stride)
	c.keyProducts(0, s, 0, n, q, 2, stride, out, nil, nil)
	row := make([]float32, hd)
	for p := 0; p < n; p++ {
		b, off := s.blocks[p/BlockSize], p%BlockSize
		c.v.unpack(c.v.raw[b][off*c.v.rowBytes:(off+1)*c.v.rowBytes], row)
		for d, want := range row {
			if got := vt[d*stride+p]; math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("value %d of position %d: %v, want %v", d, p, got, want)
			}
		}
		keys := c.k.q8Rows(0, b, 0, off+1)
		one := make([]float32, 2*(off+1))
		tensor.MatMul(keys, q, 2, one, 1)
		for i := 0; i < 2; i++ {
			if got, want := out[i*stride+p], one[i*(off+1)+off]; math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("query %d · key %d: %v, want %v", i, p, got, want)
			}
		}
	}
}
