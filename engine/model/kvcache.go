package model

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/maopao/maopao/engine/tensor"
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
	// The keys and the values of every block. Blocks are allocated on
	// first use, so a cache sized for many long conversations costs memory
	// only as it fills.
	k, v plane
	refs []int32 // per block
	free []int
	seqs map[int]*seqState
	// OnFull, when set, is called when a write needs a block and none is
	// free: the owner of blocks held outside sequences (a prefix cache)
	// releases some with Release and reports whether it did.
	OnFull func() bool
}

type seqState struct {
	blocks []int
	n      int // positions filled
}

// NewKVCache makes a cache for m with room for capacity positions in total
// (rounded up to whole blocks) and at most maxSeqLen positions per sequence
// (0 = the model's context length).
// The cache keeps float32 keys and values; NewKVCacheOf picks other types.
func NewKVCache(m *Model, capacity, maxSeqLen int) *KVCache {
	c, err := NewKVCacheOf(m, capacity, maxSeqLen, CacheF32, CacheF32)
	if err != nil {
		panic(err) // float32 fits every model
	}
	return c
}

// NewKVCacheOf is NewKVCache storing keys as kType and values as vType.
func NewKVCacheOf(m *Model, capacity, maxSeqLen int, kType, vType CacheType) (*KVCache, error) {
	hd := m.Config.HeadDim
	for _, t := range []CacheType{kType, vType} {
		if err := t.check(hd); err != nil {
			return nil, err
		}
	}
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
		k:         newPlane(kType, false, nBlocks, m.Config.Layers, m.Config.KVHeads, hd),
		v:         newPlane(vType, true, nBlocks, m.Config.Layers, m.Config.KVHeads, hd),
		refs:      make([]int32, nBlocks),
		seqs:      map[int]*seqState{},
	}
	for b := nBlocks - 1; b >= 0; b-- {
		c.free = append(c.free, b)
	}
	return c, nil
}

// Types are how keys and values are stored.
func (c *KVCache) Types() (k, v CacheType) { return c.k.typ, c.v.typ }

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

// Blocks returns the block table of seq: the blocks holding its
// positions, in order (nil for an unknown sequence).
func (c *KVCache) Blocks(seq int) []int {
	if s := c.seqs[seq]; s != nil {
		return append([]int(nil), s.blocks...)
	}
	return nil
}

// Hold takes one more reference to block b, which must be in use: its
// contents then stay until the matching Release, whatever the sequences
// holding it do.
func (c *KVCache) Hold(b int) { c.refs[b]++ }

// Release drops a reference taken with Hold; a block nobody refers to
// becomes free.
func (c *KVCache) Release(b int) { c.release(b) }

// Refs is the number of references to block b (sequences and holders).
func (c *KVCache) Refs(b int) int { return int(c.refs[b]) }

// Adopt makes seq hold the first n positions kept in blocks (as Fork does
// from a sequence): it takes a reference to each block, drops what seq held,
// and later writes copy a block still shared before changing it.
func (c *KVCache) Adopt(seq int, blocks []int, n int) {
	nb := (n + BlockSize - 1) / BlockSize
	if nb > len(blocks) {
		nb, n = len(blocks), len(blocks)*BlockSize
	}
	// References first: seq may hold some of these blocks already.
	for _, b := range blocks[:nb] {
		c.refs[b]++
	}
	c.Remove(seq)
	if n <= 0 {
		for _, b := range blocks[:nb] {
			c.release(b)
		}
		return
	}
	c.seqs[seq] = &seqState{blocks: append([]int(nil), blocks[:nb]...), n: n}
}

// BlocksInUse is the number of blocks holding something.
func (c *KVCache) BlocksInUse() int { return len(c.refs) - len(c.free) }

// Capacity is the number of blocks the cache may hold.
func (c *KVCache) Capacity() int { return len(c.refs) }

