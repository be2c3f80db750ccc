package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/sql"
)

// programCacheSize bounds the compiled scan programs a node keeps.
const programCacheSize = 512

// store holds the replicas of one node: every range with a descriptor in
// the node's engine has a replica and a running raft group.
type store struct {
	nodeID uint64
	addr   string
	eng    *engine.Engine
	hub    *replication.Hub
	timing replication.Timing
	snaps  string
	log    *slog.Logger
	// tso hands out transaction timestamps (the kv client's oracle client).
	tso func(ctx context.Context, n int) (engine.Timestamp, error)
	// observeApply gets the proposal-to-apply latency (metrics).
	observeApply func(time.Duration)
	// programs compiles the scan programs of SQL scans (pushed-down
	// filters and aggregates) for every replica, caching them.
	programs *replica.ProgramCache
	// wg owns the goroutines that open right-hand sides of splits.
	wg sync.WaitGroup
	// openMu serializes openReplica, so one range is never opened twice.
	openMu sync.Mutex
	// lifeMu serializes creating replicas for leaders (createReplica) with
	// replica GC's check-then-remove. Lock order: lifeMu, then openMu.
	lifeMu sync.Mutex
	// ctx ends when the store closes (waits of merges end with it).
	ctx    context.Context
	cancel context.CancelFunc

	mu struct {
		sync.RWMutex
		replicas map[uint64]*replica.Replica
		closed   bool
	}
}

