package replica

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// The transaction tests drive the range's side of the protocol (txn.go)
// with hand-made raft entries, like replica_test.go, and its read side
// (request.go's get and scan, which need no raft group) directly.

// at is the timestamp of physical millisecond ms (the tests count from a
// fixed epoch so that TTLs, which count in milliseconds, are readable).
func at(ms int64) uint64 { return uint64(engine.MakeTimestamp(1_700_000_000_000+ms, 0)) }

func mut(op kvpb.LockOp, k, v string) *kvpb.Mutation {
	m := &kvpb.Mutation{Op: op, Key: []byte(k)}
	if op == kvpb.LockOp_LOCK_PUT {
		m.Value = []byte(v)
	}
	return m
}

func putM(k, v string) *kvpb.Mutation { return mut(kvpb.LockOp_LOCK_PUT, k, v) }
func delM(k string) *kvpb.Mutation    { return mut(kvpb.LockOp_LOCK_DELETE, k, "") }
func lockM(k string) *kvpb.Mutation   { return mut(kvpb.LockOp_LOCK_ONLY, k, "") }

func bkeys(ks ...string) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = []byte(k)
	}
	return out
}

func prewriteReq(primary string, start uint64, ttlMs int64, muts ...*kvpb.Mutation) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Prewrite{Prewrite: &kvpb.PrewriteRequest{
		Primary: []byte(primary), StartTs: start, TtlMs: ttlMs, Mutations: muts}}}
}

func commitReq(start, commit uint64, ks ...string) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Commit{Commit: &kvpb.CommitRequest{StartTs: start, CommitTs: commit, Keys: bkeys(ks...)}}}
}

func rollbackReq(start uint64, ks ...string) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Rollback{Rollback: &kvpb.RollbackRequest{StartTs: start, Keys: bkeys(ks...)}}}
}

func checkReq(primary string, start, now uint64) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_CheckTxnStatus{CheckTxnStatus: &kvpb.CheckTxnStatusRequest{
		Primary: []byte(primary), StartTs: start, NowTs: now}}}
}

func heartbeatReq(primary string, start uint64, ttlMs int64) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Heartbeat{Heartbeat: &kvpb.HeartbeatRequest{
		Primary: []byte(primary), StartTs: start, TtlMs: ttlMs}}}
}

func onePCReq(start, commit uint64, muts ...*kvpb.Mutation) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_OnePc{OnePc: &kvpb.OnePCRequest{StartTs: start, CommitTs: commit, Mutations: muts}}}
}

// txnRange is a replica of [a, z) fed one transactional request per raft
// entry.
type txnRange struct {
	t   *testing.T
	eng *engine.Engine
	r   *Replica
	idx uint64
}

func newTxnRange(t *testing.T) *txnRange {
	eng := openEngine(t, vfs.NewMem())
	return &txnRange{t: t, eng: eng, r: open(t, eng, 5, testDesc(5, "a", "z", 1), nil)}
}

// do applies req in its own entry (as the leader proposes it).
func (x *txnRange) do(req *kvpb.Request) *ApplyResult {
	x.t.Helper()
	x.idx++
	return apply1(x.t, x.r, x.idx, &kvpb.Command{Writes: []*kvpb.Request{req}})
}

func (x *txnRange) ok(req *kvpb.Request) *kvpb.Response {
	x.t.Helper()
	res := x.do(req)
	mustOK(x.t, res)
	if len(res.Responses) != 1 {
		x.t.Fatalf("%d responses to one request", len(res.Responses))
	}
	return res.Responses[0]
}

// fails applies req, checks that it is rejected with an error that has
// kind, and that the rejection left no trace in [a, z).
func (x *txnRange) fails(req *kvpb.Request, kind func(*kvpb.Error) bool, what string) *kvpb.Error {
	x.t.Helper()
	before := digest(x.t, x.eng, "a", "z")
	res := x.do(req)
	if res == nil || res.Err == nil || !kind(res.Err) {
		x.t.Fatalf("%v: result %v, want %s", req, res, what)
	}
	if digest(x.t, x.eng, "a", "z") != before {
		x.t.Fatalf("%v: rejected with %v but changed the engine", req, res.Err)
	}
	return res.Err
}

func isKeyLocked(e *kvpb.Error) bool     { return e.GetKeyLocked() != nil }
func isWriteConflict(e *kvpb.Error) bool { return e.GetWriteConflict() != nil }
func isTxnNotFound(e *kvpb.Error) bool   { return e.GetTxnNotFound() != nil }
func isInvalid(e *kvpb.Error) bool       { return e.GetInvalid() != nil }

func (x *txnRange) slot(k string) *kvpb.LockSlot {
	x.t.Helper()
	s, err := readLockSlot(x.eng, []byte(k))
	if err != nil {
		x.t.Fatal(err)
	}
	return s
}

// wantLock checks that k is locked by the transaction that started at
// start (start 0: that k has no lock).
func (x *txnRange) wantLock(k string, start uint64) {
	x.t.Helper()
	s := x.slot(k)
	switch {
	case start == 0 && s.GetLock() != nil:
		x.t.Fatalf("%s is locked by %d, want no lock", k, s.GetLock().GetStartTs())
	case start != 0 && s.GetLock().GetStartTs() != start:
		x.t.Fatalf("%s has lock %v, want one of %d", k, s.GetLock(), start)
	}
}

// at reads k as of ts, ignoring locks.
func (x *txnRange) at(k string, ts uint64) (string, bool) {
	x.t.Helper()
	v, _, found, err := Get(x.eng, []byte(k), engine.Timestamp(ts))
	if err != nil {
		x.t.Fatal(err)
	}
	return string(v), found
}

func (x *txnRange) wantAt(k string, ts uint64, want string) {
	x.t.Helper()
	if v, found := x.at(k, ts); !found || v != want {
		x.t.Fatalf("%s at %d = %q (found %v), want %q", k, ts, v, found, want)
	}
}

