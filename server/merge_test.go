package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// mergeCluster starts a 4-node cluster whose database span is its own
// range, holding 200 keys (key(i)), spread over it.
func mergeCluster(t *testing.T) (*testcluster.Cluster, func(int) string) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 4})
	c.WaitReplicated()
	lo, hi := dbSpan()
	c.Split(lo)
	c.Split(hi)
	cl := c.NewClient()
	key := func(i int) string { return string(sqlKey(uint64(i)<<56, fmt.Sprint(i))) }
	for i := range 200 {
		put(t, cl, key(i), "v")
	}
	return c, key
}

// mergeAfterMoves sets up what co-location and rebalancing can do just
// before a merge: in a 4-node cluster, a replica of the right-hand range
// goes to n4 and back, then the two ranges merge. n4 is left with a stale
// replica of the right-hand range, which meta no longer lists.
func mergeAfterMoves(t *testing.T) (c *testcluster.Cluster, left, right *kvpb.RangeDescriptor, key func(int) string) {
	c, key = mergeCluster(t)
	left, right = c.Split(sqlKey(100<<56, ""))
	if right.HasReplica(4) || left.HasReplica(4) {
		t.Skipf("n4 already holds r%d or r%d", left.RangeId, right.RangeId)
	}
	var from uint64
	for _, r := range right.Replicas {
		from = r.NodeId
	}
	admin, err := c.Admin(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, mv := range [][2]uint64{{from, 4}, {4, from}} {
		if _, err := admin.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: right.RangeId, FromNodeId: mv[0], ToNodeId: mv[1]}); err != nil {
			t.Fatalf("move r%d n%d → n%d: %v", right.RangeId, mv[0], mv[1], err)
		}
	}
	if _, err := admin.MergeRanges(ctx, &serverpb.MergeRangesRequest{RangeId: left.RangeId}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	return c, left, right, key
}

// TestMergeAfterMovesThenReplaceLeader stops the merged range's leader at
// once and replaces its replica with one on n4, where the stale replica of
// the merged-away range is in the way until it is collected: the survivors
// serve, the move succeeds, and every write is kept.
func TestMergeAfterMovesThenReplaceLeader(t *testing.T) {
	c, left, right, key := mergeAfterMoves(t)
	leader := c.LeaderOf(left.RangeId)
	t.Logf("merged r%d into r%d; stopping its leader n%d", right.RangeId, left.RangeId, leader)
	c.Stop(leader)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := c.NewClient()
	testcluster.WaitFor(t, 30*time.Second, "the merged range to serve writes again", func() (bool, string) {
		wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
		defer wcancel()
		if err := cl.Put(wctx, []byte(key(150)), []byte("w")); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	live := 1
	if leader == 1 {
		live = 2
	}
	admin, err := c.Admin(live)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: left.RangeId, FromNodeId: uint64(leader), ToNodeId: 4}); err != nil {
		t.Fatalf("replace the stopped leader's replica with one on n4: %v", err)
	}
	for i := range 200 {
		want := "v"
		if i == 150 {
			want = "w"
		}
		if v, ok := get(t, cl, key(i)); !ok || v != want {
			t.Fatalf("%x after the merge: %q %v", key(i), v, ok)
		}
	}
	for _, d := range c.Descriptors() {
		if d.RangeId == left.RangeId && (string(d.EndKey) != string(right.EndKey) || !d.HasReplica(4)) {
			t.Fatalf("meta after the merge and the move: %v", d)
		}
	}
}

