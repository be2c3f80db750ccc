package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// Replica moves. A move is made of membership changes that each keep the
// range available: a new replica is added first (created empty, caught up
// as a non-voter, promoted), and only then is the old one removed; the
// leader never removes itself, so a move off the leader's node transfers
// the leadership first. Each change goes through the range's raft log and
// ends with the descriptor and its meta entry updated (syncDescriptor).
// The removed node's replica is garbage-collected by that node (replicagc.go).

// AdminChangeReplicas serves serverpb.Internal's AdminChangeReplicas.
func (i *internalServer) AdminChangeReplicas(ctx context.Context, req *serverpb.AdminChangeReplicasRequest) (*serverpb.AdminChangeReplicasResponse, error) {
	d, err := i.s.changeReplicas(ctx, req)
	if err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) {
			return &serverpb.AdminChangeReplicasResponse{Error: kerr}, nil
		}
		return &serverpb.AdminChangeReplicasResponse{Error: kvpb.NewUnavailable("%v", err)}, nil
	}
	return &serverpb.AdminChangeReplicasResponse{Desc: d}, nil
}

// changeReplicas carries out req on a range this node leads.
func (s *Server) changeReplicas(ctx context.Context, req *serverpb.AdminChangeReplicasRequest) (*kvpb.RangeDescriptor, error) {
	rep := s.replica(req.RangeId)
	if rep == nil {
		return nil, kvpb.NewRangeNotFound(req.RangeId)
	}
	g := rep.Group()
	if !g.IsLeader() {
		id, addr := g.Leader()
		return nil, kvpb.NewNotLeader(id, string(addr))
	}
	if req.RemoveNodeId == s.NodeID() {
		return nil, kvpb.NewInvalid("r%d: the leader n%d does not remove itself; transfer the leadership first", req.RangeId, s.NodeID())
	}
	servers, err := g.Configuration()
	if err != nil {
		return nil, kvpb.NewUnavailable("r%d: configuration: %v", req.RangeId, err)
	}
	if req.AddNodeId != 0 {
		var have *raft.Server
		for i := range servers {
			sv := &servers[i]
			switch {
			case replication.NodeIDOf(sv.ID) == req.AddNodeId:
				have = sv
			case sv.Suffrage == raft.Nonvoter:
				// A non-voter left by an interrupted addition elsewhere:
				// drop it rather than grow the range by two.
				if err := g.RemoveServer(ctx, replication.NodeIDOf(sv.ID)); err != nil {
					return nil, fmt.Errorf("remove stray non-voter n%d of r%d: %w", replication.NodeIDOf(sv.ID), req.RangeId, err)
				}
			}
		}
		switch {
		case have == nil:
			if req.AddAddr == "" {
				return nil, kvpb.NewInvalid("r%d: no address for n%d", req.RangeId, req.AddNodeId)
			}
			if err := s.addReplica(ctx, rep, req.AddNodeId, req.AddAddr); err != nil {
				return nil, err
			}
		case have.Suffrage == raft.Nonvoter:
			if err := s.promote(ctx, rep, req.AddNodeId, have.Address); err != nil {
				return nil, err
			}
		}
	}
	if req.RemoveNodeId != 0 {
		member := false
		for _, sv := range servers {
			member = member || replication.NodeIDOf(sv.ID) == req.RemoveNodeId
		}
		if member {
			if err := g.RemoveServer(ctx, req.RemoveNodeId); err != nil {
				return nil, fmt.Errorf("remove n%d from r%d: %w", req.RemoveNodeId, req.RangeId, err)
			}
			s.log.Info("replica removed", "range", req.RangeId, "node", req.RemoveNodeId)
		}
	}
	if err := s.syncDescriptor(ctx, rep); err != nil {
		return nil, err
	}
	return rep.Desc(), nil
}

// rangeByID finds a range's descriptor in meta.
func (s *Server) rangeByID(ctx context.Context, id uint64) (*kvpb.RangeDescriptor, error) {
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range descs {
		if d.RangeId == id {
			return d, nil
		}
	}
	return nil, kvpb.NewRangeNotFound(id)
}

// nodeAddr returns a node's rpc address from meta.
func (s *Server) nodeAddr(ctx context.Context, id uint64) (string, error) {
	nodes, err := s.meta.Nodes(ctx)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if n.NodeId == id {
			return n.RpcAddr, nil
		}
	}
	return "", fmt.Errorf("no node n%d", id)
}