func (x *txnRange) wantAbsentAt(k string, ts uint64) {
	x.t.Helper()
	if v, found := x.at(k, ts); found {
		x.t.Fatalf("%s at %d = %q, want absent", k, ts, v)
	}
}

func (x *txnRange) status(primary string, start, now uint64) *kvpb.CheckTxnStatusResponse {
	x.t.Helper()
	return x.ok(checkReq(primary, start, now)).GetCheckTxnStatus()
}

func TestPrewriteConflicts(t *testing.T) {
	x := newTxnRange(t)
	t1, t2 := at(100), at(110)

	x.ok(prewriteReq("k1", t1, 3000, putM("k1", "a"), putM("k2", "b")))
	x.wantLock("k1", t1)
	x.wantLock("k2", t1)
	// The data of a lock is invisible to readers.
	x.wantAbsentAt("k1", uint64(engine.MaxTimestamp))

	// Another transaction meets the lock: KeyLocked carries the lock (its
	// primary and start), and the rejection writes nothing, not even for
	// the key before it that is free.
	e := x.fails(prewriteReq("free", t2, 3000, putM("free", "x"), putM("k2", "c")), isKeyLocked, "key locked")
	if l := e.GetKeyLocked().GetLock(); l.GetStartTs() != t1 || string(l.GetPrimary()) != "k1" || string(e.GetKeyLocked().GetKey()) != "k2" {
		t.Fatalf("key locked error %v, want k2 locked by %d with primary k1", e, t1)
	}
	x.wantLock("free", 0)

	// A retried prewrite of the lock holder succeeds.
	x.ok(prewriteReq("k1", t1, 3000, putM("k1", "a"), putM("k2", "b")))

	// One transaction cannot write a key twice.
	x.fails(prewriteReq("d", at(105), 3000, putM("d", "1"), putM("d", "2")), isInvalid, "invalid")

	// Commit at 120: a transaction that started before it (at or below a
	// newer committed version) conflicts; one that started after does not.
	x.ok(commitReq(t1, at(120), "k1", "k2"))
	x.wantAt("k1", at(120), "a")
	x.wantAbsentAt("k1", at(120)-1)
	e = x.fails(prewriteReq("k1", at(115), 3000, putM("k1", "late")), isWriteConflict, "write conflict")
	if e.GetWriteConflict().GetConflictTs() != at(120) {
		t.Fatalf("write conflict %v, want one at %d", e, at(120))
	}
	x.fails(prewriteReq("k1", at(120), 3000, putM("k1", "same ts")), isWriteConflict, "write conflict at an equal timestamp")
	x.ok(prewriteReq("k1", at(130), 3000, putM("k1", "new")))
	x.ok(rollbackReq(at(130), "k1"))

	// A delete is a version too: a transaction that started before it
	// conflicts with it.
	x.ok(prewriteReq("k2", at(140), 3000, delM("k2")))
	x.ok(commitReq(at(140), at(150), "k2"))
	x.wantAbsentAt("k2", at(150))
	x.wantAt("k2", at(149), "b")
	x.fails(prewriteReq("k2", at(145), 3000, putM("k2", "x")), isWriteConflict, "write conflict with a delete")

	// After a rollback of S, a late prewrite of S fails, on the key that
	// was locked and on one that was only named in the rollback.
	s := at(200)
	x.ok(prewriteReq("r1", s, 3000, putM("r1", "x")))
	x.ok(rollbackReq(s, "r1", "r2"))
	x.wantLock("r1", 0)
	x.wantAbsentAt("r1", uint64(engine.MaxTimestamp))
	x.fails(prewriteReq("r1", s, 3000, putM("r1", "x")), isWriteConflict, "write conflict after rollback")
	x.fails(prewriteReq("r1", s, 3000, putM("r2", "x")), isWriteConflict, "write conflict after rollback")
	// A rollback is idempotent, and remembers the highest start: a
	// transaction that started after it may still write.
	x.ok(rollbackReq(s, "r1"))
	x.ok(rollbackReq(at(150), "r1"))
	if got := x.slot("r1").GetRolledBack(); got != s {
		t.Fatalf("r1 remembers rollback of %d, want %d", got, s)
	}
	x.ok(prewriteReq("r1", at(210), 3000, putM("r1", "y")))
	// A rollback of another transaction leaves the lock alone.
	x.ok(rollbackReq(at(205), "r1"))
	x.wantLock("r1", at(210))
	x.ok(commitReq(at(210), at(220), "r1"))
	x.wantAt("r1", at(220), "y")
}

func TestCommitIsIdempotent(t *testing.T) {
	x := newTxnRange(t)
	s, c := at(100), at(110)
	x.ok(prewriteReq("p", s, 3000, putM("p", "1"), delM("gone"), lockM("l")))
	x.fails(commitReq(s, s, "p"), isInvalid, "commit at the start timestamp")
	x.fails(commitReq(s, s-1, "p"), isInvalid, "commit below the start timestamp")

	x.ok(commitReq(s, c, "p", "gone", "l"))
	after := digest(t, x.eng, "a", "z")
	// A retry (the coordinator's after an ambiguous failure, or a resolver
	// racing it) changes nothing and succeeds.
	x.ok(commitReq(s, c, "p", "gone"))
	x.ok(commitReq(s, c, "p"))
	if digest(t, x.eng, "a", "z") != after {
		t.Fatal("a retried commit changed the engine")
	}
	x.wantAt("p", c, "1")
	x.wantAbsentAt("gone", c)
	for _, k := range []string{"p", "gone", "l"} {
		x.wantLock(k, 0)
		if x.slot(k) != nil {
			t.Fatalf("%s keeps a lock slot %v after commit", k, x.slot(k))
		}
		// Cleared with an empty value, not a delete, so that reads of a
		// hot row do not walk its slot's deletes (engine doc, "Keys
		// rewritten often").
		if raw, err := x.eng.Get([]byte(k)); err != nil || len(raw) != 0 {
			t.Fatalf("%s: cleared lock slot is %q, %v; want an empty value", k, raw, err)
		}
	}
	// The lock-only key wrote nothing.
	x.wantAbsentAt("l", uint64(engine.MaxTimestamp))
	// The delete left a version written by s, so its transaction can be
	// found from it.
	if commit, found, err := findCommit(x.eng, []byte("gone"), engine.Timestamp(s)); err != nil || !found || commit != engine.Timestamp(c) {
		t.Fatalf("findCommit(gone, %d) = %d, %v, %v; want %d", s, commit, found, err, c)
	}
	// The same commit at another timestamp is not a retry.
	x.fails(commitReq(s, c+1, "p"), isTxnNotFound, "txn not found")

	// A commit after a rollback finds nothing to commit.
	s2 := at(200)
	x.ok(prewriteReq("q", s2, 3000, putM("q", "x"), putM("q2", "y")))
	x.ok(rollbackReq(s2, "q"))
	x.fails(commitReq(s2, at(210), "q"), isTxnNotFound, "txn not found after rollback")
	// A commit of several keys of which one was rolled back is rejected as
	// a whole.
	x.fails(commitReq(s2, at(210), "q2", "q"), isTxnNotFound, "txn not found")
	x.wantLock("q2", s2)
	// Nor can one commit a key locked by another transaction.
	x.fails(commitReq(at(190), at(210), "q2"), isTxnNotFound, "txn not found under another's lock")
	x.wantLock("q2", s2)
}

