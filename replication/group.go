package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/engine"
)

// Errors returned by Group, translated from hashicorp/raft's.
var (
	ErrNotLeader      = errors.New("replication: not the leader")
	ErrLeadershipLost = errors.New("replication: leadership lost while committing")
	ErrGroupShutdown  = errors.New("replication: group is shut down")
	ErrTimeout        = errors.New("replication: timed out")
	// ErrUnknownOutcome wraps the failure of a proposal that raft had
	// appended: it may still be committed and applied (leadership lost,
	// shutdown while in flight).
	ErrUnknownOutcome = errors.New("replication: outcome unknown")
	// ErrVotesHeld refuses a vote request to a replica that restarted
	// less than a lease ago (GroupTransport.refuseVotesUntil).
	ErrVotesHeld = errors.New("replication: votes held")
)

// Timing holds the Raft timeouts of every group of a node.
type Timing struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is how many entries since the last snapshot trigger
	// a new one (checked every SnapshotInterval to twice that);
	// TrailingLogs is how many entries are kept after it, so that a
	// follower a little behind catches up from the log. With an Exporter FSM,
	// snapshots are cheap to take, and the log is best truncated before
	// Pebble flushes its entries.
	SnapshotThreshold uint64
	TrailingLogs      uint64
	SnapshotInterval  time.Duration
}

// DefaultTiming replaces a cut-off leader in about 1-2 s (detection
// between HeartbeatTimeout and twice that, then one election round), and
// one whose process died in about half that (see Group.hasten).
func DefaultTiming() Timing {
	return Timing{
		HeartbeatTimeout:   800 * time.Millisecond,
		ElectionTimeout:    800 * time.Millisecond,
		LeaderLeaseTimeout: 400 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		SnapshotThreshold:  1024,
		TrailingLogs:       1024,
		SnapshotInterval:   5 * time.Second,
	}
}

// GroupConfig describes one group on this node.
type GroupConfig struct {
	ID        GroupID
	NodeID    uint64             // this node's id: the raft ServerID is its decimal form
	LocalAddr raft.ServerAddress // this node's rpc address
	Engine    *engine.Engine
	Hub       *Hub
	// FSM is the group's state machine. One that is an Exporter gets lazy
	// snapshots (exportingStore).
	FSM raft.FSM
	// SnapshotDir holds the group's raft snapshots (a directory per group).
	SnapshotDir string
	Timing      Timing
	Logger      *slog.Logger
	// FastElection makes this node campaign after LeaderLeaseTimeout
	// instead of HeartbeatTimeout until the group has a leader: for the
	// new group of a split, on the node that led the range split, so that
	// the new range elects in about half the usual time (the other nodes
	// keep the usual timeout, so they rarely compete). The node usually
	// campaigns before that, with CampaignNow; the shorter timeout is the
	// fallback when that election fails.
	FastElection bool
	// Bootstrap, when set, are the voters of a new group: a group with no
	// raft state is bootstrapped with them before its raft starts, so that
	// it answers no request (a vote, say) without its configuration. A
	// group with state ignores it.
	Bootstrap []raft.Server
}

// Group is one range's Raft group on this node. Its methods are safe for
// concurrent use.
type Group struct {
	id   GroupID
	raft *raft.Raft
	// compactMu serializes the changes of raft's reloadable config
	// (CompactLog swaps the trailing-logs setting; hasten and slowDown
	// change the heartbeat timeout).
	compactMu sync.Mutex
	// heartbeat is the usual heartbeat timeout, fastHeartbeat the shorter
	// one of a follower about to campaign (FastElection, hasten): the
	// leader lease timeout, 0 when too short to use. hastened is set
	// while fastHeartbeat is in force.
	heartbeat, fastHeartbeat time.Duration
	hastened                 atomic.Bool
	// done is closed by Close; bg owns slowDown.
	done      chan struct{}
	bg        sync.WaitGroup
	closeMu   sync.Once
	logs      *LogStore
	transport *GroupTransport
	snapDir   string
	localID   raft.ServerID
	// leaseDuration is how long an acknowledgement keeps the lease
	// (lease.go); 0 disables leases.
	leaseDuration time.Duration

	// calls counts the Propose and VerifyLeader calls waiting for raft.
	// Raft never answers a verify request still queued when its main loop
	// stops, nor an entry committed but not yet applied (the caller would
	// wait forever), so Close refuses new calls and lets the waiting ones be
	// answered (drainTimeout at most) before it shuts raft down.
	calls struct {
		sync.Mutex
		closed   bool
		inflight int
		idle     chan struct{} // closed when inflight drops to 0 after closed is set
	}
}

