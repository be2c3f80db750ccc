package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
)

// Execute serves a batch sent to this range. Reads are served only by a
// leader that has (1) applied an entry of its own in its current term, so it has
// everything committed before it took over, and (2) confirmed with a quorum,
// after the read arrived, that it is still leader, then waited until it has
// applied everything committed at that moment. No deposed leader serves a
// stale read. Writes go through the raft log.
//
// Structured failures (not leader, key outside the range, condition failed)
// come back as *kvpb.Error.
func (r *Replica) Execute(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	if len(ba.Requests) == 0 {
		return &kvpb.BatchResponse{}, nil
	}
	reads, writes := 0, 0
	for _, req := range ba.Requests {
		switch req.Value.(type) {
		case *kvpb.Request_Get, *kvpb.Request_Scan, *kvpb.Request_Refresh, *kvpb.Request_Unlock:
			reads++
		case *kvpb.Request_Put, *kvpb.Request_Delete, *kvpb.Request_Cput, *kvpb.Request_DeleteRange:
			writes++
		default:
			if !txnRequest(req) {
				return nil, kvpb.NewInvalid("unknown request %T", req.Value)
			}
			if len(ba.Requests) != 1 {
				return nil, kvpb.NewInvalid("a transactional request travels alone in its batch")
			}
			writes++
		}
	}
	if reads > 0 && writes > 0 {
		return nil, kvpb.NewInvalid("a batch is all reads or all writes")
	}
	if err := r.checkKeys(ba.Requests); err != nil {
		return nil, err
	}
	start := r.cfg.Clock()
	var resp *kvpb.BatchResponse
	var err error
	var idle time.Duration
	if writes > 0 {
		resp, err = r.write(ctx, ba.Requests)
	} else {
		rctx, clock := withIdleClock(ctx)
		resp, err = r.read(rctx, ba.Requests)
		idle = clock.d
	}
	if err == nil {
		r.recordLoad(ba.Requests, reads, writes, start, idle)
	}
	return resp, err
}