func TestCheckTxnStatus(t *testing.T) {
	x := newTxnRange(t)

	// Pending while the TTL runs, counted from the start's physical time.
	s := at(1000)
	x.ok(prewriteReq("p", s, 3000, putM("p", "1")))
	x.ok(prewriteReq("p", s, 3000, putM("s", "2")))
	for _, now := range []uint64{s, at(2000), at(4000)} {
		st := x.status("p", s, now)
		if st.Status != kvpb.TxnStatus_TXN_PENDING || st.GetLock().GetStartTs() != s || st.GetLock().GetTtlMs() != 3000 {
			t.Fatalf("status at %d: %v, want pending with the lock", now, st)
		}
	}
	x.wantLock("p", s)

	// Expired: rolled back, for good.
	st := x.status("p", s, at(4001))
	if st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status after the TTL: %v, want aborted", st)
	}
	x.wantLock("p", 0)
	if got := x.slot("p").GetRolledBack(); got != s {
		t.Fatalf("p remembers rollback of %d, want %d", got, s)
	}
	x.fails(commitReq(s, at(4002), "p"), isTxnNotFound, "commit of an aborted transaction")
	x.fails(prewriteReq("p", s, 3000, putM("p", "1")), isWriteConflict, "late prewrite of an aborted transaction")
	// Asked again: still aborted, and nothing changes.
	before := digest(t, x.eng, "a", "z")
	if st := x.status("p", s, at(5000)); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("second status: %v, want aborted", st)
	}
	if digest(t, x.eng, "a", "z") != before {
		t.Fatal("asking the status of an aborted transaction again changed the engine")
	}
	// The secondary's lock is the resolver's to roll back.
	x.wantLock("s", s)
	x.ok(rollbackReq(s, "s"))

	// Committed: the commit timestamp is found from the primary's version,
	// also below newer versions written by later transactions.
	s2, c2 := at(6000), at(6010)
	x.ok(prewriteReq("c", s2, 3000, putM("c", "v2")))
	x.ok(commitReq(s2, c2, "c"))
	for i := range 3 {
		si := at(int64(7000 + 100*i))
		x.ok(onePCReq(si, si+1, putM("c", fmt.Sprint("later", i))))
	}
	st = x.status("c", s2, at(100_000)) // long expired: it does not matter
	if st.Status != kvpb.TxnStatus_TXN_COMMITTED || st.CommitTs != c2 {
		t.Fatalf("status of a committed transaction: %v, want committed at %d", st, c2)
	}

	// Never prewritten (its prewrite is late, or never comes): aborted,
	// and the late prewrite is kept out, so the answer cannot change.
	s3 := at(8000)
	st = x.status("n", s3, at(8001))
	if st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status of a transaction with no primary lock: %v, want aborted", st)
	}
	x.fails(prewriteReq("n", s3, 3000, putM("n", "late")), isWriteConflict, "late prewrite after status check")
	if st := x.status("n", s3, at(8002)); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("second status: %v", st)
	}

	// Met through a secondary whose lock is live: the primary's prewrite,
	// sent at the same time, may still come, so it is pending and nothing
	// is written; once the secondary's TTL has run out it is rolled back.
	s6 := at(10_000)
	x.ok(prewriteReq("q", s6, 3000, putM("r", "2")))
	before = digest(t, x.eng, "a", "z")
	for _, now := range []uint64{s6, at(13_000)} {
		req := checkReq("q", s6, now)
		req.GetCheckTxnStatus().SecondaryTtlMs = 3000
		if st := x.ok(req).GetCheckTxnStatus(); st.Status != kvpb.TxnStatus_TXN_PENDING {
			t.Fatalf("status at %d with the secondary's lock live: %v, want pending", now, st)
		}
	}
	if digest(t, x.eng, "a", "z") != before {
		t.Fatal("a pending answer for a missing primary changed the engine")
	}
	x.ok(prewriteReq("q", s6, 3000, putM("q", "1"))) // the primary arrives
	x.ok(commitReq(s6, at(13_001), "q"))
	s7 := at(14_000)
	req := checkReq("q2", s7, at(17_001))
	req.GetCheckTxnStatus().SecondaryTtlMs = 3000
	if st := x.ok(req).GetCheckTxnStatus(); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status after the secondary's TTL: %v, want aborted", st)
	}
	x.fails(prewriteReq("q2", s7, 3000, putM("q2", "late")), isWriteConflict, "prewrite after the secondary's TTL")

	// The primary holds another transaction's lock: the one asked about is
	// aborted; the other's lock stays.
	s4, s5 := at(9000), at(9010)
	x.ok(prewriteReq("o", s4, 3000, putM("o", "x")))
	if st := x.status("o", s5, at(20_000)); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status of a transaction whose primary another holds: %v", st)
	}
	x.wantLock("o", s4)
	x.ok(commitReq(s4, at(20_001), "o"))
	x.wantAt("o", at(20_001), "x")
}

