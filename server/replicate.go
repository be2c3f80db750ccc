package server

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// replicateOnce runs on every node each ReplicateInterval. For each range
// this node leads it:
//   - when the controller is off (ControllerOff; with it on, the controller
//     decides every membership change), promotes a caught-up non-voter, or
//     adds one replica on a live node that lacks one while the range has
//     fewer voters than the target (min(Replicas, live nodes)); at most one
//     membership change per round per node;
//   - makes the descriptor's replica list match the raft configuration;
//   - makes the meta range's entry match the descriptor.
func (s *Server) replicateOnce(ctx context.Context) {
	nodes, err := s.meta.Nodes(ctx)
	if err != nil {
		return
	}
	s.putOwnRecord(ctx, nodes)
	live := s.liveNodes(ctx, nodes)
	changed := false
	for _, rep := range s.store.list() {
		g := rep.Group()
		if !g.IsLeader() {
			continue
		}
		if !changed && s.cfg.ControllerOff {
			did, err := s.upreplicate(ctx, rep, live)
			if err != nil {
				s.log.Warn("up-replicate", "range", rep.RangeID(), "err", err)
			}
			changed = did
		}
		if err := s.syncDescriptor(ctx, rep); err != nil {
			s.log.Debug("sync descriptor", "range", rep.RangeID(), "err", err)
		}
	}
}

// putOwnRecord keeps this node's record (addresses) current in meta.
func (s *Server) putOwnRecord(ctx context.Context, nodes []*kvpb.NodeDescriptor) {
	for _, n := range nodes {
		if n.NodeId == s.id.NodeID {
			if n.RpcAddr == s.cfg.RPCAddr && n.SqlAddr == s.cfg.SQLAddr && n.HttpAddr == s.cfg.HTTPAddr {
				return
			}
		}
	}
	if err := s.meta.PutNode(ctx, s.nodeDescriptor()); err != nil {
		s.log.Debug("update own node record", "err", err)
	}
}

// liveNodes returns the nodes that answer Identify with this cluster's id,
// sorted by id.
func (s *Server) liveNodes(ctx context.Context, nodes []*kvpb.NodeDescriptor) []*kvpb.NodeDescriptor {
	var out []*kvpb.NodeDescriptor
	for _, n := range nodes {
		if n.NodeId == s.id.NodeID {
			out = append(out, n)
			continue
		}
		cl, err := s.pool.Internal(n.RpcAddr)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := cl.Identify(cctx, &serverpb.IdentifyRequest{})
		cancel()
		if err == nil && resp.ClusterId == s.id.ClusterID && resp.NodeId == n.NodeId {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodeId < out[j].NodeId })
	return out
}

// upreplicate makes at most one membership change; it reports whether it
// made one.
func (s *Server) upreplicate(ctx context.Context, rep *replica.Replica, live []*kvpb.NodeDescriptor) (bool, error) {
	g := rep.Group()
	servers, err := g.Configuration()
	if err != nil {
		return false, err
	}
	voters := 0
	members := map[uint64]raft.ServerSuffrage{}
	for _, sv := range servers {
		members[replication.NodeIDOf(sv.ID)] = sv.Suffrage
		if sv.Suffrage == raft.Voter {
			voters++
		}
	}
	target := min(s.cfg.Replicas, len(live))
	// A non-voter left over from an interrupted addition is finished first.
	for _, sv := range servers {
		if sv.Suffrage == raft.Nonvoter {
			return true, s.promote(ctx, rep, replication.NodeIDOf(sv.ID), sv.Address)
		}
	}
	if voters >= target {
		return false, nil
	}
	var pick *kvpb.NodeDescriptor
	for _, n := range live {
		if _, ok := members[n.NodeId]; !ok {
			pick = n
			break
		}
	}
	if pick == nil {
		return false, nil
	}
	return true, s.addReplica(ctx, rep, pick.NodeId, pick.RpcAddr)
}

// addReplica adds a voter on node at addr to the range rep leads: an empty
// replica there, a non-voter that catches up by log or snapshot, then a
// voter (promote).
func (s *Server) addReplica(ctx context.Context, rep *replica.Replica, node uint64, addr string) error {
	desc := rep.Desc()
	cl, err := s.pool.Internal(addr)
	if err != nil {
		return err
	}
	// The new replica must start from a snapshot of the range, not from the
	// log's first entry (see replica.PrepareNewReplica).
	if err := rep.PrepareNewReplica(ctx); err != nil {
		return fmt.Errorf("prepare r%d for a new replica: %w", desc.RangeId, err)
	}
	if _, err := cl.CreateReplica(ctx, &serverpb.CreateReplicaRequest{Desc: desc}); err != nil {
		return fmt.Errorf("create replica of r%d on n%d: %w", desc.RangeId, node, err)
	}
	if err := rep.Group().AddNonvoter(ctx, node, raft.ServerAddress(addr)); err != nil {
		return fmt.Errorf("add non-voter n%d to r%d: %w", node, desc.RangeId, err)
	}
	s.log.Info("adding replica", "range", desc.RangeId, "node", node)
	return s.promote(ctx, rep, node, raft.ServerAddress(addr))
}

// promote waits until the non-voter has applied what was committed when the
// wait began, then makes it a voter and records the new replica list.
func (s *Server) promote(ctx context.Context, rep *replica.Replica, nodeID uint64, addr raft.ServerAddress) error {
	g := rep.Group()
	// Raft's no-op entry at a term's start never reaches the FSM, so the
	// new replica's applied index could never reach a commit index that
	// points at it: commit an entry of our own first.
	if err := rep.EnsureLeaseholder(ctx); err != nil {
		return err
	}
	want := g.CommitIndex()
	cl, err := s.pool.Internal(string(addr))
	if err != nil {
		return err
	}
	for {
		st, err := cl.ReplicaState(ctx, &serverpb.ReplicaStateRequest{RangeId: rep.RangeID()})
		if err == nil && st.Error == nil && st.AppliedIndex >= want {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("n%d did not catch up on r%d: %w", nodeID, rep.RangeID(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := g.AddVoter(ctx, nodeID, addr); err != nil {
		return fmt.Errorf("promote n%d on r%d: %w", nodeID, rep.RangeID(), err)
	}
	s.log.Info("replica added", "range", rep.RangeID(), "node", nodeID)
	return s.syncDescriptor(ctx, rep)
}

// syncDescriptor records the raft configuration in the descriptor when they
// differ, then the descriptor in meta.
func (s *Server) syncDescriptor(ctx context.Context, rep *replica.Replica) error {
	servers, err := rep.Group().Configuration()
	if err != nil {
		return err
	}
	d := rep.Desc()
	if d == nil {
		return nil
	}
	if !sameMembers(d, servers) {
		s.descMu.Lock()
		// Two callers (the replicate loop, a replica move) must not both
		// propose the next generation: the second would be refused.
		if d = rep.Desc(); !sameMembers(d, servers) {
			d, err = rep.UpdateReplicas(ctx)
		}
		s.descMu.Unlock()
		if err != nil {
			return err
		}
	}
	return s.syncMeta(ctx, d)
}

func sameMembers(d *kvpb.RangeDescriptor, servers []raft.Server) bool {
	if len(d.Replicas) != len(servers) {
		return false
	}
	for _, sv := range servers {
		found := false
		for _, r := range d.Replicas {
			if r.NodeId == replication.NodeIDOf(sv.ID) && r.Addr == string(sv.Address) &&
				(r.Type == kvpb.ReplicaType_VOTER) == (sv.Suffrage == raft.Voter) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
