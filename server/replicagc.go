package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// Replica garbage collection: a node removes its replica of a range once
// the range's leader confirms that the replica is no longer needed:
//
//   - moved away: meta shows a newer generation of the range without this
//     node, and the range's leader's raft configuration lacks it (meta lags
//     a move that is adding this node back);
//   - merged away while this node held no replica of it: meta no longer
//     lists the range, the range now covering its span (found in meta) has
//     a leader whose descriptor covers the whole span, and that leader's
//     configuration lacks this node, or this node's replica of the merged
//     range already covers the span (the merge was applied here and the
//     cleanup did not run).
//
// A leader is never collected, nor a replica whose span no leader confirms
// (meta may not have caught up with a split that created it). The check
// and the removal hold store.lifeMu, which CreateReplica also takes, so a
// replica being added back is never the one removed; CreateReplica runs
// the same check on a stale replica that overlaps the one it creates, so a
// repair does not wait for the next collection.
//
// Collecting closes the raft group and deletes, in one synced batch, the
// replica's local state and its span's user data, except the parts of the
// span that another replica on this node owns. A replica merged away into
// a range this node holds keeps the data, which is that range's.

// replicaGCInterval is how often a node looks for replicas to collect.
const replicaGCInterval = 5 * time.Second

// replicaGCOnce collects the stale replicas of this node.
func (s *Server) replicaGCOnce(ctx context.Context) {
	var cands []*replica.Replica
	for _, rep := range s.store.list() {
		if rep.Desc() != nil && !rep.Group().IsLeader() {
			cands = append(cands, rep)
		}
	}
	if len(cands) == 0 {
		return
	}
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		s.log.Debug("replica gc: read meta", "err", err)
		return
	}
	for _, rep := range cands {
		if !maybeStale(rep, descs, s.NodeID()) {
			continue
		}
		s.store.lifeMu.Lock()
		removed, err := s.collectIfStale(ctx, rep, descs)
		s.store.lifeMu.Unlock()
		if err != nil {
			s.log.Debug("replica gc", "range", rep.RangeID(), "err", err)
		}
		if removed {
			s.log.Info("replica removed from this node", "range", rep.RangeID(), "generation", rep.Desc().GetGeneration())
		}
	}
}

// maybeStale is the cheap prefilter, from meta alone: the range was moved
// off this node (a newer generation without it) or is no longer listed.
func maybeStale(rep *replica.Replica, descs []*kvpb.RangeDescriptor, self uint64) bool {
	local := rep.Desc()
	if local == nil {
		return false
	}
	for _, d := range descs {
		if d.RangeId == rep.RangeID() {
			return !d.HasReplica(self) && d.Generation > local.Generation
		}
	}
	return true
}

// collectIfStale removes rep if the leader of the range that holds its span
// now confirms it is stale (see the package comment above); descs is meta.
// Called with store.lifeMu held.
func (s *Server) collectIfStale(ctx context.Context, rep *replica.Replica, descs []*kvpb.RangeDescriptor) (bool, error) {
	local := rep.Desc()
	if local == nil || rep.Group().IsLeader() {
		return false, nil
	}
	var owner *kvpb.RangeDescriptor
	for _, d := range descs {
		if d.RangeId == rep.RangeID() {
			owner = d
			break
		}
		if owner == nil && bytes.Compare(d.StartKey, local.StartKey) <= 0 && bytes.Compare(local.StartKey, d.EndKey) < 0 {
			owner = d
		}
	}
	if owner == nil {
		return false, fmt.Errorf("no range in meta holds r%d's start key", rep.RangeID())
	}
	st, err := s.askLeader(ctx, owner)
	if err != nil {
		return false, err
	}
	self := s.NodeID()
	if owner.RangeId == rep.RangeID() {
		// Moved away?
		if slices.Contains(st.Members, self) || st.Desc.GetGeneration() <= local.Generation {
			return false, nil
		}
		return true, s.store.destroyReplica(rep, true)
	}
	// Merged away? The owner's leader must cover the whole span.
	od := st.Desc
	if od == nil || bytes.Compare(od.StartKey, local.StartKey) > 0 || bytes.Compare(local.EndKey, od.EndKey) > 0 {
		return false, nil
	}
	if slices.Contains(st.Members, self) {
		// This node holds the owner too: it takes over the span when it
		// applies the merge, which needs this replica if it is the frozen
		// right-hand side. Only once it covers the span is rep garbage,
		// and the span's data is the owner's (see mergeApplied).
		mine := s.store.get(owner.RangeId)
		if mine == nil || !covers(mine.Desc(), local) {
			return false, nil
		}
		return true, s.store.destroyReplica(rep, false)
	}
	return true, s.store.destroyReplica(rep, true)
}

