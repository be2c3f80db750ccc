package loadstats

import (
	"bytes"
	"sort"
)

// MinSamples is the fewest samples FindSplit trusts to pick a split key.
const MinSamples = 20

// Split is where to cut a range by load.
type Split struct {
	// Key is the block boundary that best balances the sampled load; nil
	// when there are fewer than MinSamples samples or no boundary strictly
	// inside the range.
	Key []byte
	// Balance is the heavier side's share of the sampled load at Key (0.5
	// is perfect); 1 when Key is nil.
	Balance float64
	// HotBlock is the block with the most samples, HotShare its share.
	HotBlock []byte
	HotShare float64
	Samples  int
}

// FindSplit picks the block boundary strictly inside (start, end) (end
// empty: unbounded) that best balances the samples' weight on its two sides;
// snap maps a key to the start of its block.
func FindSplit(samples []Sample, start, end []byte, snap func([]byte) []byte) Split {
	out := Split{Balance: 1, Samples: len(samples)}
	if len(samples) == 0 {
		return out
	}
	type block struct {
		start  []byte
		weight float64
	}
	byStart := map[string]*block{}
	var total float64
	for _, s := range samples {
		b := snap(s.Key)
		bl := byStart[string(b)]
		if bl == nil {
			bl = &block{start: b}
			byStart[string(b)] = bl
		}
		bl.weight += s.Weight
		total += s.Weight
	}
	blocks := make([]*block, 0, len(byStart))
	for _, b := range byStart {
		blocks = append(blocks, b)
	}
	sort.Slice(blocks, func(i, j int) bool { return bytes.Compare(blocks[i].start, blocks[j].start) < 0 })
	for _, b := range blocks {
		if share := b.weight / total; share > out.HotShare {
			out.HotBlock, out.HotShare = b.start, share
		}
	}
	if len(samples) < MinSamples {
		return out
	}
	// Cutting at block i's start puts blocks [0, i) left.
	left := 0.0
	for _, b := range blocks {
		inside := bytes.Compare(b.start, start) > 0 && (len(end) == 0 || bytes.Compare(b.start, end) < 0)
		if inside {
			heavier := max(left, total-left) / total
			if heavier < out.Balance {
				out.Key, out.Balance = b.start, heavier
			}
		}
		left += b.weight
	}
	return out
}
