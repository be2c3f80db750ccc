package replica

import (
	"context"
	"sync"
	"time"
)

// Write locks in memory (GetRequest.lock_for). An UPDATE or DELETE in a
// transaction block locks each row it is about to change at the range's
// leaseholder before reading it, so that concurrent writers of a hot row
// queue behind each other instead of all reading the same version and all
// but one failing at commit with a write conflict (what TPC-B's branch row
// does to optimistic transactions).
//
// The locks are an optimization of the queueing only, never what makes a
// transaction correct: that stays the commit's check that no version was
// committed after the transaction's read timestamp (PrewriteRequest.read_ts)
// and the refresh that moves the read timestamp (RefreshRequest). So they
// live in the leaseholder's memory and are not replicated: a lock lost to a
// leadership change, an expiry or a restart costs at worst the write
// conflict the transaction would have met without it.
//
// A lock is released when its transaction's commit, one-phase commit or
// rollback of the key is applied at this leaseholder, by an UnlockRequest
// for a key the transaction locked but did not write, or when it expires:
// memLockTTL after it was last taken, so that a dead coordinator does not
// block the key for long. A waiter gives up after memLockWait (a cycle of
// waiters, a deadlock, ends that way) with a write conflict.

const (
	// memLockTTL is how long a lock lasts after its transaction last took
	// it.
	memLockTTL = 5 * time.Second
	// memLockWait bounds one wait for a lock.
	memLockWait = 2 * time.Second
)

// memLocks is a leaseholder's table of write locks by key. Safe for
// concurrent use.
type memLocks struct {
	mu   sync.Mutex
	held map[string]*memLock
	// swept is when expired locks were last dropped (maybeSweepLocked).
	swept time.Time
}

type memLock struct {
	txn     uint64 // the holder's start timestamp
	expires time.Time
	free    chan struct{} // closed when the lock is released or taken over
}

func newMemLocks() *memLocks { return &memLocks{held: map[string]*memLock{}} }

// acquire takes key's lock for transaction txn, waiting while another
// transaction holds it. It returns false when the wait ended without the
// lock: memLockWait passed or ctx ended.
func (m *memLocks) acquire(ctx context.Context, key []byte, txn uint64) bool {
	deadline := time.Now().Add(memLockWait)
	for {
		now := time.Now()
		m.mu.Lock()
		l := m.held[string(key)]
		if l == nil || l.txn == txn || !now.Before(l.expires) {
			if l != nil && l.txn != txn {
				close(l.free) // expired: its waiters look again
				l = nil
			}
			if l == nil {
				m.maybeSweepLocked(now)
				l = &memLock{txn: txn, free: make(chan struct{})}
				m.held[string(key)] = l
			}
			l.expires = now.Add(memLockTTL)
			m.mu.Unlock()
			return true
		}
		free, expires := l.free, l.expires
		m.mu.Unlock()
		if !now.Before(deadline) {
			return false
		}
		wake := deadline
		if expires.Before(wake) {
			wake = expires
		}
		t := time.NewTimer(wake.Sub(now))
		select {
		case <-free:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		t.Stop()
	}
}

// release frees the locks that transaction txn holds on keys.
func (m *memLocks) release(txn uint64, keys [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if l := m.held[string(k)]; l != nil && l.txn == txn {
			close(l.free)
			delete(m.held, string(k))
		}
	}
	m.maybeSweepLocked(time.Now())
}

// maybeSweepLocked drops the expired locks that nobody asked for again,
// at most once per memLockTTL, and only once the table is large: a sweep
// reads the whole table.
func (m *memLocks) maybeSweepLocked(now time.Time) {
	if len(m.held) < 1024 || now.Sub(m.swept) < memLockTTL {
		return
	}
	m.swept = now
	for k, l := range m.held {
		if !now.Before(l.expires) {
			close(l.free)
			delete(m.held, k)
		}
	}
}
