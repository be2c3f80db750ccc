package engine

import (
	"sync"
	"sync/atomic"
)

// closeGuard lets any number of operations run concurrently and lets Close
// wait for the ones in flight, without a lock on the read path.
//
// An operation calls acquire before touching the underlying pebble object
// and release when done. close marks the guard closed, so that every later
// acquire fails, then waits until the operations in flight have released.
// Pebble panics when a closed DB or snapshot is used; the guard turns that
// into ErrClosed.
//
// Unlike a sync.RWMutex, a pending close never blocks a nested acquire (a
// Scan callback that calls Get on the same engine gets ErrClosed instead of
// deadlocking). Calling close from inside an operation on the same guard
// does deadlock: do not Close an Engine or Snapshot from a scan callback.
type closeGuard struct {
	// state holds closedBit and, in the low bits, the number of acquires
	// not yet released (including failed ones, briefly).
	state   atomic.Int64
	once    sync.Once
	drained chan struct{} // closed when closed and no operation is in flight
}

const closedBit = int64(1) << 62

func newCloseGuard() *closeGuard {
	return &closeGuard{drained: make(chan struct{})}
}

// acquire registers an operation. It returns false, with nothing to
// release, if the guard is closed.
func (g *closeGuard) acquire() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.release()
		return false
	}
	return true
}

// release ends an operation registered by a successful acquire.
func (g *closeGuard) release() {
	if g.state.Add(-1) == closedBit {
		g.signalDrained()
	}
}

func (g *closeGuard) signalDrained() { g.once.Do(func() { close(g.drained) }) }

// close marks the guard closed and waits for the operations in flight. It
// returns false, without waiting, if the guard was already closed.
func (g *closeGuard) close() bool {
	old := g.state.Or(closedBit)
	if old&closedBit != 0 {
		return false
	}
	if old == 0 {
		g.signalDrained()
	}
	<-g.drained
	return true
}
