package replica

import (
	"context"
	"sync"
)

// latches are held by the leader on the keys of a one-phase commit from
// before it takes the commit timestamp until the commit is applied. A
// snapshot read waits for the latches on its keys: a read at T > C could
// otherwise miss a commit at C that was assigned before the read arrived
// but not yet applied. (A read at T got T from the oracle; if it arrives
// before the latch, the commit's C, taken after the latch, is above T.)
// Writers do not wait for each other here: apply-time checks order them.
type latches struct {
	mu   sync.Mutex
	cond *sync.Cond
	held map[string]int
}

func newLatches() *latches {
	l := &latches{held: map[string]int{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// acquire latches keys; the returned function releases them.
func (l *latches) acquire(keys [][]byte) func() {
	l.mu.Lock()
	for _, k := range keys {
		l.held[string(k)]++
	}
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		for _, k := range keys {
			if l.held[string(k)]--; l.held[string(k)] <= 0 {
				delete(l.held, string(k))
			}
		}
		l.cond.Broadcast()
		l.mu.Unlock()
	}
}

// wait blocks while any latched key is in [start, end) (end nil: the key
// start alone), or until ctx ends.
func (l *latches) wait(ctx context.Context, start, end []byte) error {
	l.mu.Lock()
	busy := l.busyLocked(start, end)
	l.mu.Unlock()
	if !busy {
		return nil // the common case: no watcher of ctx to set up
	}
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.busyLocked(start, end) {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.cond.Wait()
	}
	return nil
}

func (l *latches) busyLocked(start, end []byte) bool {
	if end == nil {
		return l.held[string(start)] > 0
	}
	for k := range l.held {
		if k >= string(start) && k < string(end) {
			return true
		}
	}
	return false
}
