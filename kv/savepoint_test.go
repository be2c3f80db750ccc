package kv

import (
	"testing"

	"github.com/shardingsystem/shard/kvpb"
)

func TestSavepointRollbackTo(t *testing.T) {
	tx := &Txn{writes: map[string]*kvpb.Mutation{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tx.Put([]byte("a"), []byte("1")))
	sp := tx.Savepoint()
	must(tx.Put([]byte("a"), []byte("2")))
	must(tx.Put([]byte("b"), []byte("3")))
	must(tx.Delete([]byte("c")))
	if tx.Writes() != 3 {
		t.Fatalf("writes = %d, want 3", tx.Writes())
	}
	tx.RollbackTo(sp)
	if tx.Writes() != 1 || string(tx.writes["a"].Value) != "1" {
		t.Fatalf("after rollback: %v", tx.writes)
	}
	tx.RollbackTo(0)
	if tx.Writes() != 0 {
		t.Fatalf("after full rollback: %v", tx.writes)
	}
}

func TestChunkGroups(t *testing.T) {
	var muts []*kvpb.Mutation
	for i := 0; i < maxChunkMutations*2+5; i++ {
		muts = append(muts, &kvpb.Mutation{Key: []byte{byte(i >> 16), byte(i >> 8), byte(i)}})
	}
	chunks := chunkGroups([]txnGroup{{key: muts[0].Key, muts: muts}, {key: []byte("z"), muts: muts[:1]}})
	if len(chunks) != 4 {
		t.Fatalf("chunks = %d, want 4", len(chunks))
	}
	n := 0
	for _, c := range chunks {
		if len(c.muts) > maxChunkMutations || string(c.key) != string(c.muts[0].Key) {
			t.Fatalf("bad chunk %d muts key %q", len(c.muts), c.key)
		}
		n += len(c.muts)
	}
	if n != len(muts)+1 {
		t.Fatalf("lost mutations: %d", n)
	}
}
