package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/serverpb"
)

// The zero-touch controller's host on a node. Every node reports its
// ranges' load to the meta range's leader every ReportInterval (report.go);
// the leader's host keeps the latest report of each range and the time it
// last heard from each node, and every round builds a controller.State from
// them and the meta records, asks the controller (a pure decision function,
// meta/controller) for a plan, hands the actions to the executor
// (executor.go) and records the events in the meta range. A node that stops
// leading the meta range drops all of it: the next leader starts with empty
// windows, and gives every node a grace of DeadAfter from the moment it took
// over before calling it dead.

// controllerHost is the controller's state on this node.
type controllerHost struct {
	s   *Server
	cfg controller.Config

	mu struct {
		sync.Mutex
		// active tells whether this node runs the controller (leads the
		// meta range); since is when it started.
		active bool
		since  time.Time
		ctl    *controller.Controller
		// loads holds the latest report of each range; seen when each
		// node last reported.
		loads map[uint64]*serverpb.RangeLoad
		seen  map[uint64]time.Time
		// inflight are the actions the executor is carrying out, by range
		// id (node id for node actions, offset by nodeActionKey).
		inflight map[uint64]controller.Action
		// frozen maps each range meta shows frozen for a merge to the range
		// it merges into.
		frozen map[uint64]uint64
		// failures are the last failures by action kind and range.
		failures map[string]failure
		// lastEvent is the time of the last event written (keys must grow).
		lastEvent int64
		rounds    int
		// storageAt is when databases' storage was last recorded.
		storageAt time.Time
	}
	// exec owns the executor's goroutines.
	exec sync.WaitGroup
}

// nodeActionKey separates node actions from range actions in inflight.
const nodeActionKey = 1 << 62

func newControllerHost(s *Server, cfg controller.Config) *controllerHost {
	h := &controllerHost{s: s, cfg: cfg}
	h.reset(false)
	return h
}

// reset forgets everything; active says whether the node now leads.
func (h *controllerHost) reset(active bool) {
	h.mu.active = active
	h.mu.since = time.Now()
	h.mu.ctl = controller.New(h.cfg)
	h.mu.loads = map[uint64]*serverpb.RangeLoad{}
	h.mu.seen = map[uint64]time.Time{}
	if h.mu.inflight == nil {
		h.mu.inflight = map[uint64]controller.Action{}
	}
	h.mu.failures = map[string]failure{}
}

// leads reports whether this node leads the meta range.
func (h *controllerHost) leads() bool {
	rep := h.s.replica(meta.MetaRangeID)
	return rep != nil && rep.Group().IsLeader()
}

// notLeader is the refusal of a node that does not run the controller.
func (h *controllerHost) notLeader() *kvpb.Error {
	rep := h.s.replica(meta.MetaRangeID)
	if rep == nil {
		return kvpb.NewNotLeader(0, "")
	}
	id, addr := rep.Group().Leader()
	return kvpb.NewNotLeader(id, string(addr))
}

