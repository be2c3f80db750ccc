package loadstats

import (
	"bytes"
	"math"
	"slices"
)

// MinSamples is the fewest samples (inside the range) from which FindSplit
// picks a split key. With 20 equal samples a side's share is known to about
// ±11% (one standard error), enough to tell a balanced cut from a lopsided
// one; fewer describe noise, not load.
const MinSamples = 20

// Split is where to cut a range by load.
type Split struct {
	// Key is the block boundary strictly inside (start, end) that best
	// balances the sampled weight; nil when there are fewer than MinSamples
	// samples or no boundary strictly inside the range has weight on both
	// of its sides.
	Key []byte
	// Balance is the heavier side's share of the sampled weight at Key (0.5
	// is perfect); 1 when Key is nil.
	Balance float64
	// HotBlock is the start of the block with the most sampled weight (nil
	// when there are no samples), HotShare its share of the weight.
	HotBlock []byte
	HotShare float64
	// Samples counts the samples used: those inside [start, end) with a
	// positive weight.
	Samples int
}

// FindSplit picks, among the snapped sample keys strictly inside (start,
// end) (end empty: unbounded), the boundary whose left side (keys below it)
// and right side carry the closest to equal sampled weight; ties go to the
// lowest boundary. snap maps a key to the start of its block
// (keys.ShardBoundary): a boundary is always a block start, so a block never
// straddles the cut. A block that starts at or before start (the range
// starts inside it) is never a candidate, but its weight counts on the
// left. Samples outside [start, end), left over from before a split, and
// samples without a positive finite weight are ignored.
//
// The returned keys are fresh copies.
func FindSplit(samples []Sample, start, end []byte, snap func([]byte) []byte) Split {
	out := Split{Balance: 1}
	type block struct {
		start  []byte
		weight float64
	}
	blocks := make([]block, 0, len(samples))
	var total float64
	for _, s := range samples {
		if bytes.Compare(s.Key, start) < 0 || len(end) > 0 && bytes.Compare(s.Key, end) >= 0 ||
			!(s.Weight > 0) || math.IsInf(s.Weight, 0) {
			continue
		}
		blocks = append(blocks, block{start: snap(s.Key), weight: s.Weight})
		total += s.Weight
	}
	out.Samples = len(blocks)
	if len(blocks) == 0 {
		return out
	}
	slices.SortFunc(blocks, func(a, b block) int { return bytes.Compare(a.start, b.start) })
	// Merge the samples of each block.
	n := 0
	for _, b := range blocks {
		if n > 0 && bytes.Equal(blocks[n-1].start, b.start) {
			blocks[n-1].weight += b.weight
			continue
		}
		blocks[n] = b
		n++
	}
	blocks = blocks[:n]

	hot := 0
	for i, b := range blocks {
		if b.weight > blocks[hot].weight {
			hot = i
		}
	}
	out.HotBlock, out.HotShare = bytes.Clone(blocks[hot].start), blocks[hot].weight/total
	if out.Samples < MinSamples {
		return out
	}
	// Cutting at block i's start leaves blocks [0, i) on the left; the
	// first block has nothing on its left, so it never wins.
	var left float64
	var key []byte
	for _, b := range blocks {
		inside := bytes.Compare(b.start, start) > 0 && (len(end) == 0 || bytes.Compare(b.start, end) < 0)
		if inside && left > 0 {
			if heavier := max(left, total-left) / total; heavier < out.Balance {
				key, out.Balance = b.start, heavier
			}
		}
		left += b.weight
	}
	out.Key = bytes.Clone(key)
	return out
}