func TestHeartbeatExtendsTTL(t *testing.T) {
	x := newTxnRange(t)
	s := at(1000)
	x.ok(prewriteReq("p", s, 3000, putM("p", "1")))
	if got := x.ok(heartbeatReq("p", s, 10_000)).GetHeartbeat().GetTtlMs(); got != 10_000 {
		t.Fatalf("heartbeat returned ttl %d, want 10000", got)
	}
	// A heartbeat never shortens the TTL.
	if got := x.ok(heartbeatReq("p", s, 5000)).GetHeartbeat().GetTtlMs(); got != 10_000 {
		t.Fatalf("shorter heartbeat returned ttl %d, want 10000", got)
	}
	// Past the first TTL, within the new one: pending.
	if st := x.status("p", s, at(1000+9000)); st.Status != kvpb.TxnStatus_TXN_PENDING || st.GetLock().GetTtlMs() != 10_000 {
		t.Fatalf("status within the extended ttl: %v", st)
	}
	if st := x.status("p", s, at(1000+10_001)); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status past the extended ttl: %v", st)
	}
	// A heartbeat of a transaction whose lock is gone tells it so.
	x.fails(heartbeatReq("p", s, 20_000), isTxnNotFound, "heartbeat after rollback")
	x.fails(heartbeatReq("never", at(5), 20_000), isTxnNotFound, "heartbeat without a lock")
}

func TestOnePhaseCommit(t *testing.T) {
	x := newTxnRange(t)
	s, c := at(100), at(110)
	res := x.ok(onePCReq(s, c, putM("a1", "x"), putM("b1", "y"), delM("c1"), lockM("d1")))
	if got := res.GetOnePc().GetCommitTs(); got != c {
		t.Fatalf("one-phase commit answered commit ts %d, want %d", got, c)
	}
	// Written at the commit timestamp, by s, with no lock left behind.
	x.wantAt("a1", c, "x")
	x.wantAt("b1", c, "y")
	x.wantAbsentAt("a1", c-1)
	for _, k := range []string{"a1", "b1", "c1", "d1"} {
		if sl := x.slot(k); sl != nil {
			t.Fatalf("%s has lock slot %v after a one-phase commit", k, sl)
		}
	}
	if st := x.status("a1", s, at(200)); st.Status != kvpb.TxnStatus_TXN_COMMITTED || st.CommitTs != c {
		t.Fatalf("status of a one-phase commit: %v, want committed at %d", st, c)
	}
	if _, lastTS := state(x.r); lastTS != engine.Timestamp(c) {
		t.Fatalf("last timestamp %d after a commit at %d", lastTS, c)
	}

	// The checks of a prewrite, for every key, before anything is written.
	x.fails(onePCReq(at(105), at(120), putM("a0", "x"), putM("a1", "stale")), isWriteConflict, "conflict with a newer version")
	x.wantAbsentAt("a0", uint64(engine.MaxTimestamp))
	x.ok(prewriteReq("l", at(130), 3000, putM("l", "locked")))
	x.fails(onePCReq(at(140), at(150), putM("a2", "x"), putM("l", "y")), isKeyLocked, "key locked")
	x.ok(rollbackReq(at(130), "l"))
	x.fails(onePCReq(at(130), at(150), putM("l", "y")), isWriteConflict, "one-phase commit after rollback of its start")
	x.fails(onePCReq(at(160), at(160), putM("a3", "x")), isInvalid, "commit at the start timestamp")
	x.fails(onePCReq(at(160), at(170), putM("a3", "x"), delM("a3")), isInvalid, "a key written twice")
	x.ok(onePCReq(at(160), at(170), putM("l", "y")))
	x.wantAt("l", at(170), "y")
}

// TestOnePhaseCommitRetryIsIdempotent: a one-phase commit whose first
// attempt was applied but whose answer was lost (leader killed, timeout)
// is retried by the client with the same start timestamp; the leader takes
// a new commit timestamp. The retry must report the first commit, not a
// write conflict with itself: the client would take that for a conflict
// and run the transaction again, applying it twice.
func TestOnePhaseCommitRetryIsIdempotent(t *testing.T) {
	x := newTxnRange(t)
	s, c := at(100), at(110)
	x.ok(onePCReq(s, c, putM("a", "1"), putM("b", "2")))
	after := digest(t, x.eng, "a", "z")
	res := x.do(onePCReq(s, at(120), putM("a", "1"), putM("b", "2")))
	mustOK(t, res)
	if got := res.Responses[0].GetOnePc().GetCommitTs(); got != c {
		t.Fatalf("retried one-phase commit reports commit ts %d, want the first one, %d", got, c)
	}
	if digest(t, x.eng, "a", "z") != after {
		t.Fatal("a retried one-phase commit wrote again")
	}
	// Another transaction's write after it does not make the retry look
	// like a conflict either.
	x.ok(onePCReq(at(130), at(140), putM("a", "3")))
	res = x.do(onePCReq(s, at(150), putM("a", "1"), putM("b", "2")))
	mustOK(t, res)
	if got := res.Responses[0].GetOnePc().GetCommitTs(); got != c {
		t.Fatalf("late retried one-phase commit reports commit ts %d, want %d", got, c)
	}
	x.wantAt("a", at(150), "3")
	// Nor do many, as on a hot row (findCommit walks them all).
	for i := range int64(20) {
		x.ok(onePCReq(at(200+10*i), at(205+10*i), putM("a", strconv.FormatInt(i, 10))))
	}
	res = x.do(onePCReq(s, at(500), putM("a", "1"), putM("b", "2")))
	mustOK(t, res)
	if got := res.Responses[0].GetOnePc().GetCommitTs(); got != c {
		t.Fatalf("retried one-phase commit after 20 more commits reports commit ts %d, want %d", got, c)
	}
	x.wantAt("a", at(500), "19")
}