// collector returns createReplica's check of a replica in the way: it is
// removed if stale (collectIfStale, under the lifeMu createReplica holds).
func (s *Server) collector(ctx context.Context) func(*replica.Replica) bool {
	return func(rep *replica.Replica) bool {
		descs, err := s.meta.Descriptors(ctx)
		if err != nil || !maybeStale(rep, descs, s.NodeID()) {
			return false
		}
		removed, err := s.collectIfStale(ctx, rep, descs)
		if err != nil {
			s.log.Debug("replica in the way of a new one", "range", rep.RangeID(), "err", err)
		}
		if removed {
			s.log.Info("stale replica removed to make room for a new one", "range", rep.RangeID())
		}
		return removed
	}
}

// covers tells whether d's span contains o's.
func covers(d, o *kvpb.RangeDescriptor) bool {
	return d != nil && bytes.Compare(d.StartKey, o.StartKey) <= 0 && bytes.Compare(o.EndKey, d.EndKey) <= 0
}

// askLeader returns the state reported by the leader of the range d (found
// among d's replicas other than this node's).
func (s *Server) askLeader(ctx context.Context, d *kvpb.RangeDescriptor) (*serverpb.ReplicaStateResponse, error) {
	for _, r := range d.Replicas {
		if r.NodeId == s.NodeID() {
			continue
		}
		if st := s.replicaState(ctx, r, d.RangeId); st != nil && st.RaftState == "Leader" {
			return st, nil
		}
	}
	return nil, fmt.Errorf("no leader of r%d answered", d.RangeId)
}

// destroyReplica closes rep's group and deletes its state and, with
// data, the user data of its span that no other local replica owns.
//
// A replica merged away on this node (its span now the merged range's)
// must keep its data: the merged range may split again before this runs,
// and the new right-hand side's replica, which opens asynchronously, would
// not yet be among the replicas whose spans are spared.
func (s *store) destroyReplica(rep *replica.Replica, data bool) error {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	id := rep.RangeID()
	s.mu.Lock()
	if s.mu.replicas[id] != rep {
		s.mu.Unlock()
		return fmt.Errorf("r%d was reopened", id)
	}
	delete(s.mu.replicas, id)
	var others []*kvpb.RangeDescriptor
	for _, r := range s.mu.replicas {
		if d := r.Desc(); d != nil {
			others = append(others, d)
		}
	}
	s.mu.Unlock()
	rep.MarkDestroyed()
	if err := rep.Group().Close(); err != nil && !errors.Is(err, replication.ErrGroupShutdown) {
		return err
	}
	var spans [][2][]byte
	if d := rep.Desc(); data {
		spans = spanMinus(d.StartKey, d.EndKey, others)
	}
	if err := replica.DestroyState(s.eng, id, spans); err != nil {
		return err
	}
	return os.RemoveAll(replication.SnapshotDirFor(s.snaps, replication.GroupID(id)))
}

// spanMinus returns [start, end) without the spans of descs.
func spanMinus(start, end []byte, descs []*kvpb.RangeDescriptor) [][2][]byte {
	sort.Slice(descs, func(i, j int) bool { return bytes.Compare(descs[i].StartKey, descs[j].StartKey) < 0 })
	var out [][2][]byte
	cur := start
	for _, d := range descs {
		if bytes.Compare(d.EndKey, cur) <= 0 || bytes.Compare(d.StartKey, end) >= 0 {
			continue
		}
		if bytes.Compare(d.StartKey, cur) > 0 {
			out = append(out, [2][]byte{cur, d.StartKey})
		}
		if bytes.Compare(d.EndKey, cur) > 0 {
			cur = d.EndKey
		}
	}
	if bytes.Compare(cur, end) < 0 {
		out = append(out, [2][]byte{cur, end})
	}
	return out
}
