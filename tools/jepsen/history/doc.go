// Package history is the record of a Jepsen-style test: every operation a
// client invoked and how it completed, in real-time order.
//
// The model (Jepsen's): a test has logical processes, each a single-threaded
// client. A process appends an [Invoke] op, runs it against the database,
// then appends its completion with the same Process: [OK] (it happened, with
// its results), [Fail] (it certainly did not happen: the database said so
// before anything could commit) or [Info] (unknown: a timeout or a
// connection lost during COMMIT; it may or may not have happened, now or
// later). A process whose op ends in Info never runs again: the client
// opens a new process (a new number) instead, so every process has at most
// one op in flight and an indeterminate op stays concurrent with
// everything after it.
//
// Invariants a well-formed history keeps (checked by [History.Validate]):
//   - Index is the op's position, from 0;
//   - Time never decreases;
//   - each completion follows an invoke of the same process, with the same F,
//     and a process never has two ops in flight;
//   - no op of a process follows its Info completion.
//
// Histories are written as JSON lines (one op per line) by [Write] and read
// by [Read].
package history
