package server_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/server"
	"github.com/shardingsystem/shard/serverpb"
)

// adminClient dials node i's Admin service; the connection closes with
// the test.
func adminClient(t *testing.T, c *testcluster.Cluster, i int) serverpb.AdminClient {
	t.Helper()
	conn, err := grpc.NewClient(c.Addr(i), c.DialOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return serverpb.NewAdminClient(conn)
}

// transferLeader moves range id's leadership to node target through node
// via's Admin service and checks that the replicas agree.
func transferLeader(t *testing.T, c *testcluster.Cluster, via int, id uint64, target int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adminClient(t, c, via).TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: id, NodeId: uint64(target)})
	if err != nil {
		t.Fatalf("transfer r%d to n%d via n%d: %v", id, target, via, err)
	}
	if resp.LeaderNodeId != uint64(target) {
		t.Fatalf("transfer r%d to n%d: leader is n%d", id, target, resp.LeaderNodeId)
	}
	if l := c.LeaderOf(id); l != target {
		t.Fatalf("transfer r%d to n%d: the replicas report n%d", id, target, l)
	}
}

// TestTransferLeader moves the leaders of the meta range and of a user
// range to each other node in turn, asking a node that is not the leader;
// the range keeps serving. Unknown ranges and nodes without a replica are
// refused with clear codes.
func TestTransferLeader(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	_, right := c.Split([]byte("m"))
	cl := c.NewClient()
	for _, id := range []uint64{meta.MetaRangeID, right.RangeId} {
		for range 2 {
			old := c.LeaderOf(id)
			target := old%3 + 1
			via := target%3 + 1 // neither the target nor, maybe, the leader
			transferLeader(t, c, via, id, target)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			if err := cl.Put(ctx, []byte("m1"), []byte("v")); err != nil {
				t.Fatalf("put after moving r%d's leader n%d -> n%d: %v", id, old, target, err)
			}
			cancel()
		}
	}
	// Moving the leadership to the leader is a no-op.
	l := c.LeaderOf(right.RangeId)
	transferLeader(t, c, 1, right.RangeId, l)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	admin := adminClient(t, c, 1)
	for _, tc := range []struct {
		req  *serverpb.TransferLeaderRequest
		code codes.Code
	}{
		{&serverpb.TransferLeaderRequest{RangeId: 999, NodeId: 1}, codes.NotFound},
		{&serverpb.TransferLeaderRequest{RangeId: right.RangeId, NodeId: 9}, codes.FailedPrecondition},
		{&serverpb.TransferLeaderRequest{RangeId: 0, NodeId: 1}, codes.InvalidArgument},
	} {
		_, err := admin.TransferLeader(ctx, tc.req)
		if status.Code(err) != tc.code {
			t.Errorf("TransferLeader(%v): %v, want code %v", tc.req, err, tc.code)
		}
	}
}

// TestTSOClockOffsets: timestamps keep increasing while the meta range's
// leadership moves between nodes whose clocks disagree by minutes: to a
// node whose clock runs ten minutes ahead, then to one ten minutes behind.
// The node behind must not follow its clock back: it starts above the
// window the node ahead persisted.
func TestTSOClockOffsets(t *testing.T) {
	offsets := map[int]time.Duration{2: 10 * time.Minute, 3: -10 * time.Minute}
	c := testcluster.Start(t, testcluster.Options{Configure: func(i int, cfg *server.Config) {
		cfg.ClockOffset = offsets[i]
	}})
	c.WaitReplicated()
	cl := c.NewClient()
	var last engine.Timestamp
	now := func(phase string) engine.Timestamp {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ts, err := cl.Now(ctx)
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		if ts <= last {
			t.Fatalf("%s: timestamp %v is not above the last one %v", phase, ts, last)
		}
		last = ts
		return ts
	}
	for _, step := range []struct {
		node  int
		phase string
	}{{1, "n1, true clock"}, {2, "n2, clock 10 min ahead"}, {3, "n3, clock 10 min behind"}, {1, "n1 again"}} {
		if c.LeaderOf(meta.MetaRangeID) != step.node {
			transferLeader(t, c, 1, meta.MetaRangeID, step.node)
		}
		var first engine.Timestamp
		for i := range 50 {
			ts := now(step.phase)
			if i == 0 {
				first = ts
			}
		}
		ahead := time.Duration(first.Physical()-time.Now().UnixMilli()) * time.Millisecond
		t.Logf("%s: first timestamp %v, %v ahead of the true clock", step.phase, first, ahead.Round(time.Second))
		if step.node == 2 && ahead < 9*time.Minute {
			t.Fatalf("%s: the leader's clock offset is not in its timestamps (%v ahead)", step.phase, ahead)
		}
	}
}
