// Package loadstats measures the load one range replica serves, for the
// controller's load-based splits (meta/controller).
//
// # Rates
//
// Each rate (reads, writes, bytes written, serving time) is an
// exponentially decaying count: every event adds its amount to a sum that
// decays with half-life H, s(t) = Σ amount·2^(-(t-tᵢ)/H). Under a steady
// rate r the sum tends to r·τ with τ = H/ln 2, so the rate reported is
// s(t)/τ. A fresh tracker approaches the true rate from below (after one
// half-life it reports half of it, after four 94%), never above it, so a
// burst of a few requests never looks like a hot range; after the load
// stops the rate halves every half-life.
//
// # Key sample
//
// The tracker keeps a weighted reservoir of the keys requests touched
// (Efraimidis and Spirakis' A-Res: each event draws priority u^(1/w) and the
// reservoir keeps the largest), with forward decay: an event at time t has
// weight w·2^((t-L)/H) for a landmark L, so recent requests dominate and
// after a few half-lives the sample reflects the current load alone. The
// priorities are kept as logarithms, ln(u)/w', which cannot overflow; the
// landmark moves forward (rescaling the stored priorities) when the
// exponent grows large. Every sample then stands for an equal share of the
// recent load, so Sample.Weight is 1.
//
// # Split point
//
// FindSplit snaps each sampled key to the start of its block (for SQL keys,
// the shard-hash block: keys.ShardBoundary), counts the samples per block,
// and returns the block boundary strictly inside the range that best
// balances the samples on its two sides, with the heavier side's share
// (Balance) and the hottest block with its share (HotShare). A range that
// one block makes hot has no balanced boundary: the controller reports it
// as a hot key instead of splitting.
//
// Invariant: Split.Key, when set, is a block start strictly inside
// (start, end), so one shard value never straddles two ranges.
package loadstats
