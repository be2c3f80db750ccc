package replication_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
)

// TestGroupMembership grows one range from a single bootstrapped voter to
// three, the way the server up-replicates (an empty replica, added as a
// non-voter, promoted once it has applied what was committed), moves its
// leadership to a chosen member, and removes a follower; after each step it
// checks every member's view of the configuration and that the data stays
// the same on the members that hold the range.
func TestGroupMembership(t *testing.T) {
	timing := gtFastTiming()
	n1, n2, n3 := gtStartMember(t, 1, timing), gtStartMember(t, 2, timing), gtStartMember(t, 3, timing)

	// n1 alone, bootstrapped as a new cluster's range is.
	desc := &kvpb.RangeDescriptor{RangeId: gtRange, StartKey: keys.UserMin, EndKey: keys.KeyMax, Generation: 1,
		Replicas: []*kvpb.ReplicaDescriptor{{NodeId: n1.id, Type: kvpb.ReplicaType_VOTER, Addr: string(n1.addr)}}}
	if err := replica.WriteInitialState(n1.eng, desc, 0); err != nil {
		t.Fatal(err)
	}
	n1.boot = []raft.Server{{ID: replication.ServerID(n1.id), Address: n1.addr, Suffrage: raft.Voter}}
	n1.start(t)
	members := []*gtMember{n1}
	mbWaitConfig(t, members, mbConfig(members))
	if l := gtLeader(t, members); l != n1 {
		t.Fatalf("n%d leads a group of n1 alone", l.id)
	}
	if err := gtPut(members, "a/1", "one", "a/2", "two"); err != nil {
		t.Fatal(err)
	}
	if err := gtPut(members, "a/3", "three"); err != nil {
		t.Fatal(err)
	}

	// Up-replicate to n2, then n3.
	for _, m := range []*gtMember{n2, n3} {
		leader := gtLeader(t, members)
		// As the server's CreateReplica: the leader's descriptor and an
		// empty applied state, and a group that is never bootstrapped.
		if err := replica.WriteInitialState(m.eng, leader.rep.Desc(), 0); err != nil {
			t.Fatal(err)
		}
		m.start(t)
		if m.g.HasState() {
			t.Fatalf("n%d's new group has raft state", m.id)
		}
		if servers, err := m.g.Configuration(); err != nil || len(servers) != 0 {
			t.Fatalf("n%d's new group: configuration %v, %v; want none", m.id, servers, err)
		}

		if err := leader.g.AddNonvoter(mbCtx(t), m.id, m.addr); err != nil {
			t.Fatalf("add n%d as a non-voter: %v", m.id, err)
		}
		mbWaitConfig(t, append(members, m), mbConfig(members, m))
		members = append(members, m)

		// Promote once the non-voter has applied what was committed (the
		// configuration entry that added it is the last entry, and entries
		// of that kind reach the state machine).
		want := leader.g.CommitIndex()
		gtWaitFor(t, 5*time.Second, fmt.Sprintf("n%d to apply index %d", m.id, want), func() (bool, string) {
			return m.rep.Applied() >= want, fmt.Sprintf("applied %d", m.rep.Applied())
		})
		if err := leader.g.AddVoter(mbCtx(t), m.id, m.addr); err != nil {
			t.Fatalf("promote n%d: %v", m.id, err)
		}
		mbWaitConfig(t, members, mbConfig(members))
		// The new voter is part of every quorum from now on.
		if err := gtPut(members, fmt.Sprintf("b/%d", m.id), "after"); err != nil {
			t.Fatal(err)
		}
	}
	mbWaitSameData(t, members)
	for _, m := range members {
		for _, k := range []string{"a/1", "a/3", "b/2", "b/3"} {
			if _, _, err := m.eng.GetMVCC([]byte(k), engine.MaxTimestamp); err != nil {
				t.Fatalf("n%d lacks %s: %v", m.id, k, err)
			}
		}
	}

	// The leader records the membership in the descriptor, as the server
	// does after a change; every replica applies it.
	leader := gtLeader(t, members)
	d, err := leader.rep.UpdateReplicas(mbCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != desc.Generation+1 || len(d.Replicas) != 3 {
		t.Fatalf("updated descriptor %v, want generation %d with 3 replicas", d, desc.Generation+1)
	}
	gtWaitFor(t, 5*time.Second, "every replica to hold the new descriptor", func() (bool, string) {
		for _, m := range members {
			if got := m.rep.Desc(); !proto.Equal(got, d) {
				return false, fmt.Sprintf("n%d holds %v", m.id, got)
			}
		}
		return true, ""
	})

	// Hand leadership to a chosen follower; it leads, the others follow
	// it, and it serves writes itself.
	target := n2
	if leader == n2 {
		target = n3
	}
	if err := leader.g.TransferLeadership(target.id, target.addr); err != nil {
		t.Fatalf("transfer leadership n%d -> n%d: %v", leader.id, target.id, err)
	}
	gtWaitFor(t, 5*time.Second, fmt.Sprintf("n%d to lead, known to all", target.id), func() (bool, string) {
		var why []string
		for _, m := range members {
			if id, addr := m.g.Leader(); id != target.id || addr != target.addr {
				why = append(why, fmt.Sprintf("n%d sees n%d at %q", m.id, id, addr))
			}
		}
		return target.g.IsLeader() && len(why) == 0, fmt.Sprintf("n%d is %s; %s", target.id, target.g.State(), strings.Join(why, ", "))
	})
	mbPutOn(t, target, "c/1", "transferred")
	mbWaitSameData(t, members)

	// Remove a follower. The leader stops replicating to it once it has
	// sent the configuration entry that removes it.
	var removed *gtMember
	for _, m := range members {
		if m != target {
			removed = m
			break
		}
	}
	if err := target.g.RemoveServer(mbCtx(t), removed.id); err != nil {
		t.Fatalf("remove n%d: %v", removed.id, err)
	}
	remaining := slices.DeleteFunc(slices.Clone(members), func(m *gtMember) bool { return m == removed })
	mbWaitConfig(t, append(remaining, removed), mbConfig(remaining))

	// The remaining two keep committing, without the removed member.
	for i := range 5 {
		if err := gtPut(remaining, fmt.Sprintf("d/%d", i), "two voters"); err != nil {
			t.Fatal(err)
		}
	}
	if l := gtLeader(t, remaining); !l.g.IsLeader() {
		t.Fatalf("n%d lost leadership", l.id)
	}
	mbWaitSameData(t, remaining)
	for _, m := range remaining {
		if _, _, err := m.eng.GetMVCC([]byte("d/4"), engine.MaxTimestamp); err != nil {
			t.Fatalf("n%d lacks d/4: %v", m.id, err)
		}
	}
	if _, _, err := removed.eng.GetMVCC([]byte("d/0"), engine.MaxTimestamp); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("removed n%d has d/0 (err %v)", removed.id, err)
	}
	if removed.g.IsLeader() {
		t.Fatalf("removed n%d leads", removed.id)
	}
}

