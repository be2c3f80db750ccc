package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// Transaction errors.
var (
	// ErrWriteConflict means the transaction met a concurrent write and was
	// not committed; the caller restarts it (SQLSTATE 40001).
	ErrWriteConflict = errors.New("kv: write conflict, restart the transaction")
	// ErrTxnAborted means the transaction was rolled back by another one
	// (its locks outlived their TTL); nothing of it was committed.
	ErrTxnAborted = errors.New("kv: transaction aborted")
	// ErrTxnDone is returned when a committed or rolled back transaction is
	// used again.
	ErrTxnDone = errors.New("kv: transaction already finished")
)

// Lock TTLs: a lock lives lockTTL past the moment it was written (counted
// from the transaction's start, as the range sees it), and the coordinator
// extends it every heartbeatEvery while it commits.
const (
	lockTTL        = 3 * time.Second
	heartbeatEvery = time.Second
	// maxLockWaits bounds how many times one operation waits for a pending
	// lock before giving up with a write conflict.
	maxLockWaits = 200
)

// TxnStats counts how transactions committed, and their refreshes (see
// pessimistic.go).
type TxnStats struct {
	OnePC, TwoPC, Conflicts, Aborted, Refreshes uint64
}

type txnCounters struct{ onePC, twoPC, conflicts, aborted, refreshes atomic.Uint64 }

// TxnStats returns the client's transaction counters.
func (c *Client) TxnStats() TxnStats {
	t := &c.txns
	return TxnStats{OnePC: t.onePC.Load(), TwoPC: t.twoPC.Load(), Conflicts: t.conflicts.Load(), Aborted: t.aborted.Load(), Refreshes: t.refreshes.Load()}
}

// Txn is a snapshot-isolation transaction: it reads at its start
// timestamp, buffers its writes, and commits them atomically (Percolator
// style, see range/replica/txn.go): in one raft command when they all fall
// in one range, else by prewriting locks (primary first), taking a commit
// timestamp, committing the primary (the commit point) and resolving the
// secondaries in the background. A Txn is not safe for concurrent use.
type Txn struct {
	c        *Client
	start    engine.Timestamp
	began    time.Time
	readOnly bool
	done     bool
	// lazy: no start timestamp yet (BeginLazy, BeginDeferred); latest: the
	// one read a lazy transaction may make without one was made; deferred:
	// a lazy transaction that may write (BeginDeferred), whose reads take
	// the start timestamp.
	lazy, latest, deferred bool
	onePC                  bool // committed in one raft command
	// read is the read timestamp once a refresh moved it above start
	// (pessimistic.go); 0 before.
	read engine.Timestamp
	// pessimistic: UPDATE and DELETE lock rows as they read them
	// (SetPessimistic); reads are then tracked for refreshes: readKeys
	// the keys read, readPlain set once one was read without a lock,
	// scanned once a span was read (no refresh then), newer the keys a
	// locked read found a version of above the read timestamp, whose
	// refresh waits (pessimistic.go), locked the keys locked, lastLocked
	// the last of them.
	pessimistic bool
	readKeys    map[string]struct{}
	readPlain   bool
	scanned     bool
	newer       map[string]engine.Timestamp
	locked      map[string]bool
	lastLocked  []byte
	writes      map[string]*kvpb.Mutation
	// undo records, for each buffered write, what it replaced (nil: no
	// write), so that RollbackTo can restore a savepoint.
	undo []undoEntry
}

type undoEntry struct {
	key  string
	prev *kvpb.Mutation
}

// Savepoint returns a marker of the writes buffered so far.
func (t *Txn) Savepoint() int { return len(t.undo) }

// RollbackTo discards the writes buffered since Savepoint returned sp.
func (t *Txn) RollbackTo(sp int) {
	for i := len(t.undo) - 1; i >= sp && i >= 0; i-- {
		u := t.undo[i]
		if u.prev == nil {
			delete(t.writes, u.key)
		} else {
			t.writes[u.key] = u.prev
		}
	}
	if sp < len(t.undo) {
		t.undo = t.undo[:max(sp, 0)]
	}
}

// Writes returns the number of buffered writes.
func (t *Txn) Writes() int { return len(t.writes) }

// Begin starts a transaction at a fresh timestamp from the oracle.
func (c *Client) Begin(ctx context.Context) (*Txn, error) {
	ts, err := c.Now(ctx)
	if err != nil {
		return nil, err
	}
	return &Txn{c: c, start: ts, began: time.Now(), writes: map[string]*kvpb.Mutation{}}, nil
}

// ErrNeedSnapshot is returned by a lazy transaction (BeginLazy) asked for
// more after its read of one key's newest version: the caller runs the
// statement again in a transaction from Begin.
var ErrNeedSnapshot = errors.New("kv: the statement needs a snapshot timestamp; run it again after Begin")

// BeginLazy starts a read-only transaction that takes its timestamp from
// the oracle only when it needs one, for a statement that may read a
// single key. If its first operation reads one key, that read gets the
// key's newest committed version from the range's leaseholder and needs no
// timestamp at all. That is linearizable: every write acknowledged before
// the read began is applied at the leaseholder (a lock, whatever its
// timestamp, makes the read resolve it first as any read does), and every
// commit timestamp it can see came from the oracle before the read, so a
// later transaction's snapshot sees it too. After such a read every other
// operation fails with ErrNeedSnapshot: one key's newest version and a
// snapshot taken later need not agree. An operation before it takes the
// timestamp first, as Begin does. Writes fail with ErrNeedSnapshot.
func (c *Client) BeginLazy() *Txn {
	return &Txn{c: c, lazy: true, began: time.Now(), writes: map[string]*kvpb.Mutation{}}
}

