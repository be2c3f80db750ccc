package loadstats

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardingsystem/shard/keys"
)

func samplesOf(ks ...[]byte) []Sample {
	var out []Sample
	for _, k := range ks {
		out = append(out, Sample{Key: k, Weight: 1})
	}
	return out
}

func repeat(n int, f func(i int) []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

func concat(kss ...[][]byte) [][]byte {
	var out [][]byte
	for _, ks := range kss {
		out = append(out, ks...)
	}
	return out
}

// block is the start of the shard block of hash.
func block(hash uint64) []byte { return keys.ShardBoundary(sqlKey(hash, 0)) }

func TestFindSplit(t *testing.T) {
	// The whole database's span, as a range of one database with one
	// shard would have it.
	tenant, tenantEnd := []byte{'t', 0, 0, 0, 1}, []byte{'t', 0, 0, 0, 2}
	uniform := rand.New(rand.NewPCG(5, 5))
	for _, tc := range []struct {
		name       string
		samples    []Sample
		start, end []byte
		// key is the expected split key (nil: none) and balance the
		// expected Balance; with balanceAtMost, balance is an upper bound
		// and any key will do. hotShare is exact unless hotAtMost.
		key           []byte
		balance       float64
		balanceAtMost bool
		hotBlock      []byte
		hotShare      float64
		hotAtMost     bool
		used          int
	}{
		{
			name:    "uniform over many blocks",
			samples: samplesOf(repeat(64, func(int) []byte { return sqlKey(uniform.Uint64(), 'x') })...),
			start:   tenant, end: tenantEnd,
			balance: 0.52, balanceAtMost: true, hotShare: 0.1, hotAtMost: true, used: 64,
		},
		{
			name:    "one block",
			samples: samplesOf(repeat(64, func(i int) []byte { return sqlKey(77, byte(i)) })...),
			start:   tenant, end: tenantEnd,
			key: nil, balance: 1, hotBlock: block(77), hotShare: 1, used: 64,
		},
		{
			name:    "one block that starts the range",
			samples: samplesOf(repeat(64, func(i int) []byte { return sqlKey(77, byte(i)) })...),
			start:   block(77), end: tenantEnd,
			key: nil, balance: 1, hotBlock: block(77), hotShare: 1, used: 64,
		},
		{
			name:    "two blocks 50/50",
			samples: samplesOf(repeat(64, func(i int) []byte { return sqlKey(uint64(i%2)*1000+10, byte(i)) })...),
			start:   tenant, end: tenantEnd,
			key: block(1010), balance: 0.5, hotBlock: block(10), hotShare: 0.5, used: 64,
		},
		{
			name: "hot block among cold ones",
			samples: samplesOf(concat(repeat(60, func(i int) []byte { return sqlKey(500, byte(i)) }),
				[][]byte{sqlKey(1, 0), sqlKey(2, 0), sqlKey(900, 0), sqlKey(901, 0)})...),
			start: tenant, end: tenantEnd,
			// The best cut leaves the hot block and two cold ones on one
			// side.
			key: block(500), balance: 62.0 / 64, hotBlock: block(500), hotShare: 60.0 / 64, used: 64,
		},
		{
			name: "the range's start is no split",
			samples: samplesOf(concat(repeat(40, func(i int) []byte { return sqlKey(100, byte(i)) }),
				repeat(24, func(i int) []byte { return sqlKey(200, byte(i)) }))...),
			start: block(100), end: tenantEnd,
			key: block(200), balance: 40.0 / 64, hotBlock: block(100), hotShare: 40.0 / 64, used: 64,
		},
		{
			name: "a range that starts inside a block",
			samples: samplesOf(concat(repeat(30, func(i int) []byte { return sqlKey(100, 100+byte(i)) }),
				repeat(34, func(i int) []byte { return sqlKey(200, byte(i)) }))...),
			start: sqlKey(100, 50), end: tenantEnd,
			// Block 100 starts before the range: not a cut, but its weight
			// is on the left of block 200.
			key: block(200), balance: 34.0 / 64, hotBlock: block(200), hotShare: 34.0 / 64, used: 64,
		},
		{
			name: "the range's end block is no split",
			samples: samplesOf(concat(repeat(32, func(i int) []byte { return sqlKey(100, byte(i)) }),
				repeat(32, func(i int) []byte { return sqlKey(300, byte(i)) }))...),
			start: tenant, end: block(300),
			// Keys at or past end are stale samples and are ignored.
			key: nil, balance: 1, hotBlock: block(100), hotShare: 1, used: 32,
		},
		{
			name: "stale samples outside the range are ignored",
			samples: samplesOf(concat(repeat(20, func(i int) []byte { return sqlKey(100, byte(i)) }),
				repeat(20, func(i int) []byte { return sqlKey(200, byte(i)) }),
				repeat(30, func(i int) []byte { return sqlKey(50, byte(i)) }),
				repeat(30, func(i int) []byte { return sqlKey(400, byte(i)) }))...),
			start: block(100), end: block(300),
			key: block(200), balance: 0.5, hotBlock: block(100), hotShare: 0.5, used: 40,
		},
		{
			name:    "too few samples",
			samples: samplesOf(repeat(MinSamples-1, func(i int) []byte { return sqlKey(uint64(i)<<56, 0) })...),
			start:   tenant, end: tenantEnd,
			key: nil, balance: 1, hotBlock: block(0), hotShare: 1.0 / (MinSamples - 1), used: MinSamples - 1,
		},
		{
			name:    "just enough samples",
			samples: samplesOf(repeat(MinSamples, func(i int) []byte { return sqlKey(uint64(i)<<56, 0) })...),
			start:   tenant, end: tenantEnd,
			key: block(uint64(MinSamples/2) << 56), balance: 0.5, hotBlock: block(0), hotShare: 1.0 / MinSamples, used: MinSamples,
		},
		{
			name:  "no samples",
			start: tenant, end: tenantEnd,
			key: nil, balance: 1, hotBlock: nil, hotShare: 0, used: 0,
		},
		{
			name: "weights count, not samples",
			samples: append(samplesOf(repeat(30, func(i int) []byte { return sqlKey(100, byte(i)) })...),
				Sample{Key: sqlKey(200, 0), Weight: 30}, Sample{Key: sqlKey(300, 0), Weight: 0},
				Sample{Key: sqlKey(300, 1), Weight: -5}, Sample{Key: sqlKey(300, 2), Weight: math.NaN()},
				Sample{Key: sqlKey(300, 3), Weight: math.Inf(1)}),
			start: tenant, end: tenantEnd,
			key: block(200), balance: 0.5, hotBlock: block(100), hotShare: 0.5, used: 31,
		},
		{
			name:    "raw keys are their own blocks, unbounded end",
			samples: samplesOf(repeat(40, func(i int) []byte { return []byte{'k', byte(i)} })...),
			start:   []byte("a"), end: nil,
			key: []byte{'k', 20}, balance: 0.5, hotBlock: []byte{'k', 0}, hotShare: 1.0 / 40, used: 40,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := FindSplit(tc.samples, tc.start, tc.end, keys.ShardBoundary)
			if tc.balanceAtMost {
				if s.Key == nil || s.Balance > tc.balance {
					t.Errorf("balance %.3f at %s, want at most %.3f", s.Balance, keys.Pretty(s.Key), tc.balance)
				}
			} else {
				if !bytes.Equal(s.Key, tc.key) {
					t.Errorf("key %s, want %s", keys.Pretty(s.Key), keys.Pretty(tc.key))
				}
				if math.Abs(s.Balance-tc.balance) > 1e-9 {
					t.Errorf("balance %.4f, want %.4f", s.Balance, tc.balance)
				}
			}
			if tc.hotBlock != nil && !bytes.Equal(s.HotBlock, tc.hotBlock) {
				t.Errorf("hot block %s, want %s", keys.Pretty(s.HotBlock), keys.Pretty(tc.hotBlock))
			}
			if tc.hotAtMost {
				if s.HotShare > tc.hotShare {
					t.Errorf("hot share %.4f, want at most %.4f", s.HotShare, tc.hotShare)
				}
			} else if math.Abs(s.HotShare-tc.hotShare) > 1e-9 {
				t.Errorf("hot share %.4f, want %.4f", s.HotShare, tc.hotShare)
			}
			if s.Samples != tc.used {
				t.Errorf("%d samples, want %d", s.Samples, tc.used)
			}
			checkSplit(t, s, tc.start, tc.end, keys.ShardBoundary)
		})
	}
}

