// Package kv is the distributed key-value client: it turns "get key K" into
// a request to the leader of the range that holds K, wherever it is.
//
// # Moving parts
//
//   - Pool: one gRPC connection per node address, shared by everything on a
//     node (and by a CLI process). Batch calls to another node share one
//     long-lived stream on it (batchstream.go); to this node they run in
//     process (local.go).
//   - rangeCache: descriptors sorted by end key (never overlapping) and the
//     last known leader of each range.
//   - Client: looks a key's range up in the cache or in the meta range (one
//     seek: the first descriptor whose end key is above the key), sends the
//     batch to the cached leader or to each replica in turn, and follows
//     not-leader hints.
//
// # Retries
//
// Routing errors are retried until the context ends (RetryTimeout when it
// has no deadline), with jittered exponential backoff:
//
//   - not leader: the hint is tried next;
//   - key outside the range (a split happened): the stale descriptor is
//     evicted and the new one from the error is cached;
//   - range not found on a node, unavailable, transport failure: the next
//     replica is tried, then the lookup is redone.
//
// A result (a failed condition, an invalid request) is returned at once.
// A write retried after an ambiguous failure (timeout) may apply twice; puts
// are idempotent, a conditional put may then report a failed condition. The
// one request that must not apply twice, a deferred transaction's one-phase
// commit, is not sent again after an attempt that may have been applied: it
// fails with ErrAmbiguous.
//
// # Transactions
//
// Client.Now gets timestamps from the oracle on the meta range's leader (one
// RPC in flight per client; callers that arrive meanwhile share the next).
// Client.Begin starts a snapshot-isolation transaction (txn.go): reads at
// its start timestamp, resolving the locks they meet through the lock's
// primary key; writes buffered until Commit, which uses one raft command
// when they all fall in one range (1PC) and Percolator's two phases
// otherwise (prewrite locks in every range at once but the primary's; a
// one-phase commit of the primary's range, which is the commit point; a
// resolver that meets a secondary before then waits out the secondary's
// TTL before rolling the primary back, which the one-phase commit then
// fails on; secondaries resolved in the background, owned by the client
// until Close; see DESIGN.md for the fallback). A write-write conflict is
// ErrWriteConflict (SQLSTATE 40001); RunTxn retries on it. A pessimistic
// transaction (SetPessimistic, for SQL transaction blocks) locks the keys
// it is about to write as it reads them (GetManyForUpdate), waiting for
// another transaction's lock, and moves its read timestamp forward when
// the key changed after its snapshot and nothing else it read did
// (pessimistic.go); while it has read only keys it locked, it puts that
// off, and its commit checks each such key from the version it read.
// Client.BeginDeferred takes the start timestamp at the
// first read; a blind write to one range takes none of its own.
//
// # Programmed scans
//
// Txn.ScanProgram sends a scan program (opaque to kv, see range/replica)
// with a scan and hands back each response's kept rows and partial result
// in key order, following resume keys and splits and resolving locks as
// Scan does. Without a limit it reads the ranges of the span in parallel
// (at most maxParallelScans at once); with one it asks them in turn and
// stops once it has enough. The transaction's buffered writes are not
// visible at the ranges, so a span holding some is refused (ErrOwnWrites)
// and the caller reads whole rows instead. Client.ScanStats counts what
// scans bring back.
//
// The meta range is found without meta: through the seed addresses the
// caller gives (a node's own address first) and the node addresses learned
// from node records.
package kv
