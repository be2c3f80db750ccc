package server

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/serverpb"
)

// The timestamp oracle's I/O part. Every node runs a tsoServer; only the one
// on the meta range's leader hands out timestamps, the others answer
// NotLeader with the leader they know.
//
// One goroutine (run) owns the meta.Oracle and serves requests in batches:
// a request that arrives while a batch is in flight joins the next one. A
// batch is served as:
//
//  1. ready: this node leads the meta range; if the oracle was not loaded in
//     the current raft term, read the window bound with a linearizable read
//     on the local meta replica and start a new oracle strictly above it;
//  2. reserve: take one contiguous block for the whole batch from the
//     oracle; if it passes the window, first raise the window with a
//     conditional put on the local meta replica (a raft write that succeeds
//     only while this node leads, and only if the stored bound is the one
//     this oracle started from or last wrote);
//  3. confirm: a leader lease held (Group.HasLease) or else
//     Group.VerifyLeader, once per batch, after the block was reserved,
//     and the term is still the one the oracle was loaded in;
//  4. answer every request of the batch with its part of the block.
//
// Why a deposed leader never hands out a timestamp after a newer leader did:
// a newer leader was elected with votes from a quorum that, from then on,
// rejects the old term, and it hands out nothing before that (it first reads
// the window and raises it through raft). The old leader's confirm round
// starts after its block was reserved and needs that same quorum, so it
// fails unless it completed before the new leader's election; a lease held
// after the reservation proves the same (no newer leader can be elected
// while it lasts; replication/lease.go). And the new
// leader starts above the window the old one persisted, which bounds all
// the old one can hand out.
//
// Any failure (lost leadership, a failed or ambiguous window write, a term
// change) drops the oracle; the next batch reloads the window, which is
// always safe.
//
// The window's reads and writes are plain (non-transactional) requests on
// the local meta replica: they must never take a timestamp from the oracle
// (a transactional write would wait for the batch that waits for it).
type tsoServer struct {
	log *slog.Logger
	// metaReplica returns the node's replica of the meta range, nil if the
	// node has none (yet).
	metaReplica func() *replica.Replica
	clock       func() time.Time
	ahead       time.Duration
	// stopping is closed when the node stops; waiting requests give up.
	stopping <-chan struct{}
	// wake (capacity 1) tells run that requests are pending.
	wake chan struct{}

	mu struct {
		sync.Mutex
		pending []*tsoRequest
	}

	// Owned by run.
	oracle *meta.Oracle // nil: to be loaded
	term   uint64       // the raft term in which oracle was loaded

	metrics tsoCounters
}

// tsoRequest is one GetTimestamps call waiting for its batch.
type tsoRequest struct {
	n     int
	first engine.Timestamp
	err   error
	done  chan struct{} // closed by run once first or err is set
}

// Bounds of the TSO's work.
const (
	// tsoTick is how often run checks for a new term (to load the window
	// before the first request) and extends the window ahead of demand.
	tsoTick = 50 * time.Millisecond
	// tsoOpTimeout bounds one read or write of the window.
	tsoOpTimeout = 3 * time.Second
	// tsoMaxBatchTotal bounds the timestamps one batch hands out; further
	// requests wait for the next batch.
	tsoMaxBatchTotal = 1 << 20
)

// tsoCounters are the oracle's counters; TSOMetrics snapshots them.
type tsoCounters struct {
	requests, timestamps, batches, extensions, loads, notLeader, failed atomic.Uint64
}

// TSOMetrics is a snapshot of a node's timestamp oracle counters.
type TSOMetrics struct {
	// Requests and Timestamps count GetTimestamps calls answered with
	// timestamps, and the timestamps handed out.
	Requests, Timestamps uint64
	// Batches counts the batches served (one leadership check each).
	Batches uint64
	// Extensions counts window bounds persisted through raft; Loads counts
	// window reads on taking over as leader.
	Extensions, Loads uint64
	// NotLeader counts requests answered NotLeader; Failed counts requests
	// answered with another error (unavailable, lost leadership mid-batch).
	NotLeader, Failed uint64
}

// TSOMetrics returns the node's timestamp oracle counters.
func (s *Server) TSOMetrics() TSOMetrics {
	m := &s.tso.metrics
	return TSOMetrics{
		Requests: m.requests.Load(), Timestamps: m.timestamps.Load(), Batches: m.batches.Load(),
		Extensions: m.extensions.Load(), Loads: m.loads.Load(), NotLeader: m.notLeader.Load(), Failed: m.failed.Load(),
	}
}

func newTSOServer(log *slog.Logger, metaReplica func() *replica.Replica, stopping <-chan struct{}) *tsoServer {
	return &tsoServer{
		log: log.With("component", "tso"), metaReplica: metaReplica, clock: time.Now,
		ahead: meta.DefaultTSOWindow, stopping: stopping, wake: make(chan struct{}, 1),
	}
}