func (r *Replica) checkKeys(reqs []*kvpb.Request) error {
	desc := r.desc()
	if desc == nil {
		return kvpb.NewRangeNotFound(r.id)
	}
	if err := frozen(desc, r.id); err != nil {
		return err
	}
	check := func(k []byte) error {
		if len(k) > keys.MaxUserKeySize {
			return kvpb.NewInvalid("key of %d bytes exceeds the maximum of %d", len(k), keys.MaxUserKeySize)
		}
		if !desc.ContainsKey(k) {
			return kvpb.NewKeyMismatch(k, desc)
		}
		return nil
	}
	for _, req := range reqs {
		var err error
		switch v := req.Value.(type) {
		case *kvpb.Request_Get:
			err = check(v.Get.Key)
		case *kvpb.Request_Put:
			err = check(v.Put.Key)
		case *kvpb.Request_Cput:
			err = check(v.Cput.Key)
		case *kvpb.Request_Delete:
			err = check(v.Delete.Key)
		case *kvpb.Request_Scan:
			err = checkSpan(v.Scan.StartKey, v.Scan.EndKey, desc)
		case *kvpb.Request_DeleteRange:
			err = checkSpan(v.DeleteRange.StartKey, v.DeleteRange.EndKey, desc)
		default:
			for _, k := range txnKeys(req) {
				if err = check(k); err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSpan accepts a span that starts inside the range; the part beyond the
// range's end is left for the client to send to the next range.
func checkSpan(start, end []byte, desc *kvpb.RangeDescriptor) error {
	if len(end) > 0 && bytes.Compare(start, end) >= 0 {
		return kvpb.NewInvalid("empty span [%q, %q)", start, end)
	}
	if !desc.ContainsKey(start) {
		return kvpb.NewKeyMismatch(start, desc)
	}
	return nil
}

func (r *Replica) notLeader() *kvpb.Error {
	id, addr := r.group.Leader()
	return kvpb.NewNotLeader(id, string(addr))
}

// translate turns replication errors into structured kv errors.
func (r *Replica) translate(err error) error {
	switch {
	case errors.Is(err, replication.ErrNotLeader), errors.Is(err, replication.ErrLeadershipLost):
		return r.notLeader()
	case errors.Is(err, replication.ErrGroupShutdown):
		return kvpb.NewRangeNotFound(r.id)
	case errors.Is(err, replication.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return kvpb.NewUnavailable("r%d: %v", r.id, err)
	}
	return err
}

func (r *Replica) write(ctx context.Context, reqs []*kvpb.Request) (*kvpb.BatchResponse, error) {
	if !r.group.IsLeader() {
		return nil, r.notLeader()
	}
	if p := reqs[0].GetOnePc(); p != nil {
		return r.onePC(ctx, p)
	}
	cmd := &kvpb.Command{Timestamp: uint64(nowTimestamp(r.cfg.Clock())), Writes: reqs}
	res, err := r.propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	for _, req := range reqs {
		switch v := req.Value.(type) {
		case *kvpb.Request_Commit:
			r.memLocks.release(v.Commit.StartTs, v.Commit.Keys)
		case *kvpb.Request_Rollback:
			r.memLocks.release(v.Rollback.StartTs, v.Rollback.Keys)
		}
	}
	return &kvpb.BatchResponse{Responses: res.Responses}, nil
}

// onePC commits a single-range transaction: it latches the keys, takes the
// commit timestamp from the oracle, and proposes the commit (see latches).
// A transaction that read nothing may come without a start timestamp
// (kv.BeginDeferred): it then takes the start and the commit timestamp
// from the oracle together, here, under the latches. A retry of such a
// commit after an ambiguous failure comes with no start either and may
// apply a second time; its writes are blind, so the outcome is the same.
func (r *Replica) onePC(ctx context.Context, p *kvpb.OnePCRequest) (*kvpb.BatchResponse, error) {
	if r.cfg.TSO == nil {
		return nil, kvpb.NewInvalid("r%d has no timestamp oracle", r.id)
	}
	keys := make([][]byte, len(p.Mutations))
	for i, m := range p.Mutations {
		keys[i] = m.Key
	}
	release := r.latches.acquire(keys)
	defer release()
	n := 1
	if p.StartTs == 0 {
		n = 2
	}
	first, err := r.cfg.TSO(ctx, n)
	if err != nil {
		return nil, kvpb.NewUnavailable("r%d: commit timestamp: %v", r.id, err)
	}
	req := proto.Clone(p).(*kvpb.OnePCRequest)
	if p.StartTs == 0 {
		req.StartTs = uint64(first)
	}
	req.CommitTs = uint64(first) + uint64(n-1)
	res, err := r.proposeWatched(ctx, &kvpb.Command{Writes: []*kvpb.Request{{Value: &kvpb.Request_OnePc{OnePc: req}}}}, req.CommitTs)
	if err != nil {
		return nil, err
	}
	r.memLocks.release(p.StartTs, keys)
	return &kvpb.BatchResponse{Responses: res.Responses}, nil
}

// propose replicates cmd and returns its apply result; a deterministic
// rejection comes back as the error.
func (r *Replica) propose(ctx context.Context, cmd *kvpb.Command) (*ApplyResult, error) {
	data, err := proto.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	res, _, err := r.proposeData(ctx, data)
	return res, r.proposeError(err)
}

// proposeData proposes an encoded command; it returns replication's errors
// untranslated and, for a proposal raft appended, its index.
func (r *Replica) proposeData(ctx context.Context, data []byte) (*ApplyResult, uint64, error) {
	start := time.Now()
	resp, index, err := r.group.Propose(ctx, data)
	if err != nil {
		return nil, index, err
	}
	if obs := r.cfg.ObserveApply; obs != nil {
		obs(time.Since(start))
	}
	res, ok := resp.(*ApplyResult)
	if !ok || res == nil {
		return nil, index, fmt.Errorf("replica: r%d: unexpected apply result %T", r.id, resp)
	}
	if res.Err != nil {
		return nil, index, res.Err
	}
	return res, index, nil
}

// proposeError translates a proposal's error (nil stays nil); a proposal
// raft had appended may still be committed and applied, and the error
// says so (kvpb.Error.ambiguous).
func (r *Replica) proposeError(err error) error {
	if err == nil {
		return nil
	}
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return err // the command's own result
	}
	out := r.translate(err)
	if errors.Is(err, replication.ErrUnknownOutcome) && errors.As(out, &kerr) {
		kerr.Ambiguous = true
	}
	return out
}

// EnsureLeaseholder proves that this node leads the range and has applied
// everything committed before the call (see Execute). After it, the
// range's commit index points at an entry the FSM applies.
func (r *Replica) EnsureLeaseholder(ctx context.Context) error { return r.ensureLeaseholder(ctx) }

// ensureLeaseholder proves that this node is leader and has applied all that
// was committed before the call (see Execute).
func (r *Replica) ensureLeaseholder(ctx context.Context) error {
	g := r.group
	if !g.IsLeader() {
		return r.notLeader()
	}
	term := g.Term()
	r.mu.Lock()
	ready := r.mu.readyTerm == term
	r.mu.Unlock()
	if !ready {
		// An empty command rather than raft's Barrier: raft's barrier and
		// no-op entries never reach the FSM, so the FSM's applied index
		// could never catch up with a commit index that points at one.
		// After this command, every entry this leader appends reaches the
		// FSM (commands and configuration changes), so waiting for the
		// FSM to reach the commit index always ends. Never call
		// Group.Barrier on a range.
		if _, err := r.propose(ctx, &kvpb.Command{}); err != nil {
			return err
		}
		r.mu.Lock()
		r.mu.readyTerm = term
		r.mu.Unlock()
	}
	commit := g.CommitIndex()
	// A leader lease (replication/lease.go) proves leadership without a
	// round of heartbeats; without one, ask the quorum.
	if !g.HasLease() {
		if err := g.VerifyLeader(); err != nil {
			return r.translate(err)
		}
	}
	if g.Term() != term {
		return r.notLeader()
	}
	return r.waitApplied(ctx, commit)
}

func (r *Replica) read(ctx context.Context, reqs []*kvpb.Request) (*kvpb.BatchResponse, error) {
	t := r.cfg.Clock()
	err := r.ensureLeaseholder(ctx)
	r.waited(ctx, t)
	if err != nil {
		return nil, err
	}
	// The descriptor may have shrunk (split) while we waited.
	if err := r.checkKeys(reqs); err != nil {
		return nil, err
	}
	desc := r.desc()
	out := &kvpb.BatchResponse{Responses: make([]*kvpb.Response, 0, len(reqs))}
	for _, req := range reqs {
		switch v := req.Value.(type) {
		case *kvpb.Request_Get:
			resp, err := r.get(ctx, v.Get)
			if err != nil {
				return nil, err
			}
			out.Responses = append(out.Responses, &kvpb.Response{Value: &kvpb.Response_Get{Get: resp}})
		case *kvpb.Request_Scan:
			resp, err := r.scan(ctx, v.Scan, desc)
			if err != nil {
				return nil, err
			}
			out.Responses = append(out.Responses, &kvpb.Response{Value: &kvpb.Response_Scan{Scan: resp}})
		case *kvpb.Request_Refresh:
			if err := r.refresh(ctx, v.Refresh); err != nil {
				return nil, err
			}
			out.Responses = append(out.Responses, &kvpb.Response{Value: &kvpb.Response_Refresh{Refresh: &kvpb.RefreshResponse{}}})
		case *kvpb.Request_Unlock:
			r.memLocks.release(v.Unlock.StartTs, v.Unlock.Keys)
			out.Responses = append(out.Responses, &kvpb.Response{Value: &kvpb.Response_Unlock{Unlock: &kvpb.UnlockResponse{}}})
		}
	}
	return out, nil
}

// waitLatches waits for the latches of writes on [start, end) (end nil:
// the key start) to be released, on ctx's idle clock.
func (r *Replica) waitLatches(ctx context.Context, start, end []byte) error {
	t := r.cfg.Clock()
	defer r.waited(ctx, t)
	if err := r.latches.wait(ctx, start, end); err != nil {
		return kvpb.NewUnavailable("r%d: %v", r.id, err)
	}
	return nil
}

// readTS is the timestamp of a read: the newest data for read_ts 0.
func readTS(ts uint64) engine.Timestamp {
	if ts == 0 {
		return engine.MaxTimestamp
	}
	return engine.Timestamp(ts)
}

// checkReadTS refuses a snapshot read below the range's GC threshold: the
// versions it would see may be gone (see gc.go). ts 0 reads the newest data.
func (r *Replica) checkReadTS(ts uint64) error {
	if th := r.GCThreshold(); ts > 0 && engine.Timestamp(ts) < th {
		return kvpb.NewInvalid("r%d: read at %d is below the GC threshold %d", r.id, ts, th)
	}
	return nil
}

func (r *Replica) get(ctx context.Context, g *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	if err := r.checkReadTS(g.ReadTs); err != nil {
		return nil, err
	}
	ts := readTS(g.ReadTs)
	if g.LockFor != 0 {
		t := r.cfg.Clock()
		ok, queued := r.memLocks.acquire(ctx, g.Key, g.LockFor, r.group.IsLeader)
		if queued {
			// The range may have split, or its lease moved, during the
			// wait: the newest version is only ours to read while we
			// serve the key, and a client sent elsewhere retries there.
			if err := r.ensureLeaseholder(ctx); err != nil {
				return nil, err
			}
			if err := r.checkKeys([]*kvpb.Request{{Value: &kvpb.Request_Get{Get: g}}}); err != nil {
				return nil, err
			}
		}
		r.waited(ctx, t)
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, err // the caller gave up: cancelled, or its deadline
			}
			return nil, kvpb.NewWriteConflict(g.Key, 0, "another transaction held the row's write lock too long")
		}
		ts = engine.MaxTimestamp
	}
	if g.ReadTs > 0 || g.LockFor != 0 {
		if err := r.waitLatches(ctx, g.Key, nil); err != nil {
			return nil, err
		}
	}
	ks, err := readKey(r.eng, g.Key, ts)
	if err != nil {
		return nil, err
	}
	if g.ReadTs > 0 || g.LockFor != 0 {
		if l := blockingLock(ks.slot, ts); l != nil && l.StartTs != g.LockFor {
			return nil, kvpb.NewKeyLocked(g.Key, l)
		}
	}
	val, vts, found := ks.value()
	if g.LockFor != 0 && !found {
		// The locker compares the newest version's timestamp with its
		// snapshot, a delete's too.
		vts = ks.vts
	}
	return &kvpb.GetResponse{Found: found, Value: val, Timestamp: uint64(vts)}, nil
}

// Bounds on one scan response.
const (
	maxScanRows  = 10000
	maxScanBytes = 4 << 20
	// maxScanExamined bounds the keys a filtered scan reads per response.
	maxScanExamined = 100000
)

func (r *Replica) scan(ctx context.Context, s *kvpb.ScanRequest, desc *kvpb.RangeDescriptor) (*kvpb.ScanResponse, error) {
	if err := r.checkReadTS(s.ReadTs); err != nil {
		return nil, err
	}
	var run Run
	if len(s.Program) > 0 {
		var err error
		if run, err = r.startProgram(s.Program, s.ProgramArgs); err != nil {
			return nil, err
		}
	}
	start, end := clamp(s.StartKey, s.EndKey, desc)
	// One response holds at most maxScanRows rows and about maxScanBytes
	// (counting what a program holds back for its partial result): the
	// client continues at the resume key.
	limit := int(s.Limit)
	if limit <= 0 || limit > maxScanRows {
		limit = maxScanRows
	}
	size := 0
	ts := readTS(s.ReadTs)
	resp := &kvpb.ScanResponse{}
	if len(s.EndKey) == 0 || bytes.Compare(end, s.EndKey) < 0 {
		// The range ends before the span asked for: the client continues
		// at our end key, whatever its cached descriptor said.
		resp.ResumeKey = append([]byte(nil), end...)
	}
	if s.ReadTs > 0 {
		if err := r.waitLatches(ctx, start, end); err != nil {
			return nil, err
		}
	}
	// The versions and the locks are read from one snapshot: read one
	// after the other from the live engine, a commit applied in between
	// (lock gone, version written) would be missed by both.
	snap := r.eng.NewSnapshot()
	defer snap.Close()
	f := s.Filter
	examined := 0
	// A program that fails on a row stops the scan there; its error is
	// the answer unless a lock up to that row comes first.
	var progErr error
	var lockEnd []byte
	err := Scan(snap, start, end, ts, func(k []byte, vts engine.Timestamp, v []byte) bool {
		heldRows, heldBytes := 0, 0
		if run != nil {
			heldRows, heldBytes = run.Held()
		}
		// Every response reads at least one row, so a scan always moves.
		if examined > 0 && (len(resp.Rows)+heldRows >= limit || size+heldBytes >= maxScanBytes || examined >= maxScanExamined) {
			resp.ResumeKey = append(resp.ResumeKey[:0], k...)
			return false
		}
		examined++
		if f != nil && !f.Matches(k) {
			return true
		}
		if run != nil {
			resp.Examined++
			out, keep, err := run.Row(k, v)
			if err != nil {
				progErr = err
				lockEnd = append(append([]byte(nil), k...), 0)
				return false
			}
			if !keep {
				return true
			}
			v = out
		}
		size += len(k) + len(v)
		resp.Rows = append(resp.Rows, &kvpb.KeyValue{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...), Timestamp: uint64(vts)})
		return true
	})
	if err != nil {
		return nil, err
	}
	if s.ReadTs > 0 {
		// A lock in the part of the span that was read, of a transaction
		// that started at or before the read, must be resolved first.
		if lockEnd == nil {
			lockEnd = end
			if len(resp.ResumeKey) > 0 && bytes.Compare(resp.ResumeKey, end) < 0 {
				lockEnd = resp.ResumeKey
			}
		}
		if err := r.checkScanLocks(snap, start, lockEnd, ts, f); err != nil {
			return nil, err
		}
	}
	if progErr != nil {
		return nil, programError(progErr)
	}
	if run != nil {
		if resp.Partial, err = run.Finish(); err != nil {
			return nil, programError(err)
		}
	}
	return resp, nil
}

// checkScanLocks fails with KeyLocked at the first lock in [start, end) on
// a key that passes f and blocks a read at ts.
func (r *Replica) checkScanLocks(snap engine.Reader, start, end []byte, ts engine.Timestamp, f *kvpb.KeyFilter) error {
	var locked *kvpb.Error
	err := snap.Scan(start, end, func(k, raw []byte) error {
		if f != nil && !f.Matches(k) {
			return nil // a lock on a key the scan does not return
		}
		slot, err := decodeLockSlot(k, raw)
		if err != nil || slot == nil {
			return err
		}
		if l := blockingLock(slot, ts); l != nil {
			locked = kvpb.NewKeyLocked(append([]byte(nil), k...), l)
			return errStopScan
		}
		return nil
	})
	if locked != nil {
		return locked
	}
	return err
}

// refresh fails with a write conflict if a key of f changed in
// (from, to]: a version committed in it, or a lock of another transaction
// that started at or before to, which may commit in it. It waits for the
// latches first, as a read at to does.
func (r *Replica) refresh(ctx context.Context, f *kvpb.RefreshRequest) error {
	from, to := engine.Timestamp(f.FromTs), engine.Timestamp(f.ToTs)
	if to <= from {
		return kvpb.NewInvalid("refresh of (%d, %d]", from, to)
	}
	if err := r.checkReadTS(f.FromTs); err != nil {
		return err
	}
	for _, k := range f.Keys {
		if err := r.waitLatches(ctx, k, nil); err != nil {
			return err
		}
		ks, err := readKey(r.eng, k, to) // the newest version at or below to, a delete too
		if err != nil {
			return err
		}
		if l := blockingLock(ks.slot, to); l != nil && l.StartTs != f.StartTs {
			return kvpb.NewWriteConflict(k, l.StartTs, "a transaction that may commit after the read holds the key's lock")
		}
		if ks.vts > from {
			return kvpb.NewWriteConflict(k, uint64(ks.vts), "a newer version was committed")
		}
	}
	return nil
}
