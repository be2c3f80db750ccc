package kv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// Pessimistic writes. In a transaction that SetPessimistic was called on,
// GetManyForUpdate locks each key at its range's leaseholder before reading
// it (waiting while another transaction holds the lock) and reads its
// newest version. Concurrent writers of a hot key then queue behind each
// other instead of all reading one version and all but one failing at
// commit.
//
// A newest version above the transaction's read timestamp was committed
// after its snapshot: the transaction then refreshes, moving its read
// timestamp to a new timestamp from the oracle if nothing it read before
// changed in between (RefreshRequest), as if it had started there; if
// something did, it fails with ErrWriteConflict as it would have at
// commit. Commit checks against the read timestamp (PrewriteRequest.
// read_ts), so what the lock is for (queueing) never decides correctness:
// a lock lost at the leaseholder (see range/replica/memlock.go) costs at
// most that write conflict. A transaction that read a span (a scan) cannot
// refresh: spans are not tracked.
//
// The refresh waits while the transaction has read nothing but keys it
// locked (TPC-B's three UPDATEs): such a key goes to newer with the
// version it was read at, and
//   - the next plain read or scan refreshes first (readable), every key
//     from the read timestamp and the newer ones from their versions;
//   - else Commit sends each newer key's mutation with read_ts just above
//     its version, so the prewrite or one-phase commit that writes the key
//     checks it from there; that makes the refresh's oracle call and its
//     round trips, made while the row's lock is held, unnecessary. Commit
//     refreshes after all when a key it read will not be checked that way
//     (locked, then not written).
// Invariant: when Commit sends the writes, every key the transaction read
// is unchanged from where it was read (its version for a key in newer, the
// read timestamp for the others) up to the commit timestamp, or the
// commit fails: the reads are those of one snapshot just above the newest
// version in newer. Keys read with GetManyUnnoted are the exception the
// caller answers for: each is implied by a locked key the invariant covers
// (a global index entry by its row), or recorded with NoteReads.

// SetPessimistic makes GetManyForUpdate lock the keys it reads; the sql
// layer calls it for transaction blocks.
func (t *Txn) SetPessimistic() {
	if !t.readOnly {
		t.pessimistic = true
	}
}

// noteRead records a key read at the read timestamp, for refreshes;
// plain is false for a locked read (lockAndGet).
func (t *Txn) noteRead(key []byte, plain bool) {
	if t.pessimistic {
		if t.readKeys == nil {
			t.readKeys = map[string]struct{}{}
		}
		t.readKeys[string(key)] = struct{}{}
		t.readPlain = t.readPlain || plain
	}
}

// readable readies the transaction for a plain read or a scan: its start
// timestamp if it is lazy, and the refresh that locked reads put off.
func (t *Txn) readable(ctx context.Context) error {
	if err := t.snapshot(ctx); err != nil {
		return err
	}
	if len(t.newer) > 0 {
		return t.refresh(ctx)
	}
	return nil
}

// checkNewer settles, at commit, the refresh that locked reads put off:
// the writes of the keys in newer are checked from just above the version
// read, or, when the commit would not check every key read, the refresh
// is made now.
func (t *Txn) checkNewer(ctx context.Context) error {
	if !t.checkedAtCommit() {
		return t.refresh(ctx)
	}
	for k, vts := range t.newer {
		t.writes[k].ReadTs = uint64(vts + 1)
	}
	return nil
}

// checkedAtCommit reports whether Commit checks every key read so far
// from where it was read: each one is written, or locked at commit.
func (t *Txn) checkedAtCommit() bool {
	if t.readPlain || t.scanned {
		return false
	}
	for k := range t.readKeys {
		if _, ok := t.writes[k]; !ok {
			return false
		}
	}
	return true
}

// GetManyForUpdate is GetMany for keys the caller is about to write: in a
// pessimistic transaction each key is locked first (see above), else it is
// GetMany.
func (t *Txn) GetManyForUpdate(ctx context.Context, keys [][]byte) ([]KeyResult, error) {
	if !t.pessimistic || t.lazy || t.done {
		return t.GetMany(ctx, keys)
	}
	out := make([]KeyResult, len(keys))
	for i, k := range keys {
		if m, ok := t.writes[string(k)]; ok && m.Op != kvpb.LockOp_LOCK_ONLY {
			out[i] = KeyResult{Value: m.Value, Found: m.Op == kvpb.LockOp_LOCK_PUT}
			continue
		}
		v, found, err := t.lockAndGet(ctx, k)
		if err != nil {
			return nil, err
		}
		out[i] = KeyResult{Value: v, Found: found}
	}
	return out, nil
}