// BlockBytes is the memory one block takes once used.
func (c *KVCache) BlockBytes() int64 {
	per := c.k.typ.Bytes(c.kvDim) + c.v.typ.Bytes(c.kvDim)
	return int64(c.layers) * int64(per) * BlockSize
}

func (c *KVCache) release(b int) {
	c.refs[b]--
	if c.refs[b] == 0 {
		c.free = append(c.free, b)
	}
}

func (c *KVCache) alloc() (int, error) {
	for len(c.free) == 0 {
		if c.OnFull == nil || !c.OnFull() {
			return 0, fmt.Errorf("model: KV cache full (%d blocks of %d positions)", len(c.refs), BlockSize)
		}
	}
	b := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	c.refs[b] = 1
	c.k.alloc(b)
	c.v.alloc(b)
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
	c.k.copyBlock(dst, src)
	c.v.copyBlock(dst, src)
}

// store writes the keys and values of one position.
func (c *KVCache) store(l int, s *seqState, pos int, k, v []float32, headDim int) {
	b, off := s.blocks[pos/BlockSize], pos%BlockSize
	for h := 0; h < c.kvDim/headDim; h++ {
		c.k.put(l, b, h, off, k[h*headDim:(h+1)*headDim])
		c.v.put(l, b, h, off, v[h*headDim:(h+1)*headDim])
	}
}

// gatherK copies the keys of head h for positions [0, n) into dst (n×headDim).
func (c *KVCache) gatherK(l int, s *seqState, h, n, headDim int, dst []float32) {
	for b := 0; b*BlockSize < n; b++ {
		c.k.rows(l, s.blocks[b], h, min(BlockSize, n-b*BlockSize), dst[b*BlockSize*headDim:])
	}
}

// keyProducts sets out[i*stride+p] to query row i (of nq, headDim each)
// times the key of head h at position p, for p in [0, n), from a q8_0 key
// plane as ggml computes a q8_0 product: the queries quantized to q8_0 as
// activations, then integer block dot products (tensor.MatMul). The keys'
// rows are copied side by side first (keys, grown as needed and returned
// with tmp), so the queries are quantized once, not once per cache block:
// per block, preparing the product cost more than the product.
func (c *KVCache) keyProducts(l int, s *seqState, h, n int, q []float32, nq, stride int, out, tmp []float32, keys []byte) ([]float32, []byte) {
	rb := c.k.rowBytes
	keys = grow(keys, n*rb)
	for b := 0; b*BlockSize < n; b++ {
		copy(keys[b*BlockSize*rb:], c.k.q8Rows(l, s.blocks[b], h, min(BlockSize, n-b*BlockSize)).Data)
	}
	tmp = grow(tmp, nq*n)
	m := tensor.Matrix{Type: tensor.Q8_0, Rows: n, Cols: c.k.headDim, Data: keys[:n*rb]}
	tensor.MatMul(m, q, nq, tmp[:nq*n], 1)
	for i := 0; i < nq; i++ {
		copy(out[i*stride:i*stride+n], tmp[i*n:(i+1)*n])
	}
	return tmp, keys
}

// gatherVT copies the values of head h for positions [0, n) into dst as
// headDim rows of stride values, zero-filling each row past n.
func (c *KVCache) gatherVT(l int, s *seqState, h, n, stride, headDim int, dst []float32) {
	for d := 0; d < headDim; d++ {
		clear(dst[d*stride+n : (d+1)*stride])
	}
	for b := 0; b*BlockSize < n; b++ {
		c.v.columns(l, s.blocks[b], h, min(BlockSize, n-b*BlockSize), dst, stride, b*BlockSize)
	}
}

// CacheType is how the KV cache stores keys or values. The zero value is
// float16, llama.cpp's default: half the memory of float32, and the
// precision the attention products round their inputs to anyway on most
// hardware.
type CacheType int