// mbCtx is a context for one membership call, ended with the test.
func mbCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mbConfig is the configuration of voters and nonvoters.
func mbConfig(voters []*gtMember, nonvoters ...*gtMember) []raft.Server {
	var out []raft.Server
	for _, m := range voters {
		out = append(out, raft.Server{ID: replication.ServerID(m.id), Address: m.addr, Suffrage: raft.Voter})
	}
	for _, m := range nonvoters {
		out = append(out, raft.Server{ID: replication.ServerID(m.id), Address: m.addr, Suffrage: raft.Nonvoter})
	}
	return out
}

// mbWaitConfig polls until every one of ms reports the configuration want,
// in any order.
func mbWaitConfig(t *testing.T, ms []*gtMember, want []raft.Server) {
	t.Helper()
	byID := func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) }
	slices.SortFunc(want, byID)
	for _, m := range ms {
		gtWaitFor(t, 5*time.Second, fmt.Sprintf("n%d's configuration to be %v", m.id, want), func() (bool, string) {
			got, err := m.g.Configuration()
			if err != nil {
				return false, err.Error()
			}
			slices.SortFunc(got, byID)
			return slices.Equal(got, want), fmt.Sprintf("n%d has %v", m.id, got)
		})
	}
}

// mbWaitSameData polls until ms have applied the same index and hold the
// same bytes in the range's span.
func mbWaitSameData(t *testing.T, ms []*gtMember) {
	t.Helper()
	gtWaitFor(t, 5*time.Second, "the members to hold the same data", func() (bool, string) {
		want, wantN := ms[0].spanDigest(t)
		applied := ms[0].rep.Applied()
		var why string
		ok := true
		for _, m := range ms {
			got, n := m.spanDigest(t)
			why += fmt.Sprintf(" n%d: applied %d, %d bytes %s;", m.id, m.rep.Applied(), n, got[:12])
			if got != want || n != wantN || m.rep.Applied() != applied {
				ok = false
			}
		}
		return ok, why
	})
}

