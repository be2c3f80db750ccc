package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/loadstats"
	"github.com/shardingsystem/shard/replication"
)

// ErrNotInitialized is returned by a replica that has no descriptor yet.
var ErrNotInitialized = errors.New("replica: not initialized")

// Config describes one replica on this node.
type Config struct {
	RangeID uint64
	NodeID  uint64
	Engine  *engine.Engine
	Logger  *slog.Logger
	// OnSplit is called on the apply goroutine after a split trigger is
	// durably applied, with the new right-hand descriptor; the store opens
	// the right-hand replica (its descriptor is already stored).
	OnSplit func(right *kvpb.RangeDescriptor)
	// Clock returns the time used to propose write timestamps.
	Clock func() time.Time
	// TSO hands out transaction timestamps (the cluster's oracle): the
	// first of n consecutive ones, all for this caller. A leader takes
	// one-phase commit timestamps from it.
	TSO func(ctx context.Context, n int) (engine.Timestamp, error)
	// Processor compiles the scan programs that scans may carry (see
	// program.go); nil refuses them. Usually a ProgramCache shared by the
	// node's replicas.
	Processor Processor
	// WaitMerge blocks, on the apply goroutine of a merge's left-hand
	// range, until this node's replica of the right-hand range has applied
	// index (see merge.go); an error means the node is shutting down.
	WaitMerge func(rightID, index uint64) error
	// OnMerge is called after a merge is durably applied: the store closes
	// the right-hand replica and removes its local state.
	OnMerge func(rightID uint64)
	// ObserveApply, if set, gets the time from proposing each command of
	// this node to its apply here.
	ObserveApply func(d time.Duration)
}

// Replica is one range's state machine on this node: it implements
// raft.FSM over the range's span of the node's engine. Its methods are safe
// for concurrent use; Apply, ApplyBatch, Snapshot and Restore are called by
// raft from one goroutine.
type Replica struct {
	cfg   Config
	id    uint64
	eng   *engine.Engine
	log   *slog.Logger
	group *replication.Group // set once by Attach before use
	// latches are held on the keys of one-phase commits in flight.
	latches *latches
	// memLocks are the write locks taken at this leaseholder (memlock.go).
	memLocks *memLocks
	// outcomes carry the results of the one-phase commits proposed here to
	// their proposers, for one that lost leadership meanwhile (outcome.go).
	outcomes outcomes
	// load measures the requests the replica serves (see stats.go).
	load *loadstats.Tracker

	mu struct {
		sync.Mutex
		// applied advances under mu; cond is broadcast on every advance.
		cond    *sync.Cond
		desc    *kvpb.RangeDescriptor // nil when not initialized
		applied uint64
		lastTS  engine.Timestamp
		// gcThreshold: snapshot reads below it are refused.
		gcThreshold engine.Timestamp
		// readyTerm is the term in which this node, as leader, has applied a
		// barrier: reads in that term see everything committed before it.
		readyTerm uint64
		destroyed bool
		// splitAt is when this replica last applied a split (in memory).
		splitAt time.Time
	}
	// restores counts the snapshots restored since the replica opened: the
	// applied index jumped over entries whose results nobody saw. Atomic,
	// as every one-phase commit reads it.
	restores atomic.Uint64
}

// appliedState is stored at keys.ReplicaKey(id, 'a'): index:8 lastTS:8.
func appliedKey(id uint64) []byte { return keys.ReplicaKey(id, keys.ReplicaAppliedSuffix, nil) }

// DescriptorKey is where a replica's descriptor is stored on its node.
func DescriptorKey(id uint64) []byte { return keys.ReplicaKey(id, keys.ReplicaDescSuffix, nil) }

func encodeApplied(index uint64, ts engine.Timestamp) []byte {
	b := binary.BigEndian.AppendUint64(nil, index)
	return binary.BigEndian.AppendUint64(b, uint64(ts))
}

