package replica

import (
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// Transactions, Percolator style, as seen by one range. A transaction that
// started at S writes by:
//
//  1. prewrite: for each key, a lock {primary, S, ttl, op, value} in the
//     key's lock slot, refused (WriteConflict) if the key has a committed
//     version at or above S or a rollback of S or later, and refused
//     (KeyLocked) if another transaction holds the lock;
//  2. commit of the primary key at C (from the timestamp oracle, after every
//     prewrite): the version at C, the lock gone. This is the commit point;
//  3. commit of the secondaries, by the coordinator or by any reader that
//     meets their locks and finds the primary committed (CheckTxnStatus).
//
// A transaction whose writes all fall in one range commits in one command
// (OnePC) with the same checks, and leaves no lock. All of it is applied
// here, deterministically: each request's outcome depends only on the
// engine's state and the request (the "now" that decides lock expiry is in
// the request).

// txnRequest reports whether req is a transactional write.
func txnRequest(req *kvpb.Request) bool {
	switch req.Value.(type) {
	case *kvpb.Request_Prewrite, *kvpb.Request_Commit, *kvpb.Request_Rollback,
		*kvpb.Request_CheckTxnStatus, *kvpb.Request_Heartbeat, *kvpb.Request_OnePc, *kvpb.Request_Gc:
		return true
	}
	return false
}

// txnKeys lists the keys a transactional request touches (the writes
// above, and a refresh's or an unlock's keys).
func txnKeys(req *kvpb.Request) [][]byte {
	var out [][]byte
	switch v := req.Value.(type) {
	case *kvpb.Request_Prewrite:
		for _, m := range v.Prewrite.Mutations {
			out = append(out, m.Key)
		}
	case *kvpb.Request_OnePc:
		for _, m := range v.OnePc.Mutations {
			out = append(out, m.Key)
		}
	case *kvpb.Request_Commit:
		out = v.Commit.Keys
	case *kvpb.Request_Rollback:
		out = v.Rollback.Keys
	case *kvpb.Request_CheckTxnStatus:
		out = [][]byte{v.CheckTxnStatus.Primary}
	case *kvpb.Request_Heartbeat:
		out = [][]byte{v.Heartbeat.Primary}
	case *kvpb.Request_Refresh:
		out = v.Refresh.Keys
	case *kvpb.Request_Unlock:
		out = v.Unlock.Keys
	}
	return out
}

// applyTxn applies one transactional request. The engine holds every
// earlier entry (the caller flushed); writes go to the applier's batch.
func (a *applier) applyTxn(req *kvpb.Request) *ApplyResult {
	var resp *kvpb.Response
	var err *kvpb.Error
	switch v := req.Value.(type) {
	case *kvpb.Request_Prewrite:
		err = a.prewrite(v.Prewrite)
		resp = &kvpb.Response{Value: &kvpb.Response_Prewrite{Prewrite: &kvpb.PrewriteResponse{}}}
	case *kvpb.Request_Commit:
		err = a.commit(v.Commit)
		resp = &kvpb.Response{Value: &kvpb.Response_Commit{Commit: &kvpb.CommitResponse{}}}
	case *kvpb.Request_Rollback:
		for _, k := range v.Rollback.Keys {
			a.rollback(k, engine.Timestamp(v.Rollback.StartTs))
		}
		resp = &kvpb.Response{Value: &kvpb.Response_Rollback{Rollback: &kvpb.RollbackResponse{}}}
	case *kvpb.Request_CheckTxnStatus:
		var out *kvpb.CheckTxnStatusResponse
		out, err = a.checkTxnStatus(v.CheckTxnStatus)
		resp = &kvpb.Response{Value: &kvpb.Response_CheckTxnStatus{CheckTxnStatus: out}}
	case *kvpb.Request_Heartbeat:
		var ttl int64
		ttl, err = a.heartbeat(v.Heartbeat)
		resp = &kvpb.Response{Value: &kvpb.Response_Heartbeat{Heartbeat: &kvpb.HeartbeatResponse{TtlMs: ttl}}}
	case *kvpb.Request_OnePc:
		var commit engine.Timestamp
		commit, err = a.onePC(v.OnePc)
		resp = &kvpb.Response{Value: &kvpb.Response_OnePc{OnePc: &kvpb.OnePCResponse{CommitTs: uint64(commit)}}}
	case *kvpb.Request_Gc:
		var n uint64
		n, err = a.gc(v.Gc)
		resp = &kvpb.Response{Value: &kvpb.Response_Gc{Gc: &kvpb.GCResponse{Keys: n}}}
	}
	res := &ApplyResult{Responses: []*kvpb.Response{resp}}
	if err != nil {
		res = &ApplyResult{Err: err}
	}
	if p := req.GetOnePc(); p != nil {
		a.r.outcomes.deliver(p.CommitTs, res)
	}
	return res
}

func (a *applier) lockSlot(key []byte) *kvpb.LockSlot {
	slot, err := readLockSlot(a.r.eng, key)
	a.must(err, "read lock slot")
	if slot == nil {
		slot = &kvpb.LockSlot{}
	}
	return slot
}

func (a *applier) putLockSlot(key []byte, slot *kvpb.LockSlot) {
	b := a.batch()
	if slot.Lock == nil && slot.RolledBack == 0 {
		// An empty value, not a delete: a read that lands on a deleted
		// key steps over every entry the key has in the memtable, one per
		// lock taken since the last flush, which on a hot row is
		// thousands (engine doc, "Keys rewritten often"). The MVCC GC
		// deletes it later (gc.go).
		a.must(b.Put(key, nil), "clear lock slot")
		return
	}
	enc, err := proto.Marshal(slot)
	a.must(err, "encode lock slot")
	a.must(b.Put(key, enc), "write lock slot")
}

// keyState reads key's lock slot (an empty one if it has none) and newest
// version.
func (a *applier) keyState(key []byte) keyState {
	ks, err := readKey(a.r.eng, key, engine.MaxTimestamp)
	a.must(err, "read key")
	if ks.slot == nil {
		ks.slot = &kvpb.LockSlot{}
	}
	return ks
}

// checkWritable is the prewrite check of one key, in state ks, for the
// transaction that started at start and reads at read (0: start): no other
// lock, no rollback of start or later, no committed version at or above the
// later of the two.
func (a *applier) checkWritable(key []byte, start, read engine.Timestamp, ks keyState) *kvpb.Error {
	if l := ks.slot.Lock; l != nil && l.StartTs != uint64(start) {
		return kvpb.NewKeyLocked(key, l)
	}
	if ks.slot.RolledBack >= uint64(start) {
		return kvpb.NewWriteConflict(key, ks.slot.RolledBack, "the transaction was rolled back")
	}
	if ks.vts != 0 && ks.vts >= max(start, read) {
		return kvpb.NewWriteConflict(key, uint64(ks.vts), "a newer version was committed")
	}
	return nil
}

// checkAbsent is the check of a mutation that must find its key without a
// live version (Mutation.absent): a row keyed by a generated id that was
// made twice conflicts, at whatever timestamp the other row was written,
// rather than replace it; the statement is retried with a new id.
func checkAbsent(m *kvpb.Mutation, ks keyState) *kvpb.Error {
	if !m.Absent {
		return nil
	}
	if _, vts, found := ks.value(); found {
		return kvpb.NewWriteConflict(m.Key, uint64(vts), "a row with the same generated id exists")
	}
	return nil
}

// readAt is where a transaction read m's key: the request's read
// timestamp, or the mutation's own when higher (a locked read of the
// key's newest version, see kv/pessimistic.go).
func readAt(readTS uint64, m *kvpb.Mutation) engine.Timestamp {
	return engine.Timestamp(max(readTS, m.ReadTs))
}

func (a *applier) prewrite(p *kvpb.PrewriteRequest) *kvpb.Error {
	start := engine.Timestamp(p.StartTs)
	slots := make([]*kvpb.LockSlot, len(p.Mutations))
	seen := map[string]bool{}
	for i, m := range p.Mutations {
		if seen[string(m.Key)] {
			return kvpb.NewInvalid("key %q written twice in one transaction", m.Key)
		}
		seen[string(m.Key)] = true
		ks := a.keyState(m.Key)
		slots[i] = ks.slot
		if l := slots[i].Lock; l != nil && l.StartTs == p.StartTs {
			continue // a retried prewrite
		}
		if err := a.checkWritable(m.Key, start, readAt(p.ReadTs, m), ks); err != nil {
			return err
		}
		if err := checkAbsent(m, ks); err != nil {
			return err
		}
	}
	for i, m := range p.Mutations {
		slots[i].Lock = &kvpb.Lock{Primary: p.Primary, StartTs: p.StartTs, TtlMs: p.TtlMs, Op: m.Op, Value: m.Value}
		a.putLockSlot(m.Key, slots[i])
	}
	return nil
}

// writeVersion commits a mutation at commit.
func (a *applier) writeVersion(key []byte, op kvpb.LockOp, value []byte, start, commit engine.Timestamp) {
	switch op {
	case kvpb.LockOp_LOCK_PUT:
		a.must(a.batch().PutMVCC(key, commit, encodeVersion(versionValue, start, value)), "commit put")
	case kvpb.LockOp_LOCK_DELETE:
		a.must(a.batch().PutMVCC(key, commit, encodeVersion(versionDelete, start, nil)), "commit delete")
	}
	if commit > a.lastTS {
		a.lastTS = commit
	}
}

func (a *applier) commit(c *kvpb.CommitRequest) *kvpb.Error {
	start, commit := engine.Timestamp(c.StartTs), engine.Timestamp(c.CommitTs)
	if commit <= start {
		return kvpb.NewInvalid("commit timestamp %d not above start %d", commit, start)
	}
	// Check every key before writing any: a rejected commit leaves no
	// trace (the engine does not see the batch, so a key named twice is
	// committed twice, to the same effect).
	slots := make([]*kvpb.LockSlot, len(c.Keys))
	for i, k := range c.Keys {
		slot := a.lockSlot(k)
		if l := slot.Lock; l != nil && l.StartTs == c.StartTs {
			slots[i] = slot
			continue
		}
		// Already committed (a retry, or a resolver got here first)?
		raw, vts, err := a.r.eng.GetMVCC(k, commit)
		if err == nil && vts == commit {
			if _, vstart, _, err := decodeVersion(raw); err == nil && vstart == start {
				continue
			}
		}
		// A lock-only key leaves no version: its commit cannot be told from
		// a rollback, which is harmless (it wrote nothing) unless the key
		// is the primary: the coordinator never picks a lock-only primary.
		return kvpb.NewTxnNotFound(k, c.StartTs)
	}
	for i, k := range c.Keys {
		if slot := slots[i]; slot != nil {
			a.writeVersion(k, slot.Lock.Op, slot.Lock.Value, start, commit)
			slot.Lock = nil
			a.putLockSlot(k, slot)
		}
	}
	return nil
}

// rollback removes start's lock on key, and remembers the rollback so that
// a late prewrite of start fails.
func (a *applier) rollback(key []byte, start engine.Timestamp) {
	slot := a.lockSlot(key)
	if l := slot.Lock; l != nil && l.StartTs == uint64(start) {
		slot.Lock = nil
	}
	if slot.RolledBack < uint64(start) {
		slot.RolledBack = uint64(start)
	}
	a.putLockSlot(key, slot)
}

func lockExpired(l *kvpb.Lock, now engine.Timestamp) bool {
	return now.Physical() > engine.Timestamp(l.StartTs).Physical()+l.TtlMs
}

func (a *applier) checkTxnStatus(c *kvpb.CheckTxnStatusRequest) (*kvpb.CheckTxnStatusResponse, *kvpb.Error) {
	start, now := engine.Timestamp(c.StartTs), engine.Timestamp(c.NowTs)
	slot := a.lockSlot(c.Primary)
	if l := slot.Lock; l != nil && l.StartTs == c.StartTs {
		if c.Peek || !lockExpired(l, now) {
			return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_PENDING, Lock: l}, nil
		}
		a.rollback(c.Primary, start)
		return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_ABORTED}, nil
	}
	commit, found, err := findCommit(a.r.eng, c.Primary, start)
	a.must(err, "find commit")
	if found {
		return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_COMMITTED, CommitTs: uint64(commit)}, nil
	}
	// No lock and no version: rolled back, or the primary's prewrite has not
	// arrived yet. While the secondary lock that sent the resolver here is
	// live, the prewrite may still come (they are sent at once); after
	// that, rolling back keeps it out for good.
	if slot.RolledBack < c.StartTs {
		if c.Peek {
			return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_PENDING}, nil
		}
		if c.SecondaryTtlMs > 0 && !lockExpired(&kvpb.Lock{StartTs: c.StartTs, TtlMs: c.SecondaryTtlMs}, now) {
			return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_PENDING}, nil
		}
		a.rollback(c.Primary, start)
	}
	return &kvpb.CheckTxnStatusResponse{Status: kvpb.TxnStatus_TXN_ABORTED}, nil
}

