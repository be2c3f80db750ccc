package controller

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"
)

// Config holds the controller's thresholds and windows.
type Config struct {
	// Replicas is the target number of voters per range (capped by the
	// number of usable nodes).
	Replicas int
	// RangeMaxBytes splits a range larger than this.
	RangeMaxBytes uint64
	// SplitQPS (reads or writes per second) and SplitCPU (share of one
	// core) split a range over either for SplitWindow.
	SplitQPS, SplitCPU float64
	SplitWindow        time.Duration
	// MergeAfter is how long two neighbours must stay cold and small
	// before they merge; MergeCooldown keeps a range that split from
	// merging for that long.
	MergeAfter, MergeCooldown time.Duration
	// DeadAfter: a node not heard from this long is dead.
	DeadAfter time.Duration
	// ReportInterval is how often leaders report; a report older than
	// three intervals is stale and no load decision is made on it.
	ReportInterval time.Duration
	// MaxSplitImbalance: a load split leaving more than this share of the
	// load on one side is useless. HotKeyShare: a block with at least this
	// share of the load is a hot key.
	MaxSplitImbalance, HotKeyShare float64
	// RebalanceTolerance is how far from the mean a node's replica or
	// leader count may be.
	RebalanceTolerance int
	// MaxConcurrentMoves bounds replica moves (and, separately, merges) in
	// flight; MaxLeaderTransfersPerRound bounds leader transfers per round.
	MaxConcurrentMoves, MaxLeaderTransfersPerRound int
}

// DefaultConfig returns the defaults of the product.
func DefaultConfig() Config {
	return Config{
		Replicas: 3, RangeMaxBytes: 64 << 20,
		SplitQPS: 2500, SplitCPU: 0.5, SplitWindow: 10 * time.Second,
		MergeAfter: 5 * time.Minute, MergeCooldown: 5 * time.Minute,
		DeadAfter: 60 * time.Second, ReportInterval: time.Second,
		MaxSplitImbalance: 0.9, HotKeyShare: 0.5,
		RebalanceTolerance: 1, MaxConcurrentMoves: 2, MaxLeaderTransfersPerRound: 4,
	}
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var errs []error
	if c.Replicas < 1 {
		errs = append(errs, fmt.Errorf("controller: replicas %d < 1", c.Replicas))
	}
	if c.RangeMaxBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("controller: range max bytes %d is below 1 KiB", c.RangeMaxBytes))
	}
	if c.SplitQPS <= 0 || c.SplitCPU <= 0 {
		errs = append(errs, errors.New("controller: split thresholds must be positive"))
	}
	for name, d := range map[string]time.Duration{"split window": c.SplitWindow, "merge-after": c.MergeAfter,
		"dead-after": c.DeadAfter, "report interval": c.ReportInterval} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("controller: %s must be positive", name))
		}
	}
	if c.MergeCooldown < 0 {
		errs = append(errs, errors.New("controller: merge cool-down must not be negative"))
	}
	if c.MaxSplitImbalance <= 0.5 || c.MaxSplitImbalance > 1 || c.HotKeyShare <= 0 || c.HotKeyShare > 1 {
		errs = append(errs, errors.New("controller: split imbalance must be in (0.5, 1] and hot key share in (0, 1]"))
	}
	if c.RebalanceTolerance < 0 || c.MaxConcurrentMoves < 1 || c.MaxLeaderTransfersPerRound < 0 {
		errs = append(errs, errors.New("controller: rebalance tolerance, move budget and transfers per round out of range"))
	}
	return errors.Join(errs...)
}

// Node is a node as the controller sees it.
type Node struct {
	ID       uint64
	LastSeen time.Time
	// Draining, Decommissioning and Removed are what an operator asked.
	Draining, Decommissioning, Removed bool
}

// Replica is one replica of a range.
type Replica struct {
	NodeID uint64
	Voter  bool
}

// Load is a range's decayed load.
type Load struct {
	ReadsPerSec, WritesPerSec, WriteBytesPerSec, CPUPerSec float64
}

// LoadSplit is where the range's leader would cut it by load (see
// range/loadstats.Split).
type LoadSplit struct {
	Key      []byte
	Balance  float64
	HotBlock []byte
	HotShare float64
	Samples  int
}

// Range is a range with its latest report.
type Range struct {
	ID, Generation   uint64
	StartKey, EndKey []byte
	Replicas         []Replica
	// Leader is the reporting leader's node (0: unknown).
	Leader uint64
	Load   Load
	Bytes  uint64
	Keys   uint64
	// SizeSplitKey is the middle block boundary, reported when the range
	// is over the size limit.
	SizeSplitKey []byte
	LoadSplit    LoadSplit
	// ReportedAt is when the report arrived (zero: none); SplitAt when the
	// range last split (zero: unknown).
	ReportedAt time.Time
	SplitAt    time.Time
	// Sticky: the range's start key is a boundary a person or a template
	// chose; it is never merged into its left neighbour.
	Sticky bool
}

