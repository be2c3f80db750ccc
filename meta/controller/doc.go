// Package controller decides what the zero-touch control loop does: when to
// split, merge and move ranges, replace dead nodes' replicas, drain and
// decommission nodes. It is pure: Decide is a function of the State (the
// ranges' latest reports, the nodes' liveness and operator states, the
// actions still in flight, and State.Now as the clock), the Config and what
// the Controller remembers from earlier rounds (since when a range has been
// hot or cold, the splits it decided, the non-decisions it already
// reported). The server's host (server/controller.go) builds the State on
// the meta range's leader every round and carries the actions out.
//
// # Rules, in priority order
//
//  1. Repair. A node not heard from for DeadAfter is dead. A range with a
//     voter on a dead node gets Relocate{From: dead, To: a live node
//     without a replica, the one with the fewest} (none free: it waits); a
//     range short of min(Replicas, nodes not removed) voters gets
//     AddReplica; one with more gets
//     RemoveReplica (a dead, decommissioning or draining node's first, else
//     the fullest node's; never the leader's, which moves first); a stray
//     non-voter is finished (AddReplica on its node). A range that lost its
//     quorum gets an event only: no membership change can commit.
//  2. Decommission and drain. A decommissioning node's replicas are
//     relocated (a MarkRemoved follows once it holds none); the leaderships
//     of draining and decommissioning nodes are transferred to usable voters.
//  3. Split, by size (Bytes > RangeMaxBytes, at the reported middle block
//     boundary) or by load (reads/s or writes/s over SplitQPS, or CPU over
//     SplitCPU, continuously for SplitWindow, at the reported load split
//     key). When the load split would leave more than MaxSplitImbalance of
//     the load on one side and one block has HotKeyShare of it or more, the
//     range is reported as a hot key and not split.
//  4. Merge adjacent ranges of one database (never across databases, never
//     the meta range, never at a sticky boundary) when both are cold and
//     small — combined load under half the split thresholds and combined
//     size under half RangeMaxBytes — for MergeAfter, and neither split
//     within MergeCooldown. The right range's replicas are first relocated
//     onto the left's nodes.
//  5. Rebalance: replica counts per usable node to within RebalanceTolerance
//     of the mean (coldest ranges move first), then leader counts, then
//     leader load (a node leading more than twice the mean load).
//
// # Budget and invariants
//
//   - at most MaxConcurrentMoves replica moves (Relocate, AddReplica,
//     RemoveReplica) and as many merges in flight, counting State.InFlight;
//     at most MaxLeaderTransfersPerRound leader transfers per round;
//   - at most one action per range, never on a range with one in flight;
//   - a target is never dead, draining, decommissioning or removed; removed
//     nodes are ignored entirely;
//   - the meta range never splits or merges;
//   - every action is also an Event with its reason; a non-decision worth
//     knowing is an Event, recorded again only when its message changes or
//     a minute has passed.
package controller
