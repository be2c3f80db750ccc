package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/serverpb"
)

// TestRelocateSplitRange moves a replica of a range made by a split to a
// node that never held it, then removes an old one: the new replica must
// hold everything the range inherited from before the split (its raft log
// does not: the leader must send a snapshot), and reads through the new
// replica as leader must see every key.
func TestRelocateSplitRange(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 4})
	c.WaitReplicated()
	cl := c.Client(1)
	for i := range 50 {
		put(t, cl, fmt.Sprintf("rel/%02d", i), "v")
	}
	_, right := c.Split([]byte("rel/25"))
	var from uint64
	for _, r := range right.Replicas {
		if r.NodeId != 4 {
			from = r.NodeId
		}
	}
	if right.HasReplica(4) {
		t.Skipf("n4 already holds r%d", right.RangeId)
	}
	admin, err := c.Admin(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: right.RangeId, FromNodeId: from, ToNodeId: 4}); err != nil {
		t.Fatal(err)
	}
	c.WaitReplicasAgree()
	if _, err := admin.TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: right.RangeId, NodeId: 4}); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if v, ok := get(t, c.NewClient(), fmt.Sprintf("rel/%02d", i)); !ok || v != "v" {
			t.Fatalf("rel/%02d after the move: %q %v", i, v, ok)
		}
	}
}
