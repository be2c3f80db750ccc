package server

import (
	"context"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// The admin calls about the controller: hot ranges, events, explain. Any
// node answers; loads and explanations come from the controller on the meta
// range's leader (ControllerInfo), events from the meta range.

// attachLoads adds the controller's latest report to each range's status;
// without an answer from the controller the statuses go out without load.
func (s *Server) attachLoads(ctx context.Context, ranges []*serverpb.RangeStatus) {
	info, err := s.controllerInfo(ctx, &serverpb.ControllerInfoRequest{})
	if err != nil {
		s.log.Debug("ranges: no loads from the controller", "err", err)
		return
	}
	byID := map[uint64]*serverpb.RangeLoad{}
	for _, l := range info.Loads {
		byID[l.RangeId] = l
	}
	for _, r := range ranges {
		if l := byID[r.GetDesc().GetRangeId()]; l != nil && l.Generation == r.GetDesc().GetGeneration() {
			r.Load = l
		}
	}
}

// loadScore orders ranges by load: requests per second, with a second of
// CPU counted as a thousand requests.
func loadScore(l *serverpb.RangeLoad) float64 {
	if l == nil {
		return 0
	}
	return l.ReadsPerSec + l.WritesPerSec + 1000*l.CpuPerSec
}

func (a *adminServer) HotRanges(ctx context.Context, req *serverpb.HotRangesRequest) (*serverpb.RangesResponse, error) {
	resp, err := a.Ranges(ctx, &serverpb.RangesRequest{})
	if err != nil {
		return nil, err
	}
	rs := resp.Ranges
	sort.SliceStable(rs, func(i, j int) bool { return loadScore(rs[i].Load) > loadScore(rs[j].Load) })
	limit := int(req.Limit)
	if limit == 0 {
		limit = 10
	}
	if len(rs) > limit {
		rs = rs[:limit]
	}
	return &serverpb.RangesResponse{Ranges: rs}, nil
}

func (a *adminServer) Events(ctx context.Context, req *serverpb.EventsRequest) (*serverpb.EventsResponse, error) {
	limit := int(req.Limit)
	if limit == 0 {
		limit = 100
	}
	evs, err := a.s.meta.Events(ctx, req.RangeId, limit)
	if err != nil {
		return nil, toStatus(err)
	}
	return &serverpb.EventsResponse{Events: evs}, nil
}

func (a *adminServer) ExplainRange(ctx context.Context, req *serverpb.ExplainRangeRequest) (*serverpb.ExplainRangeResponse, error) {
	s := a.s
	if req.RangeId == 0 {
		return nil, status.Error(codes.InvalidArgument, "explain needs a range id")
	}
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &serverpb.ExplainRangeResponse{}
	for _, d := range descs {
		if d.RangeId == req.RangeId {
			out.Range = s.rangeStatus(ctx, d)
		}
	}
	if out.Range == nil {
		return nil, status.Errorf(codes.NotFound, "no range r%d", req.RangeId)
	}
	info, err := s.controllerInfo(ctx, &serverpb.ControllerInfoRequest{ExplainRangeId: req.RangeId})
	if err != nil {
		return nil, toStatus(err)
	}
	out.Lines, out.ControllerNodeId = info.Explain, info.ControllerNodeId
	for _, l := range info.Loads {
		if l.RangeId == req.RangeId && l.Generation == out.Range.GetDesc().GetGeneration() {
			out.Range.Load = l
		}
	}
	return out, nil
}

func (a *adminServer) SetNodeState(ctx context.Context, req *serverpb.SetNodeStateRequest) (*serverpb.SetNodeStateResponse, error) {
	if req.NodeId == 0 {
		return nil, status.Error(codes.InvalidArgument, "a node id is needed")
	}
	if req.State == kvpb.NodeState_REMOVED {
		return nil, status.Error(codes.InvalidArgument, "a node is marked removed by the controller once decommissioning has moved its replicas away")
	}
	nodes, err := a.s.meta.Nodes(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	var cur *kvpb.NodeDescriptor
	for _, n := range nodes {
		if n.NodeId == req.NodeId {
			cur = n
		}
	}
	if cur == nil {
		return nil, status.Errorf(codes.NotFound, "no node n%d", req.NodeId)
	}
	if cur.State == kvpb.NodeState_REMOVED {
		return nil, status.Errorf(codes.FailedPrecondition, "n%d was removed from the cluster", req.NodeId)
	}
	if req.State == kvpb.NodeState_DECOMMISSIONING {
		active := 0
		for _, n := range nodes {
			if n.NodeId != req.NodeId && n.State != kvpb.NodeState_REMOVED && n.State != kvpb.NodeState_DECOMMISSIONING {
				active++
			}
		}
		if active == 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "n%d is the last active node; its replicas have nowhere to go", req.NodeId)
		}
	}
	n, err := a.s.meta.SetNodeState(ctx, req.NodeId, req.State)
	if err != nil {
		return nil, toStatus(err)
	}
	a.s.log.Info("node state set", "node", req.NodeId, "state", req.State)
	return &serverpb.SetNodeStateResponse{Node: n}, nil
}