// lockAndGet locks key and reads its newest version, refreshing the
// transaction's reads when that version is newer than its snapshot.
func (t *Txn) lockAndGet(ctx context.Context, key []byte) ([]byte, bool, error) {
	req := &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: key, LockFor: uint64(t.start)}}}
	resp, err := t.c.sendResolving(ctx, key, req)
	if err != nil {
		return nil, false, err
	}
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	_, again := t.readKeys[string(key)]
	t.locked[string(key)] = true
	t.lastLocked = key
	t.noteRead(key, false)
	g := resp.GetGet()
	if vts := engine.Timestamp(g.GetTimestamp()); vts >= t.at() {
		// A key read before (plain or locked) is refreshed from where it
		// was first read: both reads must have seen one version.
		if !again {
			if t.newer == nil {
				t.newer = map[string]engine.Timestamp{}
			}
			t.newer[string(key)] = vts
		}
		if again || t.readPlain || t.scanned {
			if err := t.refresh(ctx); err != nil {
				return nil, false, err
			}
		}
	}
	return g.GetValue(), g.GetFound(), nil
}

// refresh moves the read timestamp to a new one from the oracle: the keys
// read so far must be unchanged since the read timestamp, those in newer
// since the version they were read at. The ranges are asked at once: the
// transaction holds the locks of the keys in newer meanwhile.
func (t *Txn) refresh(ctx context.Context) error {
	if t.scanned {
		return fmt.Errorf("%w: a row locked after the snapshot changed after it, and the transaction read spans that cannot be refreshed", ErrWriteConflict)
	}
	t.c.txns.refreshes.Add(1)
	to, err := t.c.Now(ctx)
	if err != nil {
		return err
	}
	var atRead [][]byte
	for k := range t.readKeys {
		if _, ok := t.newer[k]; !ok {
			atRead = append(atRead, []byte(k))
		}
	}
	groups, err := t.c.keysByRange(ctx, atRead)
	if err != nil {
		return err
	}
	froms := make([]engine.Timestamp, len(groups), len(groups)+len(t.newer))
	for i := range froms {
		froms[i] = t.at()
	}
	for k, vts := range t.newer {
		groups, froms = append(groups, [][]byte{[]byte(k)}), append(froms, vts)
	}
	errs := make([]error, len(groups))
	var wg sync.WaitGroup
	for i, ks := range groups {
		wg.Go(func() { errs[i] = t.c.refreshKeys(ctx, ks, froms[i], to, t.start) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	t.read = to
	clear(t.newer)
	return nil
}

// keysByRange groups keys by the range that holds them (as the range
// cache knows it).
func (c *Client) keysByRange(ctx context.Context, keys [][]byte) ([][][]byte, error) {
	idx := map[uint64]int{}
	var out [][][]byte
	for _, k := range keys {
		d, err := c.LookupRange(ctx, k)
		if err != nil {
			return nil, err
		}
		i, ok := idx[d.RangeId]
		if !ok {
			i = len(out)
			idx[d.RangeId] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], k)
	}
	return out, nil
}

// refreshKeys checks that keys, all in one range, are unchanged in
// (from, to] (see kvpb.RefreshRequest); a range that split meanwhile is
// asked key by key.
func (c *Client) refreshKeys(ctx context.Context, keys [][]byte, from, to, start engine.Timestamp) error {
	req := &kvpb.Request{Value: &kvpb.Request_Refresh{Refresh: &kvpb.RefreshRequest{
		Keys: keys, FromTs: uint64(from), ToTs: uint64(to), StartTs: uint64(start)}}}
	_, err := c.sendOne(ctx, keys[0], req)
	var kerr *kvpb.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &kerr) && kerr.GetWriteConflict() != nil:
		return fmt.Errorf("%w: %v", ErrWriteConflict, kerr)
	case errors.As(err, &kerr) && kerr.GetKeyMismatch() != nil && len(keys) > 1:
		for _, k := range keys {
			if err := c.refreshKeys(ctx, [][]byte{k}, from, to, start); err != nil {
				return err
			}
		}
		return nil
	}
	return err
}

// unlockTimeout bounds the background release of locks.
const unlockTimeout = 10 * time.Second

// unlockUnwritten releases, in the background, the locks the transaction
// took on keys it did not write (all of them when it did not commit):
// a written key's lock goes with its commit or rollback.
func (t *Txn) unlockUnwritten(committed bool) {
	var keys [][]byte
	for k := range t.locked {
		if m, ok := t.writes[k]; committed && ok && m.Op != kvpb.LockOp_LOCK_ONLY {
			continue
		}
		keys = append(keys, []byte(k))
	}
	t.locked = nil
	if len(keys) == 0 {
		return
	}
	c, start := t.c, t.start
	c.bg.Go(func() {
		ctx, cancel := context.WithTimeout(c.bgCtx, unlockTimeout)
		defer cancel()
		groups, err := c.keysByRange(ctx, keys)
		if err != nil {
			return // best effort: the locks expire anyway
		}
		for _, ks := range groups {
			req := &kvpb.Request{Value: &kvpb.Request_Unlock{Unlock: &kvpb.UnlockRequest{StartTs: uint64(start), Keys: ks}}}
			_, _ = c.sendOne(ctx, ks[0], req)
		}
	})
}
