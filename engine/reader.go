package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// Reader reads unversioned keys and MVCC versions. *Engine reads the latest
// committed state; *Snapshot reads a fixed point in time.
//
// All methods are safe for concurrent use. Slices returned by Get and
// GetMVCC are copies owned by the caller. Slices passed to scan callbacks
// are valid only during the call: copy them to keep them. An error returned
// by a callback stops the scan and is returned unchanged. A nil end means no
// upper bound. After Close of the Engine (or Snapshot), every method
// returns ErrClosed.
type Reader interface {
	// Get returns the value of the unversioned key, or ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for each unversioned key in [start, end) in ascending
	// order, skipping versioned entries.
	Scan(start, end []byte, fn func(key, value []byte) error) error
	// GetMVCC returns the newest version of key with timestamp <= ts and
	// its timestamp. A tombstone, or no version at all, is ErrNotFound.
	GetMVCC(key []byte, ts Timestamp) (value []byte, vts Timestamp, err error)
	// GetKey reads key's unversioned value and its newest version <= ts
	// together, with one seek: what Get and GetMVCC would return, for the
	// cost of one of them.
	GetKey(key []byte, ts Timestamp) (KeyRead, error)
	// ScanMVCC calls fn, in ascending key order, for each user key in
	// [start, end) whose newest version <= ts is not a tombstone, with that
	// version. It stops after limit calls when limit > 0. Older versions
	// are skipped with NextPrefix, not read one by one.
	ScanMVCC(start, end []byte, ts Timestamp, limit int, fn func(key []byte, vts Timestamp, value []byte) error) error
	// ScanMVCCReverse is ScanMVCC in descending key order. It costs two
	// seeks per visible key.
	ScanMVCCReverse(start, end []byte, ts Timestamp, limit int, fn func(key []byte, vts Timestamp, value []byte) error) error
	// Versions calls fn with key's versions at or below ts, newest first,
	// until fn returns false or it reaches a tombstone or the oldest
	// version. It seeks once and steps from each version to the next:
	// walking n versions with GetMVCC would cost n seeks. The value is
	// valid only during the call.
	Versions(key []byte, ts Timestamp, fn func(vts Timestamp, value []byte) bool) error
}

var (
	_ Reader = (*Engine)(nil)
	_ Reader = (*Snapshot)(nil)
)

// Get implements Reader.
func (e *Engine) Get(key []byte) ([]byte, error) {
	if err := e.acquire(); err != nil {
		return nil, err
	}
	defer e.guard.release()
	return readGet(liveReader{e}, key)
}

// Scan implements Reader.
func (e *Engine) Scan(start, end []byte, fn func(key, value []byte) error) error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	return readScan(liveReader{e}, start, end, fn)
}

// GetMVCC implements Reader.
func (e *Engine) GetMVCC(key []byte, ts Timestamp) ([]byte, Timestamp, error) {
	if err := e.acquire(); err != nil {
		return nil, 0, err
	}
	defer e.guard.release()
	return readGetMVCC(liveReader{e}, key, ts)
}

// GetKey implements Reader.
func (e *Engine) GetKey(key []byte, ts Timestamp) (KeyRead, error) {
	if err := e.acquire(); err != nil {
		return KeyRead{}, err
	}
	defer e.guard.release()
	return readGetKey(liveReader{e}, key, ts)
}

// ScanMVCC implements Reader.
func (e *Engine) ScanMVCC(start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	return readScanMVCC(liveReader{e}, start, end, ts, limit, fn)
}

// ScanMVCCReverse implements Reader.
func (e *Engine) ScanMVCCReverse(start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	return readScanMVCCReverse(liveReader{e}, start, end, ts, limit, fn)
}

// Versions implements Reader.
func (e *Engine) Versions(key []byte, ts Timestamp, fn func(vts Timestamp, value []byte) bool) error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	return readVersions(liveReader{e}, key, ts, fn)
}

// seekNextsBeforeSeek is how many versions newer than the read timestamp a
// scan steps over with Next before it seeks instead.
const seekNextsBeforeSeek = 4

// spanBounds returns the iterator bounds covering every entry of the user
// keys in [start, end); a nil end means unbounded.
func spanBounds(start, end []byte) (lower, upper []byte) {
	lower = EncodeKey(nil, start, 0)
	if end != nil {
		upper = EncodeKey(nil, end, 0)
	}
	return lower, upper
}

// liveReader reads the engine's current state. It creates each iterator
// and point read under ingest.mu, so none starts inside an IngestSpan.
type liveReader struct{ e *Engine }

func (r liveReader) Get(key []byte) ([]byte, io.Closer, error) {
	r.e.ingest.mu.RLock()
	defer r.e.ingest.mu.RUnlock()
	return r.e.db.Get(key)
}

func (r liveReader) NewIter(o *pebble.IterOptions) (*pebble.Iterator, error) {
	return r.NewIterWithContext(context.Background(), o)
}

func (r liveReader) NewIterWithContext(ctx context.Context, o *pebble.IterOptions) (*pebble.Iterator, error) {
	r.e.ingest.mu.RLock()
	defer r.e.ingest.mu.RUnlock()
	return r.e.db.NewIterWithContext(ctx, o)
}

