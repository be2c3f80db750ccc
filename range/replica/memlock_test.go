package replica

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// acq is acquire's ok.
func acq(ctx context.Context, m *memLocks, k []byte, txn uint64) bool {
	ok, _ := m.acquire(ctx, k, txn, nil)
	return ok
}

// TestMemLocks: a lock is its holder's (again and again), another
// transaction waits for its release, gives up after memLockWait or when
// its context ends, and takes over an expired lock.
func TestMemLocks(t *testing.T) {
	ctx := context.Background()
	m := newMemLocks()
	k := []byte("k")
	if !acq(ctx, m, k, 1) || !acq(ctx, m, k, 1) {
		t.Fatal("the holder could not take its own lock")
	}
	got := make(chan bool)
	go func() { got <- acq(ctx, m, k, 2) }()
	select {
	case <-got:
		t.Fatal("a second transaction took a held lock")
	case <-time.After(50 * time.Millisecond):
	}
	m.release(1, [][]byte{k})
	if !<-got {
		t.Fatal("the waiter did not get the released lock")
	}
	m.release(1, [][]byte{k}) // not the holder any more: no effect
	cctx, cancel := context.WithCancel(ctx)
	go func() { got <- acq(cctx, m, k, 3) }()
	cancel()
	if <-got {
		t.Fatal("a waiter whose context ended got the lock")
	}
	// Expiry: transaction 2's lock, aged past its TTL, goes to 4.
	m.mu.Lock()
	m.held["k"].expires = time.Now().Add(-time.Millisecond)
	m.mu.Unlock()
	if !acq(ctx, m, k, 4) {
		t.Fatal("an expired lock was not taken over")
	}
	m.mu.Lock()
	holder := m.held["k"].txn
	m.mu.Unlock()
	if holder != 4 {
		t.Fatalf("holder %d, want 4", holder)
	}
}

// TestMemLocksFirstComeFirstServed: waiters get a released lock in the
// order they came, one at a time; an expired holder's lock goes to the
// first waiter, not to a transaction that comes later.
func TestMemLocksFirstComeFirstServed(t *testing.T) {
	ctx := context.Background()
	m := newMemLocks()
	k := []byte("k")
	queued := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.held["k"].queue)
	}
	if !acq(ctx, m, k, 1) {
		t.Fatal("no lock")
	}
	got := make(chan uint64, 8)
	for txn := uint64(2); txn <= 5; txn++ {
		go func() {
			if acq(ctx, m, k, txn) {
				got <- txn
			}
		}()
		for queued() != int(txn-1) {
			time.Sleep(time.Millisecond)
		}
	}
	for holder, next := uint64(1), uint64(2); next <= 4; holder, next = next, next+1 {
		m.release(holder, [][]byte{k})
		if g := <-got; g != next {
			t.Fatalf("after %d released, %d got the lock, want %d", holder, g, next)
		}
		select {
		case g := <-got:
			t.Fatalf("%d got the lock too", g)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// 4 holds it, 5 waits; 4's lock expires: it goes to 5, and 6, which
	// comes after the expiry, waits.
	m.mu.Lock()
	m.held["k"].expires = time.Now().Add(-time.Millisecond)
	m.mu.Unlock()
	go func() {
		if acq(ctx, m, k, 6) {
			got <- 6
		}
	}()
	if g := <-got; g != 5 {
		t.Fatalf("the expired lock went to %d, want 5", g)
	}
	m.release(5, [][]byte{k})
	if g := <-got; g != 6 {
		t.Fatalf("then %d, want 6", g)
	}
}

// TestMemLocksAbandon: abandoning keys drops their locks and sends their
// waiters away; other keys keep theirs.
func TestMemLocksAbandon(t *testing.T) {
	ctx := context.Background()
	m := newMemLocks()
	m.wait = time.Hour // only abandon ends the wait below
	for _, k := range []string{"a", "m", "z"} {
		if !acq(ctx, m, []byte(k), 1) {
			t.Fatal("no lock")
		}
	}
	type result struct{ ok, waited bool }
	got := make(chan result, 1)
	go func() {
		ok, waited := m.acquire(ctx, []byte("z"), 2, nil)
		got <- result{ok, waited}
	}()
	for {
		m.mu.Lock()
		n := len(m.held["z"].queue)
		m.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m.abandon(func(k []byte) bool { return string(k) >= "m" })
	if r := <-got; r.ok || !r.waited {
		t.Fatalf("waiter on an abandoned key: ok %v waited %v, want false true", r.ok, r.waited)
	}
	if acq(ctx, m, []byte("a"), 1) != true {
		t.Fatal("the holder lost a lock it kept")
	}
	if ok, waited := m.acquire(ctx, []byte("m"), 3, nil); !ok || waited {
		t.Fatalf("an abandoned key's lock: ok %v waited %v, want it free", ok, waited)
	}
}

// TestMemLocksWaiterLeavesWhenNotLeading: a waiter gives up once its
// replica no longer leads the range, long before its wait would run out.
func TestMemLocksWaiterLeavesWhenNotLeading(t *testing.T) {
	ctx := context.Background()
	m := newMemLocks()
	m.wait = time.Hour // only losing the lead ends the wait below
	k := []byte("k")
	if !acq(ctx, m, k, 1) {
		t.Fatal("no lock")
	}
	var leading atomic.Bool
	leading.Store(true)
	got := make(chan bool, 1)
	go func() {
		ok, _ := m.acquire(ctx, k, 2, leading.Load)
		got <- ok
	}()
	select {
	case <-got:
		t.Fatal("the waiter left while its replica led")
	case <-time.After(3 * memLockPoll):
	}
	leading.Store(false)
	if <-got {
		t.Fatal("a waiter whose replica stopped leading got the lock")
	}
	m.mu.Lock()
	n := len(m.held["k"].queue)
	m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d waiters left in the queue", n)
	}
}