// Open loads the replica's persisted state (descriptor and applied index).
// desc, if not nil, is stored as the descriptor of a replica that has none
// (a new replica created for up-replication).
func Open(cfg Config, desc *kvpb.RangeDescriptor) (*Replica, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	r := &Replica{cfg: cfg, id: cfg.RangeID, eng: cfg.Engine, log: cfg.Logger.With("range", cfg.RangeID), latches: newLatches(), memLocks: newMemLocks(),
		load: loadstats.NewTracker(loadstats.Config{})}
	r.mu.cond = sync.NewCond(&r.mu.Mutex)
	stored, err := LoadDescriptor(cfg.Engine, cfg.RangeID)
	switch {
	case err == nil:
		r.mu.desc = stored
	case errors.Is(err, engine.ErrNotFound):
		if desc != nil {
			if err := WriteInitialState(cfg.Engine, desc, 0); err != nil {
				return nil, err
			}
			r.mu.desc = proto.Clone(desc).(*kvpb.RangeDescriptor)
		}
	default:
		return nil, err
	}
	v, err := cfg.Engine.Get(appliedKey(cfg.RangeID))
	switch {
	case err == nil && len(v) == 16:
		r.mu.applied = binary.BigEndian.Uint64(v)
		r.mu.lastTS = engine.Timestamp(binary.BigEndian.Uint64(v[8:]))
	case err == nil:
		return nil, fmt.Errorf("replica: r%d: corrupt applied state (%d bytes)", cfg.RangeID, len(v))
	case !errors.Is(err, engine.ErrNotFound):
		return nil, fmt.Errorf("replica: r%d: read applied state: %w", cfg.RangeID, err)
	}
	if r.mu.gcThreshold, err = loadGCThreshold(cfg.Engine, cfg.RangeID); err != nil {
		return nil, fmt.Errorf("replica: r%d: read gc threshold: %w", cfg.RangeID, err)
	}
	return r, nil
}

// GCThreshold returns the timestamp below which reads are refused.
func (r *Replica) GCThreshold() engine.Timestamp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.gcThreshold
}

// LoadDescriptor reads the descriptor stored for range id on this node.
func LoadDescriptor(eng *engine.Engine, id uint64) (*kvpb.RangeDescriptor, error) {
	v, err := eng.Get(DescriptorKey(id))
	if err != nil {
		return nil, err
	}
	d := &kvpb.RangeDescriptor{}
	if err := proto.Unmarshal(v, d); err != nil {
		return nil, fmt.Errorf("replica: r%d: corrupt descriptor: %w", id, err)
	}
	return d, nil
}

// WriteInitialState stores the descriptor and an empty applied state of a
// replica (synced), for a bootstrapped or newly added replica.
func WriteInitialState(eng *engine.Engine, desc *kvpb.RangeDescriptor, lastTS engine.Timestamp) error {
	b := eng.NewBatch()
	defer b.Close()
	if err := putInitialState(b, desc, lastTS); err != nil {
		return err
	}
	return b.Commit(true)
}

// WriteBootstrapState stores the state of a replica whose raft group is to
// be bootstrapped by its descriptor's voters (a new cluster's first ranges),
// with the bootstrap marker (see NeedsBootstrap).
func WriteBootstrapState(eng *engine.Engine, desc *kvpb.RangeDescriptor) error {
	b := eng.NewBatch()
	defer b.Close()
	if err := putInitialState(b, desc, 0); err != nil {
		return err
	}
	if err := b.Put(bootstrapKey(desc.RangeId), []byte{1}); err != nil {
		return err
	}
	return b.Commit(true)
}

func bootstrapKey(id uint64) []byte { return keys.ReplicaKey(id, keys.ReplicaBootstrapSuffix, nil) }

// NeedsBootstrap reports whether the replica's raft group is still to be
// bootstrapped with its descriptor's voters. Only replicas created with the
// marker (WriteBootstrapState, or the right-hand side of a split) are; a
// replica created empty for a leader to fill never bootstraps itself.
func NeedsBootstrap(eng *engine.Engine, id uint64) bool {
	_, err := eng.Get(bootstrapKey(id))
	return err == nil
}

// ClearBootstrap removes the marker once the group is bootstrapped.
func ClearBootstrap(eng *engine.Engine, id uint64) error {
	b := eng.NewBatch()
	defer b.Close()
	if err := b.Delete(bootstrapKey(id)); err != nil {
		return err
	}
	return b.Commit(true)
}