func (liveReader) Close() error { return nil }

func newIter(r pebble.Reader, lower, upper []byte) (*pebble.Iterator, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("engine: new iterator: %w", err)
	}
	return it, nil
}

// newSpanIter returns an iterator over every entry of the user keys in
// [start, end).
func newSpanIter(r pebble.Reader, start, end []byte) (*pebble.Iterator, error) {
	lower, upper := spanBounds(start, end)
	return newIter(r, lower, upper)
}

// iterError returns the iterator's error, wrapped.
func iterError(it *pebble.Iterator) error {
	if err := it.Error(); err != nil {
		return fmt.Errorf("engine: iterator: %w", err)
	}
	return nil
}

// closeIter closes it and folds its error into err.
func closeIter(it *pebble.Iterator, err *error) {
	if cerr := it.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("engine: iterator: %w", cerr)
	}
}

func readGet(r pebble.Reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(EncodeKey(nil, key, 0))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("engine: get: %w", err)
	}
	out := bytes.Clone(v)
	if out == nil {
		out = []byte{}
	}
	return out, closer.Close()
}

func readScan(r pebble.Reader, start, end []byte, fn func(key, value []byte) error) (err error) {
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	it, err := newSpanIter(r, start, end)
	if err != nil {
		return err
	}
	defer closeIter(it, &err)
	// The unversioned key sorts first for its prefix: look at the first key
	// of each prefix and jump over the versions.
	for valid := it.First(); valid; valid = it.NextPrefix() {
		key, ts, err := DecodeKey(it.Key())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if ts != 0 {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("engine: scan: %w", err)
		}
		if err := fn(key, v); err != nil {
			return err
		}
	}
	return iterError(it)
}

// readGetMVCC is the first step of readVersions.
func readGetMVCC(r pebble.Reader, key []byte, ts Timestamp) (value []byte, vts Timestamp, err error) {
	found := false
	err = readVersions(r, key, ts, func(t Timestamp, v []byte) bool {
		value, vts, found = append([]byte{}, v...), t, true
		return false
	})
	if err != nil {
		return nil, 0, err
	}
	if !found {
		return nil, 0, ErrNotFound
	}
	return value, vts, nil
}

func readVersions(r pebble.Reader, key []byte, ts Timestamp, fn func(vts Timestamp, value []byte) bool) (err error) {
	if ts == 0 {
		return nil
	}
	seek := EncodeKey(nil, key, ts)
	prefix := seek[:len(key)+1]
	// The prefix bounds let pebble use the bloom filters and end the walk
	// at the key's oldest version; the versions are adjacent entries, so
	// Next reaches each without a seek.
	it, err := newIter(r, prefix, immediateSuccessor(nil, prefix))
	if err != nil {
		return err
	}
	defer closeIter(it, &err)
	for valid := it.SeekPrefixGE(seek); valid; valid = it.Next() {
		_, vts, err := DecodeKey(it.Key())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("engine: versions: %w", err)
		}
		v, live, err := decodeMVCCValue(raw)
		if err != nil {
			return err
		}
		if !live || !fn(vts, v) {
			return nil
		}
	}
	return iterError(it)
}

