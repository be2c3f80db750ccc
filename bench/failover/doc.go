// Package failover measures what a client sees when a node dies under
// load: a constant-rate mixed workload runs against a shard cluster while
// the leader of a busy range, and then the leader of the meta range, is
// killed with SIGKILL. For each kill it reports the longest gap without a
// successful operation around it, the slowest operation and the errors the
// clients got. The split, transfer-leader and merge faults measure the same
// for a split of a busy range, a move of its leadership and its merge into
// its neighbour, which kill nothing.
//
// # Model
//
// [Run] wraps the workload so that every worker records the time of each
// success and each error (one mutex for all workers: the rate is bounded
// and small). The workload runs for Warmup, then for each fault: find the
// victim, kill it, observe for Observe, start the node again and wait
// until the cluster is whole, run Warmup more. After the run the gaps are
// computed from the sorted success times: a fault's gap is the longest
// interval between consecutive successes that ends after the kill and
// starts before the end of its observation window.
//
// # Victims
//
//   - range-leader: the leader of the range with the most reads and
//     writes per second (the leaders' load reports), not the meta range
//     and, when possible, on a node that does not lead the meta range, so
//     that the two faults are apart.
//   - meta-leader: the leader of the meta range (range 1).
//   - split: the busiest range, as for range-leader, split at the middle
//     of its first keys (admin SplitRange); the observation window starts
//     when the split is asked for, and no node is restarted.
//   - transfer-leader: the busiest range, as for range-leader, whose
//     leadership moves to another of its replicas (admin TransferLeader).
//   - merge: the busiest range that can merge into its left-hand
//     neighbour (one database, not the meta range) is merged into it
//     (admin MergeRanges): the busy range is the one frozen meanwhile.
//
// # Invariants
//
//   - Every node killed is started again before the next fault and before
//     Run returns (unless ctx ends).
//   - The workload's goroutines have ended when Run returns.
package failover
