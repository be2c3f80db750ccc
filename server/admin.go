package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// adminServer implements serverpb.AdminServer, the service behind the CLI.
// Every method works on any node: it routes through the kv client.
type adminServer struct {
	serverpb.UnimplementedAdminServer
	s *Server
}

// toStatus translates our errors into gRPC statuses with a clear code.
func toStatus(err error) error {
	var kerr *kvpb.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keys.ErrKeyTooLarge), errors.Is(err, keys.ErrReservedKey):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, kv.ErrConditionFailed):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, kv.ErrWriteConflict), errors.Is(err, kv.ErrTxnAborted):
		return status.Error(codes.Aborted, err.Error())
	case errors.Is(err, kv.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.Unavailable, serverpb.ClusterUnavailablePrefix+err.Error())
	case errors.As(err, &kerr):
		if _, ok := kerr.Detail.(*kvpb.Error_Invalid); ok {
			return status.Error(codes.InvalidArgument, kerr.Error())
		}
		return status.Error(codes.Unavailable, serverpb.ClusterUnavailablePrefix+kerr.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func (a *adminServer) Nodes(ctx context.Context, _ *serverpb.NodesRequest) (*serverpb.NodesResponse, error) {
	s := a.s
	nodes, err := s.meta.Nodes(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	live := map[uint64]bool{}
	for _, n := range s.liveNodes(ctx, nodes) {
		live[n.NodeId] = true
	}
	out := &serverpb.NodesResponse{}
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, &serverpb.NodeStatus{Desc: n, Live: live[n.NodeId]})
	}
	descs, err := s.meta.Descriptors(ctx)
	if err == nil {
		idx := map[uint64]*serverpb.NodeStatus{}
		for _, ns := range out.Nodes {
			idx[ns.Desc.NodeId] = ns
		}
		for _, d := range descs {
			if d == nil {
				continue
			}
			for _, r := range d.Replicas {
				if ns := idx[r.NodeId]; ns != nil {
					ns.Replicas++
				}
			}
			if st := s.rangeStatus(ctx, d); st.LeaderNodeId != 0 {
				if ns := idx[st.LeaderNodeId]; ns != nil {
					ns.Leaders++
				}
			}
		}
	}
	return out, nil
}

// rangeStatus asks the range's replicas for their state and reports the
// leader's view.
func (s *Server) rangeStatus(ctx context.Context, d *kvpb.RangeDescriptor) *serverpb.RangeStatus {
	out := &serverpb.RangeStatus{Desc: d}
	var fallback *serverpb.ReplicaStateResponse
	for _, r := range d.Replicas {
		st := s.replicaState(ctx, r, d.RangeId)
		if st == nil {
			continue
		}
		if st.RaftState == "Leader" {
			out.Desc, out.LeaderNodeId, out.AppliedIndex = st.Desc, r.NodeId, st.AppliedIndex
			out.ApproximateBytes, out.Keys = st.ApproximateBytes, st.Keys
			return out
		}
		fallback = st
	}
	if fallback != nil {
		out.LeaderNodeId, out.AppliedIndex = fallback.LeaderNodeId, fallback.AppliedIndex
		out.Error = "leader did not answer"
	} else {
		out.Error = "no replica answered"
	}
	return out
}

// replicaState asks the replica r of range id for its state; nil when it
// does not answer (within 2 s) or reports an error.
func (s *Server) replicaState(ctx context.Context, r *kvpb.ReplicaDescriptor, id uint64) *serverpb.ReplicaStateResponse {
	cl, err := s.pool.Internal(r.Addr)
	if err != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := cl.ReplicaState(cctx, &serverpb.ReplicaStateRequest{RangeId: id})
	if err != nil || st.Error != nil {
		return nil
	}
	return st
}

