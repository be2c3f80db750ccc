// Package etcdpeer runs etcd next to shard for `shard bench --compare
// etcd`: a 3-member etcd cluster of the machine's etcd (Debian's
// etcd-server) on loopback, with fsync on (etcd's default), and a
// workload of single-key writes (and optionally reads) through etcd's own
// Go client, so that shard's single-row writes are measured against the
// writes per second of the store most often used for this job.
//
// # Model
//
// [Start] picks free loopback ports, starts each member as its own process
// with a static --initial-cluster, each with its data under the run's
// directory, and waits until a write through the client succeeds. The
// members are started through internal/spawn: they die with the program
// that started them. [Cluster.Counters] reads the WAL fsyncs from each
// member's /metrics (etcd_disk_wal_fsync_duration_seconds_count) and the
// process CPU time (process_cpu_seconds_total).
//
// The workload ([KV]) has one client per worker, so that concurrency is
// like N connections; operation "write" is one Put of key "k/%010d" with
// a random value, operation "read" one linearizable Get. Setup deletes the
// keys, so that a second run starts over.
//
// # Invariants
//
//   - Stop kills every member and waits for it, and removes the data the
//     cluster made; it is safe to call twice.
//   - A Start that fails leaves nothing running.
package etcdpeer
