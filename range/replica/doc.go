// Package replica is one range's replica on one node: the raft state
// machine over the range's span of the node's single Pebble engine, and the
// request path that serves reads and proposes writes.
//
// # Model
//
// A range is a span [start, end) of the keyspace plus a raft group. Each
// replica of the range applies the group's log, in order, to the span of its
// node's engine. A replica's persistent state, besides the user data in the
// span, is two node-local keys (package keys, per-replica prefix):
//
//   - its descriptor (span, replicas, generation);
//   - its applied state (last applied raft index, last write timestamp),
//     written in the same engine batch as the writes of the entries it
//     covers.
//
// # Invariants
//
//   - Apply is deterministic: the outcome of an entry depends only on the
//     entry and the replica's state, never on the clock or on the node. A
//     command that every replica rejects the same way (key outside the span,
//     failed condition) is a result returned to the proposer; an engine
//     failure during apply could differ between replicas and panics.
//   - An entry is applied at most once: entries at or below the stored
//     applied index are skipped (raft replays the log after a restart with
//     NoSnapshotRestoreOnStart, and after a restored snapshot whose export
//     was taken later than the index raft recorded for it).
//   - A raft snapshot (Snapshot) records no data; ExportState writes the
//     state a follower is sent, read from one Pebble snapshot so that its
//     applied index, descriptor and span agree while applies go on.
//   - Versions of a key only grow: a command's write timestamp is
//     max(proposed, last applied + 1), so a new leader with a slower clock
//     cannot write under an older version.
//   - A split is one log entry: applying it shrinks this replica's
//     descriptor and stores the right-hand side's descriptor and applied
//     state in the same batch, so a crash leaves both or neither. The right
//     hand side then becomes its own raft group over the same voters.
//   - Reads are served only by a leader that applied a barrier in its term
//     and verified its leadership with a quorum after the read arrived (see
//     Execute).
//   - Before raft truncates its log for a snapshot, the applied state is
//     made durable (Snapshot), so log truncation never loses applied data.
//
// # Scan programs
//
// A scan may carry a program (program.go): opaque bytes that the node's
// Processor (installed by the server; the SQL layer's, behind a
// ProgramCache) compiles, and that the scan runs on every row it would
// return, keeping, rewriting or folding it (pushed-down filters,
// projections and partial aggregates). The range layer does not know what
// a program means. Invariants: a program sees exactly the visible,
// committed versions a plain scan would return, and the lock check is the
// plain scan's (locks on keys the KeyFilter passes, whatever the program
// says of the row), so a programmed scan meets the same conflicts; a
// program's rows and held-back partial state count against the response
// bounds (maxScanRows, maxScanBytes, maxScanExamined), and a response reads
// at least one row, so paging always moves; a program error stops the scan
// at its row and is reported unless a lock up to that row comes first.
//
// # Lifecycle
//
// The store (package server) opens a Replica from its stored state, opens
// the replica's raft group with the replica as FSM, then Attach-es the group.
// Execute serves requests. Split and UpdateReplicas are the admin paths.
//
// # Debugging
//
// `shard ranges` shows each range's applied index, leader and size as seen
// by its leader; the replica logs every snapshot restore at info level.
package replica