// BeginDeferred starts a transaction that takes its start timestamp from
// the oracle at its first read. One that reads nothing and whose writes
// fall in one range commits in one raft command with no timestamp of its
// own: the range's leaseholder takes the start and the commit timestamp
// together when it commits (see replica.onePC), which saves an oracle
// round trip per blind write. That is the transaction that would have
// begun at that moment: it read nothing, so no snapshot of its needs
// protecting, and the leaseholder checks its writes against every lock as
// any commit does. Any other commit takes the start timestamp first.
func (c *Client) BeginDeferred() *Txn {
	return &Txn{c: c, lazy: true, deferred: true, began: time.Now(), writes: map[string]*kvpb.Mutation{}}
}

// latestTS is the read timestamp of a lazy transaction's read of one key:
// the newest version, and every lock blocks it.
const latestTS = engine.MaxTimestamp

// snapshot gives a lazy transaction its start timestamp (see BeginLazy).
func (t *Txn) snapshot(ctx context.Context) error {
	if !t.lazy {
		return nil
	}
	if t.latest {
		return ErrNeedSnapshot
	}
	ts, err := t.c.Now(ctx)
	if err != nil {
		return err
	}
	t.start, t.lazy = ts, false
	return nil
}

// readTS is the timestamp of a read of n keys: latestTS for a lazy
// transaction's first read when it reads one key, else the start
// timestamp (taken now if the transaction is lazy).
func (t *Txn) readTS(ctx context.Context, n int) (engine.Timestamp, error) {
	if t.lazyRead() && !t.latest && n == 1 {
		t.latest = true
		return latestTS, nil
	}
	if err := t.readable(ctx); err != nil {
		return 0, err
	}
	return t.at(), nil
}

// lazyRead reports a lazy read-only transaction (BeginLazy) that has no
// timestamp yet: it may read one key's newest version, nothing else.
func (t *Txn) lazyRead() bool { return t.lazy && !t.deferred }

// at is the timestamp the transaction reads at: its start, or where a
// refresh moved it.
func (t *Txn) at() engine.Timestamp { return max(t.start, t.read) }

// SnapshotAt returns a read-only transaction reading at ts (AS OF reads).
func (c *Client) SnapshotAt(ts engine.Timestamp) *Txn {
	return &Txn{c: c, start: ts, began: time.Now(), readOnly: true, writes: map[string]*kvpb.Mutation{}}
}

// CommittedOnePC reports whether Commit took one raft command.
func (t *Txn) CommittedOnePC() bool { return t.onePC }

// StartTS returns the transaction's read timestamp (0 for a lazy one that
// has not taken it).
func (t *Txn) StartTS() engine.Timestamp { return t.start }

// Get reads key as of the start timestamp, or the transaction's own write.
func (t *Txn) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if t.done {
		return nil, false, ErrTxnDone
	}
	if m, ok := t.writes[string(key)]; ok && m.Op != kvpb.LockOp_LOCK_ONLY {
		return m.Value, m.Op == kvpb.LockOp_LOCK_PUT, nil
	}
	ts, err := t.readTS(ctx, 1)
	if err != nil {
		return nil, false, err
	}
	r, err := t.getAt(ctx, key, ts)
	if err != nil {
		return nil, false, err
	}
	t.noteRead(key, true)
	return r.Value, r.Found, nil
}

// getAt reads key at ts from its range, resolving the locks it meets.
func (t *Txn) getAt(ctx context.Context, key []byte, ts engine.Timestamp) (KeyResult, error) {
	req := &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: key, ReadTs: uint64(ts)}}}
	resp, err := t.c.sendResolving(ctx, key, req)
	if err != nil {
		return KeyResult{}, err
	}
	g := resp.GetGet()
	return KeyResult{Value: g.GetValue(), Found: g.GetFound()}, nil
}

// GetVia is the read of a global index lookup by a lazy transaction that
// has read nothing yet (BeginLazy): the newest version of entry and, if
// there is one, the newest version of the key its value names, with no
// timestamp from the oracle. ok is false, and nothing is read, when the
// transaction cannot: it has a timestamp, or made its one read of a newest
// version. After it, every other operation fails with ErrNeedSnapshot.
//
// The two reads are of two moments. The result is linearizable, as one
// read of the second moment, only when the named key's value implies the
// entry (a row that has the indexed value implies its unique index's
// entry for it, sql's scanRel.lookupLatest): the caller checks that, and
// fails the statement with ErrNeedSnapshot otherwise. An entry not found
// needs no check: no key had it at that moment.
func (t *Txn) GetVia(ctx context.Context, entry []byte) (key []byte, res KeyResult, ok bool, err error) {
	if t.done {
		return nil, KeyResult{}, false, ErrTxnDone
	}
	if !t.lazyRead() || t.latest {
		return nil, KeyResult{}, false, nil
	}
	t.latest = true
	e, err := t.getAt(ctx, entry, latestTS)
	if err != nil || !e.Found {
		return nil, KeyResult{}, true, err
	}
	res, err = t.getAt(ctx, e.Value, latestTS)
	return e.Value, res, true, err
}

// GetForUpdate reads key and locks it at commit, so that a concurrent
// writer of key makes one of the two fail (SELECT ... FOR UPDATE).
func (t *Txn) GetForUpdate(ctx context.Context, key []byte) ([]byte, bool, error) {
	if t.lazyRead() {
		return nil, false, ErrNeedSnapshot
	}
	v, found, err := t.Get(ctx, key)
	if err != nil || t.readOnly {
		return v, found, err
	}
	if _, ok := t.writes[string(key)]; !ok {
		t.undo = append(t.undo, undoEntry{key: string(key)})
		t.writes[string(key)] = &kvpb.Mutation{Op: kvpb.LockOp_LOCK_ONLY, Key: append([]byte(nil), key...)}
	}
	return v, found, nil
}

// Scan reads up to limit keys of [start, end) as of the start timestamp,
// merged with the transaction's own writes.
func (t *Txn) Scan(ctx context.Context, start, end []byte, limit int) ([]*kvpb.KeyValue, error) {
	return t.ScanFiltered(ctx, start, end, limit, nil)
}