// GetTimestamps serves serverpb.Internal's GetTimestamps.
func (i *internalServer) GetTimestamps(ctx context.Context, req *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error) {
	if req.Count < 1 || req.Count > meta.MaxTSOBatch {
		return &serverpb.GetTimestampsResponse{Error: kvpb.NewInvalid("count %d is outside [1, %d]", req.Count, meta.MaxTSOBatch)}, nil
	}
	first, err := i.s.tso.get(ctx, int(req.Count))
	if err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) {
			return &serverpb.GetTimestampsResponse{Error: kerr}, nil
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &serverpb.GetTimestampsResponse{First: uint64(first), Count: req.Count}, nil
}

// get hands out n contiguous timestamps and returns the first. Errors are
// *kvpb.Error: NotLeader on a node that does not lead the meta range,
// Unavailable when the node stops, ctx ends, or the batch failed.
func (t *tsoServer) get(ctx context.Context, n int) (engine.Timestamp, error) {
	rep := t.metaReplica()
	if rep == nil || !rep.Group().IsLeader() {
		t.metrics.notLeader.Add(1)
		return 0, notMetaLeader(rep)
	}
	r := &tsoRequest{n: n, done: make(chan struct{})}
	t.mu.Lock()
	t.mu.pending = append(t.mu.pending, r)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default: // run is already woken
	}
	select {
	case <-r.done:
		return r.first, r.err
	case <-ctx.Done():
		// The request stays queued; its timestamps, if any, are never used.
		return 0, kvpb.NewUnavailable("timestamps: %v", ctx.Err())
	case <-t.stopping:
		return 0, kvpb.NewUnavailable("node is stopping")
	}
}

// notMetaLeader is the answer of a node that does not lead the meta range.
func notMetaLeader(rep *replica.Replica) *kvpb.Error {
	if rep == nil {
		return kvpb.NewNotLeader(0, "")
	}
	id, addr := rep.Group().Leader()
	return kvpb.NewNotLeader(id, string(addr))
}

// run serves batches until ctx ends; the server's loops own it.
func (t *tsoServer) run(ctx context.Context) {
	tick := time.NewTicker(tsoTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.failPending(kvpb.NewUnavailable("node is stopping"))
			return
		case <-t.wake:
			for batch := t.take(); len(batch) > 0; batch = t.take() {
				t.serve(ctx, batch)
			}
		case <-tick.C:
			t.maintain(ctx)
		}
	}
}

// take removes the next batch from the queue: every pending request, up
// to tsoMaxBatchTotal timestamps (at least one request).
func (t *tsoServer) take() []*tsoRequest {
	t.mu.Lock()
	defer t.mu.Unlock()
	total, k := 0, 0
	for k < len(t.mu.pending) && (k == 0 || total+t.mu.pending[k].n <= tsoMaxBatchTotal) {
		total += t.mu.pending[k].n
		k++
	}
	batch := t.mu.pending[:k:k]
	t.mu.pending = t.mu.pending[k:]
	if len(t.mu.pending) == 0 {
		t.mu.pending = nil
	}
	return batch
}

func (t *tsoServer) failPending(err error) {
	t.mu.Lock()
	pending := t.mu.pending
	t.mu.pending = nil
	t.mu.Unlock()
	for _, r := range pending {
		r.err = err
		close(r.done)
	}
}

// serve answers one batch (see tsoServer).
func (t *tsoServer) serve(ctx context.Context, batch []*tsoRequest) {
	total := 0
	for _, r := range batch {
		total += r.n
	}
	rep := t.metaReplica()
	first, err := t.reserve(ctx, rep, total)
	if err == nil {
		err = t.confirm(rep)
	}
	if err != nil {
		var nl *kvpb.Error
		if errors.As(err, &nl) && nl.GetNotLeader() != nil {
			t.metrics.notLeader.Add(uint64(len(batch)))
		} else {
			t.metrics.failed.Add(uint64(len(batch)))
		}
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
		return
	}
	t.metrics.batches.Add(1)
	t.metrics.requests.Add(uint64(len(batch)))
	t.metrics.timestamps.Add(uint64(total))
	next := first
	for _, r := range batch {
		r.first = next
		next += engine.Timestamp(r.n)
		close(r.done)
	}
}

// maintain, on the meta leader, loads the oracle in a new term and extends
// the window ahead of demand; elsewhere it drops the oracle.
func (t *tsoServer) maintain(ctx context.Context) {
	rep := t.metaReplica()
	if rep == nil || !rep.Group().IsLeader() {
		t.oracle = nil
		return
	}
	if err := t.ready(ctx, rep); err != nil {
		t.log.Debug("tso: take over as meta leader", "err", err)
		return
	}
	if ext, ok := t.oracle.ShouldExtend(t.clock()); ok {
		if err := t.extend(ctx, rep, ext); err != nil {
			t.log.Debug("tso: extend the window ahead of demand", "err", err)
		}
	}
}