// State is the controller's input for one round.
type State struct {
	Now      time.Time
	Nodes    []Node
	Ranges   []Range // in key order
	InFlight []Action
	// ShardCaps caps the ranges of some databases (by id): a database at
	// its cap is not split (its template's max shards).
	ShardCaps map[uint32]int
	// Dropped are the ids of dropped databases. A range all of whose keys
	// belong to dropped databases is released: it merges with a released
	// neighbour at once, across database and sticky boundaries.
	Dropped map[uint32]bool
}

// Kind is what an action does.
type Kind int

// The kinds of action.
const (
	Split Kind = iota + 1
	Merge
	Relocate
	AddReplica
	RemoveReplica
	TransferLeader
	MarkRemoved
)

func (k Kind) String() string {
	switch k {
	case Split:
		return "split"
	case Merge:
		return "merge"
	case Relocate:
		return "relocate"
	case AddReplica:
		return "add-replica"
	case RemoveReplica:
		return "remove-replica"
	case TransferLeader:
		return "transfer-leader"
	case MarkRemoved:
		return "mark-removed"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// isMove tells whether an action copies or removes a replica (the budget).
func (k Kind) isMove() bool { return k == Relocate || k == AddReplica || k == RemoveReplica }

// Action is one decision for the executor.
type Action struct {
	Kind    Kind
	RangeID uint64
	// RightID is, for Merge, the right-hand range merged into RangeID.
	RightID uint64
	// Key is where a Split cuts.
	Key []byte
	// From and To are node ids: Relocate From→To, AddReplica To,
	// RemoveReplica From, TransferLeader To, MarkRemoved From.
	From, To uint64
	// Reason is a short label ("load", "size", "cold", "dead-node", ...),
	// Detail the sentence for people.
	Reason, Detail string
}

// Event is a decision or a non-decision worth knowing.
type Event struct {
	RangeID, NodeID uint64
	Kind, Message   string
}

// Plan is one round's decisions.
type Plan struct {
	Actions []Action
	Events  []Event
}

// noteKey identifies a repeated non-decision.
type noteKey struct {
	rangeID, nodeID uint64
	kind            string
}

type note struct {
	msg string
	at  time.Time
}

// noteEvery is how often an unchanged non-decision is recorded again.
const noteEvery = time.Minute

// memory is what the controller remembers across rounds.
type memory struct {
	hotSince  map[uint64]time.Time
	coldSince map[uint64]time.Time
	splitAt   map[uint64]time.Time
	notes     map[noteKey]note
	dead      map[uint64]bool
	// transferAt is when each range's leadership was last moved, and
	// lastTransfer the last move of any.
	transferAt   map[uint64]time.Time
	lastTransfer time.Time
	// movedAt is when a replica of each range was last moved.
	movedAt map[uint64]time.Time
}

func newMemory() *memory {
	return &memory{hotSince: map[uint64]time.Time{}, coldSince: map[uint64]time.Time{}, splitAt: map[uint64]time.Time{},
		notes: map[noteKey]note{}, dead: map[uint64]bool{}, transferAt: map[uint64]time.Time{}, movedAt: map[uint64]time.Time{}}
}

func (m *memory) clone() *memory {
	return &memory{hotSince: maps.Clone(m.hotSince), coldSince: maps.Clone(m.coldSince), splitAt: maps.Clone(m.splitAt),
		notes: maps.Clone(m.notes), dead: maps.Clone(m.dead), transferAt: maps.Clone(m.transferAt), lastTransfer: m.lastTransfer, movedAt: maps.Clone(m.movedAt)}
}

// Controller decides, remembering what it must across rounds. It is not
// safe for concurrent use.
type Controller struct {
	cfg Config
	mem *memory
}

// New returns a controller with no memory.
func New(cfg Config) *Controller { return &Controller{cfg: cfg, mem: newMemory()} }

// Forget drops what the controller remembers of range id.
func (c *Controller) Forget(id uint64) {
	delete(c.mem.hotSince, id)
	delete(c.mem.coldSince, id)
	delete(c.mem.splitAt, id)
	delete(c.mem.transferAt, id)
	delete(c.mem.movedAt, id)
	for k := range c.mem.notes {
		if k.rangeID == id {
			delete(c.mem.notes, k)
		}
	}
}

// Decide returns this round's plan and updates the memory.
func (c *Controller) Decide(st State) Plan {
	r := newRound(c.cfg, c.mem, st)
	r.decide()
	return r.plan
}

// sortedIDs returns a map's keys in order.
func sortedIDs[V any](m map[uint64]V) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