// TestLockOnlyPrimaryCannotBeFound records why a coordinator must choose a
// primary that it writes: a lock-only key leaves no version when it
// commits, so after its commit the transaction looks rolled back to a
// resolver, which would then roll back the secondaries of a committed
// transaction.
func TestLockOnlyPrimaryCannotBeFound(t *testing.T) {
	x := newTxnRange(t)
	s, c := at(100), at(110)
	x.ok(prewriteReq("p", s, 3000, lockM("p"), putM("q", "1")))
	x.ok(commitReq(s, c, "p"))
	if st := x.status("p", s, at(111)); st.Status != kvpb.TxnStatus_TXN_ABORTED {
		t.Fatalf("status through a committed lock-only primary: %v (if this is now found committed, the coordinator may use lock-only primaries)", st)
	}
}

// TestSnapshotReads reads with the read helpers of a leader (get, scan)
// at several timestamps: versions at or below the read's timestamp only,
// and a KeyLocked error for a lock of a transaction that started at or
// before it (it may commit below the read's timestamp), never for a later
// one.
func TestSnapshotReads(t *testing.T) {
	x := newTxnRange(t)
	ctx := context.Background()
	for i, k := range []string{"k1", "k2", "k3", "k4"} {
		s := at(int64(100 + 10*i))
		x.ok(onePCReq(s, s+1, putM(k, "v1")))
	}
	x.ok(onePCReq(at(200), at(210), putM("k2", "v2"), delM("k3")))
	desc := x.r.Desc()

	get := func(k string, ts uint64) (*kvpb.GetResponse, error) {
		t.Helper()
		return x.r.get(ctx, &kvpb.GetRequest{Key: []byte(k), ReadTs: ts})
	}
	scan := func(start, end string, limit int64, ts uint64) (*kvpb.ScanResponse, error) {
		t.Helper()
		return x.r.scan(ctx, &kvpb.ScanRequest{StartKey: []byte(start), EndKey: []byte(end), Limit: limit, ReadTs: ts}, desc)
	}
	rows := func(s *kvpb.ScanResponse) string {
		out := ""
		for _, r := range s.GetRows() {
			out += fmt.Sprintf("%s=%s ", r.Key, r.Value)
		}
		return out
	}
	for _, c := range []struct {
		ts   uint64
		want string
	}{
		{at(50), ""},
		{at(100) + 1, "k1=v1 "},
		{at(209), "k1=v1 k2=v1 k3=v1 k4=v1 "},
		{at(210), "k1=v1 k2=v2 k4=v1 "},
		{0, "k1=v1 k2=v2 k4=v1 "}, // 0: the newest
	} {
		s, err := scan("a", "z", 0, c.ts)
		if err != nil || rows(s) != c.want {
			t.Fatalf("scan at %d: %q, %v; want %q", c.ts, rows(s), err, c.want)
		}
		g, err := get("k2", c.ts)
		wantV := ""
		if c.ts >= at(110) {
			wantV = "v1"
		}
		if c.ts >= at(210) || c.ts == 0 {
			wantV = "v2"
		}
		if err != nil || string(g.Value) != wantV || g.Found != (wantV != "") {
			t.Fatalf("get k2 at %d: %v, %v; want %q", c.ts, g, err, wantV)
		}
	}

	// A transaction that started at 300 locks k2 and k5.
	x.ok(prewriteReq("k2", at(300), 3000, putM("k2", "v3"), putM("k5", "new")))
	locked := func(err error, key string) {
		t.Helper()
		kerr, ok := err.(*kvpb.Error)
		if !ok || kerr.GetKeyLocked() == nil || string(kerr.GetKeyLocked().GetKey()) != key || kerr.GetKeyLocked().GetLock().GetStartTs() != at(300) {
			t.Fatalf("error %v, want %s locked by %d", err, key, at(300))
		}
	}
	// Reads below its start do not see it.
	if g, err := get("k2", at(299)); err != nil || string(g.Value) != "v2" {
		t.Fatalf("get k2 below the lock's start: %v, %v", g, err)
	}
	if s, err := scan("a", "z", 0, at(299)); err != nil || rows(s) != "k1=v1 k2=v2 k4=v1 " {
		t.Fatalf("scan below the lock's start: %q, %v", rows(s), err)
	}
	// Reads at or above it must resolve it first.
	for _, ts := range []uint64{at(300), at(400)} {
		_, err := get("k2", ts)
		locked(err, "k2")
		_, err = get("k5", ts)
		locked(err, "k5")
		_, err = scan("a", "z", 0, ts)
		locked(err, "k2")
		_, err = scan("k3", "z", 0, ts)
		locked(err, "k5")
	}
	// A read of the newest data (no timestamp) ignores locks.
	if g, err := get("k2", 0); err != nil || string(g.Value) != "v2" {
		t.Fatalf("get k2 without a timestamp: %v, %v", g, err)
	}
	// A scan reports only the locks in the part of the span it read: with
	// a limit of one row, it stops at k1, before the lock on k2.
	if s, err := scan("a", "z", 1, at(400)); err != nil || rows(s) != "k1=v1 " || string(s.ResumeKey) != "k2" {
		t.Fatalf("limited scan: %q resume %q, %v", rows(s), s.GetResumeKey(), err)
	}

	// Commit at 310: reads at 310 and above see it, reads between its
	// start and its commit do not (and no longer meet a lock).
	x.ok(commitReq(at(300), at(310), "k2", "k5"))
	if s, err := scan("a", "z", 0, at(309)); err != nil || rows(s) != "k1=v1 k2=v2 k4=v1 " {
		t.Fatalf("scan between start and commit: %q, %v", rows(s), err)
	}
	if s, err := scan("a", "z", 0, at(310)); err != nil || rows(s) != "k1=v1 k2=v3 k4=v1 k5=new " {
		t.Fatalf("scan at the commit: %q, %v", rows(s), err)
	}
}

