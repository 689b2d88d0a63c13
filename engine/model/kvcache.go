package model

import (
	"fmt"
)

// BlockSize is the number of positions one KV cache block holds. Sequences
// own whole blocks through a block table, so several conversations can share
// one cache (continuous batching) and equal prompt prefixes can share blocks.
const BlockSize = 16

// KVCache stores the keys and values of every layer for many sequences in
// fixed-size blocks. Blocks are reference counted: Fork lets a new sequence
// share the blocks of an existing prefix, and a write into a shared block
// copies it first. It is not safe for concurrent use; the caller serialises
// Forward calls.
type KVCache struct {
	layers, kvDim int
	maxSeqLen     int
	// data[b] holds block b for every layer: layer l's keys at
	// l*2*blockLen, its values at (l*2+1)*blockLen, blockLen =
	// BlockSize*kvDim. Blocks are allocated on first use, so a cache sized
	// for many long conversations costs memory only as it fills.
	data [][]float32
	refs []int32 // per block
	free []int
	seqs map[int]*seqState
}

type seqState struct {
	blocks []int
	n      int // positions filled
}

// NewKVCache makes a cache for m with room for capacity positions in total
// (rounded up to whole blocks) and at most maxSeqLen positions per sequence
// (0 = the model's context length).
func NewKVCache(m *Model, capacity, maxSeqLen int) *KVCache {
	if maxSeqLen <= 0 || maxSeqLen > m.Config.ContextLength {
		maxSeqLen = m.Config.ContextLength
	}
	if capacity < maxSeqLen {
		capacity = maxSeqLen
	}
	nBlocks := (capacity + BlockSize - 1) / BlockSize
	c := &KVCache{
		layers:    m.Config.Layers,
		kvDim:     m.Config.KVHeads * m.Config.HeadDim,
		maxSeqLen: maxSeqLen,
		data:      make([][]float32, nBlocks),
		refs:      make([]int32, nBlocks),
		seqs:      map[int]*seqState{},
	}
	for b := nBlocks - 1; b >= 0; b-- {
		c.free = append(c.free, b)
	}
	return c
}

// MaxSeqLen is the most positions one sequence may hold.
func (c *KVCache) MaxSeqLen() int { return c.maxSeqLen }

// SeqLen is the number of positions sequence seq holds (0 if unknown).
func (c *KVCache) SeqLen(seq int) int {
	if s := c.seqs[seq]; s != nil {
		return s.n
	}
	return 0
}

// FreeBlocks is the number of unused blocks.
func (c *KVCache) FreeBlocks() int { return len(c.free) }

// CheckContext reports an error when adding n positions to seq would exceed
// the per-sequence limit.
func (c *KVCache) CheckContext(seq, n int) error {
	if have := c.SeqLen(seq); have+n > c.maxSeqLen {
		return fmt.Errorf("model: sequence %d would hold %d positions, the context is %d", seq, have+n, c.maxSeqLen)
	}
	return nil
}

// Truncate drops the positions of seq from n on, releasing whole blocks.
func (c *KVCache) Truncate(seq, n int) {
	s := c.seqs[seq]
	if s == nil || n >= s.n {
		return
	}
	if n < 0 {
		n = 0
	}
	keep := (n + BlockSize - 1) / BlockSize
	for _, b := range s.blocks[keep:] {
		c.release(b)
	}
	s.blocks = s.blocks[:keep]
	s.n = n
}

// Remove forgets seq and releases its blocks.
func (c *KVCache) Remove(seq int) {
	c.Truncate(seq, 0)
	delete(c.seqs, seq)
}

// Fork makes dst share the first n positions of src (dst's old contents are
// dropped). Only whole blocks are shared; the partial tail block is copied,
// so later writes to either sequence never disturb the other.
func (c *KVCache) Fork(src, dst, n int) error {
	if src == dst {
		return fmt.Errorf("model: fork of sequence %d onto itself", src)
	}
	c.Remove(dst)
	s := c.seqs[src]
	if s == nil || n <= 0 {
		return nil
	}
	if n > s.n {
		n = s.n
	}
	d := &seqState{n: n}
	nb := (n + BlockSize - 1) / BlockSize
	for i := 0; i < nb; i++ {
		c.refs[s.blocks[i]]++
		d.blocks = append(d.blocks, s.blocks[i])
	}
	c.seqs[dst] = d
	return nil
}