// Cache types, named as llama.cpp's --cache-type-k/-v values.
const (
	CacheF16 CacheType = iota
	CacheF32
	CacheQ8_0
)

// ParseCacheType reads f32, f16 or q8_0.
func ParseCacheType(s string) (CacheType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f16", "":
		return CacheF16, nil
	case "f32":
		return CacheF32, nil
	case "q8_0":
		return CacheQ8_0, nil
	}
	return 0, fmt.Errorf("model: unknown KV cache type %q (valid: f32, f16, q8_0)", s)
}

// Set parses s into t, so a CacheType can be a command-line flag.
func (t *CacheType) Set(s string) error {
	v, err := ParseCacheType(s)
	if err == nil {
		*t = v
	}
	return err
}

// Type names the flag's value kind in help text.
func (t *CacheType) Type() string { return "f32|f16|q8_0" }

func (t CacheType) String() string {
	switch t {
	case CacheF32:
		return "f32"
	case CacheQ8_0:
		return "q8_0"
	}
	return "f16"
}

// Bytes is what n values take in this type.
func (t CacheType) Bytes(n int) int {
	switch t {
	case CacheF32:
		return 4 * n
	case CacheQ8_0:
		return n / 32 * 34
	}
	return 2 * n
}

func (t CacheType) check(headDim int) error {
	if t == CacheQ8_0 && headDim%32 != 0 {
		return fmt.Errorf("model: a q8_0 KV cache needs a head size that is a multiple of 32, this model's is %d", headDim)
	}
	return nil
}

// plane stores the keys or the values of every block. Within a block each
// (layer, KV head) has a region of BlockSize rows of headDim. Float32
// values are kept transposed, [headDim][position], so attention gathers
// them as columns with whole copies; the packed types keep every row as
// one run of its own (a q8_0 row is headDim/32 blocks) and unpack on
// gather.
type plane struct {
	typ                      CacheType
	transposed               bool
	layers, heads, headDim   int
	f32                      [][]float32 // per block, for CacheF32
	raw                      [][]byte    // per block, for the packed types
	rowBytes, regionElements int
}

func newPlane(t CacheType, values bool, blocks, layers, heads, headDim int) plane {
	p := plane{typ: t, layers: layers, heads: heads, headDim: headDim, rowBytes: t.Bytes(headDim), regionElements: BlockSize * headDim}
	// q8_0 blocks run along a row, so q8_0 values cannot be transposed.
	p.transposed = values && t != CacheQ8_0
	if t == CacheF32 {
		p.f32 = make([][]float32, blocks)
	} else {
		p.raw = make([][]byte, blocks)
	}
	return p
}

func (p *plane) alloc(b int) {
	if p.typ == CacheF32 {
		if p.f32[b] == nil {
			p.f32[b] = make([]float32, p.layers*p.heads*p.regionElements)
		}
	} else if p.raw[b] == nil {
		p.raw[b] = make([]byte, p.layers*p.heads*BlockSize*p.rowBytes)
	}
}

func (p *plane) copyBlock(dst, src int) {
	if p.typ == CacheF32 {
		copy(p.f32[dst], p.f32[src])
	} else {
		copy(p.raw[dst], p.raw[src])
	}
}

func (p *plane) region(l, h int) int { return l*p.heads + h }

// put stores row x (headDim values) at position off of block b.
func (p *plane) put(l, b, h, off int, x []float32) {
	r := p.region(l, h)
	switch {
	case p.typ == CacheF32 && p.transposed:
		vc := p.f32[b][r*p.regionElements:]
		for d, v := range x {
			vc[d*BlockSize+off] = v
		}
	case p.typ == CacheF32:
		copy(p.f32[b][r*p.regionElements+off*p.headDim:], x)
	case p.typ == CacheF16 && p.transposed:
		vc := p.raw[b][2*r*p.regionElements:]
		for d, v := range x {
			binary.LittleEndian.PutUint16(vc[2*(d*BlockSize+off):], tensor.F32ToF16(v))
		}
	case p.typ == CacheF16:
		row := p.raw[b][(r*BlockSize+off)*p.rowBytes:]
		for d, v := range x {
			binary.LittleEndian.PutUint16(row[2*d:], tensor.F32ToF16(v))
		}
	default:
		// As ggml stores a q8_0 cache row (its CPU quantizer for
		// activations, not the weight files' rounding). A non-finite row
		// (the model has already diverged) is stored as zeros.
		tensor.QuantizeQ8_0Act(x, p.raw[b][(r*BlockSize+off)*p.rowBytes:][:p.rowBytes])
	}
}