func putInitialState(b *engine.Batch, desc *kvpb.RangeDescriptor, lastTS engine.Timestamp) error {
	enc, err := proto.Marshal(desc)
	if err != nil {
		return err
	}
	if err := b.Put(DescriptorKey(desc.RangeId), enc); err != nil {
		return err
	}
	return b.Put(appliedKey(desc.RangeId), encodeApplied(0, lastTS))
}

// Attach connects the replica to its raft group. It must be called once,
// before the group is used for reads or writes.
func (r *Replica) Attach(g *replication.Group) { r.group = g }

// Group returns the replica's raft group.
func (r *Replica) Group() *replication.Group { return r.group }

// RangeID returns the range id.
func (r *Replica) RangeID() uint64 { return r.id }

// Desc returns a copy of the current descriptor, nil if not initialized.
func (r *Replica) Desc() *kvpb.RangeDescriptor {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.desc == nil {
		return nil
	}
	return proto.Clone(r.mu.desc).(*kvpb.RangeDescriptor)
}

// desc returns the current descriptor itself, nil if not initialized, for
// the request path, which only reads it: the applier and a snapshot's
// restore replace the descriptor with another, never change it in place,
// so the one returned stays as it was. Never modify it.
func (r *Replica) desc() *kvpb.RangeDescriptor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.desc
}

// Applied returns the last applied raft index.
func (r *Replica) Applied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.applied
}

// WaitApplied blocks until the applied index reaches index, ctx ends or
// the replica is destroyed (RangeNotFound).
func (r *Replica) WaitApplied(ctx context.Context, index uint64) error {
	return r.waitApplied(ctx, index)
}

// waitApplied blocks until the applied index reaches index or ctx ends.
func (r *Replica) waitApplied(ctx context.Context, index uint64) error {
	r.mu.Lock()
	applied := r.mu.applied >= index
	r.mu.Unlock()
	if applied {
		return nil // the usual case: no watcher of ctx to set up
	}
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.mu.cond.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.mu.applied < index {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.mu.destroyed {
			return kvpb.NewRangeNotFound(r.id)
		}
		r.mu.cond.Wait()
	}
	return nil
}

// MarkDestroyed wakes every waiter; later requests get RangeNotFound.
func (r *Replica) MarkDestroyed() {
	r.mu.Lock()
	r.mu.destroyed = true
	r.mu.cond.Broadcast()
	r.mu.Unlock()
}

// Stats is what `shard ranges` shows of a replica.
type Stats struct {
	Applied  uint64
	Bytes    uint64
	Keys     uint64
	State    string
	LeaderID uint64
	Term     uint64
}

// Stats computes the replica's stats; it scans the span to count keys.
func (r *Replica) Stats() (Stats, error) {
	desc := r.Desc()
	s := Stats{Applied: r.Applied()}
	if r.group != nil {
		s.State = r.group.State()
		s.LeaderID, _ = r.group.Leader()
		s.Term = r.group.Term()
	}
	if desc == nil {
		return s, nil
	}
	disk, err := r.eng.ApproximateSpanStats(desc.StartKey, desc.EndKey)
	if err != nil {
		return s, err
	}
	// The disk estimate misses what is still in the memtable; the live
	// keys and values counted here are a floor.
	var live uint64
	err = Scan(r.eng, desc.StartKey, desc.EndKey, engine.MaxTimestamp, func(k []byte, _ engine.Timestamp, v []byte) bool {
		s.Keys++
		live += uint64(len(k) + len(v))
		return true
	})
	s.Bytes = max(disk, live)
	return s, err
}

// DestroyState removes everything range id keeps on this node: its local
// state (descriptor, applied index, raft log and stable state, markers)
// and the given spans of user data, in one synced batch. The caller has
// closed the range's raft group and passes only spans that no other replica
// on the node owns.
func DestroyState(eng *engine.Engine, id uint64, data [][2][]byte) error {
	b := eng.NewBatch()
	defer b.Close()
	p := keys.ReplicaPrefix(id)
	if err := b.ClearSpan(p, keys.PrefixEnd(p)); err != nil {
		return err
	}
	for _, sp := range data {
		if err := b.ClearSpan(sp[0], sp[1]); err != nil {
			return err
		}
	}
	return b.Commit(true)
}