func (a *applier) heartbeat(h *kvpb.HeartbeatRequest) (int64, *kvpb.Error) {
	slot := a.lockSlot(h.Primary)
	l := slot.Lock
	if l == nil || l.StartTs != h.StartTs {
		return 0, kvpb.NewTxnNotFound(h.Primary, h.StartTs)
	}
	if h.TtlMs > l.TtlMs {
		l.TtlMs = h.TtlMs
		a.putLockSlot(h.Primary, slot)
	}
	return l.TtlMs, nil
}

// onePC applies a one-phase commit and returns its commit timestamp.
func (a *applier) onePC(p *kvpb.OnePCRequest) (engine.Timestamp, *kvpb.Error) {
	start, commit := engine.Timestamp(p.StartTs), engine.Timestamp(p.CommitTs)
	if commit <= start {
		return 0, kvpb.NewInvalid("one-phase commit at %d not above start %d", commit, start)
	}
	// A retry of a commit that was applied but whose answer was lost (the
	// leader changed, the call timed out) comes with a new commit
	// timestamp: it finds its own versions, and must report them rather
	// than conflict with them, or the client would run the transaction
	// again.
	states := make([]keyState, len(p.Mutations))
	checked := false // the keys of one commit share its fate: look at one
	for i, m := range p.Mutations {
		states[i] = a.keyState(m.Key)
		if checked || m.Op == kvpb.LockOp_LOCK_ONLY {
			continue
		}
		checked = true
		if ks := states[i]; ks.vts >= start { // else no version of start's can exist
			if ks.start == start {
				return ks.vts, nil
			}
			prev, found, err := findCommit(a.r.eng, m.Key, start)
			a.must(err, "find commit")
			if found {
				return prev, nil
			}
		}
	}
	seen := map[string]bool{}
	for i, m := range p.Mutations {
		if seen[string(m.Key)] {
			return 0, kvpb.NewInvalid("key %q written twice in one transaction", m.Key)
		}
		seen[string(m.Key)] = true
		if err := a.checkWritable(m.Key, start, readAt(p.ReadTs, m), states[i]); err != nil {
			return 0, err
		}
		if err := checkAbsent(m, states[i]); err != nil {
			return 0, err
		}
	}
	for _, m := range p.Mutations {
		a.writeVersion(m.Key, m.Op, m.Value, start, commit)
	}
	return commit, nil
}

// blockingLock returns the lock in slot that a read at ts must resolve.
func blockingLock(slot *kvpb.LockSlot, ts engine.Timestamp) *kvpb.Lock {
	if slot == nil || slot.Lock == nil || slot.Lock.StartTs > uint64(ts) {
		return nil
	}
	return slot.Lock
}
