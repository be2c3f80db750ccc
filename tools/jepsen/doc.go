// Package jepsen runs Jepsen-style tests of a shard cluster: real `shard
// start` processes (tools/jepsen/cluster), clients speaking SQL through
// pgx (tools/jepsen/workload) whose every operation is recorded
// (tools/jepsen/history), a nemesis injecting faults (tools/jepsen/nemesis),
// a checker that judges the history (tools/jepsen/checker), and a report
// directory (tools/jepsen/report).
//
// One test ([Run]):
//
//  1. start the cluster (network namespaces when root, else loopback with
//     TCP proxies) and wait until every range is replicated;
//  2. create database "jepsen" (pre-split into ranges) and the workload's
//     tables;
//  3. run the clients for Options.Time while the nemesis alternates
//     fault-free gaps and faults;
//  4. heal everything, wait until the cluster is whole, run the workload's
//     final reads;
//  5. check the history and write the report.
//
// The tiers: [Smoke] is the short fixed-seed set of scenarios run on every
// CI run (TestSmoke); `shard jepsen --workload W --nemesis N --time D
// --count K` runs long soaks; every bug found becomes a fixed-seed scenario
// in [Regressions].
//
// Debugging a failure: open the run's index.html (verdict, anomalies with
// the ops involved, a timeline of throughput under the faults), then the
// nodes' logs in the run directory (n1/stderr.log ...), and replay the
// scenario with the same seed.
package jepsen