// ready checks that this node leads the meta range and that the oracle was
// loaded in the current term, loading it if not.
func (t *tsoServer) ready(ctx context.Context, rep *replica.Replica) error {
	if rep == nil || !rep.Group().IsLeader() {
		t.oracle = nil
		return notMetaLeader(rep)
	}
	// The term is read before the window: if it changes during the read,
	// the next batch sees a term other than t.term and reloads.
	term := rep.Group().Term()
	if t.oracle != nil && t.term == term {
		return nil
	}
	t.oracle = nil
	window, err := t.readWindow(ctx, rep)
	if err != nil {
		return err
	}
	t.oracle, t.term = meta.NewOracle(window, t.ahead), term
	t.metrics.loads.Add(1)
	t.log.Info("tso: serving as meta leader", "term", term, "above", window)
	return nil
}

// readWindow reads the window bound with a linearizable read on the local
// meta replica (which fails unless this node leads it).
func (t *tsoServer) readWindow(ctx context.Context, rep *replica.Replica) (engine.Timestamp, error) {
	ctx, cancel := context.WithTimeout(ctx, tsoOpTimeout)
	defer cancel()
	key := meta.TSOWindowKey()
	resp, err := rep.Execute(ctx, &kvpb.BatchRequest{RangeId: meta.MetaRangeID, Requests: []*kvpb.Request{
		{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: key}}},
	}})
	if err != nil {
		return 0, tsoError("read the window", err)
	}
	if len(resp.Responses) != 1 {
		return 0, kvpb.NewUnavailable("tso: read the window: %d responses to one request", len(resp.Responses))
	}
	g := resp.Responses[0].GetGet()
	w, err := meta.DecodeTSOWindow(g.GetValue(), g.GetFound())
	if err != nil {
		t.log.Error("tso: the stored window is corrupt; no timestamps until it is repaired", "err", err)
		return 0, kvpb.NewUnavailable("tso: %v", err)
	}
	return w, nil
}

// reserve takes a block of n timestamps from the oracle, extending the
// window first when the block needs it.
func (t *tsoServer) reserve(ctx context.Context, rep *replica.Replica, n int) (engine.Timestamp, error) {
	if err := t.ready(ctx, rep); err != nil {
		return 0, err
	}
	// Each extension reaches DefaultTSOWindow beyond the block, so a second
	// one happens only when the clock jumped meanwhile.
	for range 3 {
		first, ext := t.oracle.Next(t.clock(), n)
		if ext == 0 {
			return first, nil
		}
		if err := t.extend(ctx, rep, ext); err != nil {
			return 0, err
		}
	}
	return 0, kvpb.NewUnavailable("tso: the window keeps falling behind the clock")
}

// extend persists the window bound w through the meta range's raft log: a
// conditional put on the local replica, expecting the bound this oracle
// started from or last wrote. It fails, and drops the oracle, if this node
// no longer leads or another leader wrote the bound meanwhile; an ambiguous
// failure also drops it (the next batch reads what is stored).
func (t *tsoServer) extend(ctx context.Context, rep *replica.Replica, w engine.Timestamp) error {
	ctx, cancel := context.WithTimeout(ctx, tsoOpTimeout)
	defer cancel()
	cur := t.oracle.Window()
	cput := &kvpb.ConditionalPutRequest{Key: meta.TSOWindowKey(), Value: meta.EncodeTSOWindow(w)}
	if cur != 0 {
		cput.Expected, cput.ExpectedExists = meta.EncodeTSOWindow(cur), true
	}
	_, err := rep.Execute(ctx, &kvpb.BatchRequest{RangeId: meta.MetaRangeID, Requests: []*kvpb.Request{
		{Value: &kvpb.Request_Cput{Cput: cput}},
	}})
	if err != nil {
		t.oracle = nil
		if meta.IsConditionFailed(err) {
			t.log.Warn("tso: the window changed under this leader; reloading", "expected", cur)
			return kvpb.NewUnavailable("tso: the window changed under this leader")
		}
		return tsoError("extend the window", err)
	}
	t.oracle.Extended(w)
	t.metrics.extensions.Add(1)
	return nil
}

// confirm checks, after the batch's block was reserved, that this node
// still leads the meta range in the term the oracle was loaded in.
func (t *tsoServer) confirm(rep *replica.Replica) error {
	g := rep.Group()
	if !g.HasLease() {
		if err := g.VerifyLeader(); err != nil {
			t.oracle = nil
			return notMetaLeader(rep)
		}
	}
	if g.Term() != t.term {
		t.oracle = nil
		return notMetaLeader(rep)
	}
	return nil
}

// tsoError makes err a *kvpb.Error for the client: structured errors pass,
// anything else is unavailability (the client retries).
func tsoError(what string, err error) error {
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	return kvpb.NewUnavailable("tso: %s: %v", what, err)
}