// ScanFiltered is Scan of the keys that match filter (nil: all); the
// ranges apply the filter, so only matching rows cross the network.
func (t *Txn) ScanFiltered(ctx context.Context, start, end []byte, limit int, filter *kvpb.KeyFilter) ([]*kvpb.KeyValue, error) {
	if t.done {
		return nil, ErrTxnDone
	}
	if err := t.readable(ctx); err != nil {
		return nil, err
	}
	t.scanned = true
	mine := func(k string) bool {
		return k >= string(start) && k < string(end) && (filter == nil || filter.Matches([]byte(k)))
	}
	own := 0
	for k := range t.writes {
		if mine(k) {
			own++
		}
	}
	if own == 0 {
		return t.c.scanAt(ctx, start, end, limit, t.at(), filter)
	}
	rows, err := t.c.scanAt(ctx, start, end, 0, t.at(), filter)
	if err != nil {
		return nil, err
	}
	merged := map[string]*kvpb.KeyValue{}
	for _, r := range rows {
		merged[string(r.Key)] = r
	}
	for k, m := range t.writes {
		if !mine(k) {
			continue
		}
		switch m.Op {
		case kvpb.LockOp_LOCK_PUT:
			merged[k] = &kvpb.KeyValue{Key: m.Key, Value: m.Value}
		case kvpb.LockOp_LOCK_DELETE:
			delete(merged, k)
		}
	}
	out := make([]*kvpb.KeyValue, 0, len(merged))
	for _, r := range merged {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (t *Txn) buffer(op kvpb.LockOp, key, value []byte) error {
	if t.done {
		return ErrTxnDone
	}
	if t.readOnly {
		return fmt.Errorf("kv: write in a read-only snapshot")
	}
	if t.lazyRead() {
		return ErrNeedSnapshot
	}
	k := string(key)
	prev := t.writes[k]
	t.undo = append(t.undo, undoEntry{key: k, prev: prev})
	// A key inserted (Insert) stays one that must be new, whatever the
	// transaction writes to it next.
	absent := prev != nil && prev.Absent
	t.writes[k] = &kvpb.Mutation{Op: op, Key: append([]byte(nil), key...), Value: append([]byte(nil), value...), Absent: absent}
	return nil
}

// Put buffers a write of key.
func (t *Txn) Put(key, value []byte) error { return t.buffer(kvpb.LockOp_LOCK_PUT, key, value) }

// Insert buffers a write of key that must find it without a live version
// (Mutation.absent), at any timestamp: the commit fails with
// ErrWriteConflict if one exists. It is for keys made from a generated id,
// unique unless the generator repeats itself (a clock set back), which
// must then fail rather than replace what is stored.
func (t *Txn) Insert(key, value []byte) error {
	if err := t.buffer(kvpb.LockOp_LOCK_PUT, key, value); err != nil {
		return err
	}
	t.writes[string(key)].Absent = true
	return nil
}

// Delete buffers a delete of key.
func (t *Txn) Delete(key []byte) error { return t.buffer(kvpb.LockOp_LOCK_DELETE, key, nil) }

// Rollback abandons the transaction. Nothing was written before Commit, so
// there is nothing to undo.
func (t *Txn) Rollback(context.Context) error {
	if !t.done {
		t.unlockUnwritten(false)
	}
	t.done = true
	return nil
}

// Commit commits the buffered writes atomically and returns the commit
// timestamp (the start timestamp for a transaction that wrote nothing).
func (t *Txn) Commit(ctx context.Context) (_ engine.Timestamp, err error) {
	if t.done {
		return 0, ErrTxnDone
	}
	t.done = true
	if len(t.locked) > 0 {
		defer func() { t.unlockUnwritten(err == nil) }()
	}
	if len(t.newer) > 0 {
		if err := t.checkNewer(ctx); err != nil {
			t.c.countOutcome(err)
			return 0, err
		}
	}
	if len(t.writes) == 0 {
		return t.start, nil
	}
	if obs := t.c.cfg.ObserveCommit; obs != nil {
		start := time.Now()
		defer func() { obs(time.Since(start), t.onePC) }()
	}
	muts := make([]*kvpb.Mutation, 0, len(t.writes))
	for _, m := range t.writes {
		muts = append(muts, m)
	}
	sort.Slice(muts, func(i, j int) bool { return bytes.Compare(muts[i].Key, muts[j].Key) < 0 })
	groups, err := t.c.groupByRange(ctx, muts)
	if err != nil {
		return 0, err
	}
	if len(groups) == 1 && len(muts) <= maxOnePCMutations && mutationBytes(muts) <= maxCommandBytes {
		ts, err, fallback := t.commitOnePC(ctx, muts)
		if !fallback {
			t.c.countOutcome(err)
			if err == nil {
				t.c.txns.onePC.Add(1)
				t.onePC = true
			}
			return ts, err
		}
		groups = nil // the range split: group again
	}
	if err := t.snapshot(ctx); err != nil {
		return 0, err
	}
	ts, err := t.commitTwoPC(ctx, muts, groups)
	t.c.countOutcome(err)
	if err == nil {
		t.c.txns.twoPC.Add(1)
	}
	return ts, err
}

func (c *Client) countOutcome(err error) {
	switch {
	case errors.Is(err, ErrWriteConflict):
		c.txns.conflicts.Add(1)
	case errors.Is(err, ErrTxnAborted):
		c.txns.aborted.Add(1)
	}
}

// commitOnePC sends the one-phase commit (with no start timestamp for a
// deferred transaction that read nothing, see BeginDeferred); fallback is
// true when the writes no longer fall in one range (a split), for the
// caller to use 2PC.
func (t *Txn) commitOnePC(ctx context.Context, muts []*kvpb.Mutation) (ts engine.Timestamp, err error, fallback bool) {
	req := &kvpb.Request{Value: &kvpb.Request_OnePc{OnePc: &kvpb.OnePCRequest{StartTs: uint64(t.start), ReadTs: uint64(t.read), Mutations: muts}}}
	resp, err := t.c.sendResolving(ctx, muts[0].Key, req)
	var kerr *kvpb.Error
	if errors.As(err, &kerr) && kerr.GetKeyMismatch() != nil && !errors.Is(err, ErrAmbiguous) {
		// A deferred transaction's commit is never sent twice: this
		// answer is its only attempt's. Another's may follow an attempt
		// that was applied, before the split, and whose answer was lost.
		if i := slices.IndexFunc(muts, written); t.start != 0 && i >= 0 {
			if ts, err := t.earlierCommit(ctx, muts[i].Key); ts != 0 || err != nil {
				return ts, err, false
			}
		}
		return 0, nil, true
	}
	if errors.Is(err, ErrAmbiguous) {
		return 0, unknownOutcome(t.start, err), false
	}
	if err != nil {
		return 0, err, false
	}
	return engine.Timestamp(resp.GetOnePc().GetCommitTs()), nil, false
}

// written reports a mutation that leaves a version when it commits.
func written(m *kvpb.Mutation) bool { return m.Op != kvpb.LockOp_LOCK_ONLY }

// earlierCommit is the commit timestamp of this transaction's one-phase
// commit on key's range if an earlier attempt of it was applied, 0 if
// none was (and none can be any more), or ErrTxnAborted if another
// transaction rolled it back. key is a key the commit writes.
//
// It is asked when a retried one-phase commit comes back with a split:
// the attempts before may have been applied, and a fallback to two
// phases would then find the transaction's own versions, fail, and roll
// back what is committed. The status check is a raft command, so every
// attempt before it in the range's log has been applied; an attempt after
// it is refused, as the split precedes it.
func (t *Txn) earlierCommit(ctx context.Context, key []byte) (engine.Timestamp, error) {
	req := &kvpb.Request{Value: &kvpb.Request_CheckTxnStatus{CheckTxnStatus: &kvpb.CheckTxnStatusRequest{
		Primary: key, StartTs: uint64(t.start), Peek: true}}}
	resp, err := t.c.sendOne(ctx, key, req)
	if err != nil {
		return 0, unknownOutcome(t.start, err)
	}
	st := resp.GetCheckTxnStatus()
	switch st.GetStatus() {
	case kvpb.TxnStatus_TXN_COMMITTED:
		return engine.Timestamp(st.CommitTs), nil
	case kvpb.TxnStatus_TXN_ABORTED:
		return 0, fmt.Errorf("%w: transaction %d was rolled back on %q", ErrTxnAborted, t.start, key)
	}
	return 0, nil
}

// unknownOutcome is the error of a commit that may or may not have been
// applied; it matches ErrAmbiguous.
func unknownOutcome(start engine.Timestamp, err error) error {
	if !errors.Is(err, ErrAmbiguous) {
		err = fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	return fmt.Errorf("kv: commit of transaction %d has an unknown outcome: %w", start, err)
}

// Bounds on one raft command of a transaction: a 1PC commit with more
// mutations goes through 2PC, whose prewrites and resolves are sent in
// chunks of at most these sizes, a few at a time.
const (
	maxOnePCMutations = 4096
	maxCommandBytes   = 4 << 20
	maxChunkMutations = 4096
	maxParallelChunks = 8
	// syncResolveMutations: a transaction with more writes resolves them
	// before Commit returns.
	syncResolveMutations = 1024
)

func mutationBytes(muts []*kvpb.Mutation) int {
	n := 0
	for _, m := range muts {
		n += len(m.Key) + len(m.Value) + 8
	}
	return n
}

// chunkGroups splits each range's group into chunks no bigger than one raft
// command should be.
func chunkGroups(groups []txnGroup) []txnGroup {
	var out []txnGroup
	for _, g := range groups {
		start, size := 0, 0
		for i, m := range g.muts {
			sz := len(m.Key) + len(m.Value) + 8
			if i > start && (i-start >= maxChunkMutations || size+sz > maxCommandBytes) {
				out = append(out, txnGroup{key: g.muts[start].Key, muts: g.muts[start:i]})
				start, size = i, 0
			}
			size += sz
		}
		if start < len(g.muts) {
			out = append(out, txnGroup{key: g.muts[start].Key, muts: g.muts[start:]})
		}
	}
	return out
}

// txnGroup is the mutations of one range.
type txnGroup struct {
	key  []byte // routes the group
	muts []*kvpb.Mutation
}

// groupByRange splits sorted mutations by the range holding them.
func (c *Client) groupByRange(ctx context.Context, muts []*kvpb.Mutation) ([]txnGroup, error) {
	var out []txnGroup
	var cur *kvpb.RangeDescriptor
	for _, m := range muts {
		if cur == nil || !cur.ContainsKey(m.Key) {
			d, err := c.LookupRange(ctx, m.Key)
			if err != nil {
				return nil, err
			}
			cur = d
			out = append(out, txnGroup{key: m.Key})
		}
		g := &out[len(out)-1]
		g.muts = append(g.muts, m)
	}
	return out, nil
}

func (t *Txn) ttl() int64 {
	return (time.Since(t.began) + lockTTL).Milliseconds()
}

// commitTwoPC commits muts, which groups splits by range (nil: not yet
// grouped).
func (t *Txn) commitTwoPC(ctx context.Context, muts []*kvpb.Mutation, groups []txnGroup) (engine.Timestamp, error) {
	// The primary must leave a version when it commits, or its status could
	// not be told from a rollback: a key that is written, not only locked.
	p := -1
	for i, m := range muts {
		if m.Op != kvpb.LockOp_LOCK_ONLY {
			p = i
			break
		}
	}
	if p < 0 {
		return t.lockOnly(ctx, muts)
	}
	// The primary's lock is released when the commit point is applied, the
	// others' a raft round later: a key the transaction row-locked last
	// (the last UPDATE of a block, often its hottest row) makes the best
	// primary.
	if m, ok := t.writes[string(t.lastLocked)]; ok && m.Op != kvpb.LockOp_LOCK_ONLY {
		p = slices.IndexFunc(muts, func(x *kvpb.Mutation) bool { return x == m })
	}
	primary := muts[p].Key
	if groups == nil {
		var err error
		if groups, err = t.c.groupByRange(ctx, muts); err != nil {
			return 0, err
		}
	}
	if commit, err, fallback := t.commitPrimaryOnePC(ctx, primary, groups); !fallback {
		return commit, err
	}
	// Every range at once, the primary's too. Nothing is committed before
	// all have answered, so a secondary's lock whose primary lock is not
	// there yet is pending until its TTL runs out (CheckTxnStatusRequest.
	// secondary_ttl_ms), not rolled back.
	// From the start: a prewrite may wait for older transactions' locks
	// longer than the primary's TTL. Heartbeats that come before the
	// primary's lock exists find nothing and are ignored.
	stopHB := t.heartbeat(primary)
	defer stopHB()
	if err := t.prewriteAll(ctx, primary, groups); err != nil {
		return 0, t.abandon(err, primary, muts)
	}
	commit, err := t.c.Now(ctx)
	if err != nil {
		return 0, t.abandon(err, primary, muts)
	}
	// The commit point. It is idempotent, so retrying an ambiguous failure
	// is safe; TxnNotFound means a resolver rolled us back first.
	req := &kvpb.Request{Value: &kvpb.Request_Commit{Commit: &kvpb.CommitRequest{StartTs: uint64(t.start), CommitTs: uint64(commit), Keys: [][]byte{primary}}}}
	if _, err := t.c.sendResolving(ctx, primary, req); err != nil {
		var kerr *kvpb.Error
		if errors.As(err, &kerr) && kerr.GetTxnNotFound() != nil {
			return 0, fmt.Errorf("%w: %v", ErrTxnAborted, kerr)
		}
		return 0, unknownOutcome(t.start, err)
	}
	t.resolveCommitted(commit, secondaries(muts, p), len(muts))
	return commit, nil
}

// resolveCommitted commits the locks of a committed transaction of n
// writes on the keys of muts.
func (t *Txn) resolveCommitted(commit engine.Timestamp, muts []*kvpb.Mutation, n int) {
	done := t.c.resolveAsync(t.start, commit, muts, true)
	if n > syncResolveMutations {
		// A big transaction (a bulk load) resolves its locks before
		// returning, so that readers do not meet them one by one.
		done.Wait()
	}
}

// commitPrimaryOnePC commits a transaction of several ranges with one
// raft command fewer: it prewrites every range but the primary's, then
// commits the primary's range with a one-phase commit, which is the
// commit point. Until it applies, a secondary's lock finds neither a lock
// nor a version at the primary, as when the primary's prewrite is late,
// and is pending while its TTL runs; a resolver that rolls the
// transaction back after that leaves a rollback record on the primary,
// which the one-phase commit then fails on. The leaseholder takes the
// commit timestamp after the primary range's latches are held, and the
// secondaries' locks are in place before the request is sent. fallback
// reports that the caller must commit the usual way: the primary's range
// is too big for one command (nothing was written), or it split (the
// secondaries' locks are held, and prewriting them again is harmless).
func (t *Txn) commitPrimaryOnePC(ctx context.Context, primary []byte, groups []txnGroup) (_ engine.Timestamp, _ error, fallback bool) {
	pg := slices.IndexFunc(groups, func(g txnGroup) bool {
		return slices.ContainsFunc(g.muts, func(m *kvpb.Mutation) bool { return bytes.Equal(m.Key, primary) })
	})
	if pg < 0 || len(groups[pg].muts) > maxOnePCMutations || mutationBytes(groups[pg].muts) > maxCommandBytes {
		return 0, nil, true
	}
	var others []*kvpb.Mutation
	for i, g := range groups {
		if i != pg {
			others = append(others, g.muts...)
		}
	}
	if err := t.prewriteAll(ctx, primary, slices.Delete(slices.Clone(groups), pg, pg+1)); err != nil {
		return 0, t.abandon(err, primary, others), false
	}
	// The primary's range is locked by nothing of ours: wait only for
	// older transactions' locks there, as a prewrite does, since the
	// secondaries' locks are held.
	req := &kvpb.Request{Value: &kvpb.Request_OnePc{OnePc: &kvpb.OnePCRequest{StartTs: uint64(t.start), ReadTs: uint64(t.read), Mutations: groups[pg].muts}}}
	resp, err := t.c.sendResolvingAs(ctx, groups[pg].muts[0].Key, req, t.start)
	var kerr *kvpb.Error
	switch {
	case err == nil:
		commit := engine.Timestamp(resp.GetOnePc().GetCommitTs())
		t.resolveCommitted(commit, others, len(others)+len(groups[pg].muts))
		return commit, nil, false
	case errors.Is(err, ErrWriteConflict):
		// Rejected, nothing written; rolling back the primary too keeps a
		// late copy of the request out.
		return 0, t.abandon(err, primary, append(others, groups[pg].muts...)), false
	case errors.As(err, &kerr) && kerr.GetKeyMismatch() != nil:
		// The primary's range split: prewrite it the usual way. The
		// secondaries' prewrites are repeated, which is idempotent. But an
		// earlier attempt may have committed before the split.
		commit, err := t.earlierCommit(ctx, primary)
		switch {
		case err != nil && errors.Is(err, ErrTxnAborted):
			return 0, t.abandon(err, primary, others), false
		case err != nil:
			return 0, err, false
		case commit != 0:
			t.resolveCommitted(commit, others, len(others)+len(groups[pg].muts))
			return commit, nil, false
		}
		return 0, nil, true
	default:
		return 0, unknownOutcome(t.start, err), false
	}
}

// secondaries returns muts without muts[p].
func secondaries(muts []*kvpb.Mutation, p int) []*kvpb.Mutation {
	return append(slices.Clip(muts[:p]), muts[p+1:]...)
}

// lockOnly "commits" a transaction that only locked keys (FOR UPDATE) and
// wrote nothing, over several ranges: prewriting the locks checks that no
// other transaction wrote them since the start; then they are released.
func (t *Txn) lockOnly(ctx context.Context, muts []*kvpb.Mutation) (engine.Timestamp, error) {
	groups, err := t.c.groupByRange(ctx, muts)
	if err != nil {
		return 0, err
	}
	var first error
	for _, g := range chunkGroups(groups) {
		if err := t.prewrite(ctx, muts[0].Key, g.muts); err != nil && first == nil {
			first = err
		}
	}
	t.c.resolveAsync(t.start, 0, muts, false)
	if first != nil {
		return 0, first
	}
	return t.start, nil
}

// prewriteAll prewrites groups' mutations, every range at once (a few
// chunks at a time), and returns the first error.
func (t *Txn) prewriteAll(ctx context.Context, primary []byte, groups []txnGroup) error {
	chunks := chunkGroups(groups)
	errs := make(chan error, len(chunks))
	sem := make(chan struct{}, maxParallelChunks)
	for _, g := range chunks {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs <- t.prewrite(ctx, primary, g.muts)
		}()
	}
	var first error
	for range chunks {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// prewrite locks muts, all of one range at the time of grouping, regrouping
// if a split moved some.
func (t *Txn) prewrite(ctx context.Context, primary []byte, muts []*kvpb.Mutation) error {
	req := &kvpb.Request{Value: &kvpb.Request_Prewrite{Prewrite: &kvpb.PrewriteRequest{
		Primary: primary, StartTs: uint64(t.start), ReadTs: uint64(t.read), TtlMs: t.ttl(), Mutations: muts}}}
	_, err := t.c.sendResolvingAs(ctx, muts[0].Key, req, t.start)
	var kerr *kvpb.Error
	if errors.As(err, &kerr) && kerr.GetKeyMismatch() != nil && len(muts) > 1 {
		groups, gerr := t.c.groupByRange(ctx, muts)
		if gerr != nil {
			return gerr
		}
		for _, g := range groups {
			if err := t.prewrite(ctx, primary, g.muts); err != nil {
				return err
			}
		}
		return nil
	}
	return err
}

// abandon rolls back whatever the failed commit may have locked, in the
// background, and returns err.
func (t *Txn) abandon(err error, primary []byte, muts []*kvpb.Mutation) error {
	t.c.resolveAsync(t.start, 0, muts, false)
	return err
}

// heartbeat extends the primary lock's TTL until the returned function is
// called.
func (t *Txn) heartbeat(primary []byte) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			req := &kvpb.Request{Value: &kvpb.Request_Heartbeat{Heartbeat: &kvpb.HeartbeatRequest{
				Primary: primary, StartTs: uint64(t.start), TtlMs: t.ttl()}}}
			hctx, hcancel := context.WithTimeout(ctx, heartbeatEvery)
			_, _ = t.c.Send(hctx, primary, []*kvpb.Request{req})
			hcancel()
		}
	}()
	return func() { cancel(); <-done }
}

// resolveAsync commits (commit > 0) or rolls back the transaction's locks
// on muts' keys in the background; the returned group is done when it has
// finished. Failures are left to readers, who resolve any lock they meet
// through the primary.
func (c *Client) resolveAsync(start, commit engine.Timestamp, muts []*kvpb.Mutation, committed bool) *sync.WaitGroup {
	done := &sync.WaitGroup{}
	if len(muts) == 0 {
		return done
	}
	c.bg.Add(1)
	done.Add(1)
	go func() {
		defer c.bg.Done()
		defer done.Done()
		ctx, cancel := context.WithTimeout(c.bgCtx, 30*time.Second+time.Duration(len(muts)/1000)*time.Second)
		defer cancel()
		groups, err := c.groupByRange(ctx, muts)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, maxParallelChunks)
		for _, g := range chunkGroups(groups) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				keys := make([][]byte, len(g.muts))
				for i, m := range g.muts {
					keys[i] = m.Key
				}
				_ = c.resolveKeys(ctx, g.key, start, commit, keys, committed)
			}()
		}
		wg.Wait()
	}()
	return done
}