// checkSplit verifies the invariants of any Split.
func checkSplit(t *testing.T, s Split, start, end []byte, snap func([]byte) []byte) {
	t.Helper()
	if s.Key == nil {
		if s.Balance != 1 {
			t.Errorf("no key but balance %.4f", s.Balance)
		}
		return
	}
	if !bytes.Equal(s.Key, snap(s.Key)) {
		t.Errorf("key %s is inside a block (its block starts at %s)", keys.Pretty(s.Key), keys.Pretty(snap(s.Key)))
	}
	if bytes.Compare(s.Key, start) <= 0 || len(end) > 0 && bytes.Compare(s.Key, end) >= 0 {
		t.Errorf("key %s not strictly inside (%s, %s)", keys.Pretty(s.Key), keys.Pretty(start), keys.Pretty(end))
	}
	if s.Balance < 0.5 || s.Balance >= 1 {
		t.Errorf("key %s with balance %.4f", keys.Pretty(s.Key), s.Balance)
	}
	if s.HotShare <= 0 || s.HotShare > 1 {
		t.Errorf("hot share %.4f", s.HotShare)
	}
}

// oracleSplit is FindSplit the slow way: try every distinct snapped key as
// a cut and weigh both sides sample by sample.
func oracleSplit(samples []Sample, start, end []byte, snap func([]byte) []byte) (bestBalance, hotShare float64, n int) {
	in := func(k []byte) bool {
		return bytes.Compare(k, start) >= 0 && (len(end) == 0 || bytes.Compare(k, end) < 0)
	}
	var total float64
	perBlock := map[string]float64{}
	for _, s := range samples {
		if in(s.Key) {
			total += s.Weight
			perBlock[string(snap(s.Key))] += s.Weight
			n++
		}
	}
	for _, w := range perBlock {
		hotShare = max(hotShare, w/total)
	}
	bestBalance = 1
	if n < MinSamples {
		return bestBalance, hotShare, n
	}
	for b := range perBlock {
		cut := []byte(b)
		if bytes.Compare(cut, start) <= 0 {
			continue
		}
		var left float64
		for _, s := range samples {
			if in(s.Key) && bytes.Compare(s.Key, cut) < 0 {
				left += s.Weight
			}
		}
		if left > 0 {
			bestBalance = min(bestBalance, max(left, total-left)/total)
		}
	}
	return bestBalance, hotShare, n
}

func TestFindSplitAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	// Few distinct hashes so that blocks hold several samples.
	hash := func() uint64 { return rng.Uint64N(16) << 60 }
	for i := range 2000 {
		var samples []Sample
		for range rng.IntN(80) {
			w := 1.0
			if i%2 == 1 {
				w = float64(1 + rng.IntN(9))
			}
			samples = append(samples, Sample{Key: sqlKey(hash(), byte(rng.IntN(256))), Weight: w})
		}
		// Bounds: the tenant span, a block start, or a key inside a block.
		bound := func() []byte {
			switch rng.IntN(3) {
			case 0:
				return []byte{'t', 0, 0, 0, 1}
			case 1:
				return block(hash())
			default:
				return sqlKey(hash(), byte(rng.IntN(256)))
			}
		}
		start, end := bound(), bound()
		if bytes.Compare(start, end) > 0 {
			start, end = end, start
		}
		if rng.IntN(4) == 0 {
			end = nil
		}
		s := FindSplit(samples, start, end, keys.ShardBoundary)
		checkSplit(t, s, start, end, keys.ShardBoundary)
		balance, hot, n := oracleSplit(samples, start, end, keys.ShardBoundary)
		if s.Samples != n || math.Abs(s.Balance-balance) > 1e-9 || math.Abs(s.HotShare-hot) > 1e-9 {
			t.Fatalf("case %d, range [%s, %s): got %+v, oracle balance %.4f hot share %.4f samples %d",
				i, keys.Pretty(start), keys.Pretty(end), s, balance, hot, n)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestFindSplitFromTracker(t *testing.T) {
	// End to end: the load moves from the whole database to two hot
	// shard values; after a few half-lives the sample splits between them
	// and reports neither as a hot key.
	tr := newTestTracker(12, 2*time.Second, 64)
	rng := rand.New(rand.NewPCG(13, 13))
	t0 := time.Unix(0, 0)
	var now time.Time
	for d := time.Duration(0); d < 20*time.Second; d += time.Millisecond {
		now = t0.Add(d)
		switch {
		case d < 10*time.Second:
			tr.Record(now, sqlKey(rng.Uint64(), 'a'), 1, 0, 0)
		case d%(2*time.Millisecond) == 0:
			tr.Record(now, sqlKey(1<<40, byte(rng.IntN(256))), 1, 0, 0)
		default:
			tr.Record(now, sqlKey(1<<60, byte(rng.IntN(256))), 0, 1, 32)
		}
	}
	start, end := []byte{'t', 0, 0, 0, 1}, []byte{'t', 0, 0, 0, 2}
	s := FindSplit(tr.Snapshot(now).Samples, start, end, keys.ShardBoundary)
	checkSplit(t, s, start, end, keys.ShardBoundary)
	if s.Samples != 64 || s.Key == nil || s.Balance > 0.7 || s.HotShare > 0.7 {
		t.Fatalf("two hot shard values: %+v", s)
	}
	// The cut lies between the two hot blocks.
	if bytes.Compare(s.Key, block(1<<40)) <= 0 || bytes.Compare(s.Key, block(1<<60)) > 0 {
		t.Fatalf("cut at %s, not between the hot blocks", keys.Pretty(s.Key))
	}
}
