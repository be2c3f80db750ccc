// Package loadstats measures the load one range replica serves, for the
// controller's load-based splits (meta/controller). It is pure: no I/O, no
// goroutines, no clock of its own; every call takes its now, so tests drive
// it with a fake clock and a seeded rand.
//
// # Lifecycle
//
// A replica owns one Tracker. It calls Record for each request batch it
// serves and RecordCPU for the time it spent evaluating or applying one
// (not the time a read waited for a lock, a latch or proof of leadership,
// which is no load: see the replica's idleClock); the node's load report
// calls Snapshot and passes the sample to FindSplit with the range's
// bounds; the replica calls Reset when a split or merge applies, because
// the old history no longer describes the new span.
//
// # Rates
//
// Each rate (reads, writes, bytes written, serving time) is an
// exponentially decaying sum with half-life H and time constant τ = H/ln 2:
//
//	s(t) = Σᵢ aᵢ·e^(-(t-tᵢ)/τ)        rate(t) = s(t)/τ
//
// where event i added amount aᵢ at time tᵢ. The tracker keeps s and the
// time it was last brought forward; each call multiplies s by
// e^(-Δt/τ) before adding. Under a steady rate r that began at t₀,
// s(t) = r·τ·(1 - e^(-(t-t₀)/τ)): the estimate approaches r from below (half
// of it after one half-life, 94% after four, 97% after five) and never
// divides by a short elapsed time, so one request on a fresh tracker reads
// as 1/τ per second, not as a burst. After the load stops the rate halves
// every half-life (under 5% of it after five).
//
// # Key sample
//
// The tracker keeps a weighted reservoir of the keys that stood for its
// requests (the first key of each batch): Efraimidis and Spirakis' A-Res,
// which keeps the k events with the largest u^(1/w) for uniform u, that is,
// a weighted sample without replacement. A request's weight is its cost,
// reads+writes (at least 1), times a forward-decay factor e^(λ·(t-L)) with
// λ = ln 2/H and a landmark L, so an event is worth twice one a half-life
// older, and after a few half-lives of new load the old samples have been
// displaced. The priority is kept in double-log form: with E = -ln u, an
// Exp(1) draw, the kept events are those with the smallest
//
//	ln E - ln(reads+writes) - λ·(t-L)
//
// which needs no exponential and cannot overflow. When λ·(t-L) passes
// maxAge, L moves to now and every stored priority is shifted by the same
// amount (keeping the numbers small and precise; the order is unchanged).
// Because the sample is already weighted, every sample stands for an equal
// share of the recent load: Snapshot returns each with Weight 1, and
// FindSplit adds weights, so it counts samples.
//
// # Split point
//
// FindSplit snaps each sample key to the start of its block with snap (for
// SQL keys keys.ShardBoundary, the 't' db hash prefix, so all rows of one
// shard value share a block), sums the weight per block, and considers
// every block start strictly inside (start, end) as a cut: the blocks before
// it go left, the rest right. It returns the cut whose heavier side has the
// smallest share (Balance; 0.5 is perfect), and the heaviest block with its
// share (HotBlock, HotShare). With fewer than MinSamples samples it picks no
// key. The controller splits at Key when Balance is good enough; when one
// block carries most of the load no cut can help, and it reports HotBlock as
// a hot key instead of splitting.
//
// # Invariants
//
//   - Split.Key, when set, is snap of a sampled key (a block start) and lies
//     strictly inside (start, end): never the range's own start, never inside
//     a block, so one shard value never straddles two ranges.
//   - Split.Key is set only when both sides of it carry sampled weight, so
//     Balance < 1; Balance is 1 exactly when Key is nil.
//   - Rates are never negative and never above the true rate of a steady
//     load by more than one event's amount over τ.
//   - The reservoir holds at most Config.Samples keys, each a copy owned by
//     the tracker; Snapshot hands out copies of them.
//
// # Debugging
//
// The controller's explain output (meta/controller) prints each range's
// rates, Balance, HotBlock and sample count as the leader last reported
// them. A Split with Samples well below Config.Samples means the range saw
// few requests since its last Reset. A HotShare near 1/Samples with a good
// Balance is a spread load; a HotShare near 1 is one shard value taking the
// load (the hot key). Keys that are not SQL keys snap to themselves, so each
// distinct key is its own block.
package loadstats