// drainTimeout bounds Close's wait for calls in flight: a leader answers a
// verify after one round of heartbeats and a proposal once applied, or
// fails them when it steps down for lack of a quorum (LeaderLeaseTimeout).
const drainTimeout = 5 * time.Second

// enter registers a call waiting for raft; false once the group is closing.
func (g *Group) enter() bool {
	v := &g.calls
	v.Lock()
	defer v.Unlock()
	if v.closed {
		return false
	}
	v.inflight++
	return true
}

// leave ends a call registered by enter.
func (g *Group) leave() {
	v := &g.calls
	v.Lock()
	if v.inflight--; v.inflight == 0 && v.idle != nil {
		close(v.idle)
		v.idle = nil
	}
	v.Unlock()
}

// ServerID is the raft ServerID of a node.
func ServerID(nodeID uint64) raft.ServerID { return raft.ServerID(strconv.FormatUint(nodeID, 10)) }

// NodeIDOf parses a raft ServerID back into a node id.
func NodeIDOf(id raft.ServerID) uint64 {
	n, _ := strconv.ParseUint(string(id), 10, 64)
	return n
}

// logCacheEntries is how many of a group's newest log entries raft keeps
// in memory (raft.LogCache). Raft reads an entry back right after storing
// it, so a few dozen cover the steady state; the cache keeps its entries
// while the group is idle, which bounds it low.
const logCacheEntries = 64