// q8Rows is the first n rows of head h in block b of a q8_0 plane as a
// Q8_0 matrix (n rows of headDim), read in place.
func (p *plane) q8Rows(l, b, h, n int) tensor.Matrix {
	r := p.region(l, h)
	return tensor.Matrix{Type: tensor.Q8_0, Rows: n, Cols: p.headDim,
		Data: p.raw[b][r*BlockSize*p.rowBytes : (r*BlockSize+n)*p.rowBytes]}
}

// rows unpacks the first n rows of block b into dst (n×headDim), for
// planes that are not transposed.
func (p *plane) rows(l, b, h, n int, dst []float32) {
	r := p.region(l, h)
	if p.typ == CacheF32 {
		copy(dst[:n*p.headDim], p.f32[b][r*p.regionElements:])
		return
	}
	for i := 0; i < n; i++ {
		p.unpack(p.raw[b][(r*BlockSize+i)*p.rowBytes:(r*BlockSize+i+1)*p.rowBytes], dst[i*p.headDim:(i+1)*p.headDim])
	}
}

// columns writes the first n positions of block b into dst as columns
// col..col+n of headDim rows of stride.
func (p *plane) columns(l, b, h, n int, dst []float32, stride, col int) {
	r := p.region(l, h)
	switch {
	case p.typ == CacheF32 && p.transposed:
		vc := p.f32[b][r*p.regionElements:]
		for d := 0; d < p.headDim; d++ {
			copy(dst[d*stride+col:d*stride+col+n], vc[d*BlockSize:d*BlockSize+n])
		}
		return
	case p.typ == CacheF16 && p.transposed:
		vc := p.raw[b][2*r*p.regionElements:]
		for d := 0; d < p.headDim; d++ {
			unpackF16(vc[2*d*BlockSize:2*(d*BlockSize+n)], dst[d*stride+col:d*stride+col+n])
		}
		return
	}
	// q8_0 rows, dequantized straight into the columns (d·q, as
	// tensor's q8_0 dequantizer): per 32-wide block, the n rows' scales
	// first, then each dimension's n values, written contiguously.
	raw := p.raw[b][r*BlockSize*p.rowBytes:]
	bs, bb := tensor.Q8_0.BlockSize(), tensor.Q8_0.BlockBytes() // 32 int8s after an f16 scale
	var scales [BlockSize]float32
	for j := 0; j < p.headDim/bs; j++ {
		for i := 0; i < n; i++ {
			scales[i] = tensor.F16ToF32(binary.LittleEndian.Uint16(raw[i*p.rowBytes+j*bb:]))
		}
		for k := 0; k < bs; k++ {
			out := dst[(bs*j+k)*stride+col : (bs*j+k)*stride+col+n]
			for i := range out {
				out[i] = scales[i] * float32(int8(raw[i*p.rowBytes+j*bb+2+k]))
			}
		}
	}
}

func (p *plane) unpack(src []byte, dst []float32) {
	if p.typ == CacheF16 {
		unpackF16(src, dst)
		return
	}
	if err := tensor.Dequantize(tensor.Q8_0, src, dst); err != nil {
		panic(err) // sizes are fixed at construction
	}
}

func unpackF16(src []byte, dst []float32) { tensor.F16sToF32(src, dst) }
