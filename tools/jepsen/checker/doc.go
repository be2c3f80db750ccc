// Package checker decides whether a Jepsen history (package history) is
// correct: pure functions from a history to a verdict, with no I/O
// (except [Register.WriteVisualizations], at the edge).
//
// # Model
//
// A [Checker] reads the ops of the functions it knows and ignores the
// rest. Outcomes mean what package history says: OK happened, Fail did
// not, Info may or may not have (at any time after its invocation; an op
// still in flight at the end counts as Info). A [Result] is in exactly one
// of three states:
//
//   - valid: Valid, no Anomalies;
//   - invalid: at least one Anomaly (each with its Kind, the ops involved
//     and a one-line Explanation);
//   - unknown: Unknown with a Reason: the checker could not decide (a
//     search ran out of time or budget, the history is malformed, nothing
//     succeeded, the workload broke an assumption). Unknown is a failure to
//     verify, never a pass: Valid is false.
//
// Allowed lists anomalies the consistency model permits (G2-item under
// snapshot isolation): reported, never failing. Counts counts OK, Fail and
// Info completions of the ops looked at; Stats counts every anomaly by
// kind (the lists stop at [MaxPerKind] per kind) and the checker's own
// figures.
//
// # Checkers and their anomalies
//
// [Register] (read, write, cas on integer registers, one row per key),
// checked per key with porcupine (Herlihy & Wing linearizability):
//
//   - nonlinearizable: no total order of the key's ops agrees with real
//     time and with a register's semantics (a stale read, a lost write, a
//     cas that applied against the wrong value).
//
// Conventions: a read's Value nil is "no row"; a cas OK applied; a cas
// Fail whose Error is [history.NoMatch] ran and found no row holding Old
// (checked as an observation); any other Fail did not happen.
//
// [Bank] (transfers and whole-table reads):
//
//   - wrong-total: an OK read's balances do not sum to the total;
//   - negative-balance: an OK read shows a balance below zero;
//   - missing-account / unexpected-account: an OK read lacks a configured
//     account, or has one the test never made.
//
// [Set] (unique adds, one final read):
//
//   - lost: an add acknowledged before the final read began is not in it;
//   - unexpected: the final read has an element no op added;
//   - failed-add-read: the final read has an element whose adds all failed;
//   - duplicate: the final read has an element twice.
//
// [ListAppend] (Elle's list-append: transactions of appends to and reads
// of lists, values unique per key). Each key's version order is its
// longest read; an element no read saw was appended after all of it. The
// anomalies seen without a graph:
//
//   - incompatible-order: a read that is not a prefix of the key's longest
//     read (the lists diverged);
//   - duplicate-elements: a read with an element twice;
//   - unknown-element: a read with an element no transaction appended;
//   - internal: a read that disagrees with the same transaction's earlier
//     reads and appends of the key (a snapshot that moved, an append that
//     is not at the end);
//   - G1a (aborted read): a read of an element whose transaction failed;
//   - G1b (intermediate read): a read ending with an append that was not
//     its transaction's last to the key;
//   - lost-update: two committed transactions read the same version of a
//     key and both appended to it.
//
// The dependency graph has a node per committed transaction and per Info
// transaction whose appends someone read, and edges Ti → Tj:
//
//   - ww: Tj appended the version after Ti's;
//   - wr: Tj read a list ending with Ti's append;
//   - rw (anti-dependency): Ti read a version and Tj appended the next;
//   - rt (with RealTime): Ti completed before Tj was invoked.
//
// A cycle is an anomaly, named by its edges:
//
//   - G0 (write cycle): ww edges only;
//   - G1c (circular information flow): ww and wr edges, at least one wr;
//   - G-single (read skew): exactly one rw edge;
//   - G-nonadjacent: several rw edges, no two consecutive (snapshot
//     isolation forbids it; found only when the short cycle the search
//     picks has that shape);
//   - G2-item (write skew): two or more rw edges, some consecutive:
//     allowed by snapshot isolation, forbidden by serializability;
//   - the same names with -realtime: the cycle needs an rt edge; a
//     G-single-realtime is typically a stale read (a transaction that began
//     after another committed missed its write); G2-item-realtime is
//     allowed under snapshot isolation like G2-item.
//
// Every model forbids all of these but G2-item and G2-item-realtime, which
// only [Serializable] forbids. The search finds, in each strongly
// connected component, one short cycle per kind in order of severity; the
// real-time stages skip components that already hold a forbidden data
// cycle. See cycles.go for how it stays fast on 100,000-op histories.
//
// # Reading a report
//
// [Result.String] gives the verdict in one line: the anomaly kinds with
// how many of each were found, the allowed ones and the op counts. Each
// Anomaly's Explanation names ops by their index in the history ("op 12")
// and, in list-append, transactions by the index of their completion
// ("T12" is the transaction whose completion is op 12; its invocation is
// earlier). A cycle reads as its edges in order, each with its evidence:
//
//	G-single: cycle of 2 transactions:
//	  T7 → T5 (rw on key 1: T7 read nothing, T5 appended 1 after it);
//	  T5 → T7 (wr on key 2: T7 read T5's append of 1)
//
// says T7 saw T5's append to key 2 but not its append to key 1. Anomaly.Ops
// holds those ops (with their results) to look up in the history; for
// registers, [Register.WriteVisualizations] draws porcupine's timeline of
// each bad key.
package checker
