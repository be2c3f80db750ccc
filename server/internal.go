package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// internalServer implements serverpb.InternalServer.
type internalServer struct {
	serverpb.UnimplementedInternalServer
	s *Server
}

func (i *internalServer) Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	st := i.s.store
	if st == nil {
		return &kvpb.BatchResponse{Error: kvpb.NewUnavailable("node n%d is starting", i.s.id.NodeID)}, nil
	}
	rep := st.get(ba.RangeId)
	if rep == nil {
		return &kvpb.BatchResponse{Error: kvpb.NewRangeNotFound(ba.RangeId)}, nil
	}
	i.s.metrics.countRequests(ba)
	resp, err := rep.Execute(ctx, ba)
	return batchResult(resp, err)
}

// BatchStream serves Batch calls multiplexed on one stream (see
// kv/batchstream.go).
func (i *internalServer) BatchStream(stream serverpb.Internal_BatchStreamServer) error {
	return kv.ServeBatchStream(stream, kv.StreamHandlers{Batch: i.Batch, GetTimestamps: i.GetTimestamps})
}

// batchResult puts a structured error into the response; other errors
// become gRPC errors.
func batchResult(resp *kvpb.BatchResponse, err error) (*kvpb.BatchResponse, error) {
	if err == nil {
		return resp, nil
	}
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return &kvpb.BatchResponse{Error: kerr}, nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &kvpb.BatchResponse{Error: kvpb.NewUnavailable("%v", err)}, nil
	}
	return nil, status.Error(codes.Internal, err.Error())
}

func (i *internalServer) Identify(context.Context, *serverpb.IdentifyRequest) (*serverpb.IdentifyResponse, error) {
	return &serverpb.IdentifyResponse{ClusterId: i.s.id.ClusterID, NodeId: i.s.id.NodeID, Version: Version}, nil
}

// Join allocates a node id for a new node and records it in the meta range.
func (i *internalServer) Join(ctx context.Context, req *serverpb.JoinRequest) (*serverpb.JoinResponse, error) {
	s := i.s
	if s.store == nil || !s.id.Bootstrapped {
		return nil, status.Error(codes.Unavailable, "this node is not ready to admit others")
	}
	// A node that rejoins with the same address after losing its data gets
	// a new id: ids are never reused.
	id, err := s.meta.AllocateID(ctx, meta.CounterNodeID)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "allocate node id: %v", err)
	}
	nd := &kvpb.NodeDescriptor{NodeId: id, RpcAddr: req.RpcAddr, SqlAddr: req.SqlAddr, HttpAddr: req.HttpAddr}
	if err := s.meta.PutNode(ctx, nd); err != nil {
		return nil, status.Errorf(codes.Unavailable, "record node: %v", err)
	}
	s.kv.SetNodeAddr(id, req.RpcAddr)
	s.log.Info("admitted node", "node", id, "addr", req.RpcAddr)
	return &serverpb.JoinResponse{ClusterId: s.id.ClusterID, NodeId: id}, nil
}

// CreateReplica makes an empty replica that a leader is about to add to its
// group; the replica waits for the leader to send it the log or a snapshot.
func (i *internalServer) CreateReplica(ctx context.Context, req *serverpb.CreateReplicaRequest) (*serverpb.CreateReplicaResponse, error) {
	st := i.s.store
	if st == nil {
		return nil, status.Error(codes.Unavailable, "node is starting")
	}
	d := req.GetDesc()
	if d == nil || d.RangeId == 0 {
		return nil, status.Error(codes.InvalidArgument, "missing descriptor")
	}
	if _, err := st.createReplica(d, i.s.collector(ctx)); err != nil {
		if errors.Is(err, errOverlap) {
			return nil, status.Error(codes.FailedPrecondition, err.Error())
		}
		return nil, status.Errorf(codes.Internal, "create replica r%d: %v", d.RangeId, err)
	}
	return &serverpb.CreateReplicaResponse{}, nil
}

func (i *internalServer) ReplicaState(ctx context.Context, req *serverpb.ReplicaStateRequest) (*serverpb.ReplicaStateResponse, error) {
	rep := i.s.replica(req.RangeId)
	if rep == nil {
		return &serverpb.ReplicaStateResponse{Error: kvpb.NewRangeNotFound(req.RangeId)}, nil
	}
	g := rep.Group()
	out := &serverpb.ReplicaStateResponse{
		Desc: rep.Desc(), AppliedIndex: rep.Applied(), CommitIndex: g.CommitIndex(), LastIndex: g.LastIndex(),
		RaftState: g.State(), Term: g.Term(),
	}
	out.LeaderNodeId, _ = g.Leader()
	if servers, err := g.Configuration(); err == nil {
		for _, sv := range servers {
			out.Members = append(out.Members, replication.NodeIDOf(sv.ID))
		}
	}
	if g.IsLeader() {
		st, err := rep.Stats()
		if err == nil {
			out.ApproximateBytes, out.Keys = st.Bytes, st.Keys
		}
	}
	return out, nil
}

// AdminSplit splits a range this node leads and records both halves in the
// meta range.
func (i *internalServer) AdminSplit(ctx context.Context, req *serverpb.AdminSplitRequest) (*serverpb.AdminSplitResponse, error) {
	left, right, err := i.s.splitRange(ctx, req.RangeId, req.SplitKey, req.Sticky)
	if err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) {
			return &serverpb.AdminSplitResponse{Error: kerr}, nil
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &serverpb.AdminSplitResponse{Left: left, Right: right}, nil
}

func (s *Server) replica(id uint64) *replica.Replica {
	if s.store == nil {
		return nil
	}
	return s.store.get(id)
}
