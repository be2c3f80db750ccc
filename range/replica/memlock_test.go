package replica

import (
	"context"
	"testing"
	"time"
)

// TestMemLocks: a lock is its holder's (again and again), another
// transaction waits for its release, gives up after memLockWait or when
// its context ends, and takes over an expired lock.
func TestMemLocks(t *testing.T) {
	ctx := context.Background()
	m := newMemLocks()
	k := []byte("k")
	if !m.acquire(ctx, k, 1) || !m.acquire(ctx, k, 1) {
		t.Fatal("the holder could not take its own lock")
	}
	got := make(chan bool)
	go func() { got <- m.acquire(ctx, k, 2) }()
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
	go func() { got <- m.acquire(cctx, k, 3) }()
	cancel()
	if <-got {
		t.Fatal("a waiter whose context ended got the lock")
	}
	// Expiry: transaction 2's lock, aged past its TTL, goes to 4.
	m.mu.Lock()
	m.held["k"].expires = time.Now().Add(-time.Millisecond)
	m.mu.Unlock()
	if !m.acquire(ctx, k, 4) {
		t.Fatal("an expired lock was not taken over")
	}
	m.mu.Lock()
	holder := m.held["k"].txn
	m.mu.Unlock()
	if holder != 4 {
		t.Fatalf("holder %d, want 4", holder)
	}
}
