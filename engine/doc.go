// Package engine is the storage engine of a shard node: one Pebble store
// that holds every range replica on the node, their Raft logs and the
// node-local state, with an MVCC key encoding on top.
//
// # Model
//
// The store is one ordered keyspace of user keys (byte strings, at most
// MaxKeySize). A user key holds any mix of:
//
//   - one unversioned ("raw") value, written with Batch.Put and read with
//     Reader.Get and Reader.Scan. Raft logs, hard state, applied indexes and
//     other bookkeeping use these.
//   - MVCC versions at timestamps ts > 0, written with Batch.PutMVCC and
//     Batch.DeleteMVCC (a tombstone), read with Reader.GetMVCC and
//     Reader.ScanMVCC at a read timestamp: a read at ts sees, per key, the
//     newest version with timestamp <= ts, and nothing if that version is a
//     tombstone. Row data and indexes use these.
//
// Timestamps are hybrid: physical milliseconds << 18 | logical counter
// (see Timestamp). The engine does not interpret them beyond ordering, and
// it never garbage-collects versions: the range layer decides when history
// outside the retention window goes (with ClearSpan or, later, a GC batch).
//
// # Key encoding (persisted; never change it without a new ComparerName)
//
//	unversioned   | user key ... | 0x00 |
//	versioned     | user key ... | 0x00 | ts: 8 bytes big-endian | 0x09 |
//	              '---- prefix (Comparer.Split) ----'------- suffix --------'
//
// The last byte is the suffix length: 0x00 (empty suffix) or 0x09 (eight
// timestamp bytes and itself), so a key is split from its end without
// parsing the user key, which may contain any byte. Within a prefix the
// empty suffix sorts first, then versions newest first; prefixes compare
// bytewise, which is the bytewise order of user keys because the 0x00
// sentinel sorts below any continuation byte. For user keys "a" and "a\x00":
//
//	a\x00                      Put("a")
//	a\x00 <ts=30> \x09         PutMVCC("a", 30)
//	a\x00 <ts=10> \x09         PutMVCC("a", 10)
//	a\x00\x00                  Put("a\x00")
//	a\x00\x00 <ts=99> \x09     PutMVCC("a\x00", 99)
//
// So "all of user key k" is the encoded span [k\x00, k\x00\x00) and "all of
// user keys in [start, end)" is [start\x00, end\x00). Reads, ClearSpan,
// ExportSpan and IngestSpan all use that span. Comparer implements the
// order for pebble (Split, suffix comparisons, separators, successors,
// bloom filters on the prefix) and passes pebble.CheckComparer.
//
// Values of versioned keys carry a one-byte tag, 0x01 value or 0x00
// tombstone, that callers never see. Unversioned values are stored as is.
//
// # Reads and memory ownership
//
// *Engine reads the latest committed state, *Snapshot a fixed point in
// time; both implement Reader and are safe for concurrent use. Get and
// GetMVCC return copies the caller owns. Scan callbacks receive slices that
// are valid only during the call. ScanMVCC steps over older versions with
// pebble's NextPrefix and over versions newer than the read timestamp with
// a few Nexts and then a seek, so keys with long histories cost a seek, not
// a walk. A nil end bound means "to the end of the keyspace" for scans;
// span operations (ClearSpan, ExportSpan, IngestSpan, ApproximateSpanStats)
// need start < end.
//
// # Keys rewritten often
//
// Every write of a key is an entry of its own in the memtable until the
// memtable is flushed (64 MiB of writes later), and a pebble iterator that
// lands on a key whose newest entry is a delete, or that steps from a key
// with Next, walks all of that key's entries. A hot row's lock slot, taken
// and released by every transaction that writes the row, gathers thousands
// (BenchmarkGetKeyRewrittenUnversioned: 369 us a read after 10,000
// take-and-clear rounds, against 1 us after one). So the replica clears a
// lock slot by writing an empty value rather than by deleting it, and
// GetKey seeks from an unversioned value to the version rather than
// stepping to it: 3.9 us after 10,000 rounds. The seek costs a key of a
// flushed table about 5 us more than one without an unversioned value (7.2
// against 2.5 us), so the replica's MVCC GC deletes the empty values it
// finds. Scans still step from an unversioned entry to its versions (a
// seek per row would cost every scan more than the hot rows cost).
//
// # Writes and durability
//
// A Batch is built by one goroutine and committed atomically. Commit(true)
// returns only after the WAL holding the batch is fsynced; pebble's commit
// pipeline lets concurrent synced commits share one fsync (group commit:
// Metrics.WALSyncs against SyncedBatchCommits, and
// BenchmarkSyncedBatchCommit, show it). Commit(false) may be lost in a
// crash, never partly. Nothing that depends on durability (a Raft append, a
// client acknowledgement) may be acknowledged before a synced Commit has
// returned nil.
//
// # Raft snapshots: ExportSpan and IngestSpan
//
// Snapshot.ExportSpan streams every entry of a span (raw keys, all versions,
// tombstones) in the span stream format described in spanstream.go: a
// magic, then frames that are each length-prefixed and CRC-32C checksummed,
// a header naming the span and a trailer with counts. Engine.IngestSpan
// reads the whole stream, verifies it (checksums, trailer, order, every key
// inside the span) while building sstables in <dir>/ingest-tmp, and only
// then calls pebble's IngestAndExcise, which atomically deletes everything
// in the span and adds the new tables: readers see the old span or the new
// one, never a mix, and a bad stream changes nothing. The caller must keep
// writes to the span out while it is replaced. Excise has one caveat: a
// Snapshot taken before the ingest loses its view of the replaced span.
//
// # Lifecycle and concurrency
//
// Open creates the directory (fsyncing the parents it creates), clears
// leftovers of interrupted ingests and opens pebble at the newest format
// (excise needs it); a store written with another comparer is refused with
// ErrIncompatibleStore. Every operation registers with a closeGuard
// (lifecycle.go) so that Close, in order, (1) makes new operations fail
// with ErrClosed, (2) waits for those in flight, (3) closes snapshots the
// caller leaked, with a warning, and (4) closes pebble. Long operations
// (a scan, an export writing to a slow peer) delay Close until they end.
// Calling Close from inside a scan callback deadlocks. The engine starts no
// goroutines of its own; pebble's stop in Close.
//
// # Pebble configuration
//
// Block cache and memtable size come from Options (256 MiB and 64 MiB by
// default). Bloom filters (10 bits per key) are built on prefixes, so
// GetMVCC, which seeks with SeekPrefixGE, skips sstables without the key.
// L0 compaction starts at 2 sublevels and writes stall at 20; compactions
// run one at a time and up to max(2, GOMAXPROCS/2) when behind. WAL files
// are recycled by pebble; the filesystem wrapper in fs.go counts their
// fsyncs.
//
// # Errors
//
// Sentinel errors (errors.go) are matched with errors.Is; pebble's errors
// are translated at this boundary (pebble.ErrNotFound becomes ErrNotFound)
// or wrapped with an "engine: <operation>" prefix. Pebble calls its fatal
// logger on states it cannot continue from; the engine logs at Error and
// panics rather than exiting the process.
//
// # Debugging
//
//   - FormatKey renders an encoded key as user-key@physical.logical, and is
//     what pebble uses in its own log lines and errors.
//   - Metrics exposes WAL syncs, commits, memtable, L0, compactions,
//     ingests, block cache; the server exports them as shard_engine_*.
//   - Log levels are listed in logging.go; pebble's lines carry
//     source=pebble.
//   - A store can be inspected offline with pebble's tool package built
//     with this comparer: tool.New(tool.Comparers(engine.Comparer)) gives
//     "lsm", "sstable scan", "wal dump" and friends.
//   - Tests inject vfs.NewMem, vfs.NewCrashableMem (crash recovery) and
//     errorfs through Options.FS.
package engine