// OpenGroup starts the group's raft instance on existing or empty state. An
// empty group is bootstrapped with GroupConfig.Bootstrap if set (every voter
// with the same list), else waits to be contacted by a leader that added it.
func OpenGroup(cfg GroupConfig) (*Group, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logs, err := OpenLogStore(cfg.Engine, cfg.ID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.SnapshotDir, 0o755); err != nil {
		return nil, fmt.Errorf("replication: snapshot dir of r%d: %w", cfg.ID, err)
	}
	hl := newHCLogger(logger.With("range", uint64(cfg.ID)))
	files, err := raft.NewFileSnapshotStoreWithLogger(cfg.SnapshotDir, 1, hl)
	if err != nil {
		return nil, fmt.Errorf("replication: snapshot store of r%d: %w", cfg.ID, err)
	}
	var snaps raft.SnapshotStore = files
	if ex, ok := cfg.FSM.(Exporter); ok {
		snaps = &exportingStore{FileSnapshotStore: files, dir: cfg.SnapshotDir, export: ex.ExportState, applied: ex.Applied}
	}
	tr, err := cfg.Hub.Transport(cfg.ID)
	if err != nil {
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.Timing.HeartbeatTimeout
	var fast time.Duration
	if cfg.Timing.LeaderLeaseTimeout >= 5*time.Millisecond && cfg.Timing.LeaderLeaseTimeout < cfg.Timing.HeartbeatTimeout {
		fast = cfg.Timing.LeaderLeaseTimeout
	}
	if cfg.FastElection && fast > 0 {
		rc.HeartbeatTimeout = fast
	}
	rc.ElectionTimeout = cfg.Timing.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.Timing.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.Timing.CommitTimeout
	rc.SnapshotThreshold = cfg.Timing.SnapshotThreshold
	rc.TrailingLogs = cfg.Timing.TrailingLogs
	rc.SnapshotInterval = cfg.Timing.SnapshotInterval
	rc.MaxAppendEntries = 256
	// The FSM's state lives in Pebble with its applied index; on restart raft
	// must not wipe it by restoring an older snapshot.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = hl
	// Raft reads back every entry it appends: the leader to send it to each
	// follower, a follower to apply it. The cache serves the newest
	// entries from memory rather than from the engine.
	cached, err := raft.NewLogCache(logCacheEntries, logs)
	if err != nil {
		return nil, err
	}
	existing, err := raft.HasExistingState(cached, logs, snaps)
	if err != nil {
		_ = tr.Close()
		return nil, fmt.Errorf("replication: state of r%d: %w", cfg.ID, err)
	}
	if existing {
		// A lease lasts less than the shorter of the two timeouts (lease.go).
		tr.refuseVotesUntil(time.Now().Add(min(cfg.Timing.HeartbeatTimeout, cfg.Timing.LeaderLeaseTimeout)))
	} else if len(cfg.Bootstrap) > 0 {
		if err := bootstrap(rc, logs, snaps, tr, raft.Configuration{Servers: cfg.Bootstrap}); err != nil {
			_ = tr.Close()
			return nil, fmt.Errorf("replication: bootstrap r%d: %w", cfg.ID, err)
		}
	}
	r, err := raft.NewRaft(rc, cfg.FSM, cached, logs, snaps, tr)
	if err != nil {
		_ = tr.Close()
		return nil, fmt.Errorf("replication: start r%d: %w", cfg.ID, err)
	}
	g := &Group{id: cfg.ID, raft: r, logs: logs, transport: tr, snapDir: cfg.SnapshotDir, done: make(chan struct{}),
		localID: rc.LocalID, leaseDuration: leaseDuration(rc.HeartbeatTimeout, rc.LeaderLeaseTimeout),
		heartbeat: cfg.Timing.HeartbeatTimeout, fastHeartbeat: fast}
	if rc.HeartbeatTimeout != cfg.Timing.HeartbeatTimeout {
		g.hastened.Store(true)
		g.bg.Add(1)
		go g.slowDown("")
	}
	tr.SetPipelineEndedHandler(g.hasten)
	return g, nil
}

// bootstrap gives a new group its first configuration as a snapshot at
// index 1, term 1, with no data (a marker: the FSM's state is already in
// the engine), where raft.BootstrapCluster would append it as log entry 1.
//
// No log then holds entry 1, so a leader can never catch a replica with an
// empty log up by replaying the log from its start: it must send a
// snapshot, which is an export of the FSM's state (exportingStore). The
// log of a range born by a split does not hold what the range inherited,
// and replaying it, from a leader that never truncated its log, gave a new
// replica none of that data: a replica added while leadership moved to
// such a node (replica.PrepareNewReplica truncates only the log of the
// leader that adds) lost every row the range was born with.
func bootstrap(rc *raft.Config, stable raft.StableStore, snaps raft.SnapshotStore, tr raft.Transport, conf raft.Configuration) error {
	if err := raft.ValidateConfig(rc); err != nil {
		return err
	}
	// raft's stable-store key for the current term, set first as
	// raft.BootstrapCluster does.
	if err := stable.SetUint64([]byte("CurrentTerm"), 1); err != nil {
		return fmt.Errorf("current term: %w", err)
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, 1, 1, conf, 1, tr)
	if err != nil {
		return fmt.Errorf("first snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("first snapshot: %w", err)
	}
	return nil
}

// hastenFor bounds how long a follower keeps the shorter heartbeat timeout
// when no other leader shows up.
const hastenFor = 10 * time.Second

// hasten is called when a pipeline stream from from ended
// (GroupTransport.SetPipelineEndedHandler). If from is this follower's
// leader, the follower campaigns after the leader lease timeout without
// contact instead of the heartbeat timeout, until another leader is known
// (or hastenFor passes). A leader whose process died is then replaced in
// one or two lease timeouts instead of up to twice the heartbeat timeout;
// the group's other followers lose their streams too, so they stop
// refusing votes for having a leader at about the same time.
//
// A false alarm (the leader closed the stream and lives on) costs nothing
// while its heartbeats arrive: the shorter timeout never fires. It is no
// shorter than the time after which the leader itself steps down without
// contact from a quorum. Leases stay safe: no follower's timeout goes
// below the leader lease timeout, which bounds every lease (lease.go).
func (g *Group) hasten(from raft.ServerAddress) {
	if g.fastHeartbeat == 0 || g.raft.State() != raft.Follower {
		return
	}
	if addr, _ := g.raft.LeaderWithID(); addr != from || !g.hastened.CompareAndSwap(false, true) {
		return
	}
	if !g.enter() {
		return
	}
	defer g.leave()
	g.setHeartbeatTimeout(g.fastHeartbeat)
	g.bg.Add(1)
	go g.slowDown(from)
}

// slowDown restores the usual heartbeat timeout of a hastened follower
// (FastElection, hasten) once it knows a leader other than lost (or after
// hastenFor, whatever happens).
func (g *Group) slowDown(lost raft.ServerAddress) {
	defer g.bg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(hastenFor)
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
		}
		if addr, _ := g.raft.LeaderWithID(); (addr == "" || addr == lost) && time.Now().Before(deadline) {
			continue
		}
		g.setHeartbeatTimeout(g.heartbeat)
		g.hastened.Store(false)
		return
	}
}

