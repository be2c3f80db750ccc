package kv

import (
	"testing"

	"github.com/shardingsystem/shard/kvpb"
)

func desc(id, gen uint64, start, end string) *kvpb.RangeDescriptor {
	return &kvpb.RangeDescriptor{RangeId: id, Generation: gen, StartKey: []byte(start), EndKey: []byte(end)}
}

func TestRangeCache(t *testing.T) {
	c := newRangeCache()
	c.insert(desc(2, 1, "a", "z"))
	if d := c.lookup([]byte("m")); d == nil || d.RangeId != 2 {
		t.Fatalf("lookup m = %v", d)
	}
	if d := c.lookup([]byte("z")); d != nil {
		t.Fatalf("end key is exclusive, got %v", d)
	}
	// A split: the new halves replace the old descriptor.
	c.insert(desc(2, 2, "a", "m"))
	c.insert(desc(3, 1, "m", "z"))
	if d := c.lookup([]byte("n")); d == nil || d.RangeId != 3 {
		t.Fatalf("lookup n after split = %v", d)
	}
	if d := c.lookup([]byte("b")); d == nil || d.RangeId != 2 || d.Generation != 2 {
		t.Fatalf("lookup b after split = %v", d)
	}
	// An older generation of a cached range is ignored.
	c.insert(desc(2, 1, "a", "z"))
	if d := c.lookup([]byte("n")); d == nil || d.RangeId != 3 {
		t.Fatalf("stale insert replaced a newer descriptor: %v", d)
	}
	c.evict(desc(3, 1, "m", "z"))
	if d := c.lookup([]byte("n")); d != nil {
		t.Fatalf("evicted descriptor still found: %v", d)
	}
	c.setLeader(2, "x:1")
	if c.leader(2) != "x:1" {
		t.Fatal("leader not cached")
	}
	c.setLeader(2, "")
	if c.leader(2) != "" {
		t.Fatal("leader not cleared")
	}
}