// currentVersion decodes the version under the iterator: a copy of its
// value, its timestamp, and whether it is live (not a tombstone).
func currentVersion(it *pebble.Iterator) (value []byte, vts Timestamp, live bool, err error) {
	if _, vts, err = DecodeKey(it.Key()); err != nil {
		return nil, 0, false, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	raw, err := it.ValueAndErr()
	if err != nil {
		return nil, 0, false, fmt.Errorf("engine: get: %w", err)
	}
	v, live, err := decodeMVCCValue(raw)
	if err != nil || !live {
		return nil, 0, false, err
	}
	return append([]byte{}, v...), vts, true, nil
}

// KeyRead is what Reader.GetKey finds of one user key. Its slices are the
// caller's.
type KeyRead struct {
	// Unversioned is the key's unversioned value; nil if it has none (an
	// empty value is non-nil).
	Unversioned []byte
	// Value and Timestamp are the newest version at or below the read
	// timestamp, as GetMVCC returns them; Found is false where GetMVCC
	// returns ErrNotFound (no such version, or a tombstone).
	Value     []byte
	Timestamp Timestamp
	Found     bool
}

func readGetKey(r pebble.Reader, key []byte, ts Timestamp) (out KeyRead, err error) {
	prefix := EncodeKey(nil, key, 0)
	// The prefix bounds let pebble use the bloom filters and stop at the
	// end of this user key.
	it, err := newIter(r, prefix, immediateSuccessor(nil, prefix))
	if err != nil {
		return KeyRead{}, err
	}
	defer closeIter(it, &err)
	// The unversioned entry sorts first, then the versions newest first.
	valid := it.SeekPrefixGE(prefix)
	if valid && len(it.Key()) == len(prefix) {
		v, err := it.ValueAndErr()
		if err != nil {
			return KeyRead{}, fmt.Errorf("engine: get: %w", err)
		}
		out.Unversioned = append([]byte{}, v...)
		if ts == 0 {
			return out, nil
		}
		// Seek to the versions rather than step to them: Next steps over
		// every entry the unversioned key has in the memtable, one per
		// write since the last flush (doc.go, "Keys rewritten often").
		valid = it.SeekPrefixGE(EncodeKey(nil, key, ts))
	}
	if ts == 0 {
		return out, iterError(it)
	}
	// Step over a few versions newer than ts, then seek past the rest.
	for i := 0; valid; i++ {
		_, vts, err := DecodeKey(it.Key())
		if err != nil {
			return KeyRead{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		if vts <= ts {
			out.Value, out.Timestamp, out.Found, err = currentVersion(it)
			return out, err
		}
		if i < seekNextsBeforeSeek {
			valid = it.Next()
		} else {
			valid = it.SeekGE(EncodeKey(nil, key, ts))
		}
	}
	return out, iterError(it)
}

// mvccScanner holds the state of one MVCC scan.
type mvccScanner struct {
	it     *pebble.Iterator
	ts     Timestamp
	prefix []byte // prefix of the user key being looked at
	seek   []byte // scratch for seek keys
}

// setPrefix remembers the prefix of the current iterator key and returns
// its user key and timestamp.
func (s *mvccScanner) setPrefix() (key []byte, vts Timestamp, err error) {
	k := s.it.Key()
	key, vts, err = DecodeKey(k)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	s.prefix = append(s.prefix[:0], k[:len(key)+1]...)
	return key, vts, nil
}

// samePrefix reports whether the iterator is still on s.prefix.
func (s *mvccScanner) samePrefix() bool {
	k := s.it.Key()
	return bytes.Equal(k[:splitKey(k)], s.prefix)
}

// emit decodes the value at the iterator position and calls fn for it
// unless it is a tombstone. It reports whether fn was called.
func (s *mvccScanner) emit(key []byte, vts Timestamp, fn func([]byte, Timestamp, []byte) error) (bool, error) {
	raw, err := s.it.ValueAndErr()
	if err != nil {
		return false, fmt.Errorf("engine: scan: %w", err)
	}
	v, live, err := decodeMVCCValue(raw)
	if err != nil || !live {
		return false, err
	}
	return true, fn(key, vts, v)
}

func readScanMVCC(r pebble.Reader, start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) (err error) {
	if ts == 0 || (end != nil && bytes.Compare(start, end) >= 0) {
		return nil
	}
	it, err := newSpanIter(r, start, end)
	if err != nil {
		return err
	}
	defer closeIter(it, &err)
	s := mvccScanner{it: it, ts: ts}
	emitted := 0
	valid := it.First()
	for valid {
		key, vts, err := s.setPrefix()
		if err != nil {
			return err
		}
		// Step over the unversioned key and the versions newer than ts:
		// a few Nexts, then a seek straight to the version at ts.
		for steps := 0; valid && (vts == 0 || vts > ts); steps++ {
			if steps < seekNextsBeforeSeek {
				valid = it.Next()
			} else {
				s.seek = EncodeKey(s.seek[:0], key, ts)
				valid = it.SeekGE(s.seek)
			}
			if !valid || !s.samePrefix() {
				break
			}
			if _, vts, err = DecodeKey(it.Key()); err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			key = it.Key()[:len(s.prefix)-1]
		}
		if !valid {
			break
		}
		if !s.samePrefix() {
			continue // no version <= ts; the iterator is on the next prefix
		}
		called, err := s.emit(key, vts, fn)
		if err != nil {
			return err
		}
		if called {
			if emitted++; limit > 0 && emitted >= limit {
				return nil
			}
		}
		valid = it.NextPrefix()
	}
	return iterError(it)
}

func readScanMVCCReverse(r pebble.Reader, start, end []byte, ts Timestamp, limit int,
	fn func(key []byte, vts Timestamp, value []byte) error) (err error) {
	if ts == 0 || (end != nil && bytes.Compare(start, end) >= 0) {
		return nil
	}
	it, err := newSpanIter(r, start, end)
	if err != nil {
		return err
	}
	defer closeIter(it, &err)
	s := mvccScanner{it: it, ts: ts}
	emitted := 0
	valid := it.Last()
	for valid {
		// The iterator is on the last (oldest) entry of a prefix.
		key, vts, err := s.setPrefix()
		if err != nil {
			return err
		}
		if vts != 0 && vts <= ts {
			s.seek = EncodeKey(s.seek[:0], key, ts)
			if !it.SeekGE(s.seek) {
				return fmt.Errorf("%w: version vanished under iterator at %s", ErrCorrupt, FormatKey(s.seek))
			}
			if _, vts, err = DecodeKey(it.Key()); err != nil {
				return fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			called, err := s.emit(it.Key()[:len(s.prefix)-1], vts, fn)
			if err != nil {
				return err
			}
			if called {
				if emitted++; limit > 0 && emitted >= limit {
					return nil
				}
			}
		}
		// The prefix itself is the smallest key with that prefix.
		valid = it.SeekLT(s.prefix)
	}
	return iterError(it)
}