func (a *adminServer) Ranges(ctx context.Context, _ *serverpb.RangesRequest) (*serverpb.RangesResponse, error) {
	s := a.s
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &serverpb.RangesResponse{}
	for _, d := range descs {
		out.Ranges = append(out.Ranges, s.rangeStatus(ctx, d))
	}
	s.attachLoads(ctx, out.Ranges)
	return out, nil
}

func (a *adminServer) SplitRange(ctx context.Context, req *serverpb.SplitRangeRequest) (*serverpb.SplitRangeResponse, error) {
	s := a.s
	if err := keys.ValidateUserKey(req.Key); err != nil {
		return nil, toStatus(err)
	}
	for attempt := 0; ; attempt++ {
		desc, err := s.kv.LookupRange(ctx, req.Key)
		if err != nil {
			return nil, toStatus(err)
		}
		resp, err := s.sendSplit(ctx, desc, req.Key, true)
		if err == nil {
			return &serverpb.SplitRangeResponse{Left: resp.Left, Right: resp.Right}, nil
		}
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) || !kerr.Retryable() || attempt >= 20 || ctx.Err() != nil {
			return nil, toStatus(err)
		}
		s.kv.EvictRange(desc)
		time.Sleep(100 * time.Millisecond)
	}
}

// sendSplit sends AdminSplit to the range's leader, following hints.
func (s *Server) sendSplit(ctx context.Context, desc *kvpb.RangeDescriptor, key []byte, sticky bool) (*serverpb.AdminSplitResponse, error) {
	var out *serverpb.AdminSplitResponse
	err := sendToLeader(ctx, s, desc, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.AdminSplit(ctx, &serverpb.AdminSplitRequest{RangeId: desc.RangeId, SplitKey: key, Sticky: sticky})
		out = resp
		return resp.GetError(), err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// KV serves the CLI's debug access to user keys. Every operation is a
// transaction: reads at a fresh timestamp from the oracle (or at the
// requested read_ts, an AS OF read), writes committed atomically (one raft
// command when the key's range is the only one touched). So a read that
// starts after a write was acknowledged sees it, through any node.
func (a *adminServer) KV(ctx context.Context, req *serverpb.KVRequest) (*serverpb.KVResponse, error) {
	c := a.s.kv
	switch op := req.Op.(type) {
	case *serverpb.KVRequest_Get:
		if err := keys.ValidateUserKey(op.Get.Key); err != nil {
			return nil, toStatus(err)
		}
		t, err := a.snapshot(ctx, op.Get.ReadTs)
		if err != nil {
			return nil, toStatus(err)
		}
		v, found, err := t.Get(ctx, op.Get.Key)
		if err != nil {
			return nil, toStatus(err)
		}
		return &serverpb.KVResponse{Response: &kvpb.Response{Value: &kvpb.Response_Get{Get: &kvpb.GetResponse{Found: found, Value: v, Timestamp: uint64(t.StartTS())}}}}, nil
	case *serverpb.KVRequest_Put:
		if err := keys.ValidateUserKey(op.Put.Key); err != nil {
			return nil, toStatus(err)
		}
		if len(op.Put.Value) > maxValueSize {
			return nil, status.Errorf(codes.InvalidArgument, "value of %d bytes exceeds the maximum of %d", len(op.Put.Value), maxValueSize)
		}
		err := c.RunTxn(ctx, func(_ context.Context, t *kv.Txn) error { return t.Put(op.Put.Key, op.Put.Value) })
		if err != nil {
			return nil, toStatus(err)
		}
		return &serverpb.KVResponse{Response: &kvpb.Response{Value: &kvpb.Response_Put{Put: &kvpb.PutResponse{}}}}, nil
	case *serverpb.KVRequest_Delete:
		if err := keys.ValidateUserKey(op.Delete.Key); err != nil {
			return nil, toStatus(err)
		}
		var found bool
		err := c.RunTxn(ctx, func(ctx context.Context, t *kv.Txn) error {
			var err error
			if _, found, err = t.Get(ctx, op.Delete.Key); err != nil {
				return err
			}
			return t.Delete(op.Delete.Key)
		})
		if err != nil {
			return nil, toStatus(err)
		}
		return &serverpb.KVResponse{Response: &kvpb.Response{Value: &kvpb.Response_Delete{Delete: &kvpb.DeleteResponse{Found: found}}}}, nil
	case *serverpb.KVRequest_Scan:
		start, end := op.Scan.StartKey, op.Scan.EndKey
		if len(start) == 0 || string(start) < string(keys.UserMin) {
			start = keys.UserMin
		}
		if len(end) == 0 || string(end) > string(keys.KeyMax) {
			end = keys.KeyMax
		}
		t, err := a.snapshot(ctx, op.Scan.ReadTs)
		if err != nil {
			return nil, toStatus(err)
		}
		rows, err := t.Scan(ctx, start, end, int(op.Scan.Limit))
		if err != nil {
			return nil, toStatus(err)
		}
		return &serverpb.KVResponse{Response: &kvpb.Response{Value: &kvpb.Response_Scan{Scan: &kvpb.ScanResponse{Rows: rows}}}}, nil
	}
	return nil, status.Error(codes.InvalidArgument, "empty kv request")
}

// snapshot returns a read-only transaction at ts, or at a fresh timestamp
// from the oracle when ts is 0.
func (a *adminServer) snapshot(ctx context.Context, ts uint64) (*kv.Txn, error) {
	if ts == 0 {
		return a.s.kv.Begin(ctx)
	}
	return a.s.kv.SnapshotAt(engine.Timestamp(ts)), nil
}

// maxValueSize bounds a value written through the admin API.
const maxValueSize = 8 << 20

// KVTxn runs a script of gets, puts and deletes in one transaction.
// Conflicts are not retried here: the caller sees SQLSTATE-like Aborted and
// decides (the CLI prints the error).
func (a *adminServer) KVTxn(ctx context.Context, req *serverpb.KVTxnRequest) (*serverpb.KVTxnResponse, error) {
	if len(req.Ops) == 0 {
		return nil, status.Error(codes.InvalidArgument, "empty transaction")
	}
	t, err := a.s.kv.Begin(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &serverpb.KVTxnResponse{StartTs: uint64(t.StartTS())}
	for i, op := range req.Ops {
		var res *kvpb.Response
		switch o := op.Op.(type) {
		case *serverpb.KVRequest_Get:
			if err := keys.ValidateUserKey(o.Get.Key); err != nil {
				return nil, toStatus(err)
			}
			v, found, err := t.Get(ctx, o.Get.Key)
			if err != nil {
				return nil, toStatus(err)
			}
			res = &kvpb.Response{Value: &kvpb.Response_Get{Get: &kvpb.GetResponse{Found: found, Value: v}}}
		case *serverpb.KVRequest_Put:
			if err := keys.ValidateUserKey(o.Put.Key); err != nil {
				return nil, toStatus(err)
			}
			if err := t.Put(o.Put.Key, o.Put.Value); err != nil {
				return nil, toStatus(err)
			}
			res = &kvpb.Response{Value: &kvpb.Response_Put{Put: &kvpb.PutResponse{}}}
		case *serverpb.KVRequest_Delete:
			if err := keys.ValidateUserKey(o.Delete.Key); err != nil {
				return nil, toStatus(err)
			}
			if err := t.Delete(o.Delete.Key); err != nil {
				return nil, toStatus(err)
			}
			res = &kvpb.Response{Value: &kvpb.Response_Delete{Delete: &kvpb.DeleteResponse{}}}
		default:
			return nil, status.Errorf(codes.InvalidArgument, "op %d: only get, put and delete run in a transaction", i+1)
		}
		out.Results = append(out.Results, res)
	}
	commit, err := t.Commit(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out.CommitTs = uint64(commit)
	out.OnePc = t.CommittedOnePC()
	return out, nil
}