// CampaignNow makes a follower that has never heard from a leader (a new
// group, see GroupConfig.FastElection) campaign at once rather than when
// its heartbeat timer fires. It does nothing to a leader, a candidate, or a
// follower that has heard from a leader within the heartbeat timeout (raft
// checks its last contact).
//
// Raft has no call for it: a shorter heartbeat timeout makes a follower's
// timer fire at once, so the timeout is set 1 ms shorter (or longer, then
// back) and restored.
func (g *Group) CampaignNow() {
	if !g.enter() {
		return
	}
	defer g.leave()
	g.compactMu.Lock()
	defer g.compactMu.Unlock()
	rc := g.raft.ReloadableConfig()
	d := rc.HeartbeatTimeout
	rc.HeartbeatTimeout = d - time.Millisecond
	if g.raft.ReloadConfig(rc) != nil {
		// At the leader lease timeout already: go up first.
		rc.HeartbeatTimeout = d + time.Millisecond
		if g.raft.ReloadConfig(rc) != nil {
			return
		}
	}
	rc.HeartbeatTimeout = d
	_ = g.raft.ReloadConfig(rc)
}

// HeartbeatTimeout returns the heartbeat timeout in force: the leader
// lease timeout while a follower is about to campaign (see hasten), else
// Timing.HeartbeatTimeout.
func (g *Group) HeartbeatTimeout() time.Duration { return g.raft.ReloadableConfig().HeartbeatTimeout }

// setHeartbeatTimeout changes raft's heartbeat timeout; a follower's timer
// restarts with it at once.
func (g *Group) setHeartbeatTimeout(d time.Duration) {
	g.compactMu.Lock()
	defer g.compactMu.Unlock()
	rc := g.raft.ReloadableConfig()
	rc.HeartbeatTimeout = d
	_ = g.raft.ReloadConfig(rc)
}

// ID returns the group id.
func (g *Group) ID() GroupID { return g.id }

// Propose replicates cmd and applies it; it returns the FSM's response and
// the entry's index once it is applied on this node. A failure that
// matches ErrUnknownOutcome comes with the index the entry was given (0
// if unknown).
func (g *Group) Propose(ctx context.Context, cmd []byte) (any, uint64, error) {
	if !g.enter() {
		return nil, 0, ErrGroupShutdown
	}
	defer g.leave()
	f := g.raft.Apply(cmd, timeoutOf(ctx, 10*time.Second))
	if err := f.Error(); err != nil {
		// raft refuses before appending with ErrNotLeader, ErrNotVoter,
		// ErrLeadershipTransferInProgress and ErrEnqueueTimeout. Leadership
		// lost and a restore come after; a shutdown may come either way
		// (index 0 when raft had not appended the entry), and counts as
		// unknown.
		if errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrAbortedByRestore) || errors.Is(err, raft.ErrRaftShutdown) {
			// The index raft gave the entry, for a caller that waits to
			// see what was applied there.
			return nil, f.Index(), fmt.Errorf("%w: %w", ErrUnknownOutcome, translate(err))
		}
		return nil, 0, translate(err)
	}
	return f.Response(), f.Index(), nil
}

// VerifyLeader returns nil if this node is still the leader after a round of
// contact with a quorum.
func (g *Group) VerifyLeader() error {
	if !g.enter() {
		return ErrGroupShutdown
	}
	defer g.leave()
	return translate(g.raft.VerifyLeader().Error())
}

// Barrier waits until every entry committed before the call is applied.
// Its entry never reaches the FSM: an FSM that tracks its applied index
// must not wait for the barrier's index.
func (g *Group) Barrier(ctx context.Context) error {
	return translate(g.raft.Barrier(timeoutOf(ctx, 10*time.Second)).Error())
}

// HasLease reports whether this node leads the group and holds a leader
// lease (lease.go): a quorum acknowledged it so recently that no other
// leader can exist yet, so a read needs no VerifyLeader round.
func (g *Group) HasLease() bool {
	if g.raft.State() != raft.Leader || g.leaseDuration <= 0 {
		return false
	}
	term := g.Term()
	servers := g.raft.GetConfiguration().Configuration().Servers
	return g.transport.leases.held(term, g.localID, servers, time.Now(), g.leaseDuration)
}

// IsLeader reports whether this node currently believes it leads the group.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// State returns the raft state name (Leader, Follower, Candidate, Shutdown).
func (g *Group) State() string { return g.raft.State().String() }

// Leader returns the node id and address of the leader as known here, 0 if
// none is known.
func (g *Group) Leader() (uint64, raft.ServerAddress) {
	addr, id := g.raft.LeaderWithID()
	return NodeIDOf(id), addr
}

// Term returns the current term.
func (g *Group) Term() uint64 { return g.raft.CurrentTerm() }

// CommitIndex and AppliedIndex expose raft's progress.
func (g *Group) CommitIndex() uint64  { return g.raft.CommitIndex() }
func (g *Group) AppliedIndex() uint64 { return g.raft.AppliedIndex() }
func (g *Group) LastIndex() uint64    { return g.raft.LastIndex() }