// resolveKeys commits or rolls back start's locks on keys (one range).
func (c *Client) resolveKeys(ctx context.Context, route []byte, start, commit engine.Timestamp, keys [][]byte, committed bool) error {
	var req *kvpb.Request
	if committed {
		req = &kvpb.Request{Value: &kvpb.Request_Commit{Commit: &kvpb.CommitRequest{StartTs: uint64(start), CommitTs: uint64(commit), Keys: keys}}}
	} else {
		req = &kvpb.Request{Value: &kvpb.Request_Rollback{Rollback: &kvpb.RollbackRequest{StartTs: uint64(start), Keys: keys}}}
	}
	_, err := c.Send(ctx, route, []*kvpb.Request{req})
	var kerr *kvpb.Error
	if errors.As(err, &kerr) && kerr.GetKeyMismatch() != nil && len(keys) > 1 {
		for _, k := range keys {
			if err := c.resolveKeys(ctx, k, start, commit, [][]byte{k}, committed); err != nil {
				return err
			}
		}
		return nil
	}
	return err
}

// sendResolving sends one request addressed by key and deals with the locks
// it meets: a lock of a transaction that committed or was rolled back is
// resolved and the request retried; a pending one is waited for, a bounded
// number of times. Write conflicts become ErrWriteConflict.
func (c *Client) sendResolving(ctx context.Context, key []byte, req *kvpb.Request) (*kvpb.Response, error) {
	return c.sendResolvingAs(ctx, key, req, 0)
}

