package replica

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// A committed version of a user key is stored by the engine at its commit
// timestamp with this value:
//
//	kind:1 | start_ts:8 | data
//
// kind is versionValue or versionDelete (a delete is a version too, so that
// its writer can be found); start_ts is the start timestamp of the
// transaction that wrote it (for a write outside a transaction, the commit
// timestamp), which lets a transaction's status be found from its primary
// key after its lock is gone.
//
// A key's unversioned entry (engine.Batch.Put on the user key) is its lock
// slot: a kvpb.LockSlot, present only while a transaction holds a lock on
// the key or a rollback must be remembered.
const (
	versionValue  = 'v'
	versionDelete = 'd'
)

// ErrCorruptVersion is returned for a version value that cannot be decoded.
var ErrCorruptVersion = errors.New("replica: corrupt version value")

func encodeVersion(kind byte, start engine.Timestamp, data []byte) []byte {
	b := make([]byte, 0, 9+len(data))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	return append(b, data...)
}

func decodeVersion(raw []byte) (kind byte, start engine.Timestamp, data []byte, err error) {
	if len(raw) < 9 || (raw[0] != versionValue && raw[0] != versionDelete) {
		return 0, 0, nil, fmt.Errorf("%w (%d bytes)", ErrCorruptVersion, len(raw))
	}
	return raw[0], engine.Timestamp(binary.BigEndian.Uint64(raw[1:9])), raw[9:], nil
}

// Get returns the value of key visible at ts (newest committed version at
// or below ts, unless it is a delete), ignoring locks. The value is the
// caller's.
func Get(r engine.Reader, key []byte, ts engine.Timestamp) (value []byte, vts engine.Timestamp, found bool, err error) {
	raw, vts, err := r.GetMVCC(key, ts)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	kind, _, data, err := decodeVersion(raw)
	if err != nil {
		return nil, 0, false, fmt.Errorf("key %q: %w", key, err)
	}
	if kind == versionDelete {
		return nil, 0, false, nil
	}
	return data, vts, true, nil
}

// errStopScan ends a scan once enough rows are collected.
var errStopScan = errors.New("stop scan")

// Scan calls fn for each key of [start, end) visible at ts, in order, until
// fn returns false; it ignores locks. Slices are valid only during fn.
func Scan(r engine.Reader, start, end []byte, ts engine.Timestamp, fn func(key []byte, vts engine.Timestamp, value []byte) bool) error {
	err := r.ScanMVCC(start, end, ts, 0, func(k []byte, vts engine.Timestamp, raw []byte) error {
		kind, _, data, err := decodeVersion(raw)
		if err != nil {
			return fmt.Errorf("key %q: %w", k, err)
		}
		if kind == versionDelete {
			return nil
		}
		if !fn(k, vts, data) {
			return errStopScan
		}
		return nil
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}

// keyState is what one seek finds of a key (readKey): its lock slot and the
// newest committed version at or below the read timestamp.
type keyState struct {
	slot *kvpb.LockSlot // nil: no lock slot
	// vts is the version's commit timestamp, 0 when there is none; kind,
	// start and data are its decoded value.
	vts   engine.Timestamp
	kind  byte
	start engine.Timestamp
	data  []byte
}

// value returns the version's data if it is not a delete.
func (s keyState) value() (data []byte, vts engine.Timestamp, found bool) {
	if s.vts == 0 || s.kind == versionDelete {
		return nil, 0, false
	}
	return s.data, s.vts, true
}

// readKey reads key's lock slot and its newest version at or below ts (a
// delete too) with one iterator, where readLockSlot and Get would take one each.
func readKey(r engine.Reader, key []byte, ts engine.Timestamp) (keyState, error) {
	kr, err := r.GetKey(key, ts)
	if err != nil {
		return keyState{}, err
	}
	var s keyState
	if kr.Unversioned != nil {
		if s.slot, err = decodeLockSlot(key, kr.Unversioned); err != nil {
			return keyState{}, err
		}
	}
	if kr.Found {
		if s.kind, s.start, s.data, err = decodeVersion(kr.Value); err != nil {
			return keyState{}, fmt.Errorf("key %q: %w", key, err)
		}
		s.vts = kr.Timestamp
	}
	return s, nil
}

// decodeLockSlot decodes a stored lock slot; an empty value is a cleared
// slot (applier.putLockSlot) and decodes to nil.
func decodeLockSlot(key, raw []byte) (*kvpb.LockSlot, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	slot := &kvpb.LockSlot{}
	if err := proto.Unmarshal(raw, slot); err != nil {
		return nil, fmt.Errorf("replica: corrupt lock slot of %q: %w", key, err)
	}
	return slot, nil
}

// readLockSlot returns key's lock slot, nil if it has none.
func readLockSlot(r engine.Reader, key []byte) (*kvpb.LockSlot, error) {
	raw, err := r.Get(key)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeLockSlot(key, raw)
}

// findCommit looks for the version of key written by the transaction that
// started at start: versions at or above start, newest first. On a hot row
// these are every commit since start (a transaction that waited for the
// row's lock commits over them), so it steps through them rather than
// seeking each (engine.Reader.Versions).
func findCommit(r engine.Reader, key []byte, start engine.Timestamp) (commit engine.Timestamp, found bool, err error) {
	var decodeErr error
	err = r.Versions(key, engine.MaxTimestamp, func(vts engine.Timestamp, raw []byte) bool {
		if vts < start {
			return false
		}
		_, vstart, _, err := decodeVersion(raw)
		if err != nil {
			decodeErr = fmt.Errorf("key %q: %w", key, err)
			return false
		}
		if vstart == start {
			commit, found = vts, true
			return false
		}
		return true
	})
	if err = errors.Join(err, decodeErr); err != nil {
		return 0, false, err
	}
	return commit, found, nil
}