// receive records a node's report; it refuses unless this node leads the
// meta range.
func (h *controllerHost) receive(req *serverpb.ReportLoadRequest) *kvpb.Error {
	if !h.leads() {
		return h.notLeader()
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.seen[req.NodeId] = now
	for _, l := range req.Ranges {
		l.ReportedAtUnixNanos = now.UnixNano()
		h.mu.loads[l.RangeId] = l
	}
	return nil
}

// round runs one controller round if this node leads the meta range.
func (h *controllerHost) round(ctx context.Context) {
	leads := h.leads()
	h.mu.Lock()
	if leads != h.mu.active {
		h.reset(leads)
		if leads {
			h.s.log.Info("controller started on this node")
		}
	}
	h.mu.Unlock()
	if !leads || h.s.cfg.ControllerOff {
		return
	}
	h.mu.Lock()
	warming := time.Since(h.mu.since) < 3*h.cfg.ReportInterval
	h.mu.Unlock()
	if warming {
		// Reports of every leader first: a new controller that acted on
		// nothing would undo what the last one just did.
		return
	}
	st, err := h.state(ctx)
	if err != nil {
		h.s.log.Debug("controller: read state", "err", err)
		return
	}
	h.recordStorage(ctx, st)
	h.mu.Lock()
	// Frozen ranges first: their merge must be finished (a controller died
	// halfway through it), whatever else is decided.
	actions := h.pendingMerges(st)
	plan := h.mu.ctl.Decide(st)
	actions = append(actions, plan.Actions...)
	var start []controller.Action
	for _, a := range actions {
		k := actionKey(a)
		if _, busy := h.mu.inflight[k]; busy {
			continue
		}
		if a.Kind == controller.Merge {
			if _, busy := h.mu.inflight[a.RightID]; busy {
				continue
			}
			h.mu.inflight[a.RightID] = a
		}
		h.mu.inflight[k] = a
		start = append(start, a)
	}
	h.mu.rounds++
	trim := h.mu.rounds%60 == 0
	h.mu.Unlock()
	for _, a := range start {
		h.exec.Add(1)
		go func() {
			defer h.exec.Done()
			h.execute(a)
		}()
	}
	h.record(ctx, plan.Events)
	if trim {
		if n, err := h.s.platform.expireIdempotency(ctx); err != nil {
			h.s.log.Debug("controller: expire idempotency records", "err", err)
		} else if n > 0 {
			h.s.log.Debug("controller: expired idempotency records", "dropped", n)
		}
		if n, err := h.s.meta.TrimEvents(ctx, meta.MaxEvents); err != nil {
			h.s.log.Debug("controller: trim events", "err", err)
		} else if n > 0 {
			h.s.log.Debug("controller: trimmed events", "dropped", n)
		}
	}
}

// recordStorage writes each database's stored bytes, summed from the
// ranges' reports, every usageFlushInterval.
func (h *controllerHost) recordStorage(ctx context.Context, st controller.State) {
	h.mu.Lock()
	due := time.Since(h.mu.storageAt) >= usageFlushInterval
	if due {
		h.mu.storageAt = time.Now()
	}
	h.mu.Unlock()
	if !due || h.s.catalog == nil {
		return
	}
	sizes := map[uint32]uint64{}
	for _, db := range h.s.catalog.Get().Databases() {
		sizes[db.ID] = 0
	}
	for _, rg := range st.Ranges {
		if db, ok := keys.TenantID(rg.StartKey); ok {
			if _, live := sizes[db]; live {
				sizes[db] += rg.Bytes
			}
		}
	}
	if err := h.s.recordStorage(ctx, sizes); err != nil {
		h.s.log.Debug("controller: record storage", "err", err)
	}
}

// pendingMerges returns a merge action for every frozen range that no
// executor is merging. Called with h.mu held.
func (h *controllerHost) pendingMerges(st controller.State) []controller.Action {
	var out []controller.Action
	for _, r := range st.Ranges {
		into := h.mu.frozen[r.ID]
		if into == 0 {
			continue
		}
		if _, busy := h.mu.inflight[r.ID]; busy {
			continue
		}
		out = append(out, controller.Action{Kind: controller.Merge, RangeID: into, RightID: r.ID, Reason: "resume",
			Detail: fmt.Sprintf("finish merging r%d into r%d", r.ID, into)})
	}
	return out
}

func actionKey(a controller.Action) uint64 {
	if a.Kind == controller.MarkRemoved {
		return nodeActionKey + a.From
	}
	return a.RangeID
}

// record writes events to the meta range and the log.
func (h *controllerHost) record(ctx context.Context, evs []controller.Event) {
	if len(evs) == 0 {
		return
	}
	out := make([]*kvpb.Event, 0, len(evs))
	for _, e := range evs {
		h.s.log.Info("controller: "+e.Message, "kind", e.Kind, "range", e.RangeID)
		out = append(out, &kvpb.Event{RangeId: e.RangeID, NodeId: e.NodeID, Kind: e.Kind, Message: e.Message, Reporter: h.s.NodeID()})
	}
	h.mu.Lock()
	h.mu.lastEvent = meta.StampEvents(out, time.Now().UnixNano(), h.mu.lastEvent)
	h.mu.Unlock()
	if err := h.s.meta.AppendEvents(ctx, out); err != nil {
		h.s.log.Warn("controller: record events", "err", err, "events", len(out))
	}
}

// state builds the controller's view: meta's descriptors and node records,
// with the latest reports.
func (h *controllerHost) state(ctx context.Context) (controller.State, error) {
	descs, err := h.s.meta.Descriptors(ctx)
	if err != nil {
		return controller.State{}, err
	}
	nodes, err := h.s.meta.Nodes(ctx)
	if err != nil {
		return controller.State{}, err
	}
	dropped := h.s.droppedDatabases(ctx)
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	st := controller.State{Now: now}
	for _, n := range nodes {
		seen := h.mu.seen[n.NodeId]
		if seen.Before(h.mu.since) {
			seen = h.mu.since
		}
		st.Nodes = append(st.Nodes, controller.Node{ID: n.NodeId, LastSeen: seen,
			Draining: n.State == kvpb.NodeState_DRAINING, Decommissioning: n.State == kvpb.NodeState_DECOMMISSIONING,
			Removed: n.State == kvpb.NodeState_REMOVED})
	}
	live := map[uint64]bool{}
	h.mu.frozen = map[uint64]uint64{}
	for _, d := range descs {
		live[d.RangeId] = true
		if d.MergingInto != 0 {
			h.mu.frozen[d.RangeId] = d.MergingInto
		}
		st.Ranges = append(st.Ranges, rangeState(d, h.mu.loads[d.RangeId]))
	}
	for id := range h.mu.loads {
		if !live[id] {
			delete(h.mu.loads, id)
			h.mu.ctl.Forget(id)
		}
	}
	st.ShardCaps = h.s.shardCaps()
	st.Dropped = dropped
	keys := make([]uint64, 0, len(h.mu.inflight))
	for k := range h.mu.inflight {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		st.InFlight = append(st.InFlight, h.mu.inflight[k])
	}
	return st, nil
}

// rangeState is the controller's view of one range: its descriptor, and
// its leader's report when it describes this generation of the range (a
// report from before a split or membership change is ignored until the
// next one).
func rangeState(d *kvpb.RangeDescriptor, l *serverpb.RangeLoad) controller.Range {
	r := controller.Range{ID: d.RangeId, Generation: d.Generation, StartKey: d.StartKey, EndKey: d.EndKey, Sticky: d.Sticky}
	for _, rep := range d.Replicas {
		r.Replicas = append(r.Replicas, controller.Replica{NodeID: rep.NodeId, Voter: rep.Type == kvpb.ReplicaType_VOTER})
	}
	if l == nil || l.Generation != d.Generation {
		return r
	}
	r.Leader = l.LeaderNodeId
	r.Load = controller.Load{ReadsPerSec: l.ReadsPerSec, WritesPerSec: l.WritesPerSec, WriteBytesPerSec: l.WriteBytesPerSec, CPUPerSec: l.CpuPerSec}
	r.Bytes, r.Keys = l.Bytes, l.Keys
	r.SizeSplitKey = l.SizeSplitKey
	r.LoadSplit = controller.LoadSplit{Key: l.LoadSplitKey, Balance: l.LoadSplitBalance, HotBlock: l.HotBlock, HotShare: l.HotShare, Samples: int(l.Samples)}
	r.ReportedAt = time.Unix(0, l.ReportedAtUnixNanos)
	if l.SplitAtUnixNanos != 0 {
		r.SplitAt = time.Unix(0, l.SplitAtUnixNanos)
	}
	return r
}

// info answers ControllerInfo.
func (h *controllerHost) info(ctx context.Context, req *serverpb.ControllerInfoRequest) (*serverpb.ControllerInfoResponse, error) {
	if !h.leads() {
		return &serverpb.ControllerInfoResponse{Error: h.notLeader()}, nil
	}
	out := &serverpb.ControllerInfoResponse{ControllerNodeId: h.s.NodeID()}
	st, err := h.state(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.mu.loads {
		out.Loads = append(out.Loads, l)
	}
	sort.Slice(out.Loads, func(i, j int) bool { return out.Loads[i].RangeId < out.Loads[j].RangeId })
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, &serverpb.NodeLiveness{NodeId: n.ID, LastSeenUnixNanos: n.LastSeen.UnixNano(),
			Live: st.Now.Sub(n.LastSeen) < h.cfg.DeadAfter})
	}
	if req.ExplainRangeId != 0 {
		out.Explain = h.mu.ctl.Explain(st, req.ExplainRangeId)
	}
	return out, nil
}

