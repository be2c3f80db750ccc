package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/serverpb"
)

// Merges (see range/replica/merge.go for the two raft commands). The
// executor, on the controller's node:
//
//  1. checks that left and right are adjacent ranges of one database whose
//     voters are on the same nodes, with no non-voter;
//  2. freezes right (AdminSubsume to its leader): from here on the merge is
//     only ever finished, never undone;
//  3. waits until every replica of right has applied the freeze, so every
//     node's copy of right's data is final, and moves left's replicas onto
//     right's nodes if either range moved since step 1 (right stays put:
//     frozen, it refuses every request until the merge is done);
//  4. extends left over right (AdminMerge to left's leader); each replica
//     of left waits for its node's replica of right before applying;
//  5. records the merge in meta in one batch.
//
// A merge interrupted after step 2 (the controller's node died, the caller
// of a manual merge gave up) is finished by the next controller, or by a
// manual merge of left: right's meta entry carries merging_into. If left
// split meanwhile, the ranges between them are merged back into left
// first (closeGap); until the merge is done, left is not merged away.

// mergeWait bounds step 3.
const mergeWait = 30 * time.Second

// mergeRanges merges range right into range left.
func (s *Server) mergeRanges(ctx context.Context, leftID, rightID uint64) (*kvpb.RangeDescriptor, error) {
	left, err := s.rangeByID(ctx, leftID)
	if err != nil {
		return nil, err
	}
	right, err := s.rangeByID(ctx, rightID)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(left.EndKey, right.StartKey) {
		if right.MergingInto != leftID || bytes.Compare(left.EndKey, right.StartKey) > 0 {
			return nil, kvpb.NewInvalid("r%d ends at %s but r%d starts at %s: not adjacent", leftID, keys.Pretty(left.EndKey), rightID, keys.Pretty(right.StartKey))
		}
		// Right is frozen into left, and left split since (a load split
		// decided before meta showed the freeze): the ranges between them
		// go back into left first.
		if left, err = s.closeGap(ctx, left, right); err != nil {
			return nil, fmt.Errorf("r%d is frozen but cannot be merged yet: %w", rightID, err)
		}
	}
	if right.MergingInto != 0 && right.MergingInto != leftID {
		return nil, kvpb.NewInvalid("r%d is being merged into r%d", rightID, right.MergingInto)
	}
	if right.MergingInto == 0 {
		// A range frozen into right goes first: merged away, right would
		// leave it frozen into a range that no longer exists.
		if into, err := s.frozenInto(ctx, rightID); err != nil {
			return nil, err
		} else if into != 0 {
			return nil, kvpb.NewInvalid("r%d is being merged into r%d: that merge goes first", into, rightID)
		}
		if !keys.SameTenant(left.StartKey, right.EndKey) && !s.releasedSpan(ctx, left.StartKey, right.EndKey) {
			return nil, kvpb.NewInvalid("r%d and r%d belong to different databases", leftID, rightID)
		}
		if err := sameVoters(left, right); err != nil {
			return nil, err
		}
	}
	if left.MergingInto != 0 {
		return nil, kvpb.NewInvalid("r%d is itself being merged into r%d", leftID, left.MergingInto)
	}
	// 2. Freeze.
	var sub *serverpb.AdminSubsumeResponse
	err = sendToLeader(ctx, s, right, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.AdminSubsume(ctx, &serverpb.AdminSubsumeRequest{RangeId: rightID, IntoRangeId: leftID})
		sub = resp
		return resp.GetError(), err
	})
	if err != nil {
		return nil, fmt.Errorf("freeze r%d: %w", rightID, err)
	}
	s.log.Info("merge: right-hand range frozen", "left", leftID, "right", rightID, "applied", sub.Applied)
	// 3. Every copy of the right-hand data final.
	if err := s.waitReplicasApplied(ctx, sub.Desc, sub.Applied); err != nil {
		return nil, err
	}
	// The voters may have changed since step 1: a move or a decommission
	// that was already running, or a merge being finished that finds them
	// elsewhere. Right is frozen for good, refusing every request until
	// the merge is done, so left goes where right is.
	if left, err = s.colocateWith(ctx, leftID, sub.Desc); err != nil {
		return nil, fmt.Errorf("r%d is frozen but cannot be merged yet: %w", rightID, err)
	}
	// 4. Extend the left.
	var merged *kvpb.RangeDescriptor
	err = sendToLeader(ctx, s, left, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.AdminMerge(ctx, &serverpb.AdminMergeRequest{RangeId: leftID, Right: sub})
		merged = resp.GetDesc()
		return resp.GetError(), err
	})
	if err != nil {
		return nil, fmt.Errorf("merge r%d into r%d: %w", rightID, leftID, err)
	}
	// 5. Meta; if this fails, left's leader repairs it (SyncDescriptor).
	if err := s.meta.MergeDescriptors(ctx, left.EndKey, merged); err != nil {
		s.log.Warn("meta update after merge failed; meta sync will repair it", "range", leftID, "err", err)
	}
	s.kv.EvictRange(left)
	s.kv.EvictRange(right)
	s.log.Info("merged ranges", "left", leftID, "right", rightID, "span", keys.Pretty(merged.StartKey)+"-"+keys.Pretty(merged.EndKey))
	return merged, nil
}

