package gateway

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"
)

// exportCacheBytes bounds the card exports kept in memory.
const exportCacheBytes = 64 << 20

// exportCache keeps card exports by character revision and format, so a
// popular card is encoded once per revision rather than once per download,
// and simultaneous downloads of one revision share a single encoding.
type exportCache struct {
	flight singleflight.Group
	mu     sync.Mutex
	lru    *simplelru.LRU[string, []byte]
	bytes  int
	limit  int
}

func newExportCache(limit int) *exportCache {
	c := &exportCache{limit: limit}
	// The count bound is never the binding one; bytes are.
	c.lru, _ = simplelru.NewLRU(1<<20, func(_ string, v []byte) { c.bytes -= len(v) })
	return c
}

// get returns the export under key, making it with encode when it is not
// kept. An export larger than a quarter of the budget is not kept.
func (c *exportCache) get(key string, encode func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if b, ok := c.lru.Get(key); ok {
		c.mu.Unlock()
		return b, nil
	}
	c.mu.Unlock()
	v, err, _ := c.flight.Do(key, func() (any, error) {
		b, err := encode()
		if err != nil || len(b) > c.limit/4 {
			return b, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.lru.Add(key, b)
		c.bytes += len(b)
		for c.bytes > c.limit {
			c.lru.RemoveOldest()
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