// callController calls the controller on the meta range's leader, each
// attempt bounded by timeout; call returns the response's structured error
// or a transport error.
func (s *Server) callController(ctx context.Context, timeout time.Duration, call func(ctx context.Context, cl serverpb.InternalClient) (*kvpb.Error, error)) error {
	return s.kv.CallMetaLeader(ctx, func(addr string) error {
		cl, err := s.pool.Internal(addr)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		kerr, err := call(cctx, cl)
		if err != nil {
			return err
		}
		if kerr != nil {
			return kerr
		}
		return nil
	})
}

// controllerInfo asks the meta leader's controller.
func (s *Server) controllerInfo(ctx context.Context, req *serverpb.ControllerInfoRequest) (*serverpb.ControllerInfoResponse, error) {
	var out *serverpb.ControllerInfoResponse
	err := s.callController(ctx, 5*time.Second, func(ctx context.Context, cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.ControllerInfo(ctx, req)
		out = resp
		return resp.GetError(), err
	})
	if err != nil {
		return nil, fmt.Errorf("server: ask the controller: %w", err)
	}
	return out, nil
}

// ReportLoad serves serverpb.Internal's ReportLoad.
func (i *internalServer) ReportLoad(_ context.Context, req *serverpb.ReportLoadRequest) (*serverpb.ReportLoadResponse, error) {
	if i.s.ctl == nil {
		return &serverpb.ReportLoadResponse{Error: kvpb.NewUnavailable("node n%d is starting", i.s.NodeID())}, nil
	}
	return &serverpb.ReportLoadResponse{Error: i.s.ctl.receive(req)}, nil
}

// ControllerInfo serves serverpb.Internal's ControllerInfo.
func (i *internalServer) ControllerInfo(ctx context.Context, req *serverpb.ControllerInfoRequest) (*serverpb.ControllerInfoResponse, error) {
	if i.s.ctl == nil {
		return &serverpb.ControllerInfoResponse{Error: kvpb.NewUnavailable("node n%d is starting", i.s.NodeID())}, nil
	}
	resp, err := i.s.ctl.info(ctx, req)
	if err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) {
			return &serverpb.ControllerInfoResponse{Error: kerr}, nil
		}
		return &serverpb.ControllerInfoResponse{Error: kvpb.NewUnavailable("%v", err)}, nil
	}
	return resp, nil
}
