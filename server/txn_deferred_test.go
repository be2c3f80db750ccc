package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
)

// TestDeferredWriteTimestamps: a blind write in a deferred transaction,
// whose timestamps the leaseholder takes, commits above every timestamp
// handed out before it began: a snapshot taken before the write does not
// see it, one taken after it returned does.
func TestDeferredWriteTimestamps(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	cl := c.NewClient()
	ctx := context.Background()
	for i := range 20 {
		key, val := []byte(fmt.Sprintf("deferred-%d", i%4)), []byte(fmt.Sprint(i))
		before, err := cl.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var tx *kv.Txn
		if err := cl.RunDeferredTxn(ctx, func(_ context.Context, t *kv.Txn) error {
			tx = t
			return t.Put(key, val)
		}); err != nil {
			t.Fatal(err)
		}
		if tx.StartTS() != 0 || !tx.CommittedOnePC() {
			t.Fatalf("write %d: start %v, one-phase %v: not the leaseholder's timestamps", i, tx.StartTS(), tx.CommittedOnePC())
		}
		if v, _, err := cl.SnapshotAt(before).Get(ctx, key); err != nil || string(v) == string(val) {
			t.Fatalf("write %d: a snapshot from before it reads %q (%v)", i, v, err)
		}
		after, err := cl.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, _, err := after.Get(ctx, key); err != nil || string(v) != string(val) {
			t.Fatalf("write %d: a snapshot from after it reads %q (%v), want %q", i, v, err, val)
		}
	}
}