// sendResolvingAs is sendResolving for a request of the transaction that
// started at waiter (0: none, a read), which holds locks while it waits:
// a prewrite. It waits only for the locks of older transactions (an
// earlier start) and gives up at once, with a write conflict, on a pending
// lock of a younger one. Two prewriting transactions that each wait for
// the other's lock would otherwise wait until maxLockWaits runs out, both
// fail, and every transaction behind them stalls for seconds; this way the
// waits go one way only, so they never form a cycle. The younger one
// waits, not the older: a rollback leaves its start timestamp on the key
// as a watermark below which no prewrite succeeds (range/replica/txn.go),
// so the transaction that gives up must be the older one, whose watermark
// does not stop the younger that waited.
func (c *Client) sendResolvingAs(ctx context.Context, key []byte, req *kvpb.Request, waiter engine.Timestamp) (*kvpb.Response, error) {
	for waits := 0; ; {
		resp, err := c.sendOne(ctx, key, req)
		var kerr *kvpb.Error
		if !errors.As(err, &kerr) {
			return resp, err
		}
		if wc := kerr.GetWriteConflict(); wc != nil {
			return nil, fmt.Errorf("%w: %v", ErrWriteConflict, kerr)
		}
		kl := kerr.GetKeyLocked()
		if kl == nil {
			return nil, err
		}
		pending, rerr := c.resolveLock(ctx, kl.Key, kl.Lock)
		if rerr != nil {
			return nil, rerr
		}
		if pending && waiter != 0 && kl.Lock.GetStartTs() > uint64(waiter) {
			return nil, fmt.Errorf("%w: key %q is locked by the younger transaction %d", ErrWriteConflict, kl.Key, kl.Lock.GetStartTs())
		}
		if pending {
			if waits++; waits > maxLockWaits {
				return nil, fmt.Errorf("%w: key %q stays locked by transaction %d", ErrWriteConflict, kl.Key, kl.Lock.GetStartTs())
			}
			if err := lockBackoff(ctx, waits); err != nil {
				return nil, unavailable(ctx, err, fmt.Errorf("waiting for a lock on %q", kl.Key))
			}
		}
	}
}

