// Package server wires one shard node together: the Pebble engine, the
// node's replicas and their raft groups (the store), one gRPC server that
// carries raft traffic (replication.Hub), the Internal service (batches,
// join, replica creation, splits) and the Admin service (the CLI), the kv
// client, the SQL layer, the HTTP listener with the management API (package
// api, carried out by platform.go; metering in usage.go), and the
// background loops. Every gRPC call carries the cluster secret
// (secret.go, internal/rpcauth).
//
// # Lifecycle
//
// New checks the data directory (refusing one that is not ours, and one of
// another cluster than --join names), opens the engine, loads the node's
// identity, joins a cluster if it has none and --join is given, and binds
// the rpc address. Start serves gRPC, bootstraps a new cluster on its first
// node (the meta range and one user range), opens every replica stored on
// the node, and starts the loops. Stop shuts down in the order written on
// the method.
//
// # Background loops (one goroutine each, owned by Server.loops)
//
//   - replicate (every ReplicateInterval): for each range this node leads,
//     keep the descriptor's replica list equal to the raft configuration,
//     and the meta entry equal to the descriptor (meta.Meta.SyncDescriptor);
//     with the controller off (ControllerOff, tests), also add replicas
//     while the range has fewer voters than min(Replicas, live nodes);
//   - node-refresh: learn every node's address from the meta range;
//   - report-load (every Controller.ReportInterval): send the load and size
//     of every range this node leads to the controller (report.go); it is
//     also the node's heartbeat;
//   - controller (same interval): on the meta range's leader, decide with
//     meta/controller and carry the actions out (controller.go,
//     executor.go: splits, merges in merge.go, replica moves in
//     relocate.go, leader transfers), record events in the meta range;
//   - replica-gc: remove replicas whose range moved or merged away from
//     this node, also while it was down or partitioned (replicagc.go);
//   - usage (every 3 s): write this node's metered request units to meta
//     and read the databases' storage back (usage.go); the controller's
//     node writes the storage;
//   - tso: on the meta range's leader, serve batches of timestamps
//     (Internal.GetTimestamps) and raise the persisted window ahead of
//     demand (see meta/DESIGN.md, "Timestamp oracle").
//
// # Data directory
//
//	DIR/SHARD          marker: a directory without it is never touched
//	DIR/store/         the Pebble engine: user data, raft logs, local state
//	DIR/snapshots/rN/  raft snapshots of range N
//	DIR/cluster-secret the cluster secret (0600)
//	DIR/root-password, DIR/admin-token  made by the node that created the
//	                   cluster (0600)
//	DIR/node.crt, node.key  the SQL listener's TLS certificate
//
// # Debugging
//
// `shard nodes`, `shard ranges [hot|explain]` and `shard events` ask any
// node; logs are slog text on stderr, raft's warnings included (tagged with
// the range). The HTTP address serves Prometheus metrics at /metrics
// (metrics.go) and /health.
package server