func (c *KVCache) release(b int) {
	c.refs[b]--
	if c.refs[b] == 0 {
		c.free = append(c.free, b)
	}
}

func (c *KVCache) alloc() (int, error) {
	if len(c.free) == 0 {
		return 0, fmt.Errorf("model: KV cache full (%d blocks of %d positions)", len(c.refs), BlockSize)
	}
	b := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	c.refs[b] = 1
	if c.data[b] == nil {
		c.data[b] = make([]float32, c.layers*2*BlockSize*c.kvDim)
	}
	return b, nil
}

// prepare makes room for writing position pos of seq: it allocates the
// block, or copies a shared block so the write stays private. Positions must
// arrive in order: pos may rewrite history (pos < SeqLen, which truncates
// the rest) or append (pos == SeqLen), never leave a gap.
func (c *KVCache) prepare(seq, pos int) error {
	s := c.seqs[seq]
	if s == nil {
		s = &seqState{}
		c.seqs[seq] = s
	}
	if pos > s.n {
		return fmt.Errorf("model: sequence %d position %d leaves a gap after %d cached positions", seq, pos, s.n)
	}
	if pos >= c.maxSeqLen {
		return fmt.Errorf("model: sequence %d position %d is past the context of %d", seq, pos, c.maxSeqLen)
	}
	if pos < s.n {
		c.Truncate(seq, pos)
	}
	bi := pos / BlockSize
	if bi == len(s.blocks) {
		b, err := c.alloc()
		if err != nil {
			return err
		}
		s.blocks = append(s.blocks, b)
	} else if old := s.blocks[bi]; c.refs[old] > 1 {
		b, err := c.alloc()
		if err != nil {
			return err
		}
		c.copyBlock(b, old)
		c.release(old)
		s.blocks[bi] = b
	}
	s.n = pos + 1
	return nil
}

func (c *KVCache) copyBlock(dst, src int) {
	copy(c.data[dst], c.data[src])
}

// Within a block, each layer keeps one region per KV head: keys as
// [position][headDim] and values transposed as [headDim][position], so that
// attention can gather a head's keys, and its values as columns, with whole
// contiguous copies and run both products through the matrix kernels.

func (c *KVCache) keys(l, block int) []float32 {
	n := BlockSize * c.kvDim
	return c.data[block][2*l*n : (2*l+1)*n]
}

func (c *KVCache) values(l, block int) []float32 {
	n := BlockSize * c.kvDim
	return c.data[block][(2*l+1)*n : (2*l+2)*n]
}

// store writes the keys and values of one position.
func (c *KVCache) store(l int, s *seqState, pos int, k, v []float32, headDim int) {
	kc, vc := c.keys(l, s.blocks[pos/BlockSize]), c.values(l, s.blocks[pos/BlockSize])
	off := pos % BlockSize
	for h := 0; h < c.kvDim/headDim; h++ {
		region := h * BlockSize * headDim
		copy(kc[region+off*headDim:region+(off+1)*headDim], k[h*headDim:(h+1)*headDim])
		for d := 0; d < headDim; d++ {
			vc[region+d*BlockSize+off] = v[h*headDim+d]
		}
	}
}

// gatherK copies the keys of head h for positions [0, n) into dst (n×headDim).
func (c *KVCache) gatherK(l int, s *seqState, h, n, headDim int, dst []float32) {
	for b := 0; b*BlockSize < n; b++ {
		rows := min(BlockSize, n-b*BlockSize)
		region := h * BlockSize * headDim
		copy(dst[b*BlockSize*headDim:], c.keys(l, s.blocks[b])[region:region+rows*headDim])
	}
}

// gatherVT copies the values of head h for positions [0, n) into dst as
// headDim rows of stride values, zero-filling each row past n.
func (c *KVCache) gatherVT(l int, s *seqState, h, n, stride, headDim int, dst []float32) {
	for d := 0; d < headDim; d++ {
		clear(dst[d*stride+n : (d+1)*stride])
	}
	for b := 0; b*BlockSize < n; b++ {
		cols := min(BlockSize, n-b*BlockSize)
		vc := c.values(l, s.blocks[b])
		region := h * BlockSize * headDim
		for d := 0; d < headDim; d++ {
			copy(dst[d*stride+b*BlockSize:d*stride+b*BlockSize+cols], vc[region+d*BlockSize:region+d*BlockSize+cols])
		}
	}
}
