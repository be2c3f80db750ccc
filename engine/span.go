package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ExportSpan writes every entry of the user keys in [start, end), the
// unversioned keys and all MVCC versions and tombstones, to w as a span
// stream (see spanstream.go), and returns the number of bytes written. The
// stream is what IngestSpan reads; it is the body of a Raft snapshot.
func (s *Snapshot) ExportSpan(start, end []byte, w io.Writer) (n int64, err error) {
	if bytes.Compare(start, end) >= 0 {
		return 0, fmt.Errorf("%w: ExportSpan [%q, %q)", ErrInvalidSpan, start, end)
	}
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	sw, err := newSpanWriter(w, start, end)
	if err != nil {
		return 0, fmt.Errorf("engine: export: %w", err)
	}
	it, err := newSpanIter(s.snap, start, end)
	if err != nil {
		return sw.n, err
	}
	defer closeIter(it, &err)
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return sw.n, fmt.Errorf("engine: export: %w", err)
		}
		if err := sw.add(it.Key(), v); err != nil {
			return sw.n, fmt.Errorf("engine: export: %w", err)
		}
	}
	if err := it.Error(); err != nil {
		return sw.n, fmt.Errorf("engine: export: %w", err)
	}
	if err := sw.finish(); err != nil {
		return sw.n, fmt.Errorf("engine: export: %w", err)
	}
	s.e.log.Debug("exported span", "start", fmt.Sprintf("%q", start), "end", fmt.Sprintf("%q", end),
		"entries", sw.entries, "bytes", sw.n)
	return sw.n, nil
}

// IngestSpan reads a span stream written by ExportSpan for exactly
// [start, end) and atomically replaces the span's contents with it: after
// it returns nil, the span holds exactly the streamed entries and nothing
// else; no reader ever sees a mix of old and new. Keys outside the span are
// untouched.
//
// The whole stream is read and verified (checksums, trailer, order, every
// key inside the span) while sstables are built in a temporary directory
// inside the store; only then are they ingested with pebble's
// IngestAndExcise. A corrupt or truncated stream returns an error wrapping
// ErrCorrupt and leaves the engine unchanged. The ingest is durable when
// IngestSpan returns.
//
// puts are unversioned keys outside the span set in the same ingest, so
// that state describing the span (a replica's applied index and
// descriptor) changes atomically with it.
//
// Pebble's excise also removes the span's old data from snapshots opened
// before the ingest; callers must not read the span through such a
// snapshot afterwards (a replica ingests only its own span, which it does
// not serve while it restores).
func (e *Engine) IngestSpan(start, end []byte, r io.Reader, puts ...KeyValue) (err error) {
	if bytes.Compare(start, end) >= 0 {
		return fmt.Errorf("%w: IngestSpan [%q, %q)", ErrInvalidSpan, start, end)
	}
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()

	sr, err := newSpanReader(r)
	if err != nil {
		return err
	}
	if !bytes.Equal(sr.start, start) || !bytes.Equal(sr.end, end) {
		return fmt.Errorf("%w: stream holds span [%q, %q), not [%q, %q)", ErrInvalidSpan, sr.start, sr.end, start, end)
	}
	b := sstBuilder{e: e, dir: e.fs.PathJoin(e.dir, ingestTmpDir), seq: e.ingest.seq.Add(1)}
	defer func() {
		if err != nil {
			b.abort()
		}
	}()
	lower, upper := spanBounds(start, end)
	var prev []byte
	var entries int
	for {
		key, value, ok, err := sr.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := checkStreamEntry(key, value, prev, lower, upper); err != nil {
			return err
		}
		if err := b.add(key, value); err != nil {
			return err
		}
		prev = append(prev[:0], key...)
		entries++
	}
	if err := b.finish(); err != nil {
		return err
	}
	if err := b.addPuts(puts, lower, upper); err != nil {
		return err
	}
	e.ingest.mu.Lock()
	stats, err := e.db.IngestAndExcise(context.Background(), b.paths, nil, nil,
		pebble.KeyRange{Start: lower, End: upper})
	e.ingest.mu.Unlock()
	if err != nil {
		return fmt.Errorf("engine: ingest: %w", err)
	}
	b.paths = nil // pebble removed them
	e.log.Debug("ingested span", "start", fmt.Sprintf("%q", start), "end", fmt.Sprintf("%q", end),
		"entries", entries, "tables", b.tables, "bytes", stats.Bytes)
	return nil
}

