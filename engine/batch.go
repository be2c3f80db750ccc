package engine

import (
	"bytes"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects writes that Commit applies atomically: after a crash
// either all of a committed batch is visible or none of it, and readers
// never see part of it. A Batch is not safe for concurrent use. Keys and
// values are copied into the batch; the caller may reuse its slices as soon
// as a method returns.
type Batch struct {
	e *Engine
	b *pebble.Batch // nil once committed or closed
}

// NewBatch returns an empty batch. It can be built after the engine is
// closed, but Commit then returns ErrClosed.
func (e *Engine) NewBatch() *Batch {
	return &Batch{e: e, b: e.db.NewBatch()}
}

func (b *Batch) check() error {
	if b.b == nil {
		return ErrBatchClosed
	}
	return nil
}

// Put sets the unversioned key to value.
func (b *Batch) Put(key, value []byte) error {
	if err := b.checkWrite(key, value); err != nil {
		return err
	}
	op := b.b.SetDeferred(EncodedKeyLen(key, 0), len(value))
	encodeKeyInto(op.Key, key, 0)
	copy(op.Value, value)
	return b.finish(op)
}

// Delete removes the unversioned key. Deleting a missing key is not an
// error.
func (b *Batch) Delete(key []byte) error {
	if err := b.checkWrite(key, nil); err != nil {
		return err
	}
	op := b.b.DeleteDeferred(EncodedKeyLen(key, 0))
	encodeKeyInto(op.Key, key, 0)
	return b.finish(op)
}

// PutMVCC writes a version of key at ts > 0. Writing the same (key, ts)
// again replaces that version.
func (b *Batch) PutMVCC(key []byte, ts Timestamp, value []byte) error {
	return b.putVersion(key, ts, value, tagValue)
}

// DeleteMVCC writes a tombstone version of key at ts > 0: reads at ts or
// later see no value, reads below ts still see the older versions.
func (b *Batch) DeleteMVCC(key []byte, ts Timestamp) error {
	return b.putVersion(key, ts, nil, tagTombstone)
}

func (b *Batch) putVersion(key []byte, ts Timestamp, value []byte, tag byte) error {
	if ts == 0 {
		return fmt.Errorf("%w: MVCC write of %q at timestamp 0", ErrInvalidTimestamp, key)
	}
	if err := b.checkWrite(key, value); err != nil {
		return err
	}
	op := b.b.SetDeferred(EncodedKeyLen(key, ts), 1+len(value))
	encodeKeyInto(op.Key, key, ts)
	op.Value[0] = tag
	copy(op.Value[1:], value)
	return b.finish(op)
}

// ClearSpan removes every unversioned key and every version of every user
// key in [start, end), with one range deletion.
func (b *Batch) ClearSpan(start, end []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	if bytes.Compare(start, end) >= 0 {
		return fmt.Errorf("%w: ClearSpan [%q, %q)", ErrInvalidSpan, start, end)
	}
	if err := checkKey(start); err != nil {
		return err
	}
	if err := checkKey(end); err != nil {
		return err
	}
	lower, upper := spanBounds(start, end)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return fmt.Errorf("engine: batch: %w", err)
	}
	return nil
}

// ClearVersionsBelow removes every version of key with a timestamp below
// ts (MVCC garbage collection); key's unversioned entry and its versions at
// or above ts stay. It is one range deletion: versions sort newest first,
// so those below ts are contiguous and end where the next user key's
// entries begin.
func (b *Batch) ClearVersionsBelow(key []byte, ts Timestamp) error {
	if err := b.check(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if ts <= 1 {
		return nil // no version is below 1
	}
	lower := EncodeKey(nil, key, ts-1)
	upper := EncodeKey(nil, append(append([]byte(nil), key...), 0x00), 0)
	if err := b.b.DeleteRange(lower, upper, nil); err != nil {
		return fmt.Errorf("engine: batch: %w", err)
	}
	return nil
}

func (b *Batch) checkWrite(key, value []byte) error {
	if err := b.check(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return checkValue(value)
}

func (b *Batch) finish(op *pebble.DeferredBatchOp) error {
	if err := op.Finish(); err != nil {
		return fmt.Errorf("engine: batch: %w", err)
	}
	return nil
}

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.b == nil || b.b.Empty() }

// Len returns the size of the batch's encoded representation in bytes.
func (b *Batch) Len() int {
	if b.b == nil {
		return 0
	}
	return b.b.Len()
}

// Commit applies the batch atomically and closes it, whatever the outcome.
// With sync, Commit returns only after the WAL holding the batch has been
// fsynced; concurrent synced commits share fsyncs (group commit). Without
// sync, a crash may lose the batch (never part of it). Nothing that
// depends on durability may be acknowledged before a synced Commit has
// returned nil.
func (b *Batch) Commit(sync bool) error {
	if err := b.check(); err != nil {
		return err
	}
	defer b.Close()
	if err := b.e.acquire(); err != nil {
		return err
	}
	defer b.e.guard.release()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.e.db.Apply(b.b, opts); err != nil {
		return fmt.Errorf("engine: commit: %w", err)
	}
	b.e.batchCommits.Add(1)
	if sync {
		b.e.syncedBatchCommits.Add(1)
	}
	return nil
}

// Close releases the batch without applying it. It is a no-op on a
// committed or closed batch.
func (b *Batch) Close() {
	if b.b == nil {
		return
	}
	_ = b.b.Close()
	b.b = nil
}