// TestSnapshotReadWaitsForLatches checks that a read at a timestamp waits
// for a one-phase commit latched on its keys (one that may commit below
// the read's timestamp), and only for those keys.
func TestSnapshotReadWaitsForLatches(t *testing.T) {
	x := newTxnRange(t)
	ctx := context.Background()
	release := x.r.latches.acquire(bkeys("k"))
	done := make(chan error, 2)
	go func() {
		_, err := x.r.get(ctx, &kvpb.GetRequest{Key: []byte("k"), ReadTs: at(100)})
		done <- err
	}()
	go func() {
		_, err := x.r.scan(ctx, &kvpb.ScanRequest{StartKey: []byte("a"), EndKey: []byte("z"), ReadTs: at(100)}, x.r.Desc())
		done <- err
	}()
	// Other keys and reads without a timestamp are not held up.
	if _, err := x.r.get(ctx, &kvpb.GetRequest{Key: []byte("other"), ReadTs: at(100)}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.r.scan(ctx, &kvpb.ScanRequest{StartKey: []byte("l"), EndKey: []byte("z"), ReadTs: at(100)}, x.r.Desc()); err != nil {
		t.Fatal(err)
	}
	if _, err := x.r.get(ctx, &kvpb.GetRequest{Key: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("a read of a latched key returned (%v) before the latch was released", err)
	case <-time.After(50 * time.Millisecond):
	}
	x.ok(onePCReq(at(90), at(95), putM("k", "v")))
	release()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// A read whose context ends while it waits fails as unavailable.
	release = x.r.latches.acquire(bkeys("k"))
	defer release()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err := x.r.get(cctx, &kvpb.GetRequest{Key: []byte("k"), ReadTs: at(100)})
	if kerr, ok := err.(*kvpb.Error); !ok || kerr.GetUnavailable() == nil {
		t.Fatalf("read that timed out on a latch: %v, want unavailable", err)
	}
}

// txnSeed is SHARD_TXN_SEED if set, else the clock.
func txnSeed(t *testing.T) uint64 {
	if s := os.Getenv("SHARD_TXN_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SHARD_TXN_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestTxnApplyAgainstModel applies random transactional requests, from
// several interleaved transactions on a few keys, and compares every
// outcome and the final data with a naive model of the protocol: a map of
// locks, rollback marks and committed versions. The same log is applied on
// a second engine in random batches, which must store the same bytes.
func TestTxnApplyAgainstModel(t *testing.T) {
	seed := txnSeed(t)
	t.Logf("seed %d (rerun with SHARD_TXN_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	m := newTxnModel()
	x := newTxnRange(t)
	keys := []string{"k0", "k1", "k2", "k3", "k4"}
	var logs []*raft.Log
	var results []*ApplyResult
	type txn struct {
		start uint64
		muts  []*kvpb.Mutation
	}
	var live []*txn
	clock := int64(1000)
	tick := func() uint64 { clock += 1 + rng.Int64N(20); return at(clock) }
	for i := 0; i < 2000; i++ {
		var req *kvpb.Request
		switch op := rng.IntN(10); {
		case op < 3 || len(live) == 0: // a new transaction prewrites
			tx := &txn{start: tick()}
			for _, k := range rng.Perm(len(keys))[:1+rng.IntN(3)] {
				switch rng.IntN(4) {
				case 0:
					tx.muts = append(tx.muts, delM(keys[k]))
				case 1:
					tx.muts = append(tx.muts, lockM(keys[k]))
				default:
					tx.muts = append(tx.muts, putM(keys[k], fmt.Sprint(i)))
				}
			}
			if rng.IntN(3) == 0 {
				req = onePCReq(tx.start, tick(), tx.muts...)
			} else {
				req = prewriteReq(string(tx.muts[0].Key), tx.start, int64(rng.IntN(100)), tx.muts...)
				live = append(live, tx)
			}
		default:
			j := rng.IntN(len(live))
			tx := live[j]
			ks := make([]string, 0, len(tx.muts))
			for _, mu := range tx.muts {
				if rng.IntN(3) > 0 {
					ks = append(ks, string(mu.Key))
				}
			}
			switch op {
			case 3, 4:
				req = commitReq(tx.start, tick(), ks...)
			case 5:
				req = rollbackReq(tx.start, ks...)
			case 6:
				req = checkReq(string(tx.muts[0].Key), tx.start, tick())
				if rng.IntN(2) == 0 { // sent by a resolver that met a secondary
					req.GetCheckTxnStatus().SecondaryTtlMs = int64(rng.IntN(100))
				}
			case 7:
				req = heartbeatReq(string(tx.muts[0].Key), tx.start, int64(rng.IntN(200)))
			default:
				// A late or retried prewrite.
				req = prewriteReq(string(tx.muts[0].Key), tx.start, 50, tx.muts...)
			}
			if rng.IntN(4) == 0 {
				live = append(live[:j], live[j+1:]...)
			}
		}
		x.idx++
		l := entry(t, x.idx, &kvpb.Command{Writes: []*kvpb.Request{req}})
		logs = append(logs, l)
		res := apply(t, x.r, l)[0]
		results = append(results, res)
		want := m.apply(req)
		if got := outcome(res); got != want {
			t.Fatalf("entry %d %v:\n got  %s\n want %s", x.idx, req, got, want)
		}
	}
	// The data: every key at every timestamp the model knows of.
	for _, k := range keys {
		for _, ts := range m.timestamps() {
			v, found := x.at(k, ts)
			mv, mfound := m.read(k, ts)
			if v != mv || found != mfound {
				t.Fatalf("%s at %d: %q (found %v), model %q (found %v)", k, ts, v, found, mv, mfound)
			}
		}
		sl := x.slot(k)
		if ml := m.locks[k]; !proto.Equal(sl.GetLock(), ml) || sl.GetRolledBack() != m.rolledBack[k] {
			t.Fatalf("%s: lock slot %v, model lock %v rolled back %d", k, sl, ml, m.rolledBack[k])
		}
	}
	// Determinism: the same log in random batches stores the same bytes.
	y := newTxnRange(t)
	var again []*ApplyResult
	for rest := logs; len(rest) > 0; {
		n := min(1+rng.IntN(30), len(rest))
		again = append(again, apply(t, y.r, rest[:n]...)...)
		rest = rest[n:]
	}
	if digest(t, x.eng, "a", "z") != digest(t, y.eng, "a", "z") {
		t.Fatal("the same log applied in other batches stored other bytes")
	}
	for i := range results {
		if outcome(results[i]) != outcome(again[i]) {
			t.Fatalf("entry %d: %s one by one, %s in batches", i+1, outcome(results[i]), outcome(again[i]))
		}
	}
	t.Logf("%d entries: %v", len(logs), m.counts)
}

// outcome summarises a result for comparison with the model.
func outcome(res *ApplyResult) string {
	if res == nil {
		return "nil"
	}
	if res.Err != nil {
		switch {
		case res.Err.GetKeyLocked() != nil:
			return fmt.Sprintf("locked %s by %d", res.Err.GetKeyLocked().Key, res.Err.GetKeyLocked().GetLock().GetStartTs())
		case res.Err.GetWriteConflict() != nil:
			return fmt.Sprintf("conflict %s at %d", res.Err.GetWriteConflict().Key, res.Err.GetWriteConflict().ConflictTs)
		case res.Err.GetTxnNotFound() != nil:
			return fmt.Sprintf("not found %s", res.Err.GetTxnNotFound().Key)
		}
		return "error " + res.Err.Error()
	}
	if len(res.Responses) != 1 {
		return fmt.Sprintf("%d responses", len(res.Responses))
	}
	r := res.Responses[0]
	switch {
	case r.GetCheckTxnStatus() != nil:
		st := r.GetCheckTxnStatus()
		return fmt.Sprintf("status %v commit %d lock %d", st.Status, st.CommitTs, st.GetLock().GetStartTs())
	case r.GetHeartbeat() != nil:
		return fmt.Sprintf("ttl %d", r.GetHeartbeat().TtlMs)
	case r.GetOnePc() != nil:
		return fmt.Sprintf("1pc at %d", r.GetOnePc().CommitTs)
	}
	return "ok"
}

// txnModel is the protocol as the simplest code that could run it.
type txnModel struct {
	locks      map[string]*kvpb.Lock
	rolledBack map[string]uint64
	versions   map[string][]modelVersion // in commit order, ascending
	counts     map[string]int
}

type modelVersion struct {
	commit, start uint64
	value         string
	deleted       bool
}

func newTxnModel() *txnModel {
	return &txnModel{locks: map[string]*kvpb.Lock{}, rolledBack: map[string]uint64{}, versions: map[string][]modelVersion{}, counts: map[string]int{}}
}

func (m *txnModel) newest(k string) (modelVersion, bool) {
	vs := m.versions[k]
	if len(vs) == 0 {
		return modelVersion{}, false
	}
	return vs[len(vs)-1], true
}

func (m *txnModel) read(k string, ts uint64) (string, bool) {
	vs := m.versions[k]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].commit <= ts {
			return vs[i].value, !vs[i].deleted
		}
	}
	return "", false
}

func (m *txnModel) timestamps() []uint64 {
	var out []uint64
	for _, vs := range m.versions {
		for _, v := range vs {
			out = append(out, v.commit-1, v.commit, v.commit+1)
		}
	}
	return out
}

func (m *txnModel) writable(k string, start uint64) string {
	if l := m.locks[k]; l != nil && l.StartTs != start {
		return fmt.Sprintf("locked %s by %d", k, l.StartTs)
	}
	if m.rolledBack[k] >= start {
		return fmt.Sprintf("conflict %s at %d", k, m.rolledBack[k])
	}
	if v, ok := m.newest(k); ok && v.commit >= start {
		return fmt.Sprintf("conflict %s at %d", k, v.commit)
	}
	return ""
}

func (m *txnModel) write(k string, op kvpb.LockOp, value []byte, start, commit uint64) {
	if op == kvpb.LockOp_LOCK_ONLY {
		return
	}
	m.versions[k] = append(m.versions[k], modelVersion{commit: commit, start: start, value: string(value), deleted: op == kvpb.LockOp_LOCK_DELETE})
}

func (m *txnModel) rollback(k string, start uint64) {
	if l := m.locks[k]; l != nil && l.StartTs == start {
		delete(m.locks, k)
	}
	m.rolledBack[k] = max(m.rolledBack[k], start)
}

func (m *txnModel) committedAt(k string, start uint64) (uint64, bool) {
	for _, v := range m.versions[k] {
		if v.start == start {
			return v.commit, true
		}
	}
	return 0, false
}

func (m *txnModel) apply(req *kvpb.Request) string {
	switch v := req.Value.(type) {
	case *kvpb.Request_Prewrite:
		m.counts["prewrite"]++
		p := v.Prewrite
		for _, mu := range p.Mutations {
			if l := m.locks[string(mu.Key)]; l != nil && l.StartTs == p.StartTs {
				continue
			}
			if why := m.writable(string(mu.Key), p.StartTs); why != "" {
				return why
			}
		}
		for _, mu := range p.Mutations {
			m.locks[string(mu.Key)] = &kvpb.Lock{Primary: p.Primary, StartTs: p.StartTs, TtlMs: p.TtlMs, Op: mu.Op, Value: mu.Value}
		}
		return "ok"
	case *kvpb.Request_OnePc:
		m.counts["1pc"]++
		p := v.OnePc
		for _, mu := range p.Mutations {
			if c, ok := m.committedAt(string(mu.Key), p.StartTs); ok {
				return fmt.Sprintf("1pc at %d", c) // a retry
			}
		}
		for _, mu := range p.Mutations {
			if why := m.writable(string(mu.Key), p.StartTs); why != "" {
				return why
			}
		}
		for _, mu := range p.Mutations {
			m.write(string(mu.Key), mu.Op, mu.Value, p.StartTs, p.CommitTs)
		}
		return fmt.Sprintf("1pc at %d", p.CommitTs)
	case *kvpb.Request_Commit:
		m.counts["commit"]++
		c := v.Commit
		type todo struct {
			k string
			l *kvpb.Lock
		}
		var do []todo
		for _, k := range c.Keys {
			if l := m.locks[string(k)]; l != nil && l.StartTs == c.StartTs {
				do = append(do, todo{string(k), l})
				continue
			}
			if commit, ok := m.committedAt(string(k), c.StartTs); ok && commit == c.CommitTs {
				continue
			}
			return fmt.Sprintf("not found %s", k)
		}
		for _, d := range do {
			m.write(d.k, d.l.Op, d.l.Value, c.StartTs, c.CommitTs)
			delete(m.locks, d.k)
		}
		return "ok"
	case *kvpb.Request_Rollback:
		m.counts["rollback"]++
		for _, k := range v.Rollback.Keys {
			m.rollback(string(k), v.Rollback.StartTs)
		}
		return "ok"
	case *kvpb.Request_CheckTxnStatus:
		m.counts["check"]++
		c := v.CheckTxnStatus
		p := string(c.Primary)
		if l := m.locks[p]; l != nil && l.StartTs == c.StartTs {
			if engine.Timestamp(c.NowTs).Physical() <= engine.Timestamp(l.StartTs).Physical()+l.TtlMs {
				return fmt.Sprintf("status %v commit 0 lock %d", kvpb.TxnStatus_TXN_PENDING, l.StartTs)
			}
			m.rollback(p, c.StartTs)
			return fmt.Sprintf("status %v commit 0 lock 0", kvpb.TxnStatus_TXN_ABORTED)
		}
		if commit, ok := m.committedAt(p, c.StartTs); ok {
			return fmt.Sprintf("status %v commit %d lock 0", kvpb.TxnStatus_TXN_COMMITTED, commit)
		}
		if m.rolledBack[p] < c.StartTs && c.SecondaryTtlMs > 0 &&
			engine.Timestamp(c.NowTs).Physical() <= engine.Timestamp(c.StartTs).Physical()+c.SecondaryTtlMs {
			return fmt.Sprintf("status %v commit 0 lock 0", kvpb.TxnStatus_TXN_PENDING)
		}
		m.rollback(p, c.StartTs)
		return fmt.Sprintf("status %v commit 0 lock 0", kvpb.TxnStatus_TXN_ABORTED)
	case *kvpb.Request_Heartbeat:
		m.counts["heartbeat"]++
		h := v.Heartbeat
		l := m.locks[string(h.Primary)]
		if l == nil || l.StartTs != h.StartTs {
			return fmt.Sprintf("not found %s", h.Primary)
		}
		l.TtlMs = max(l.TtlMs, h.TtlMs)
		return fmt.Sprintf("ttl %d", l.TtlMs)
	}
	return "unknown request"
}

// TestSnapshotReadMeetsCommitOrLock races reads at a timestamp above every
// commit with transactions that lock many keys and commit them: a read that
// starts after a transaction's prewrite must either meet its lock or see
// its commit, whatever is applied while the read runs (a scan that read the
// versions and then the locks from the live engine missed a commit applied
// in between).
func TestSnapshotReadMeetsCommitOrLock(t *testing.T) {
	x := newTxnRange(t)
	ctx := context.Background()
	// Many keys that do not change, then the key the transactions write:
	// a scan reads it last.
	var filler []*kvpb.Mutation
	for j := range 3000 {
		filler = append(filler, putM(fmt.Sprintf("k%04d", j), "0"))
	}
	x.ok(onePCReq(at(1), at(2), filler...))
	const hot = "y"
	var prewritten atomic.Int64 // the last transaction whose prewrite is applied
	stop := make(chan struct{})
	failed := make(chan string, 1)
	go func() {
		defer close(failed)
		for i := int64(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s := at(10 * i)
			for _, req := range []*kvpb.Request{prewriteReq(hot, s, 3000, putM(hot, strconv.FormatInt(i, 10))), commitReq(s, s+1, hot)} {
				// Hold the lock, and the commit, for about as long as a
				// scan takes: the pause is the workload, not a wait.
				time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
				x.idx++
				data, err := proto.Marshal(&kvpb.Command{Writes: []*kvpb.Request{req}})
				if err != nil {
					failed <- err.Error()
					return
				}
				res, _ := x.r.ApplyBatch([]*raft.Log{{Index: x.idx, Term: 1, Type: raft.LogCommand, Data: data}})[0].(*ApplyResult)
				if res == nil || res.Err != nil {
					failed <- fmt.Sprintf("transaction %d: %v", i, res)
					return
				}
				prewritten.CompareAndSwap(i-1, i)
			}
		}
	}()
	readTS := at(1 << 40)
	var reads, locked int
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); reads++ {
		p := prewritten.Load()
		var got string
		var err error
		if reads%4 > 0 {
			var s *kvpb.ScanResponse
			s, err = x.r.scan(ctx, &kvpb.ScanRequest{StartKey: []byte("a"), EndKey: []byte("z"), ReadTs: readTS}, x.r.Desc())
			if rows := s.GetRows(); len(rows) > 0 && string(rows[len(rows)-1].Key) == hot {
				got = string(rows[len(rows)-1].Value)
			}
		} else {
			var g *kvpb.GetResponse
			g, err = x.r.get(ctx, &kvpb.GetRequest{Key: []byte(hot), ReadTs: readTS})
			got = string(g.GetValue())
		}
		if err != nil {
			if kerr, ok := err.(*kvpb.Error); !ok || kerr.GetKeyLocked() == nil {
				t.Fatal(err)
			}
			locked++
			continue
		}
		if n, _ := strconv.ParseInt(got, 10, 64); n < p {
			close(stop)
			<-failed
			t.Fatalf("read %d saw no lock and %q, after transaction %d prewrote", reads, got, p)
		}
	}
	close(stop)
	if why, ok := <-failed; ok {
		t.Fatal(why)
	}
	t.Logf("%d reads, %d met a lock, %d transactions", reads, locked, prewritten.Load())
}
