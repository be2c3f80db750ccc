package server

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// Leader transfers: the admin TransferLeader call (any node) finds the
// range's descriptor in meta, checks that the target holds a voter, and
// sends AdminTransferLeader to the range's leader, following NotLeader
// hints; the leader hands over with raft's leadership transfer (TimeoutNow
// to the target, which starts an election at once). The admin call then
// waits, briefly, until the target is the only replica that reports itself
// leader.

// transferWait bounds how long TransferLeader waits for the replicas to
// report the new leader after the transfer returned.
const transferWait = 5 * time.Second

// TransferLeader serves serverpb.Admin's TransferLeader.
func (a *adminServer) TransferLeader(ctx context.Context, req *serverpb.TransferLeaderRequest) (*serverpb.TransferLeaderResponse, error) {
	s := a.s
	if req.RangeId == 0 || req.NodeId == 0 {
		return nil, status.Error(codes.InvalidArgument, "transfer leader needs a range id and a node id")
	}
	var target *kvpb.ReplicaDescriptor
	var desc *kvpb.RangeDescriptor
	for attempt := 0; ; attempt++ {
		descs, err := s.meta.Descriptors(ctx)
		if err != nil {
			return nil, toStatus(err)
		}
		desc = nil
		for _, d := range descs {
			if d.GetRangeId() == req.RangeId {
				desc = d
			}
		}
		if desc == nil {
			return nil, status.Errorf(codes.NotFound, "no range r%d", req.RangeId)
		}
		target = nil
		for _, r := range desc.Replicas {
			if r.NodeId == req.NodeId && r.Type == kvpb.ReplicaType_VOTER {
				target = r
			}
		}
		if target == nil {
			return nil, status.Errorf(codes.FailedPrecondition, "n%d holds no voting replica of r%d (replicas %v)", req.NodeId, req.RangeId, replicaIDs(desc))
		}
		err = sendToLeader(ctx, s, desc, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
			resp, err := cl.AdminTransferLeader(ctx, &serverpb.AdminTransferLeaderRequest{RangeId: req.RangeId, NodeId: target.NodeId, Addr: target.Addr})
			return resp.GetError(), err
		})
		if err == nil {
			break
		}
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) || !kerr.Retryable() || attempt >= 10 || ctx.Err() != nil {
			return nil, toStatus(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Wait until the target is the only replica that says it leads: the
	// old leader says so until it hears of the new term, and a caller that
	// asks who leads right after must not be told the old one.
	deadline := time.Now().Add(transferWait)
	for {
		if c := s.claimants(ctx, desc); len(c) == 1 && c[0] == req.NodeId {
			return &serverpb.TransferLeaderResponse{LeaderNodeId: req.NodeId}, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return &serverpb.TransferLeaderResponse{LeaderNodeId: s.rangeStatus(ctx, desc).LeaderNodeId}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// claimants returns the nodes whose replica of d says it leads (of those
// that answer): more than one while an old leader has not yet heard of its
// successor's term.
func (s *Server) claimants(ctx context.Context, d *kvpb.RangeDescriptor) []uint64 {
	var out []uint64
	for _, r := range d.Replicas {
		if st := s.replicaState(ctx, r, d.RangeId); st != nil && st.RaftState == "Leader" {
			out = append(out, r.NodeId)
		}
	}
	return out
}

func replicaIDs(d *kvpb.RangeDescriptor) []uint64 {
	var out []uint64
	for _, r := range d.Replicas {
		out = append(out, r.NodeId)
	}
	return out
}

// AdminTransferLeader serves serverpb.Internal's AdminTransferLeader.
func (i *internalServer) AdminTransferLeader(_ context.Context, req *serverpb.AdminTransferLeaderRequest) (*serverpb.AdminTransferLeaderResponse, error) {
	err := i.s.transferLeader(req.RangeId, req.NodeId, req.Addr)
	if err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) {
			return &serverpb.AdminTransferLeaderResponse{Error: kerr}, nil
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &serverpb.AdminTransferLeaderResponse{}, nil
}

// transferLeader hands the leadership of range id, which this node must
// lead, to the voter on node target at addr. Errors are *kvpb.Error:
// RangeNotFound, NotLeader (with the leader this node knows), Invalid (the
// target holds no voter) or Unavailable (the transfer failed or timed out;
// the caller may retry).
func (s *Server) transferLeader(id, target uint64, addr string) error {
	rep := s.replica(id)
	if rep == nil {
		return kvpb.NewRangeNotFound(id)
	}
	g := rep.Group()
	if !g.IsLeader() {
		lid, laddr := g.Leader()
		return kvpb.NewNotLeader(lid, string(laddr))
	}
	if target == s.NodeID() {
		return nil
	}
	if !rep.Desc().IsVoter(target) {
		return kvpb.NewInvalid("n%d holds no voting replica of r%d", target, id)
	}
	if err := s.caughtUp(rep, target, addr); err != nil {
		return err
	}
	err := g.TransferLeadership(target, raft.ServerAddress(addr))
	switch {
	case err == nil:
		s.log.Info("leadership transferred", "range", id, "to", target)
		return nil
	case errors.Is(err, replication.ErrNotLeader):
		lid, laddr := g.Leader()
		return kvpb.NewNotLeader(lid, string(laddr))
	}
	return kvpb.NewUnavailable("transfer the leadership of r%d to n%d: %v", id, target, err)
}

// maxTransferLag is how many committed entries a target may not have
// applied yet and still be handed the leadership.
const maxTransferLag = 100

// caughtUp returns an Unavailable error unless the voter on node target
// follows this leader and has applied nearly all that is committed. raft's
// own transfer stops the leader taking writes until the target has caught
// up (up to an election timeout): a target that was just restarted, whose
// replication is still backed off, would stall the range for that long.
// The controller retries later.
func (s *Server) caughtUp(rep *replica.Replica, target uint64, addr string) error {
	cl, err := s.pool.Internal(addr)
	if err != nil {
		return kvpb.NewUnavailable("n%d: %v", target, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	st, err := cl.ReplicaState(ctx, &serverpb.ReplicaStateRequest{RangeId: rep.RangeID()})
	if err != nil {
		return kvpb.NewUnavailable("n%d's replica of r%d: %v", target, rep.RangeID(), err)
	}
	commit := rep.Group().CommitIndex()
	switch {
	case st.Error != nil:
		return kvpb.NewUnavailable("n%d's replica of r%d: %v", target, rep.RangeID(), st.Error)
	case st.RaftState != "Follower" || st.LeaderNodeId != s.NodeID():
		return kvpb.NewUnavailable("n%d's replica of r%d is a %s following n%d, not this leader's follower yet", target, rep.RangeID(),
			st.RaftState, st.LeaderNodeId)
	case st.AppliedIndex+maxTransferLag < commit:
		return kvpb.NewUnavailable("n%d's replica of r%d has applied %d of %d committed entries: not caught up", target, rep.RangeID(),
			st.AppliedIndex, commit)
	}
	return nil
}

// sendToLeader calls the range's leader through call, starting with the
// descriptor's replicas and following NotLeader hints. call returns the
// response's structured error (nil: success) or a transport error. The
// error is nil on success, else the most telling one: the last error a
// replica answered with itself, over redirects and transport errors.
func sendToLeader(ctx context.Context, s *Server, desc *kvpb.RangeDescriptor, call func(cl serverpb.InternalClient) (*kvpb.Error, error)) error {
	var cands []string
	for _, r := range desc.Replicas {
		cands = append(cands, r.Addr)
	}
	var lastErr error = kvpb.NewUnavailable("no replica of r%d answered", desc.RangeId)
	fromLeader := false // lastErr came from a replica that did not redirect
	tried := map[string]bool{}
	for len(cands) > 0 && ctx.Err() == nil {
		addr := cands[0]
		cands = cands[1:]
		if tried[addr] || addr == "" {
			continue
		}
		tried[addr] = true
		cl, err := s.pool.Internal(addr)
		if err != nil {
			continue
		}
		kerr, err := call(cl)
		if err != nil {
			if !fromLeader {
				lastErr = kvpb.NewUnavailable("%s: %v", addr, err)
			}
			continue
		}
		if kerr == nil {
			return nil
		}
		if nl := kerr.GetNotLeader(); nl != nil {
			// Keep the leader's own error, if one answered: a redirect
			// to a node already tried says less.
			if !fromLeader {
				lastErr = kerr
			}
			if nl.LeaderAddr != "" {
				cands = append([]string{nl.LeaderAddr}, cands...)
			}
			continue
		}
		lastErr, fromLeader = kerr, true
		if !kerr.Retryable() {
			return kerr
		}
	}
	if ctx.Err() != nil {
		return kvpb.NewUnavailable("r%d: %v", desc.RangeId, ctx.Err())
	}
	return lastErr
}