// mbPutOn writes k=v through m's replica itself, not whichever member
// leads, retrying only while m settles into its leadership.
func mbPutOn(t *testing.T, m *gtMember, k, v string) {
	t.Helper()
	ba := &kvpb.BatchRequest{RangeId: gtRange, Requests: []*kvpb.Request{
		{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: []byte(v)}}}}}
	gtWaitFor(t, 5*time.Second, fmt.Sprintf("n%d to serve a write", m.id), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := m.rep.Execute(ctx, ba)
		var kerr *kvpb.Error
		if err != nil && (!errors.As(err, &kerr) || !kerr.Retryable()) {
			t.Fatalf("write on n%d: %v", m.id, err)
		}
		return err == nil, fmt.Sprint(err)
	})
}

// TestNewReplicaGetsInheritedData adds a replica to a range whose data is
// not all in its raft log, as a range born by a split inherits its rows,
// from a leader that never truncated its log (a replica that took over
// leadership from the node that prepared the addition). The new replica
// must be caught up by snapshot, with the inherited rows: replaying the log
// from its first entry would give it only what was written since.
func TestNewReplicaGetsInheritedData(t *testing.T) {
	timing := gtFastTiming()
	n1, n2 := gtStartMember(t, 1, timing), gtStartMember(t, 2, timing)
	desc := &kvpb.RangeDescriptor{RangeId: gtRange, StartKey: keys.UserMin, EndKey: keys.KeyMax, Generation: 1,
		Replicas: []*kvpb.ReplicaDescriptor{{NodeId: n1.id, Type: kvpb.ReplicaType_VOTER, Addr: string(n1.addr)}}}
	if err := replica.WriteInitialState(n1.eng, desc, 0); err != nil {
		t.Fatal(err)
	}
	// The inherited row: in the engine, in no log entry.
	b := n1.eng.NewBatch()
	if err := b.PutMVCC([]byte("a/inherited"), 1, []byte("born with the range")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	b.Close()
	n1.boot = []raft.Server{{ID: replication.ServerID(n1.id), Address: n1.addr, Suffrage: raft.Voter}}
	n1.start(t)
	members := []*gtMember{n1}
	gtLeader(t, members)
	if err := gtPut(members, "a/written", "since"); err != nil {
		t.Fatal(err)
	}

	// Added with no CompactLog (replica.PrepareNewReplica) before.
	if err := replica.WriteInitialState(n2.eng, n1.rep.Desc(), 0); err != nil {
		t.Fatal(err)
	}
	n2.start(t)
	if err := n1.g.AddNonvoter(mbCtx(t), n2.id, n2.addr); err != nil {
		t.Fatal(err)
	}
	want := n1.g.CommitIndex()
	gtWaitFor(t, 5*time.Second, fmt.Sprintf("n2 to apply index %d", want), func() (bool, string) {
		return n2.rep.Applied() >= want, fmt.Sprintf("applied %d", n2.rep.Applied())
	})
	for _, k := range []string{"a/written", "a/inherited"} {
		if _, _, err := n2.eng.GetMVCC([]byte(k), engine.MaxTimestamp); err != nil {
			t.Errorf("the new replica lacks %s: %v", k, err)
		}
	}
}
