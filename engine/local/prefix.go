package local

import (
	"sort"

	"github.com/maopao/maopao/engine/model"
)

// prefixCache keeps the KV-cache blocks of prompts and conversations that
// ran, after their sequence slot has gone to someone else, so that a
// character's persona stays computed across thousands of players while
// only --parallel conversations run at once.
//
// It is a radix tree whose edges are whole blocks of model.BlockSize
// tokens (the unit the KV cache shares), as SGLang's RadixAttention with a
// page size: a node stands for the tokens on its path from the root, and
// holds one reference to the block with their keys and values. A block's
// contents depend on every token before it, which the path pins down.
//
// The tree lives within the KV cache's capacity: when a write finds no free
// block the cache asks it (OnFull) to let go of its least recently used
// leaves that no sequence shares. Blocks a running sequence holds are never
// taken: their reference count stays above the tree's one.
//
// Not safe for concurrent use; Engine.mu guards it with the cache.
type prefixCache struct {
	kv    *model.KVCache
	root  prefixNode
	clock int64 // ticks on every use, for LRU order
	nodes int   // blocks the tree holds
	// evicted counts blocks let go under memory pressure.
	evicted int
}

type blockKey [model.BlockSize]int32

type prefixNode struct {
	block    int
	parent   *prefixNode
	key      blockKey
	children map[blockKey]*prefixNode
	lastUse  int64
}

// evictBatch is how many leaves one call of evict may let go: enough that a
// long prompt does not sort the tree once per block it writes.
const evictBatch = 32

func newPrefixCache(kv *model.KVCache) *prefixCache {
	pc := &prefixCache{kv: kv}
	kv.OnFull = pc.evict
	return pc
}

func keyOf(tokens []int) blockKey {
	var k blockKey
	for i, t := range tokens[:model.BlockSize] {
		k[i] = int32(t)
	}
	return k
}

// insert records that blocks hold the KV of tokens, block by block from
// the start; only whole blocks are kept. A block of tokens the tree
// already has keeps the tree's copy.
func (pc *prefixCache) insert(tokens []int, blocks []int) {
	n := min(len(tokens)/model.BlockSize, len(blocks))
	pc.clock++
	node := &pc.root
	for i := 0; i < n; i++ {
		k := keyOf(tokens[i*model.BlockSize:])
		child := node.children[k]
		if child == nil {
			if node.children == nil {
				node.children = map[blockKey]*prefixNode{}
			}
			child = &prefixNode{block: blocks[i], parent: node, key: k}
			pc.kv.Hold(blocks[i])
			node.children[k] = child
			pc.nodes++
		}
		child.lastUse = pc.clock
		node = child
	}
}

// match returns the blocks holding the longest cached prefix of tokens,
// in whole blocks.
func (pc *prefixCache) match(tokens []int) []int {
	pc.clock++
	var blocks []int
	node := &pc.root
	for i := 0; (i+1)*model.BlockSize <= len(tokens); i++ {
		child := node.children[keyOf(tokens[i*model.BlockSize:])]
		if child == nil {
			break
		}
		child.lastUse = pc.clock
		blocks = append(blocks, child.block)
		node = child
	}
	return blocks
}

// evict lets go of up to evictBatch of the least recently used leaves that
// only the tree holds, and reports whether it freed any block.
func (pc *prefixCache) evict() bool {
	var leaves []*prefixNode
	var walk func(n *prefixNode)
	walk = func(n *prefixNode) {
		for _, c := range n.children {
			if len(c.children) == 0 {
				if pc.kv.Refs(c.block) == 1 {
					leaves = append(leaves, c)
				}
				continue
			}
			walk(c)
		}
	}
	walk(&pc.root)
	if len(leaves) == 0 {
		return false
	}
	sort.Slice(leaves, func(i, j int) bool { return leaves[i].lastUse < leaves[j].lastUse })
	for _, leaf := range leaves[:min(evictBatch, len(leaves))] {
		delete(leaf.parent.children, leaf.key)
		pc.kv.Release(leaf.block)
		pc.nodes--
		pc.evicted++
	}
	return true
}
