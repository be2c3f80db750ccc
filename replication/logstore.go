package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
)

// errStableNotFound is what hashicorp/raft expects from a StableStore for a
// missing key: it compares the error's text with "not found".
var errStableNotFound = errors.New("not found")

// LogStore is one group's Raft log and stable store, kept in the node's one
// Pebble engine under the group's own prefix (keys.ReplicaKey). Every write is
// a synced batch; Pebble's commit pipeline shares one WAL fsync between the
// batches that groups commit at the same time, which is the group commit
// across ranges that DESIGN.md asks for.
//
// It implements raft.LogStore and raft.StableStore and is safe for concurrent
// use.
type LogStore struct {
	eng *engine.Engine
	id  GroupID

	mu struct {
		sync.Mutex
		// first and last are the cached bounds of the log; 0, 0 when empty.
		first, last uint64
	}
}

var (
	_ raft.LogStore    = (*LogStore)(nil)
	_ raft.StableStore = (*LogStore)(nil)
)

// OpenLogStore opens the log of group id, reading its bounds.
func OpenLogStore(eng *engine.Engine, id GroupID) (*LogStore, error) {
	s := &LogStore{eng: eng, id: id}
	start, end := s.logSpan()
	first := true
	err := eng.Scan(start, end, func(k, _ []byte) error {
		idx, err := s.indexOf(k)
		if err != nil {
			return err
		}
		if first {
			s.mu.first, first = idx, false
		}
		s.mu.last = idx
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replication: open log of r%d: %w", id, err)
	}
	return s, nil
}

func (s *LogStore) logKey(idx uint64) []byte {
	return keys.ReplicaKey(uint64(s.id), keys.ReplicaLogSuffix, binary.BigEndian.AppendUint64(nil, idx))
}

func (s *LogStore) logSpan() (start, end []byte) {
	p := keys.ReplicaKey(uint64(s.id), keys.ReplicaLogSuffix, nil)
	return p, keys.PrefixEnd(p)
}

func (s *LogStore) indexOf(k []byte) (uint64, error) {
	start, _ := s.logSpan()
	if len(k) != len(start)+8 {
		return 0, fmt.Errorf("replication: malformed log key %x", k)
	}
	return binary.BigEndian.Uint64(k[len(start):]), nil
}

func (s *LogStore) stableKey(name []byte) []byte {
	return keys.ReplicaKey(uint64(s.id), keys.ReplicaStableSuffix, name)
}

// FirstIndex returns the first index written, 0 for an empty log.
func (s *LogStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.first, nil
}

// LastIndex returns the last index written, 0 for an empty log.
func (s *LogStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.last, nil
}

// GetLog reads entry idx into log; raft.ErrLogNotFound if absent.
func (s *LogStore) GetLog(idx uint64, log *raft.Log) error {
	v, err := s.eng.Get(s.logKey(idx))
	if errors.Is(err, engine.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("replication: read log r%d/%d: %w", s.id, idx, err)
	}
	return decodeLog(v, idx, log)
}

// StoreLog writes one entry.
func (s *LogStore) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs writes entries in one synced batch; it returns after the fsync.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	b := s.eng.NewBatch()
	defer b.Close()
	var buf []byte
	for _, l := range logs {
		buf = encodeLog(buf[:0], l)
		if err := b.Put(s.logKey(l.Index), buf); err != nil {
			return fmt.Errorf("replication: store log r%d/%d: %w", s.id, l.Index, err)
		}
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("replication: store logs r%d: %w", s.id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lo, hi := logs[0].Index, logs[len(logs)-1].Index
	if s.mu.first == 0 || lo < s.mu.first {
		s.mu.first = lo
	}
	if hi > s.mu.last || s.mu.last == 0 {
		s.mu.last = hi
	}
	return nil
}

// DeleteRange removes entries min..max inclusive.
func (s *LogStore) DeleteRange(min, max uint64) error {
	b := s.eng.NewBatch()
	defer b.Close()
	// Log keys are unversioned, so ClearSpan over [key(min), key(max+1))
	// removes exactly those entries.
	if err := b.ClearSpan(s.logKey(min), s.logKey(max+1)); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("replication: truncate log r%d [%d,%d]: %w", s.id, min, max, err)
	}
	// The new bounds are the nearest entries left, which are max+1 and
	// min-1 unless the log has a gap there: a follower that caught up by
	// InstallSnapshot keeps its entries below the snapshot's index and
	// appends after it. They are looked up before taking mu.
	s.mu.Lock()
	first, last := s.mu.first, s.mu.last
	s.mu.Unlock()
	next, prev := max+1, min-1
	var err error
	switch {
	case last == 0, min <= first && max >= last:
	case min <= first:
		next, err = s.nextIndex(max + 1)
	case max >= last:
		prev, err = s.prevIndex(first, min)
	}
	if err != nil {
		return fmt.Errorf("replication: bounds of log r%d after truncating [%d,%d]: %w", s.id, min, max, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.mu.last == 0:
	case min <= s.mu.first && max >= s.mu.last:
		s.mu.first, s.mu.last = 0, 0
	case min <= s.mu.first:
		s.mu.first = next
	case max >= s.mu.last:
		s.mu.last = prev
	}
	return nil
}

// errStopScan ends a scan early.
var errStopScan = errors.New("stop scan")

// nextIndex returns the first index >= from in the log, from itself if
// there is none.
func (s *LogStore) nextIndex(from uint64) (uint64, error) {
	_, end := s.logSpan()
	next := from
	err := s.eng.Scan(s.logKey(from), end, func(k, _ []byte) error {
		idx, err := s.indexOf(k)
		if err != nil {
			return err
		}
		next = idx
		return errStopScan
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, err
	}
	return next, nil
}

// prevIndex returns the last index below before in the log, looking no
// lower than first; before-1 if there is none. It reads one entry when
// before-1 exists (the usual case) and scans from first otherwise.
func (s *LogStore) prevIndex(first, before uint64) (uint64, error) {
	_, err := s.eng.Get(s.logKey(before - 1))
	switch {
	case err == nil:
		return before - 1, nil
	case !errors.Is(err, engine.ErrNotFound):
		return 0, err
	}
	prev := before - 1
	err = s.eng.Scan(s.logKey(first), s.logKey(before), func(k, _ []byte) error {
		idx, err := s.indexOf(k)
		prev = idx
		return err
	})
	return prev, err
}

// Set stores a stable value (synced).
func (s *LogStore) Set(key, val []byte) error {
	b := s.eng.NewBatch()
	defer b.Close()
	if err := b.Put(s.stableKey(key), val); err != nil {
		return err
	}
	return b.Commit(true)
}

// Get reads a stable value; an error whose text is "not found" if absent.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	v, err := s.eng.Get(s.stableKey(key))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, errStableNotFound
	}
	return v, err
}

// SetUint64 stores a stable integer.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 reads a stable integer; 0 and "not found" if absent.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("replication: stable value %q of r%d is %d bytes, want 8", key, s.id, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Destroy removes the group's log and stable state in one synced batch.
func (s *LogStore) Destroy() error {
	b := s.eng.NewBatch()
	defer b.Close()
	p := keys.ReplicaKey(uint64(s.id), keys.ReplicaLogSuffix, nil)
	if err := b.ClearSpan(p, keys.PrefixEnd(p)); err != nil {
		return err
	}
	p = keys.ReplicaKey(uint64(s.id), keys.ReplicaStableSuffix, nil)
	if err := b.ClearSpan(p, keys.PrefixEnd(p)); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return err
	}
	s.mu.Lock()
	s.mu.first, s.mu.last = 0, 0
	s.mu.Unlock()
	return nil
}

// Log entry encoding: term:8 type:1 appendedAt(unix nanos):8 len(data):4 data
// len(ext):4 ext. The index is the key.
func encodeLog(dst []byte, l *raft.Log) []byte {
	dst = binary.BigEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(at))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(l.Extensions)))
	return append(dst, l.Extensions...)
}

func decodeLog(b []byte, idx uint64, l *raft.Log) error {
	bad := fmt.Errorf("replication: corrupt log entry %d (%d bytes)", idx, len(b))
	if len(b) < 8+1+8+4 {
		return bad
	}
	l.Index = idx
	l.Term = binary.BigEndian.Uint64(b)
	l.Type = raft.LogType(b[8])
	if at := int64(binary.BigEndian.Uint64(b[9:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	} else {
		l.AppendedAt = time.Time{}
	}
	b = b[17:]
	n := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) < n+4 {
		return bad
	}
	l.Data = b[:n:n]
	b = b[n:]
	m := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) != m {
		return bad
	}
	if m > 0 {
		l.Extensions = b[:m:m]
	} else {
		l.Extensions = nil
	}
	return nil
}
