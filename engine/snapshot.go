package engine

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Snapshot is a consistent point-in-time view of the engine: it sees every
// batch committed before NewSnapshot returned and none after. It is cheap
// (pebble keeps the old versions it needs alive until Close) but it pins
// garbage, so close it promptly.
//
// One exception to point-in-time: IngestSpan replaces a span by excising
// it, and a snapshot taken before the ingest sees the span's old contents
// disappear (pebble's documented excise caveat). The replication layer
// never reads a span through a snapshot while it ingests into that span.
//
// A Snapshot is safe for concurrent use. Reads after Close, or after the
// engine's Close, return ErrClosed.
type Snapshot struct {
	e     *Engine
	snap  *pebble.Snapshot
	guard *closeGuard
}

// NewSnapshot returns a snapshot of the current state. If the engine is
// closed, the snapshot is returned closed and its reads return ErrClosed.
func (e *Engine) NewSnapshot() *Snapshot {
	s := &Snapshot{e: e, guard: newCloseGuard()}
	if err := e.acquire(); err != nil {
		s.guard.close()
		return s
	}
	defer e.guard.release()
	e.ingest.mu.RLock()
	s.snap = e.db.NewSnapshot()
	e.ingest.mu.RUnlock()
	e.mu.Lock()
	e.mu.snapshots[s] = struct{}{}
	e.mu.Unlock()
	return s
}

// acquire registers a read on both the engine and the snapshot.
func (s *Snapshot) acquire() error {
	if err := s.e.acquire(); err != nil {
		return err
	}
	if !s.guard.acquire() {
		s.e.guard.release()
		return ErrClosed
	}
	return nil
}

func (s *Snapshot) release() {
	s.guard.release()
	s.e.guard.release()
}

// Close releases the snapshot. It waits for reads in flight, so it must not
// be called from a scan callback of the same snapshot. Closing twice is a
// no-op.
func (s *Snapshot) Close() error {
	if err := s.e.acquire(); err != nil {
		// The engine is closing or closed: Engine.Close closes every
		// snapshot still registered.
		return nil
	}
	defer s.e.guard.release()
	if !s.guard.close() {
		return nil
	}
	s.e.mu.Lock()
	_, registered := s.e.mu.snapshots[s]
	delete(s.e.mu.snapshots, s)
	s.e.mu.Unlock()
	if !registered {
		return nil
	}
	if err := s.snap.Close(); err != nil {
		return fmt.Errorf("engine: close snapshot: %w", err)
	}
	return nil
}

// Get implements Reader.
func (s *Snapshot) Get(key []byte) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.release()
	return readGet(s.snap, key)
}

// Scan implements Reader.
func (s *Snapshot) Scan(start, end []byte, fn func(key, value []byte) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return readScan(s.snap, start, end, fn)
}

// GetMVCC implements Reader.
func (s *Snapshot) GetMVCC(key []byte, ts Timestamp) ([]byte, Timestamp, error) {
	if err := s.acquire(); err != nil {
		return nil, 0, err
	}
	defer s.release()
	return readGetMVCC(s.snap, key, ts)
}

// GetKey implements Reader.
func (s *Snapshot) GetKey(key []byte, ts Timestamp) (KeyRead, error) {
	if err := s.acquire(); err != nil {
		return KeyRead{}, err
	}
	defer s.release()
	return readGetKey(s.snap, key, ts)
}

// ScanMVCC implements Reader.
func (s *Snapshot) ScanMVCC(start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return readScanMVCC(s.snap, start, end, ts, limit, fn)
}

// ScanMVCCReverse implements Reader.
func (s *Snapshot) ScanMVCCReverse(start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return readScanMVCCReverse(s.snap, start, end, ts, limit, fn)
}

// Versions implements Reader.
func (s *Snapshot) Versions(key []byte, ts Timestamp, fn func(vts Timestamp, value []byte) bool) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	return readVersions(s.snap, key, ts, fn)
}
