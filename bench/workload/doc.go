// Package workload is the library of the benchmark harness: it runs a
// workload (kv, select, tpcb, ycsb) against any PostgreSQL-compatible database
// (shard, PostgreSQL) over pgx for a while, with many workers, and
// reports throughput and latency per operation, per second and in total,
// in the text layout of `cockroach workload` and as a JSON Result. The thin
// `shard bench` command (cmd/shard/bench.go, with packages bench,
// bench/target, bench/etcdpeer and bench/failover) parses flags into
// Options and the workloads' options and calls Run.
//
// # The model
//
// A Workload makes its schema and data (Setup: DROP TABLE IF EXISTS, then
// CREATE and a COPY load, so a second Setup starts over) and opens
// Workers, each with its own connection. Run opens Concurrency workers
// before the clock starts, starts them spread over Ramp, and each calls
// Worker.Op in a loop with its own *rand.Rand (PCG seeded with Seed and
// the worker's index) until Ramp + Duration has passed or ctx is
// canceled. Every second the reporter (Run's own goroutine) collects what
// the workers recorded, prints a line per operation to Progress and adds
// it to the series; at the end it prints the summary to Out.
//
//	_elapsed___errors__ops/sec(inst)___ops/sec(cum)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)
//	    1.0s        0         1234.5         1234.5      1.2      3.4      5.6     12.1 read
//
// The summary has one line per operation and a "total" line under
// `_elapsed___errors_____ops(total)___ops/sec(cum)__avg(ms)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)__total`,
// then the retries the same way under `_elapsed__retries___retry(%)`.
// Result.WriteJSON saves the same figures with the per-second series.
//
// # Counting
//
//   - An operation is one Op call that returned nil, timed from the start
//     of its first attempt; only operations have latencies.
//   - An Op error with SQLSTATE 40001 or 40P01 (IsRetry) is a retry: the
//     worker calls Op again at once, without waiting for the rate limit,
//     and the operation's latency covers every attempt. tpcb and ycsb
//     repeat the same operation (the same transaction, keys, field); kv
//     and select make a new operation (new keys). Any other error is an
//     error of the operation; the worker goes on.
//   - An attempt cut off by the end of the run is not counted at all.
//   - The cumulative figures and the summary start at the first
//     per-second tick at or after the end of the ramp (all of the run when
//     Ramp is 0); the per-second lines and the series cover the ramp too.
//     The last, partial second gets a line when it lasted half a second
//     or more, and counts in the summary either way.
//   - Latencies are recorded in microseconds into HDR histograms (1 µs to
//     60 s, 3 significant figures; longer is recorded as 60 s) and printed
//     in milliseconds. Percentiles are the histogram's: exact to 3
//     significant figures.
//
// # Moving parts
//
//   - run.go: Run, the workers' loop, the reporter's ticks.
//   - hist.go: each worker records into its own histograms (a recorder,
//     one mutex per worker that only the once-a-second collection
//     contends); the reporter merges them into the second's and the
//     cumulative histograms (aggregate).
//   - pacer.go: MaxRate. Each worker gets MaxRate/Concurrency and spaces
//     its operations 1/rate apart, never bursting to catch up, so a run
//     makes at most MaxRate·t + Concurrency operations in time t.
//     golang.org/x/time/rate is not a dependency of the module; the
//     pacer is a few lines.
//   - output.go, result.go: the text layout and the JSON Result.
//   - kv.go, pgbench.go, tpcb.go, ycsb.go: the workloads; pg.go:
//     connections, each worker's session (a connection string may name
//     several hosts: worker i tries them from host i on, so the workers
//     spread over a cluster's nodes; a connection that broke is opened
//     again at the next operation, on the first host that answers) and
//     the COPY loader (text format: pgx's CopyFrom speaks the binary
//     format, which shard does not support).
//   - keys.go: key distributions. Zipfian is YCSB's generator (Gray et
//     al.) with θ = 0.99, not math/rand's Zipf, which needs θ > 1; its
//     keys are not scrambled (key 0 is the hottest; shard places rows by
//     the hash of their key anyway). Latest is YCSB's skewed latest,
//     the zipfian counted down from the last inserted key; growingKeys
//     draws from a key space that grows between draws (ycsb's inserts),
//     its zipfian's ζ growing by the new terms as YCSB's does.
//
// # Workloads
//
//   - kv: table kv(k bigint PRIMARY KEY, v bytea). ReadPercent of the
//     operations are "read", SELECT v FROM kv WHERE k = $1 (a missing key
//     is fine); the others are "write", one INSERT ... VALUES ($1, $2),
//     ... ON CONFLICT (k) DO UPDATE SET v = excluded.v of Batch rows with
//     distinct keys in ascending order (PostgreSQL refuses an upsert that
//     touches a row twice, and the order avoids deadlocks). Only simple
//     statements, that shard and PostgreSQL both run.
//   - select: pgbench -S; tpcb: pgbench's TPC-B-like transaction (BEGIN,
//     UPDATE accounts, SELECT abalance, UPDATE tellers, UPDATE branches,
//     INSERT history, COMMIT). Both load pgbench's four tables at
//     PgbenchOptions.Scale (Accounts per branch overridable for tests).
//   - ycsb: YCSB's core workloads A to F (YCSBOptions.Workload) on table
//     usertable(ycsb_key bigint PRIMARY KEY, field0 text, ...), by default
//     10 fields of 100 bytes, RecordCount rows (keys 0 to RecordCount-1)
//     loaded by Setup with COPY. Operations "read" (SELECT every field of
//     a key), "update" (UPDATE one random field), "insert" (a new row),
//     "scan" (SELECT ... WHERE ycsb_key >= $1 ORDER BY ycsb_key LIMIT $2,
//     1 to MaxScanLength rows) and "rmw" (BEGIN, read, update, COMMIT):
//     A 50% read, 50% update; B 95% read, 5% update; C reads; D 95% read,
//     5% insert; E 95% scan, 5% insert; F 50% read, 50% rmw. Keys are
//     zipfian by default, D's latest (the last inserted the hottest). An
//     insert takes the next key of a counter shared by the workers,
//     starting after the largest key in the table; the other operations
//     choose among the keys below every insert still in flight, so that
//     they find their rows.
//
// # Invariants
//
//   - Every goroutine Run starts (one per worker) has ended, and every
//     Worker is closed, when Run returns; workers never write output.
//   - The same Seed gives worker i the same sequence of random choices in
//     every run (the interleaving of workers, and so the data, differs;
//     so do the keys of ycsb's D and E, which follow the inserts).
//   - The hot path takes only the worker's own mutex (and ycsb's inserts
//     atomic counters); nothing a worker does waits for another worker.
//
// # Debugging
//
// Result.Ops[i].FirstError (and "first_error" in the JSON) keeps the
// first error message of each operation, FirstRetry ("first_retry") the
// first message of an error it retried. The package's tests run every
// workload against PostgreSQL 15 (internal/pgtest) for two seconds (ycsb's
// six for 1.5).
package workload