func newStore(nodeID uint64, addr string, eng *engine.Engine, hub *replication.Hub, cfg Config, log *slog.Logger) *store {
	s := &store{nodeID: nodeID, addr: addr, eng: eng, hub: hub, timing: cfg.Timing,
		snaps: filepath.Join(cfg.DataDir, "snapshots"), log: log,
		programs: replica.NewProgramCache(sql.ScanProcessor(), programCacheSize)}
	s.mu.replicas = map[uint64]*replica.Replica{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// start opens a replica for every descriptor stored on the node.
func (s *store) start() error {
	start, end := keys.ReplicasSpan()
	var ids []uint64
	seen := map[uint64]bool{}
	var orphans []uint64
	err := s.eng.Scan(start, end, func(k, _ []byte) error {
		id, ok := keys.RangeIDFromReplicaKey(k)
		if !ok {
			return nil
		}
		if !seen[id] {
			seen[id] = true
			orphans = append(orphans, id)
		}
		if len(k) == len(keys.ReplicaPrefix(id))+1 && k[len(k)-1] == keys.ReplicaDescSuffix {
			ids = append(ids, id)
			orphans = orphans[:len(orphans)-1]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("server: list replicas: %w", err)
	}
	// State without a descriptor is what a removal (a merge, replica GC)
	// left when the node stopped before it finished.
	for _, id := range orphans {
		if err := replica.DestroyState(s.eng, id, nil); err != nil {
			return fmt.Errorf("server: remove the leftovers of r%d: %w", id, err)
		}
		s.log.Info("removed the leftover state of a removed replica", "range", id)
	}
	for _, id := range ids {
		if _, err := s.openReplica(id, nil); err != nil {
			return err
		}
	}
	s.log.Info("store started", "replicas", len(ids))
	return nil
}

// get returns the replica of range id, nil if the node has none.
func (s *store) get(id uint64) *replica.Replica {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.mu.replicas[id]
}

// list returns the replicas sorted by range id.
func (s *store) list() []*replica.Replica {
	s.mu.RLock()
	out := make([]*replica.Replica, 0, len(s.mu.replicas))
	for _, r := range s.mu.replicas {
		out = append(out, r)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].RangeID() < out[j].RangeID() })
	return out
}

// openReplica opens the replica of range id (storing desc first if the node
// has none) and starts its raft group. A replica with the bootstrap marker
// is bootstrapped with its descriptor's voters (a new cluster's first
// ranges, or the right-hand side of a split); any other empty group waits
// for its leader to send it the log or a snapshot.
func (s *store) openReplica(id uint64, desc *kvpb.RangeDescriptor) (*replica.Replica, error) {
	return s.open(id, desc, false)
}

// open is openReplica; fast campaigns at once (see splitApplied).
func (s *store) open(id uint64, desc *kvpb.RangeDescriptor, fast bool) (*replica.Replica, error) {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, replication.ErrGroupShutdown
	}
	if r, ok := s.mu.replicas[id]; ok {
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()

	rep, err := replica.Open(replica.Config{
		RangeID: id, NodeID: s.nodeID, Engine: s.eng, Logger: s.log,
		OnSplit: func(right *kvpb.RangeDescriptor) { s.splitApplied(right) },
		TSO:     s.tso, Processor: s.programs,
		WaitMerge: s.waitMerge, OnMerge: s.mergeApplied, ObserveApply: s.observeApply,
	}, desc)
	if err != nil {
		return nil, err
	}
	bootstrap := replica.NeedsBootstrap(s.eng, id)
	var voters []raft.Server
	if bootstrap {
		voters = bootstrapVoters(rep)
	}
	g, err := replication.OpenGroup(replication.GroupConfig{
		ID: replication.GroupID(id), NodeID: s.nodeID, LocalAddr: raft.ServerAddress(s.addr),
		Engine: s.eng, Hub: s.hub, FSM: rep, Timing: s.timing, Logger: s.log,
		SnapshotDir:  replication.SnapshotDirFor(s.snaps, replication.GroupID(id)),
		FastElection: fast,
		Bootstrap:    voters,
	})
	if err != nil {
		return nil, err
	}
	rep.Attach(g)
	if bootstrap {
		// The group is bootstrapped, now or before a crash that came
		// before this.
		if err := replica.ClearBootstrap(s.eng, id); err != nil {
			_ = g.Close()
			return nil, err
		}
	}
	if fast {
		// The right-hand side of a split this node led (splitApplied).
		// Campaigning cannot cut a lease short: a replica that knows a
		// leader of the new group refuses the votes (replication/lease.go).
		g.CampaignNow()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		_ = g.Close()
		return nil, replication.ErrGroupShutdown
	}
	s.mu.replicas[id] = rep
	return rep, nil
}

// bootstrapVoters returns the voters of a replica that carries the
// bootstrap marker, from its descriptor: the group is bootstrapped with
// them unless it already has raft state (a crash after bootstrapping,
// before the marker was cleared).
func bootstrapVoters(rep *replica.Replica) []raft.Server {
	d := rep.Desc()
	if d == nil {
		return nil
	}
	var voters []raft.Server
	for _, r := range d.Replicas {
		if r.Type == kvpb.ReplicaType_VOTER {
			voters = append(voters, raft.Server{ID: replication.ServerID(r.NodeId), Address: raft.ServerAddress(r.Addr), Suffrage: raft.Voter})
		}
	}
	return voters
}

// errOverlap is returned when a new replica would overlap a live one.
var errOverlap = errors.New("server: replica overlaps a live replica")

// createReplica makes an empty replica for desc, which a leader fills by
// log or snapshot. It never lets the new replica overlap a live one: their
// data would mix (a split this node has not applied yet). A replica in the
// way is first offered to collect, which removes it if it is stale (moved
// or merged away; see replicagc.go) and reports whether it did.
func (s *store) createReplica(desc *kvpb.RangeDescriptor, collect func(*replica.Replica) bool) (*replica.Replica, error) {
	// Never while replica GC decides about and removes a replica (see
	// replicagc.go): a replica being re-added must not be the one removed.
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if r := s.get(desc.RangeId); r != nil {
		return r, nil
	}
	for _, r := range s.overlapping(desc) {
		if collect != nil && collect(r) {
			continue
		}
		return nil, fmt.Errorf("%w: r%d overlaps r%d", errOverlap, desc.RangeId, r.RangeID())
	}
	return s.openReplica(desc.RangeId, desc)
}

// overlapping returns the live replicas of other ranges whose spans overlap
// desc's.
func (s *store) overlapping(desc *kvpb.RangeDescriptor) []*replica.Replica {
	var out []*replica.Replica
	for _, r := range s.list() {
		od := r.Desc()
		if od != nil && r.RangeID() != desc.RangeId &&
			string(od.StartKey) < string(desc.EndKey) && string(desc.StartKey) < string(od.EndKey) {
			out = append(out, r)
		}
	}
	return out
}

// splitApplied runs on the left-hand replica's apply goroutine once a split
// is durable: it opens the right-hand replica, whose state the split stored.
// Opening it asynchronously keeps the left's apply loop from waiting on the
// right's raft start.
//
// The node that leads the left-hand side campaigns for the right's as soon
// as it has opened it (replication.Group.CampaignNow, in open), and with
// the shorter timeout of replication.GroupConfig.FastElection if that
// election fails: a range is usually split where it is busy, and the new
// range serves once it has a leader. The other replicas' votes wait for
// their own right-hand side to open (replication's voteGroupWait).
func (s *store) splitApplied(right *kvpb.RangeDescriptor) {
	fast := false
	for _, r := range s.list() {
		if d := r.Desc(); d != nil && bytes.Equal(d.EndKey, right.StartKey) && r.Group() != nil && r.Group().IsLeader() {
			fast = true
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if _, err := s.open(right.RangeId, nil, fast); err != nil && !errors.Is(err, replication.ErrGroupShutdown) {
			s.log.Error("open right-hand side of split", "range", right.RangeId, "err", err)
		}
	}()
}

// waitMerge blocks until this node's replica of range id has applied index
// (a merge's right-hand side; see replica.Config.WaitMerge), or the store
// closes.
//
// Only the store closing ends the wait with an error (the merge is then
// applied after the restart): a replica of id that is removed meanwhile is
// waited for again, since applying the merge without its data would lose
// it, and skipping the merge would let this replica diverge.
func (s *store) waitMerge(id, index uint64) error {
	for warned := time.Now(); ; {
		if rep := s.get(id); rep != nil {
			err := rep.WaitApplied(s.ctx, index)
			if err == nil || s.ctx.Err() != nil {
				return err
			}
		}
		if time.Since(warned) > 10*time.Second {
			s.log.Warn("merge waits for a replica this node does not have", "range", id, "index", index)
			warned = time.Now()
		}
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// mergeApplied runs once a merge that absorbed range id is durable on this
// node: the frozen replica of id is closed and its local state removed (its
// data belongs to the merged range now).
func (s *store) mergeApplied(id uint64) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		rep := s.get(id)
		if rep == nil {
			return
		}
		if err := s.destroyReplica(rep, false); err != nil {
			s.log.Warn("remove merged replica", "range", id, "err", err)
			return
		}
		s.log.Info("merged replica removed", "range", id)
	}()
}

// close stops every raft group; the engine stays open.
func (s *store) close() {
	s.cancel()
	s.mu.Lock()
	s.mu.closed = true
	s.mu.Unlock()
	// No new replica opens now; wait for the ones being opened.
	s.wg.Wait()
	s.mu.Lock()
	reps := s.mu.replicas
	s.mu.replicas = map[uint64]*replica.Replica{}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.MarkDestroyed()
			if err := r.Group().Close(); err != nil && !errors.Is(err, replication.ErrGroupShutdown) {
				s.log.Warn("close raft group", "range", r.RangeID(), "err", err)
			}
		}()
	}
	wg.Wait()
}

// transferLeaderships asks every group this node leads to hand leadership
// to a caught-up follower, in parallel, and waits for them; raft bounds each
// transfer by its election timeout.
func (s *store) transferLeaderships() {
	var wg sync.WaitGroup
	for _, r := range s.list() {
		g := r.Group()
		if servers, err := g.Configuration(); !g.IsLeader() || err != nil || len(servers) < 2 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.TransferLeadership(0, ""); err != nil {
				s.log.Debug("leadership transfer on shutdown", "range", r.RangeID(), "err", err)
			}
		}()
	}
	wg.Wait()
}