// sendChangeReplicas sends req to the range's leader, retrying retryable
// refusals (a leader change, a change in progress) for a while.
func (s *Server) sendChangeReplicas(ctx context.Context, req *serverpb.AdminChangeReplicasRequest) (*kvpb.RangeDescriptor, error) {
	for attempt := 0; ; attempt++ {
		desc, err := s.rangeByID(ctx, req.RangeId)
		if err != nil {
			return nil, err
		}
		var out *kvpb.RangeDescriptor
		err = sendToLeader(ctx, s, desc, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
			resp, err := cl.AdminChangeReplicas(ctx, req)
			out = resp.GetDesc()
			return resp.GetError(), err
		})
		if err == nil {
			return out, nil
		}
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) || !kerr.Retryable() || attempt >= 5 || ctx.Err() != nil {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// relocate moves range id's replica from node from to node to (either may
// be 0: only add, only remove). If from leads the range, the leadership
// goes to another voter first (to, once it is one).
func (s *Server) relocate(ctx context.Context, id, from, to uint64) error {
	if to != 0 {
		addr, err := s.nodeAddr(ctx, to)
		if err != nil {
			return err
		}
		if _, err := s.sendChangeReplicas(ctx, &serverpb.AdminChangeReplicasRequest{RangeId: id, AddNodeId: to, AddAddr: addr}); err != nil {
			return fmt.Errorf("add a replica of r%d on n%d: %w", id, to, err)
		}
	}
	if from == 0 {
		return nil
	}
	desc, err := s.rangeByID(ctx, id)
	if err != nil {
		return err
	}
	if st := s.rangeStatus(ctx, desc); st.LeaderNodeId == from {
		target := to
		if target == 0 {
			for _, r := range desc.Replicas {
				if r.NodeId != from && r.Type == kvpb.ReplicaType_VOTER {
					target = r.NodeId
					break
				}
			}
		}
		if target == 0 {
			return fmt.Errorf("r%d has no other voter to lead it", id)
		}
		resp, err := (&adminServer{s: s}).TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: id, NodeId: target})
		if err != nil {
			return fmt.Errorf("move the leadership of r%d off n%d: %w", id, from, err)
		}
		if resp.LeaderNodeId == from {
			return fmt.Errorf("r%d: n%d still leads after the transfer", id, from)
		}
	}
	if _, err := s.sendChangeReplicas(ctx, &serverpb.AdminChangeReplicasRequest{RangeId: id, RemoveNodeId: from}); err != nil {
		return fmt.Errorf("remove the replica of r%d on n%d: %w", id, from, err)
	}
	return nil
}

// RelocateReplica serves serverpb.Admin's RelocateReplica.
func (a *adminServer) RelocateReplica(ctx context.Context, req *serverpb.RelocateReplicaRequest) (*serverpb.RelocateReplicaResponse, error) {
	s := a.s
	if req.RangeId == 0 || (req.FromNodeId == 0 && req.ToNodeId == 0) || req.FromNodeId == req.ToNodeId {
		return nil, status.Error(codes.InvalidArgument, "relocate needs a range and two different nodes (or one of them)")
	}
	desc, err := s.rangeByID(ctx, req.RangeId)
	if err != nil {
		return nil, toStatus(err)
	}
	if req.FromNodeId != 0 && !desc.HasReplica(req.FromNodeId) {
		return nil, status.Errorf(codes.FailedPrecondition, "n%d holds no replica of r%d (replicas %v)", req.FromNodeId, req.RangeId, replicaIDs(desc))
	}
	if req.ToNodeId != 0 && desc.IsVoter(req.ToNodeId) {
		return nil, status.Errorf(codes.FailedPrecondition, "n%d already holds a replica of r%d", req.ToNodeId, req.RangeId)
	}
	if err := s.relocate(ctx, req.RangeId, req.FromNodeId, req.ToNodeId); err != nil {
		return nil, toStatus(err)
	}
	desc, err = s.rangeByID(ctx, req.RangeId)
	if err != nil {
		return nil, toStatus(err)
	}
	return &serverpb.RelocateReplicaResponse{Desc: desc}, nil
}

// AdminPrepareReplica serves serverpb.Internal's AdminPrepareReplica.
func (i *internalServer) AdminPrepareReplica(ctx context.Context, req *serverpb.AdminPrepareReplicaRequest) (*serverpb.AdminPrepareReplicaResponse, error) {
	rep := i.s.replica(req.RangeId)
	if rep == nil {
		return &serverpb.AdminPrepareReplicaResponse{Error: kvpb.NewRangeNotFound(req.RangeId)}, nil
	}
	if err := rep.PrepareNewReplica(ctx); err != nil {
		return &serverpb.AdminPrepareReplicaResponse{Error: asKVError(err)}, nil
	}
	return &serverpb.AdminPrepareReplicaResponse{}, nil
}