// checkStreamEntry verifies one entry of a stream: a well-formed key inside
// [lower, upper), strictly after prev, with a well-formed MVCC value.
func checkStreamEntry(key, value, prev, lower, upper []byte) error {
	_, ts, err := DecodeKey(key)
	if err != nil {
		return corruptf("%v", err)
	}
	if compareKeys(key, lower) < 0 || compareKeys(key, upper) >= 0 {
		return corruptf("key %s outside the span", FormatKey(key))
	}
	if prev != nil && compareKeys(prev, key) >= 0 {
		return corruptf("key %s not after %s", FormatKey(key), FormatKey(prev))
	}
	if ts != 0 {
		if _, _, err := decodeMVCCValue(value); err != nil {
			return corruptf("value of %s: %v", FormatKey(key), err)
		}
	}
	return nil
}

// sstBuilder writes the sstables of one ingest, rolling over to a new table
// at e.ingest.tableSize.
type sstBuilder struct {
	e      *Engine
	dir    string
	seq    uint64
	w      *sstable.Writer
	paths  []string // tables written or being written
	tables int
}

func (b *sstBuilder) add(key, value []byte) error {
	if b.w == nil {
		if err := b.open(); err != nil {
			return err
		}
	}
	if err := b.w.Set(key, value); err != nil {
		return fmt.Errorf("engine: ingest: write sstable: %w", err)
	}
	if b.w.Raw().EstimatedSize() >= b.e.ingest.tableSize {
		return b.closeTable()
	}
	return nil
}

func (b *sstBuilder) open() error {
	if err := b.e.fs.MkdirAll(b.dir, 0o755); err != nil {
		return fmt.Errorf("engine: ingest: %w", err)
	}
	path := b.e.fs.PathJoin(b.dir, fmt.Sprintf("span-%d-%d.sst", b.seq, len(b.paths)))
	f, err := b.e.fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("engine: ingest: %w", err)
	}
	b.paths = append(b.paths, path)
	wopts := b.e.popts.MakeWriterOptions(0, b.e.db.TableFormat())
	b.w = sstable.NewWriter(objstorageprovider.NewFileWritable(f), wopts)
	return nil
}

// closeTable finishes (and fsyncs) the current table.
func (b *sstBuilder) closeTable() error {
	w := b.w
	b.w = nil
	if err := w.Close(); err != nil {
		return fmt.Errorf("engine: ingest: finish sstable: %w", err)
	}
	b.tables++
	return nil
}

// KeyValue is an unversioned key and its value.
type KeyValue struct{ Key, Value []byte }

// addPuts writes puts, unversioned keys outside [lower, upper), to tables
// of their own.
func (b *sstBuilder) addPuts(puts []KeyValue, lower, upper []byte) error {
	enc := make([]KeyValue, len(puts))
	for i, p := range puts {
		if err := checkKey(p.Key); err != nil {
			return err
		}
		k := EncodeKey(nil, p.Key, 0)
		if compareKeys(k, lower) >= 0 && compareKeys(k, upper) < 0 {
			return fmt.Errorf("%w: put of %q inside the ingested span", ErrInvalidSpan, p.Key)
		}
		enc[i] = KeyValue{Key: k, Value: p.Value}
	}
	slices.SortFunc(enc, func(a, b KeyValue) int { return compareKeys(a.Key, b.Key) })
	for i, p := range enc {
		if i > 0 && compareKeys(enc[i-1].Key, p.Key) == 0 {
			return fmt.Errorf("%w: two puts of one key", ErrInvalidSpan)
		}
		// A table must not straddle the span: puts on both sides of it go
		// to two tables.
		if i > 0 && compareKeys(enc[i-1].Key, lower) < 0 && compareKeys(p.Key, upper) >= 0 {
			if err := b.finish(); err != nil {
				return err
			}
		}
		if err := b.add(p.Key, p.Value); err != nil {
			return err
		}
	}
	return b.finish()
}

func (b *sstBuilder) finish() error {
	if b.w == nil {
		return nil
	}
	return b.closeTable()
}

// abort removes every table written so far.
func (b *sstBuilder) abort() {
	if b.w != nil {
		_ = b.w.Close()
		b.w = nil
	}
	for _, p := range b.paths {
		if err := b.e.fs.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			b.e.log.Warn("cannot remove temporary sstable", "path", p, "err", err)
		}
	}
	b.paths = nil
}

// ApproximateSpanStats estimates the bytes on disk used by the user keys in
// [start, end), all versions included. Data still in the memtable is not
// counted until it is flushed.
func (e *Engine) ApproximateSpanStats(start, end []byte) (bytesOnDisk uint64, err error) {
	if bytes.Compare(start, end) >= 0 {
		return 0, fmt.Errorf("%w: ApproximateSpanStats [%q, %q)", ErrInvalidSpan, start, end)
	}
	if err := e.acquire(); err != nil {
		return 0, err
	}
	defer e.guard.release()
	lower, upper := spanBounds(start, end)
	n, err := e.db.EstimateDiskUsage(lower, upper)
	if err != nil {
		return 0, fmt.Errorf("engine: estimate disk usage: %w", err)
	}
	return n, nil
}
