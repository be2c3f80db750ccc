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
// the meta range shows a newer generation of the range without this node
// (the replica was moved away, or replaced while the node was down) and the
// range's leader confirms it: its raft configuration lacks this node. A
// leader is never collected, nor a replica whose range meta does not list
// (meta may not have caught up with a split that created it). The check
// and the removal hold store.lifeMu, which leaders' CreateReplica calls
// also take, so a replica being added back is never the one removed.
//
// Collecting closes the raft group and deletes, in one synced batch, the
// replica's local state and its span's user data, except the parts of the
// span that another replica on this node owns.

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
	byID := map[uint64]*kvpb.RangeDescriptor{}
	for _, d := range descs {
		byID[d.RangeId] = d
	}
	for _, rep := range cands {
		local := rep.Desc()
		cur := byID[rep.RangeID()]
		if local == nil || cur == nil || cur.HasReplica(s.NodeID()) || cur.Generation <= local.Generation {
			continue
		}
		// Meta says the replica was moved away. Confirm with the range's
		// leader, whose raft configuration is the truth (meta lags a move
		// that is adding this node back), and remove it while no leader can
		// be creating it again (store.lifeMu).
		s.store.lifeMu.Lock()
		removed, err := s.collectIfGone(ctx, rep, cur)
		s.store.lifeMu.Unlock()
		if err != nil {
			s.log.Debug("replica gc", "range", rep.RangeID(), "err", err)
			continue
		}
		if removed {
			s.log.Info("replica removed from this node", "range", rep.RangeID(), "generation", local.Generation, "meta generation", cur.Generation)
		}
	}
}

// collectIfGone removes rep when the leader of its range (found through
// cur, meta's descriptor) reports a configuration without this node and a
// newer generation than rep's. Called with store.lifeMu held.
func (s *Server) collectIfGone(ctx context.Context, rep *replica.Replica, cur *kvpb.RangeDescriptor) (bool, error) {
	local := rep.Desc()
	for _, r := range cur.Replicas {
		if r.NodeId == s.NodeID() {
			continue
		}
		cl, err := s.pool.Internal(r.Addr)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cl.ReplicaState(cctx, &serverpb.ReplicaStateRequest{RangeId: cur.RangeId})
		cancel()
		if err != nil || st.Error != nil || st.RaftState != "Leader" {
			continue
		}
		if slices.Contains(st.Members, s.NodeID()) || st.Desc.GetGeneration() <= local.GetGeneration() {
			return false, nil
		}
		return true, s.store.destroyReplica(rep)
	}
	return false, fmt.Errorf("no leader of r%d answered", cur.RangeId)
}

// destroyReplica closes rep's group and deletes its state and the user
// data no other local replica owns.
func (s *store) destroyReplica(rep *replica.Replica) error {
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
	d := rep.Desc()
	if err := replica.DestroyState(s.eng, id, spanMinus(d.StartKey, d.EndKey, others)); err != nil {
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
