// Package bench runs a benchmark on one or more systems in one run on one
// machine and compares them: the harness behind `shard bench`. Absolute
// figures drift on a shared machine; the ratio of two systems measured
// back to back in the same run is what a result claims.
//
// # Model
//
// A [System] is something a workload runs against and whose durability
// counters can be read (package bench/target starts them: shard,
// PostgreSQL; bench/etcdpeer: etcd). [Measure] runs one workload
// (package bench/workload) on one system: it loads the workload's data
// and lets the system settle ([Setup], [Settler]), reads the counters,
// runs the workload, reads them again, and returns a [Run] with the workload's
// result, the fsyncs per second and the writes per fsync. A [Report] is
// the runs of one invocation with the machine they ran on, in rounds of
// the system under test and then its peers; it prints the runs side by
// side with the throughput of each round's first run over each one's
// (shard over the peer: 0.5 is half the peer's throughput), with several
// rounds the median of those ratios, and saves everything as JSON.
//
// # Counting writes
//
// Writes per fsync divides the operations that write ([IsWrite]: write,
// update, insert, rmw, tpcb) by the WAL fsyncs of all nodes over the
// same period. On a 3-node cluster every write is fsynced on at least two
// nodes, so 1/2 is the floor without batching; group commit and batching
// raise it.
//
// # Settling
//
// A system still works for a while after a load: shard's stores hold the
// loaded rows and their raft log in memtables until they fill, then flush
// and compact them; PostgreSQL's autovacuum visits the new tables within
// a minute. A run of seconds started at once measures that work along
// with its own. So [Setup] has a [Settler] finish it first (shard: flush
// every store and wait until none has flushed or compacted for 2 s;
// PostgreSQL: VACUUM ANALYZE), and the Run records how long it took.
// What a long run pays in steady state, a memtable flush per 64 MiB per
// node and PostgreSQL's checkpoints, a short run mostly does not see, on
// either side.
//
// # Invariants
//
//   - Systems run one after another, never at once: an idle system's
//     background work does not disturb the measured one, and each gets
//     the whole machine.
//   - A Report's first run is the system under test: every ratio is its
//     throughput over another run's.
package bench
