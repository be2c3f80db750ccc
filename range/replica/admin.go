package replica

import (
	"bytes"
	"context"
	"time"

	"github.com/hashicorp/raft"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
)

// nowTimestamp converts a wall time into a hybrid timestamp with a zero
// logical part.
func nowTimestamp(t time.Time) engine.Timestamp {
	return engine.Timestamp(uint64(t.UnixMilli()) << 18)
}

// Split proposes splitting the range at key into left (this range, same id)
// and right (rightID), with the current raft voters as the right-hand side's
// replicas. It returns both new descriptors once the split is applied here.
// The caller (the store) is responsible for updating the meta range.
// sticky marks the new boundary as manual (kvpb.RangeDescriptor.Sticky).
func (r *Replica) Split(ctx context.Context, key []byte, rightID uint64, sticky bool) (left, right *kvpb.RangeDescriptor, err error) {
	if !r.group.IsLeader() {
		return nil, nil, r.notLeader()
	}
	desc := r.Desc()
	if desc == nil {
		return nil, nil, kvpb.NewRangeNotFound(r.id)
	}
	if err := frozen(desc, r.id); err != nil {
		return nil, nil, err
	}
	if !desc.ContainsKey(key) {
		return nil, nil, kvpb.NewKeyMismatch(key, desc)
	}
	if bytes.Equal(key, desc.StartKey) {
		return nil, nil, kvpb.NewInvalid("r%d already starts at %q", r.id, key)
	}
	servers, err := r.group.Configuration()
	if err != nil {
		return nil, nil, r.translate(err)
	}
	left = proto.Clone(desc).(*kvpb.RangeDescriptor)
	left.EndKey = append([]byte(nil), key...)
	left.Generation++
	right = &kvpb.RangeDescriptor{RangeId: rightID, StartKey: left.EndKey, EndKey: desc.EndKey, Generation: 1, Sticky: sticky}
	// Only voters carry over: the right-hand group is bootstrapped by its
	// voters, and a non-voter being added to the left is not added to it.
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			right.Replicas = append(right.Replicas, &kvpb.ReplicaDescriptor{NodeId: replication.NodeIDOf(s.ID), Addr: string(s.Address)})
		}
	}
	left.Replicas = right.Replicas
	if _, err := r.propose(ctx, &kvpb.Command{Split: &kvpb.SplitTrigger{Left: left, Right: right}}); err != nil {
		return nil, nil, err
	}
	return left, right, nil
}

// PrepareNewReplica makes sure that a replica added to this range next
// (or one that this range's leader must bring up from nothing) catches up
// by snapshot: it commits an entry of its own, then snapshots and truncates
// the raft log up to it (replication.Group.CompactLog). Replaying the log
// from its start would miss everything the range inherited from the range
// it split from. Only the leader prepares.
func (r *Replica) PrepareNewReplica(ctx context.Context) error {
	if !r.group.IsLeader() {
		return r.notLeader()
	}
	if _, err := r.propose(ctx, &kvpb.Command{}); err != nil {
		return err
	}
	if err := r.group.CompactLog(); err != nil {
		return r.translate(err)
	}
	return nil
}

// UpdateReplicas proposes a new descriptor whose replica list matches the
// current raft configuration; it returns the new descriptor.
func (r *Replica) UpdateReplicas(ctx context.Context) (*kvpb.RangeDescriptor, error) {
	if !r.group.IsLeader() {
		return nil, r.notLeader()
	}
	servers, err := r.group.Configuration()
	if err != nil {
		return nil, r.translate(err)
	}
	d := r.Desc()
	d.Generation++
	d.Replicas = nil
	for _, s := range servers {
		t := kvpb.ReplicaType_VOTER
		if s.Suffrage != raft.Voter {
			t = kvpb.ReplicaType_NON_VOTER
		}
		d.Replicas = append(d.Replicas, &kvpb.ReplicaDescriptor{NodeId: replication.NodeIDOf(s.ID), Type: t, Addr: string(s.Address)})
	}
	if _, err := r.propose(ctx, &kvpb.Command{SetDescriptor: &kvpb.SetDescriptor{Desc: d}}); err != nil {
		return nil, err
	}
	return d, nil
}

// GC proposes garbage collection of the versions no read at or above
// threshold can see (see gc.go); it returns how many keys were looked at.
func (r *Replica) GC(ctx context.Context, threshold engine.Timestamp) (uint64, error) {
	if !r.group.IsLeader() {
		return 0, r.notLeader()
	}
	if threshold <= r.GCThreshold() {
		return 0, nil
	}
	res, err := r.propose(ctx, &kvpb.Command{Writes: []*kvpb.Request{{Value: &kvpb.Request_Gc{Gc: &kvpb.GCRequest{Threshold: uint64(threshold)}}}}})
	if err != nil {
		return 0, err
	}
	return res.Responses[0].GetGc().GetKeys(), nil
}
