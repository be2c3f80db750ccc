package replica

import (
	"context"
	"slices"
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
// waiters, a deadlock, ends that way) with a write conflict, and sooner
// when its replica stops leading the range or a split takes the key away
// (abandon): the client then retries at the new leaseholder.
//
// Waiters queue in order of arrival, and a released or expired lock is
// handed to the first of them: waking them all to race for it let a
// waiter lose again and again until memLockWait ran out (TPC-B's p99 was
// most of a second).

const (
	// memLockTTL is how long a lock lasts after its transaction last took
	// it.
	memLockTTL = 5 * time.Second
	// memLockWait bounds one wait for a lock.
	memLockWait = 2 * time.Second
	// memLockPoll is how often a waiter checks that its replica still
	// leads the range: a leaseholder that lost its lease hears of no
	// more releases.
	memLockPoll = 100 * time.Millisecond
)

// memLocks is a leaseholder's table of write locks by key. Safe for
// concurrent use.
//
// Invariant: a key is in held while a transaction holds its lock or
// someone waits for it; a lock with waiters is never dropped, only handed
// to the first waiter (handOffLocked).
type memLocks struct {
	mu   sync.Mutex
	held map[string]*memLock
	// wait bounds one wait for a lock: memLockWait.
	wait time.Duration
	// swept is when expired locks were last dropped (maybeSweepLocked).
	swept time.Time
}

type memLock struct {
	txn     uint64 // the holder's start timestamp
	expires time.Time
	queue   []*memWaiter // waiters, first come first
}

type memWaiter struct {
	txn     uint64
	granted chan struct{} // closed when the lock is handed to this waiter, or refused
	refused bool          // set, under memLocks.mu, when sent away (abandon)
}

func newMemLocks() *memLocks { return &memLocks{held: map[string]*memLock{}, wait: memLockWait} }

// acquire takes key's lock for transaction txn, waiting in line while
// another transaction holds it. ok is false when the wait ended without
// the lock: memLockWait passed, ctx ended, the key was abandoned, or
// leading (checked every memLockPoll; nil: always) turned false; waited
// reports a wait, during which the replica may have stopped serving the
// key.
func (m *memLocks) acquire(ctx context.Context, key []byte, txn uint64, leading func() bool) (ok, waited bool) {
	ok = m.take(ctx, key, txn, leading, &waited)
	return ok, waited
}

func (m *memLocks) take(ctx context.Context, key []byte, txn uint64, leading func() bool, waited *bool) bool {
	deadline := time.Now().Add(m.wait)
	m.mu.Lock()
	now := time.Now()
	l := m.held[string(key)]
	if l == nil {
		m.maybeSweepLocked(now)
		l = &memLock{txn: txn}
		m.held[string(key)] = l
	}
	if l.txn != txn && !now.Before(l.expires) && len(l.queue) == 0 {
		l.txn = txn // expired, and nobody waits
	}
	if l.txn == txn {
		l.expires = now.Add(memLockTTL)
		m.mu.Unlock()
		return true
	}
	w := &memWaiter{txn: txn, granted: make(chan struct{})}
	l.queue = append(l.queue, w)
	*waited = true
	for {
		// Wake at the holder's expiry, to hand the lock on, or at the
		// deadline.
		wake := deadline
		if l.expires.Before(wake) {
			wake = l.expires
		}
		if poll := time.Now().Add(memLockPoll); leading != nil && poll.Before(wake) {
			wake = poll
		}
		m.mu.Unlock()
		t := time.NewTimer(time.Until(wake))
		select {
		case <-w.granted:
			t.Stop()
			m.mu.Lock()
			defer m.mu.Unlock()
			return !w.refused
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		m.mu.Lock()
		select {
		case <-w.granted: // handed over (or refused) meanwhile
			m.mu.Unlock()
			return !w.refused
		default:
		}
		now := time.Now()
		if ctx.Err() != nil || !now.Before(deadline) || leading != nil && !leading() {
			l.queue = slices.DeleteFunc(l.queue, func(x *memWaiter) bool { return x == w })
			m.mu.Unlock()
			return false
		}
		if !now.Before(l.expires) {
			m.handOffLocked(string(key), l, now)
		}
	}
}

// handOffLocked takes key's lock l from its holder: the first waiter gets
// it, or it is dropped when nobody waits.
func (m *memLocks) handOffLocked(key string, l *memLock, now time.Time) {
	if len(l.queue) == 0 {
		delete(m.held, key)
		return
	}
	w := l.queue[0]
	l.queue = l.queue[1:]
	l.txn, l.expires = w.txn, now.Add(memLockTTL)
	close(w.granted)
}

// abandon drops the locks of the keys for which drop is true and sends
// their waiters away: the replica no longer serves those keys (a split
// gave them to the new range, whose leaseholder has locks of its own), so
// no release would reach them here.
func (m *memLocks) abandon(drop func(key []byte) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, l := range m.held {
		if !drop([]byte(k)) {
			continue
		}
		for _, w := range l.queue {
			w.refused = true
			close(w.granted)
		}
		delete(m.held, k)
	}
}

// release frees the locks that transaction txn holds on keys.
func (m *memLocks) release(txn uint64, keys [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for _, k := range keys {
		if l := m.held[string(k)]; l != nil && l.txn == txn {
			m.handOffLocked(string(k), l, now)
		}
	}
	m.maybeSweepLocked(now)
}

// maybeSweepLocked takes the expired locks from their holders, at most
// once per memLockTTL, and only once the table is large: a sweep reads the
// whole table.
func (m *memLocks) maybeSweepLocked(now time.Time) {
	if len(m.held) < 1024 || now.Sub(m.swept) < memLockTTL {
		return
	}
	m.swept = now
	for k, l := range m.held {
		if !now.Before(l.expires) {
			m.handOffLocked(k, l, now)
		}
	}
}