// frozenInto returns a range that meta shows frozen for a merge into id
// (0: none).
func (s *Server) frozenInto(ctx context.Context, id uint64) (uint64, error) {
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return 0, err
	}
	for _, d := range descs {
		if d.MergingInto == id {
			return d.RangeId, nil
		}
	}
	return 0, nil
}

// maxGapMerges bounds closeGap's merges.
const maxGapMerges = 8

// closeGap merges into left, one by one, the ranges between it and right,
// which is frozen into it, and returns left's descriptor once it borders
// right.
func (s *Server) closeGap(ctx context.Context, left, right *kvpb.RangeDescriptor) (*kvpb.RangeDescriptor, error) {
	for range maxGapMerges {
		if bytes.Equal(left.EndKey, right.StartKey) {
			return left, nil
		}
		descs, err := s.meta.Descriptors(ctx)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(descs, func(d *kvpb.RangeDescriptor) bool { return bytes.Equal(d.StartKey, left.EndKey) })
		if i < 0 {
			return nil, fmt.Errorf("no range starts at the end of r%d, %s", left.RangeId, keys.Pretty(left.EndKey))
		}
		next := descs[i]
		s.log.Info("merge: the left-hand range split after the right froze; merging the range between them back",
			"left", left.RangeId, "between", next.RangeId, "right", right.RangeId)
		if _, err := s.colocateWith(ctx, next.RangeId, left); err != nil {
			return nil, err
		}
		if left, err = s.mergeRanges(ctx, left.RangeId, next.RangeId); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("r%d still does not border r%d after %d merges", left.RangeId, right.RangeId, maxGapMerges)
}

// maxColocateMoves bounds colocateWith's relocations: a range of three
// voters needs at most three.
const maxColocateMoves = 6

// colocateWith moves range id's replicas, one relocation at a time, onto
// the nodes of right's voters (right's replicas stay: it is frozen, or the
// left-hand side of a merge), and returns id's descriptor once its voters
// are right's.
func (s *Server) colocateWith(ctx context.Context, id uint64, right *kvpb.RangeDescriptor) (*kvpb.RangeDescriptor, error) {
	for moves := 0; ; moves++ {
		d, err := s.rangeByID(ctx, id)
		if err != nil {
			return nil, err
		}
		err = sameVoters(d, right)
		if err == nil {
			return d, nil
		}
		from, to := colocationMove(d, right)
		if moves == maxColocateMoves || from == 0 && to == 0 {
			return nil, err
		}
		s.log.Info("merge: moving a replica onto the other range's nodes",
			"range", id, "onto", right.RangeId, "from", from, "to", to)
		if err := s.relocate(ctx, id, from, to); err != nil {
			return nil, err
		}
	}
}

// colocationMove picks the next relocation that brings d's replicas
// closer to right's voters: to is a node of right's without a replica of
// d, from a node of d's that right does not have (0: none).
func colocationMove(d, right *kvpb.RangeDescriptor) (from, to uint64) {
	for _, r := range right.Replicas {
		if !d.HasReplica(r.NodeId) {
			to = r.NodeId
			break
		}
	}
	for _, r := range d.Replicas {
		if !right.HasReplica(r.NodeId) {
			from = r.NodeId
			break
		}
	}
	return from, to
}

// sameVoters checks that two ranges have voters on the same nodes and no
// non-voters.
func sameVoters(a, b *kvpb.RangeDescriptor) error {
	set := func(d *kvpb.RangeDescriptor) (map[uint64]bool, error) {
		m := map[uint64]bool{}
		for _, r := range d.Replicas {
			if r.Type != kvpb.ReplicaType_VOTER {
				return nil, kvpb.NewInvalid("r%d has a non-voter on n%d", d.RangeId, r.NodeId)
			}
			m[r.NodeId] = true
		}
		return m, nil
	}
	sa, err := set(a)
	if err != nil {
		return err
	}
	sb, err := set(b)
	if err != nil {
		return err
	}
	if len(sa) != len(sb) {
		return kvpb.NewInvalid("r%d has replicas on %v, r%d on %v", a.RangeId, replicaIDs(a), b.RangeId, replicaIDs(b))
	}
	for n := range sa {
		if !sb[n] {
			return kvpb.NewInvalid("r%d has replicas on %v, r%d on %v", a.RangeId, replicaIDs(a), b.RangeId, replicaIDs(b))
		}
	}
	return nil
}

// waitReplicasApplied waits until every replica in d has applied index.
func (s *Server) waitReplicasApplied(ctx context.Context, d *kvpb.RangeDescriptor, index uint64) error {
	ctx, cancel := context.WithTimeout(ctx, mergeWait)
	defer cancel()
	for _, r := range d.Replicas {
		for {
			var applied uint64
			if st := s.replicaState(ctx, r, d.RangeId); st != nil {
				applied = st.AppliedIndex
			}
			if applied >= index {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("n%d has not applied the freeze of r%d (index %d, at %d): %w", r.NodeId, d.RangeId, index, applied, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// AdminSubsume serves serverpb.Internal's AdminSubsume.
func (i *internalServer) AdminSubsume(ctx context.Context, req *serverpb.AdminSubsumeRequest) (*serverpb.AdminSubsumeResponse, error) {
	rep := i.s.replica(req.RangeId)
	if rep == nil {
		return &serverpb.AdminSubsumeResponse{Error: kvpb.NewRangeNotFound(req.RangeId)}, nil
	}
	res, err := rep.Subsume(ctx, req.IntoRangeId)
	if err != nil {
		return &serverpb.AdminSubsumeResponse{Error: asKVError(err)}, nil
	}
	return &serverpb.AdminSubsumeResponse{Desc: res.Desc, Applied: res.Applied, LastTs: uint64(res.LastTS), GcThreshold: uint64(res.GCThreshold)}, nil
}

// AdminMerge serves serverpb.Internal's AdminMerge.
func (i *internalServer) AdminMerge(ctx context.Context, req *serverpb.AdminMergeRequest) (*serverpb.AdminMergeResponse, error) {
	rep := i.s.replica(req.RangeId)
	if rep == nil {
		return &serverpb.AdminMergeResponse{Error: kvpb.NewRangeNotFound(req.RangeId)}, nil
	}
	r := req.Right
	if r.GetDesc() == nil {
		return &serverpb.AdminMergeResponse{Error: kvpb.NewInvalid("merge without the right-hand range")}, nil
	}
	d, err := rep.Merge(ctx, &replica.SubsumeResult{Desc: r.Desc, Applied: r.Applied, LastTS: engine.Timestamp(r.LastTs), GCThreshold: engine.Timestamp(r.GcThreshold)})
	if err != nil {
		return &serverpb.AdminMergeResponse{Error: asKVError(err)}, nil
	}
	return &serverpb.AdminMergeResponse{Desc: d}, nil
}

// asKVError keeps structured errors and wraps the rest as Unavailable.
func asKVError(err error) *kvpb.Error {
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	return kvpb.NewUnavailable("%v", err)
}

// MergeRanges serves serverpb.Admin's MergeRanges: it merges the range
// holding the key with its right-hand neighbour.
func (a *adminServer) MergeRanges(ctx context.Context, req *serverpb.MergeRangesRequest) (*serverpb.MergeRangesResponse, error) {
	s := a.s
	// Read meta, not the range cache: a split that just made the
	// neighbour may not be in the cache yet.
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	var left, right *kvpb.RangeDescriptor
	for _, d := range descs {
		if d.RangeId == req.RangeId {
			left = d
		}
	}
	if left == nil {
		return nil, toStatus(kvpb.NewRangeNotFound(req.RangeId))
	}
	for _, d := range descs {
		if bytes.Equal(d.StartKey, left.EndKey) && right == nil || d.MergingInto == left.RangeId {
			right = d // a range frozen into left first: that merge is to be finished
		}
	}
	if right == nil {
		return nil, toStatus(kvpb.NewInvalid("r%d is the last range: nothing to merge it with", left.RangeId))
	}
	merged, err := s.mergeRanges(ctx, left.RangeId, right.RangeId)
	if err != nil {
		return nil, toStatus(err)
	}
	s.metricsMerge("manual")
	return &serverpb.MergeRangesResponse{Desc: merged}, nil
}
