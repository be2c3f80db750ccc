package kv

import (
	"bytes"
	"sort"
	"sync"

	"github.com/shardingsystem/shard/kvpb"
)

// rangeCache holds descriptors sorted by end key, never overlapping, plus the
// last known leader address of each range. Safe for concurrent use.
type rangeCache struct {
	mu      sync.RWMutex
	descs   []*kvpb.RangeDescriptor // sorted by EndKey
	leaders map[uint64]string
}

func newRangeCache() *rangeCache { return &rangeCache{leaders: map[uint64]string{}} }

// lookup returns the cached descriptor holding key, nil if none.
func (c *rangeCache) lookup(key []byte) *kvpb.RangeDescriptor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := sort.Search(len(c.descs), func(i int) bool { return bytes.Compare(c.descs[i].EndKey, key) > 0 })
	if i < len(c.descs) && bytes.Compare(c.descs[i].StartKey, key) <= 0 {
		return c.descs[i]
	}
	return nil
}

// insert adds d, dropping every cached descriptor that overlaps it and is
// not newer (same range id with a higher generation stays).
func (c *rangeCache) insert(d *kvpb.RangeDescriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.descs[:0:0]
	for _, e := range c.descs {
		overlaps := bytes.Compare(e.StartKey, d.EndKey) < 0 && bytes.Compare(d.StartKey, e.EndKey) < 0
		if overlaps {
			if e.RangeId == d.RangeId && e.Generation > d.Generation {
				return // d is older than what we have
			}
			continue
		}
		out = append(out, e)
	}
	i := sort.Search(len(out), func(i int) bool { return bytes.Compare(out[i].EndKey, d.EndKey) > 0 })
	out = append(out, nil)
	copy(out[i+1:], out[i:])
	out[i] = d
	c.descs = out
}

// evict drops d if it is still cached.
func (c *rangeCache) evict(d *kvpb.RangeDescriptor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.descs {
		if e.RangeId == d.RangeId && e.Generation == d.Generation {
			c.descs = append(c.descs[:i:i], c.descs[i+1:]...)
			return
		}
	}
}

func (c *rangeCache) leader(rangeID uint64) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.leaders[rangeID]
}

func (c *rangeCache) setLeader(rangeID uint64, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if addr == "" {
		delete(c.leaders, rangeID)
	} else {
		c.leaders[rangeID] = addr
	}
}