// lockBackoff waits before looking at a pending lock again: a lock is
// usually released within a commit's few milliseconds, so the waits start
// short and stay short (at most 25 ms), unlike backoff's.
func lockBackoff(ctx context.Context, waits int) error {
	d := time.Duration(min(waits, 12)) * 2 * time.Millisecond
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// resolveLock finds the status of the lock's transaction through its
// primary and resolves the lock on key accordingly; pending reports that
// the transaction is still running.
func (c *Client) resolveLock(ctx context.Context, key []byte, l *kvpb.Lock) (pending bool, err error) {
	now, err := c.Now(ctx)
	if err != nil {
		return false, err
	}
	check := &kvpb.CheckTxnStatusRequest{Primary: l.Primary, StartTs: l.StartTs, NowTs: uint64(now)}
	if !bytes.Equal(key, l.Primary) {
		// The primary's prewrite may still be on its way (see commitTwoPC).
		check.SecondaryTtlMs = l.TtlMs
	}
	req := &kvpb.Request{Value: &kvpb.Request_CheckTxnStatus{CheckTxnStatus: check}}
	resp, err := c.sendOne(ctx, l.Primary, req)
	if err != nil {
		return false, err
	}
	st := resp.GetCheckTxnStatus()
	switch st.GetStatus() {
	case kvpb.TxnStatus_TXN_PENDING:
		return true, nil
	case kvpb.TxnStatus_TXN_COMMITTED:
		return false, c.resolveKeys(ctx, key, engine.Timestamp(l.StartTs), engine.Timestamp(st.CommitTs), [][]byte{key}, true)
	default:
		if bytes.Equal(key, l.Primary) {
			return false, nil // CheckTxnStatus rolled it back
		}
		return false, c.resolveKeys(ctx, key, engine.Timestamp(l.StartTs), 0, [][]byte{key}, false)
	}
}

// scanAt scans [start, end) at ts across ranges, resolving locks.
func (c *Client) scanAt(ctx context.Context, start, end []byte, limit int, ts engine.Timestamp, filter *kvpb.KeyFilter) ([]*kvpb.KeyValue, error) {
	var out []*kvpb.KeyValue
	for bytes.Compare(start, end) < 0 {
		want := 0
		if limit > 0 {
			want = limit - len(out)
		}
		req := &kvpb.Request{Value: &kvpb.Request_Scan{Scan: &kvpb.ScanRequest{StartKey: start, EndKey: end, Limit: int64(want), ReadTs: uint64(ts), Filter: filter}}}
		resp, err := c.sendResolving(ctx, start, req)
		if err != nil {
			return nil, err
		}
		s := resp.GetScan()
		c.scans.record(s)
		out = append(out, s.GetRows()...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if len(s.GetResumeKey()) == 0 {
			break
		}
		start = s.ResumeKey
	}
	return out, nil
}

// RunTxn runs fn in a transaction from Begin and commits it, restarting
// it on write conflicts until ctx ends.
func (c *Client) RunTxn(ctx context.Context, fn func(ctx context.Context, t *Txn) error) error {
	return c.runTxn(ctx, c.Begin, fn)
}

// RunDeferredTxn is RunTxn in transactions from BeginDeferred: the first
// read takes the start timestamp, and a blind write to one range takes
// none of its own.
func (c *Client) RunDeferredTxn(ctx context.Context, fn func(ctx context.Context, t *Txn) error) error {
	return c.runTxn(ctx, func(context.Context) (*Txn, error) { return c.BeginDeferred(), nil }, fn)
}

func (c *Client) runTxn(ctx context.Context, begin func(context.Context) (*Txn, error), fn func(ctx context.Context, t *Txn) error) error {
	for attempt := 0; ; attempt++ {
		t, err := begin(ctx)
		if err != nil {
			return err
		}
		if err = fn(ctx, t); err == nil {
			_, err = t.Commit(ctx)
		}
		if err == nil || !errors.Is(err, ErrWriteConflict) {
			return err
		}
		if err := backoff(ctx, time.Time{}, attempt+1); err != nil {
			return fmt.Errorf("%w (gave up: %v)", ErrWriteConflict, err)
		}
	}
}

// KeyResult is one key's outcome of GetMany.
type KeyResult struct {
	Value []byte
	Found bool
}

// maxParallelGets bounds the reads GetMany runs at once.
const maxParallelGets = 32

// GetMany reads keys as of the start timestamp (or the transaction's own
// writes), several at once; results are in the order of keys.
func (t *Txn) GetMany(ctx context.Context, keys [][]byte) ([]KeyResult, error) {
	out, _, err := t.getMany(ctx, keys, true)
	return out, err
}

// GetManyUnnoted is GetMany without recording the keys as read, and also
// returns the timestamp it read at (the snapshot: never a lazy
// transaction's read of the newest version). A pessimistic transaction
// refreshes the keys it read when it moves its snapshot (pessimistic.go),
// and refreshes before a plain read once a locked read found a newer
// version; it does neither for these. The caller must, for each key whose
// value it relies on, either hold the lock of a key whose state at commit
// implies that value (a global index entry's row: see sql's
// scanRel.lookupIndex), or record it with NoteReads before it uses it.
func (t *Txn) GetManyUnnoted(ctx context.Context, keys [][]byte) ([]KeyResult, engine.Timestamp, error) {
	return t.getMany(ctx, keys, false)
}

// NoteReads records keys that GetManyUnnoted read at ts as read, as
// GetMany would have, and makes the refresh GetMany would have made before
// reading them. If the transaction moved its snapshot since ts, the keys
// went unchecked in between, and it fails with ErrWriteConflict.
func (t *Txn) NoteReads(ctx context.Context, keys [][]byte, ts engine.Timestamp) error {
	if !t.pessimistic || len(keys) == 0 {
		return nil
	}
	if ts != t.at() {
		return fmt.Errorf("%w: the transaction moved its snapshot after an index lookup whose row then changed", ErrWriteConflict)
	}
	for _, k := range keys {
		t.noteRead(k, true)
	}
	if len(t.newer) > 0 {
		return t.refresh(ctx)
	}
	return nil
}

// Locked reports whether the transaction holds key's lock
// (GetManyForUpdate).
func (t *Txn) Locked(key []byte) bool { return t.locked[string(key)] }

func (t *Txn) getMany(ctx context.Context, keys [][]byte, note bool) ([]KeyResult, engine.Timestamp, error) {
	if t.done {
		return nil, 0, ErrTxnDone
	}
	out := make([]KeyResult, len(keys))
	var todo []int
	for i, k := range keys {
		if m, ok := t.writes[string(k)]; ok && m.Op != kvpb.LockOp_LOCK_ONLY {
			out[i] = KeyResult{Value: m.Value, Found: m.Op == kvpb.LockOp_LOCK_PUT}
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, t.at(), nil
	}
	var ts engine.Timestamp
	if note {
		var err error
		if ts, err = t.readTS(ctx, len(todo)); err != nil {
			return nil, 0, err
		}
		for _, i := range todo {
			t.noteRead(keys[i], true)
		}
	} else {
		if err := t.snapshot(ctx); err != nil {
			return nil, 0, err
		}
		ts = t.at()
	}
	if len(todo) == 1 {
		return out, ts, t.getBatch(ctx, keys, todo, ts, out)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The keys of one range are read in batches of one request each; a
	// batch that meets a lock (or a split) is read key by key, resolving.
	batches, err := t.getBatches(ctx, keys, todo)
	if err != nil {
		return nil, 0, err
	}
	sem := make(chan struct{}, maxParallelGets)
	errs := make(chan error, len(batches))
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := t.getBatch(ctx, keys, b, ts, out); err != nil {
				errs <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, 0, err
	}
	return out, ts, nil
}

// maxGetBatch bounds the keys read in one request.
const maxGetBatch = 256

// getBatches groups the indexes of keys to read by range, in batches.
func (t *Txn) getBatches(ctx context.Context, keys [][]byte, todo []int) ([][]int, error) {
	byRange := map[uint64][]int{}
	var order []uint64
	for _, i := range todo {
		d, err := t.c.LookupRange(ctx, keys[i])
		if err != nil {
			return nil, err
		}
		if _, ok := byRange[d.RangeId]; !ok {
			order = append(order, d.RangeId)
		}
		byRange[d.RangeId] = append(byRange[d.RangeId], i)
	}
	var out [][]int
	for _, id := range order {
		idx := byRange[id]
		for len(idx) > maxGetBatch {
			out = append(out, idx[:maxGetBatch])
			idx = idx[maxGetBatch:]
		}
		out = append(out, idx)
	}
	return out, nil
}

// getBatch reads the keys at idx into out, at ts.
func (t *Txn) getBatch(ctx context.Context, keys [][]byte, idx []int, ts engine.Timestamp, out []KeyResult) error {
	if len(idx) > 1 {
		reqs := make([]*kvpb.Request, len(idx))
		for j, i := range idx {
			reqs[j] = &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: keys[i], ReadTs: uint64(ts)}}}
		}
		resp, err := t.c.Send(ctx, keys[idx[0]], reqs)
		if err == nil && len(resp.Responses) == len(idx) {
			for j, i := range idx {
				g := resp.Responses[j].GetGet()
				out[i] = KeyResult{Value: g.GetValue(), Found: g.GetFound()}
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	for _, i := range idx {
		r, err := t.getAt(ctx, keys[i], ts)
		if err != nil {
			return err
		}
		out[i] = r
	}
	return nil
}

// Lock marks key to be locked at commit (SELECT ... FOR UPDATE) without
// reading it.
func (t *Txn) Lock(key []byte) {
	if t.readOnly || t.done || t.lazyRead() {
		return
	}
	if _, ok := t.writes[string(key)]; !ok {
		t.undo = append(t.undo, undoEntry{key: string(key)})
		t.writes[string(key)] = &kvpb.Mutation{Op: kvpb.LockOp_LOCK_ONLY, Key: append([]byte(nil), key...)}
	}
}
