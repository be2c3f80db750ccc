package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// A run holds a slot, a number from 1 to maxSlot, for its lifetime: the
// slot names its subnet (10.199.SLOT.0/24, or 127.199.SLOT.0/24 on
// loopback) and every network object it makes (namespaces, links, rules),
// so concurrent runs never collide. The slot is an exclusive flock on a
// file in lockDir: the kernel releases it when the run's process dies,
// however it dies, so a run that can lock a slot knows that whatever bears
// the slot's name is a dead run's leftover and may remove it.

const maxSlot = 250

// lockDir holds the slots' lock files.
func lockDir() string { return filepath.Join(os.TempDir(), "shard-jepsen") }

// slotLock is a held slot.
type slotLock struct {
	n int
	f *os.File
}

// tryLockSlot locks slot n without waiting; nil, nil when another live run
// holds it.
func tryLockSlot(n int) (*slotLock, error) {
	if err := os.MkdirAll(lockDir(), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: lock directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(lockDir(), fmt.Sprintf("slot-%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cluster: slot lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, nil
		}
		return nil, fmt.Errorf("cluster: lock slot %d: %w", n, err)
	}
	return &slotLock{n: n, f: f}, nil
}

// unlock releases the slot.
func (s *slotLock) unlock() {
	if s != nil && s.f != nil {
		_ = s.f.Close() // closing the only descriptor drops the flock
		s.f = nil
	}
}
