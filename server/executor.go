package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/serverpb"
)

// The executor carries out the controller's actions, one goroutine per
// action (the controller bounds how many are in flight), each bounded by
// actionTimeout. It checks that the range is still the one the decision was
// about (same id holding the key) and gives up otherwise: the next round
// decides again from fresh reports. A failure is an event with its reason.

const actionTimeout = 2 * time.Minute

// errNotYet is the answer for actions this version does not carry out.
var errNotYet = errors.New("not carried out by this version")

func (h *controllerHost) execute(a controller.Action) {
	s := h.s
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	err := h.do(ctx, a)
	h.mu.Lock()
	delete(h.mu.inflight, actionKey(a))
	if a.Kind == controller.Merge {
		delete(h.mu.inflight, a.RightID)
	}
	h.mu.Unlock()
	if err == nil {
		s.metricsActionDone(a)
		return
	}
	if s.ctx.Err() != nil {
		return
	}
	msg := fmt.Sprintf("%s failed: %v", a.Detail, err)
	h.mu.Lock()
	k := fmt.Sprintf("%s/%d", a.Kind, a.RangeID)
	last, repeated := h.mu.failures[k]
	if !repeated || last.msg != msg || time.Since(last.at) > time.Minute {
		h.mu.failures[k] = failure{msg: msg, at: time.Now()}
		repeated = false
	}
	h.mu.Unlock()
	if !repeated {
		h.record(ctx, []controller.Event{{RangeID: a.RangeID, NodeID: a.To, Kind: a.Kind.String() + "-failed", Message: msg}})
	}
}

// failure is the last failure of an action, so that an action failing the
// same way round after round is recorded once a minute.
type failure struct {
	msg string
	at  time.Time
}

func (h *controllerHost) do(ctx context.Context, a controller.Action) error {
	s := h.s
	switch a.Kind {
	case controller.Split:
		desc, err := s.rangeByID(ctx, a.RangeID)
		if err != nil {
			return err
		}
		if !desc.ContainsKey(a.Key) {
			return fmt.Errorf("r%d no longer holds %s", a.RangeID, keys.Pretty(a.Key))
		}
		_, err = s.sendSplit(ctx, desc, a.Key, false)
		return err
	case controller.TransferLeader:
		resp, err := (&adminServer{s: s}).TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: a.RangeID, NodeId: a.To})
		if err != nil {
			return err
		}
		if resp.LeaderNodeId != a.To {
			return fmt.Errorf("the leader is n%d after the transfer", resp.LeaderNodeId)
		}
		return nil
	case controller.Relocate:
		return s.relocate(ctx, a.RangeID, a.From, a.To)
	case controller.AddReplica:
		return s.relocate(ctx, a.RangeID, 0, a.To)
	case controller.RemoveReplica:
		return s.relocate(ctx, a.RangeID, a.From, 0)
	case controller.Merge:
		_, err := s.mergeRanges(ctx, a.RangeID, a.RightID)
		return err
	case controller.MarkRemoved:
		_, err := s.meta.SetNodeState(ctx, a.From, kvpb.NodeState_REMOVED)
		return err
	}
	return errNotYet
}

// metricsActionDone counts a carried-out action in the node's metrics.
func (s *Server) metricsActionDone(a controller.Action) {
	switch a.Kind {
	case controller.Split:
		s.countAction("split", a.Reason)
	case controller.Merge:
		s.metricsMerge(a.Reason)
	case controller.Relocate, controller.AddReplica, controller.RemoveReplica, controller.TransferLeader:
		s.countAction("rebalance", a.Reason)
	}
}

func (s *Server) metricsMerge(reason string) { s.countAction("merge", reason) }
