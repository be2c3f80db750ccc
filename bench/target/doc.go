// Package target starts and measures the systems a benchmark runs against
// on this machine: a shard cluster of real `shard start` processes
// ([StartShard]) and a PostgreSQL 15 ([StartPostgres]); the etcd peer is
// package bench/etcdpeer. Each gives a connection string for the
// workloads (package bench/workload) and its durability counters
// ([Counters]: WAL fsyncs and durable commits), so that a write benchmark
// reports fsyncs per second and writes per fsync for every system alike.
//
// # Fairness
//
// Every system runs on the same disk (the data under the same parent
// directory), with fsync on and its production defaults otherwise:
//
//   - shard: N nodes (default 3), 3 replicas of every range, each node a
//     process on its own loopback address with nothing between the nodes
//     (the Direct network of tools/jepsen/cluster); the database "bench"
//     made by CREATE DATABASE, so pre-split and with its leaders spread as
//     any new database. Clients connect as root without TLS, over a
//     connection string that names every node; package workload spreads
//     its workers over them.
//   - PostgreSQL: one server (internal/pgtest) with fsync,
//     synchronous_commit and full_page_writes on, shared_buffers 1 GB,
//     without TLS.
//
// Each settles after a workload's load ([Shard.Settle], [Postgres.Settle];
// package bench, "Settling").
//
// # Counters
//
// shard's come from every running node's /metrics
// (shard_store_wal_fsyncs_total, shard_store_synced_commits_total),
// PostgreSQL's from pg_stat_wal (wal_sync; its commits are
// pg_stat_database's xact_commit). [Delta] turns two readings into rates.
//
// # Invariants
//
//   - Close stops every process a Start made and removes the data it made
//     (unless Keep); it is safe to call twice.
//   - A Start that fails leaves nothing running.
package target
