// Package scan compares full-table scans with and without pushdown: the
// same queries over pgbench's tables, against a 3-node shard cluster (real
// processes on loopback, 3 replicas) with scan programs on and off
// (SET shard.scan_pushdown), and against PostgreSQL 15 in the same run as
// the reference. It has no code outside its benchmark.
//
// Running it (PostgreSQL 15 and pgbench must be installed, see
// internal/pgtest; without them the benchmark skips):
//
//	SHARD_BENCH_SCAN_SCALE=10 go test ./bench/scan -run XXX -bench . -benchtime 5x -timeout 60m
//
// Setup, once per run: pgbench -i -I dtpg -s SCALE on both sides (scale 1
// unless SHARD_BENCH_SCAN_SCALE says otherwise), then each query is checked
// to answer the same on every side before it is timed. Results are
// ns/op per query and side; docs/benchmarks.md records a run.
package scan