// Entry returns the term and data of the log entry at index on this node;
// ok is false when the log does not hold it (truncated, compacted, not yet
// appended).
func (g *Group) Entry(index uint64) (term uint64, data []byte, ok bool) {
	if !g.enter() {
		return 0, nil, false // closing: the engine may close next
	}
	defer g.leave()
	var l raft.Log
	if err := g.logs.GetLog(index, &l); err != nil {
		return 0, nil, false
	}
	return l.Term, l.Data, true
}

// Configuration returns the current membership.
func (g *Group) Configuration() ([]raft.Server, error) {
	f := g.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, translate(err)
	}
	return f.Configuration().Servers, nil
}

// AddNonvoter adds a node that receives the log but does not vote.
func (g *Group) AddNonvoter(ctx context.Context, nodeID uint64, addr raft.ServerAddress) error {
	return translate(g.raft.AddNonvoter(ServerID(nodeID), addr, 0, timeoutOf(ctx, 10*time.Second)).Error())
}

// AddVoter adds a voter or promotes a non-voter.
func (g *Group) AddVoter(ctx context.Context, nodeID uint64, addr raft.ServerAddress) error {
	return translate(g.raft.AddVoter(ServerID(nodeID), addr, 0, timeoutOf(ctx, 10*time.Second)).Error())
}

// RemoveServer removes a member.
func (g *Group) RemoveServer(ctx context.Context, nodeID uint64) error {
	return translate(g.raft.RemoveServer(ServerID(nodeID), 0, timeoutOf(ctx, 10*time.Second)).Error())
}

// TransferLeadership hands leadership to nodeID (0: to the most caught-up
// follower). It ends this node's lease for the current term first: the
// target's vote requests bypass the followers' loyalty to a known leader.
func (g *Group) TransferLeadership(nodeID uint64, addr raft.ServerAddress) error {
	g.transport.leases.end(g.Term())
	if nodeID == 0 {
		return translate(g.raft.LeadershipTransfer().Error())
	}
	return translate(g.raft.LeadershipTransferToServer(ServerID(nodeID), addr).Error())
}

// CompactLog takes a raft snapshot and truncates the whole log up to it
// (no trailing entries), so that a replica added next catches up by
// snapshot, never by replaying the log from its start. A range made by a
// split must be caught up that way: its log does not hold the data it
// inherited. The caller first appends an entry of its own (Snapshot needs
// something new to snapshot). Concurrent calls are serialized.
func (g *Group) CompactLog() error {
	g.compactMu.Lock()
	defer g.compactMu.Unlock()
	rc := g.raft.ReloadableConfig()
	tmp := rc
	tmp.TrailingLogs = 0
	if err := g.raft.ReloadConfig(tmp); err != nil {
		return err
	}
	defer func() { _ = g.raft.ReloadConfig(rc) }()
	err := g.raft.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return translate(err)
}

// Close stops the group's raft instance and its transport; state stays.
func (g *Group) Close() error {
	v := &g.calls
	v.Lock()
	v.closed = true
	var idle chan struct{}
	if v.inflight > 0 {
		idle = make(chan struct{})
		v.idle = idle
	}
	v.Unlock()
	if idle != nil {
		t := time.NewTimer(drainTimeout)
		select {
		case <-idle:
		case <-t.C:
		}
		t.Stop()
	}
	g.closeMu.Do(func() { close(g.done) })
	g.bg.Wait()
	err := g.raft.Shutdown().Error()
	if cerr := g.transport.Close(); err == nil {
		err = cerr
	}
	return translate(err)
}

// Destroy closes the group and removes its raft log, stable state and
// snapshots from this node.
func (g *Group) Destroy() error {
	if err := g.Close(); err != nil && !errors.Is(err, ErrGroupShutdown) {
		return err
	}
	if err := g.logs.Destroy(); err != nil {
		return err
	}
	return os.RemoveAll(g.snapDir)
}

// SnapshotDirFor is where group id keeps snapshots under a node's root.
func SnapshotDirFor(root string, id GroupID) string {
	return filepath.Join(root, "r"+strconv.FormatUint(uint64(id), 10))
}

func timeoutOf(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if t := time.Until(d); t > 0 {
			return t
		}
		return time.Millisecond
	}
	return def
}

// translate maps hashicorp/raft errors to this package's.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%w (%v)", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w (%v)", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrGroupShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w (%v)", ErrTimeout, err)
	}
	return err
}

// newHCLogger adapts slog to hashicorp's hclog, which raft logs through.
// Only raft's warnings and errors pass; they arrive as one slog warning each.
func newHCLogger(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       hclog.Warn,
		Output:      slogWriter{l},
		DisableTime: true,
	})
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
