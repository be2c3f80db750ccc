// Package replication runs one hashicorp/raft group per range replica on a
// node, many groups per node, over shared resources:
//
//   - LogStore: each group's raft log and stable store live in the node's
//     one Pebble engine under the group's own key prefix, written with
//     synced batches; Pebble's commit pipeline shares a WAL fsync between
//     batches committed together, so concurrent groups share fsyncs.
//   - Hub and GroupTransport: one gRPC connection per peer node carries
//     every group; each message names its group; a message for a group the
//     node does not run gets an error reply at once.
//   - Group: a raft instance with our timing, snapshots (exportingStore:
//     taking one records no data, sending one exports the FSM's current
//     state), and errors translated into this package's (ErrNotLeader, ...).
//
// The FSM (package range/replica) keeps its state, applied index included,
// in the same engine; groups start with NoSnapshotRestoreOnStart so a restart
// resumes from that state instead of restoring an older snapshot, and the
// FSM skips entries it has already applied.
//
// See DESIGN.md in this directory for the invariants and the transport's
// wire protocol is described at the top of transport.go.
package replication
