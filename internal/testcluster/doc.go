// Package testcluster runs an N-node shard cluster inside one test process,
// for tests and benchmarks that need real replication without building and
// starting binaries (internal/proctest does that).
//
// # Model
//
// A [Cluster] is N node slots numbered 1..N. A slot has fixed addresses (a
// 127.0.0.1 port chosen free when the cluster starts) and a fixed data
// directory (tb.TempDir), and runs at most one *server.Server at a time.
// Slot i holds node id i: node 1 bootstraps the cluster, nodes 2..N join it
// one after the other, so the ids the cluster hands out match the slots.
// [Cluster.Stop] kills a node the way a crash would look to its peers
// (server.Kill: no leadership handoff); [Cluster.Restart] brings it back on
// the same directory and address, with every other node as a join address.
//
// Raft timeouts are short by default ([FastTiming]) so that elections and
// up-replication take a fraction of a second; benchmarks pass the
// production timing in [Options].
//
// # Helpers
//
//   - [Cluster.WaitReplicated]: every range in meta has its full set of
//     voters, each of which has the range open, and a leader.
//   - [Cluster.LeaderOf], [Cluster.Split], [Cluster.Descriptors]: through
//     the nodes' Internal and Admin gRPC services, like the CLI.
//   - [Cluster.WaitReplicasAgree]: the consistency check. For every range,
//     the span's stored entries (every MVCC version) are the same bytes on
//     every running replica, and meta's descriptors cover the user keyspace
//     without gaps or overlaps.
//   - [Cluster.Client] is node i's own kv client; [Cluster.NewClient] is a
//     client of no node, that reaches the cluster through every slot's
//     address and so keeps working while nodes stop and start.
//   - [WaitFor] polls a condition until a deadline. Nothing in this package
//     sleeps to synchronise.
//
// # Lifecycle
//
// Start registers a tb.Cleanup that stops every running node (in parallel)
// and closes the clients; the data directories are removed after it. Every
// method that can fail calls tb.Fatalf, so call them from the test's
// goroutine only.
//
// # Debugging
//
// Every node logs at Info into one in-memory buffer, each line tagged with
// its node (n=i). When the test fails, the cleanup prints the last
// SHARD_TEST_LOG_LINES lines (default 300, 0 for all that are kept).
// SHARD_TEST_LOG=debug|info|warn|error streams the logs to stderr as well,
// at that level.
package testcluster
