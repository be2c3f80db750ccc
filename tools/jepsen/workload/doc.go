// Package workload holds the Jepsen workloads: what each client process
// asks of the database over the PostgreSQL protocol (pgx, as users do) and
// how it records the answers in a history.
//
// The model: a [Workload] makes the schema ([Workload.Setup]), generates
// the next operation for a process ([Workload.Next]), runs it on one
// connection ([Workload.Invoke]) and, once the faults are healed, makes the
// final reads its checker needs ([Workload.Final]). Workloads keep no
// per-connection state; their generators are driven from many goroutines
// and lock what they share.
//
// Outcomes (see [Classify]): an operation that certainly did not take
// effect is Fail (the database refused it before COMMIT, or COMMIT answered
// with a definite error such as 40001 or 23505); one that may have taken
// effect is Info (a connection lost, a timeout or an internal error while a
// write or COMMIT was in flight). Reads have no effect, so a read that
// errs is Fail whatever the error.
//
// The workloads:
//   - register: single-statement reads, upserts and compare-and-set
//     (UPDATE ... WHERE val = old) on a few keys at a time, each key
//     retired after a bounded number of ops so linearizability checking
//     stays cheap;
//   - bank: transfers between accounts (spread over ranges by their hash)
//     in explicit transactions, and whole-table reads;
//   - set: inserts of unique values, a final read of all of them;
//   - list-append: transactions of 1-4 appends and reads over a rolling
//     window of keys; appends are INSERT ... ON CONFLICT DO UPDATE of a
//     comma-separated text.
package workload