// TestMergedAwayReplicaCollected: the stale replica that n4 kept of the
// merged-away range is garbage-collected.
func TestMergedAwayReplicaCollected(t *testing.T) {
	c, _, right, _ := mergeAfterMoves(t)
	testcluster.WaitFor(t, 30*time.Second, fmt.Sprintf("n4 to collect its replica of r%d", right.RangeId), func() (bool, string) {
		st, err := c.ReplicaState(4, right.RangeId)
		var kerr *kvpb.Error
		if errors.As(err, &kerr) && kerr.GetRangeNotFound() != nil {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("n4 still holds r%d: %v", right.RangeId, st.Desc)
	})
}

// frozenMerge sets up a merge cut short in a 4-node cluster: the
// right-hand range is frozen for a merge into the left-hand one, and meta
// shows it, as when the executor stopped right after the freeze (its
// caller gave up, or its node died). Until the merge is finished, the
// right refuses every request.
func frozenMerge(t *testing.T) (c *testcluster.Cluster, left, right *kvpb.RangeDescriptor, key func(int) string) {
	c, key = mergeCluster(t)
	c.Split(sqlKey(30<<56, "")) // a left neighbour for the left
	left, right = c.Split(sqlKey(100<<56, ""))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	internal, err := c.Internal(c.LeaderOf(right.RangeId))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := internal.AdminSubsume(ctx, &serverpb.AdminSubsumeRequest{RangeId: right.RangeId, IntoRangeId: left.RangeId})
	if err == nil && sub.Error != nil {
		err = sub.Error
	}
	if err != nil {
		t.Fatalf("freeze r%d: %v", right.RangeId, err)
	}
	testcluster.WaitFor(t, 30*time.Second, fmt.Sprintf("meta to show r%d frozen", right.RangeId), func() (bool, string) {
		for _, d := range c.Descriptors() {
			if d.RangeId == right.RangeId && d.MergingInto == left.RangeId {
				return true, ""
			}
		}
		return false, ""
	})
	return c, left, right, key
}

// finishMerge finishes the merge through admin MergeRanges and checks
// that left covers right's span, keeps every key, and takes writes.
func finishMerge(t *testing.T, c *testcluster.Cluster, left, right *kvpb.RangeDescriptor, key func(int) string) *kvpb.RangeDescriptor {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := c.Admin(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.MergeRanges(ctx, &serverpb.MergeRangesRequest{RangeId: left.RangeId}); err != nil {
		t.Fatalf("finish the merge of the frozen r%d into r%d: %v", right.RangeId, left.RangeId, err)
	}
	var merged *kvpb.RangeDescriptor
	for _, d := range c.Descriptors() {
		if d.RangeId == right.RangeId {
			t.Fatalf("r%d is still in meta after the merge: %v", right.RangeId, d)
		}
		if d.RangeId == left.RangeId {
			merged = d
		}
	}
	if merged == nil || string(merged.StartKey) != string(left.StartKey) || string(merged.EndKey) != string(right.EndKey) {
		t.Fatalf("r%d after the merge: %v (want it over its span and r%d's)", left.RangeId, merged, right.RangeId)
	}
	cl := c.NewClient()
	for i := range 200 {
		if v, ok := get(t, cl, key(i)); !ok || v != "v" {
			t.Fatalf("%x after the merge: %q %v", key(i), v, ok)
		}
	}
	put(t, cl, key(150), "w")
	return merged
}

// TestFrozenMergeFinishesAfterLeftMoved: a merge froze the right-hand
// range, and the left-hand range's replicas moved before it could finish
// (a move or a decommission already running, as the Jepsen churn test once
// had it). The right stays frozen, refusing every request, until the merge
// is done; finishing it moves the left's replicas onto the right's nodes.
// Before, the merge failed on the voters' mismatch every time it was
// finished, so the right's keys stayed unavailable for good.
func TestFrozenMergeFinishesAfterLeftMoved(t *testing.T) {
	c, left, right, key := frozenMerge(t)
	from := moveToN4(t, c, left)
	if merged := finishMerge(t, c, left, right, key); merged.HasReplica(4) || !merged.HasReplica(from) {
		t.Fatalf("r%d after the merge: %v (want it on n%d and not n4, where r%d is)", left.RangeId, merged, from, right.RangeId)
	}
}

// TestFrozenMergeFinishesAfterLeftSplit: after the freeze, the left-hand
// range split (the controller decided a load split before meta showed the
// freeze, as in the Jepsen churn test), and the range split off was moved.
// Finishing the merge merges that range back into the left first. Before,
// the merge failed as "not adjacent" every time it was finished, and the
// right's keys stayed unavailable for good.
func TestFrozenMergeFinishesAfterLeftSplit(t *testing.T) {
	c, left, right, key := frozenMerge(t)
	_, mid := c.Split(sqlKey(50<<56, ""))
	moveToN4(t, c, mid)
	finishMerge(t, c, left, right, key)
	for _, d := range c.Descriptors() {
		if d.RangeId == mid.RangeId {
			t.Fatalf("r%d, split off r%d after the freeze, is still in meta: %v", mid.RangeId, left.RangeId, d)
		}
	}
}

// moveToN4 moves d's first replica to n4 and returns the node it left
// (the test is skipped when n4 already holds d).
func moveToN4(t *testing.T, c *testcluster.Cluster, d *kvpb.RangeDescriptor) (from uint64) {
	if d.HasReplica(4) {
		t.Skipf("n4 already holds r%d", d.RangeId)
	}
	admin, err := c.Admin(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	from = d.Replicas[0].NodeId
	if _, err := admin.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: d.RangeId, FromNodeId: from, ToNodeId: 4}); err != nil {
		t.Fatalf("move r%d n%d → n4: %v", d.RangeId, from, err)
	}
	return from
}

// TestFrozenMergeKeepsItsLeft: while a range is frozen into the left, the
// left is not merged into its own left neighbour (the frozen range would
// wait for a range that no longer exists); the merge into the left is
// finished first.
func TestFrozenMergeKeepsItsLeft(t *testing.T) {
	c, left, right, key := frozenMerge(t)
	var before *kvpb.RangeDescriptor
	for _, d := range c.Descriptors() {
		if string(d.EndKey) == string(left.StartKey) {
			before = d
		}
	}
	if before == nil {
		t.Fatalf("no range ends where r%d starts", left.RangeId)
	}
	admin, err := c.Admin(1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = admin.MergeRanges(ctx, &serverpb.MergeRangesRequest{RangeId: before.RangeId})
	if err == nil || !strings.Contains(err.Error(), "that merge goes first") {
		t.Fatalf("merging r%d into r%d while r%d is frozen into it: %v, want a refusal", left.RangeId, before.RangeId, right.RangeId, err)
	}
	finishMerge(t, c, left, right, key)
}
