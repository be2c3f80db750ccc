package loadstats

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardingsystem/shard/keys"
)

func newTestTracker(seed uint64) *Tracker {
	return NewTracker(Config{HalfLife: 2 * time.Second, Samples: 64, Rand: rand.New(rand.NewPCG(seed, seed))})
}

// sqlKey is a SQL row key of database 1 in the block of hash.
func sqlKey(hash uint64, suffix byte) []byte {
	k := binary.BigEndian.AppendUint32([]byte{'t'}, 1)
	k = binary.BigEndian.AppendUint64(k, hash)
	k = binary.BigEndian.AppendUint32(k, 5)
	k = binary.BigEndian.AppendUint32(k, 1)
	return append(k, suffix)
}

func TestRatesConvergeAndDecay(t *testing.T) {
	tr := newTestTracker(1)
	t0 := time.Unix(1000, 0)
	now := t0
	key := []byte("k")
	// 1000 writes/s of 100 bytes, and 1000 reads/s costing 200 µs each:
	// 0.2 of a core.
	var prev float64
	for i := range 10_000 {
		now = t0.Add(time.Duration(i) * time.Millisecond)
		tr.Record(now, key, 1, 0, 0)
		tr.RecordCPU(now, 200*time.Microsecond)
		tr.Record(now, key, 0, 1, 100)
		if i%500 == 0 {
			s := tr.Snapshot(now)
			if s.WritesPerSec > 1000*1.02 {
				t.Fatalf("at %v the rate %.0f overshoots the true 1000/s", now.Sub(t0), s.WritesPerSec)
			}
			if s.WritesPerSec+1 < prev {
				t.Fatalf("rate fell under a steady load: %.0f after %.0f", s.WritesPerSec, prev)
			}
			prev = s.WritesPerSec
		}
	}
	s := tr.Snapshot(now)
	for name, c := range map[string][2]float64{"reads": {s.ReadsPerSec, 1000}, "writes": {s.WritesPerSec, 1000},
		"bytes": {s.WriteBytesPerSec, 100_000}, "cpu": {s.CPUPerSec, 0.2}} {
		if math.Abs(c[0]-c[1]) > 0.05*c[1] {
			t.Errorf("%s: %.3f after 10 s of steady load, want %.3f ± 5%%", name, c[0], c[1])
		}
	}
	// Five half-lives without load: under 5% (2^-5 ≈ 3%).
	late := tr.Snapshot(now.Add(10 * time.Second))
	if late.WritesPerSec > 0.05*1000 {
		t.Errorf("10 s after the load stopped the rate is %.0f/s, want under 50", late.WritesPerSec)
	}
	tr.Reset()
	if s := tr.Snapshot(now); s.WritesPerSec != 0 || len(s.Samples) != 0 {
		t.Errorf("after Reset: %+v", s)
	}
}

func TestFreshTrackerDoesNotOvershoot(t *testing.T) {
	tr := newTestTracker(2)
	now := time.Unix(5, 0)
	// One request: the rate is small, not 1/(tiny elapsed time).
	tr.Record(now, []byte("a"), 0, 1, 10)
	if s := tr.Snapshot(now); s.WritesPerSec > 1 {
		t.Fatalf("one write reads as %.1f writes/s", s.WritesPerSec)
	}
}

func TestReservoirFollowsTheLoad(t *testing.T) {
	tr := newTestTracker(3)
	now := time.Unix(100, 0)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range 5000 {
		tr.Record(now.Add(time.Duration(i)*time.Millisecond), sqlKey(rng.Uint64N(1<<62), 'a'), 0, 1, 1)
	}
	now = now.Add(5 * time.Second)
	// The load moves to the top quarter of the hash space.
	for i := range 8000 {
		tr.Record(now.Add(time.Duration(i)*time.Millisecond), sqlKey(3<<62+rng.Uint64N(1<<62), 'b'), 0, 1, 1)
	}
	s := tr.Snapshot(now.Add(8 * time.Second))
	if len(s.Samples) != 64 {
		t.Fatalf("%d samples, want 64", len(s.Samples))
	}
	recent := 0
	for _, x := range s.Samples {
		if x.Key[len(x.Key)-1] == 'b' {
			recent++
		}
	}
	if recent < 60 {
		t.Errorf("%d of 64 samples are from the current load 4 half-lives after it moved", recent)
	}
}

func TestReservoirSurvivesLongRuns(t *testing.T) {
	// The forward-decay exponent grows with time: the landmark must move
	// rather than overflow.
	tr := NewTracker(Config{HalfLife: 100 * time.Millisecond, Samples: 8, Rand: rand.New(rand.NewPCG(4, 4))})
	now := time.Unix(0, 0)
	for i := range 20_000 {
		now = now.Add(10 * time.Millisecond)
		tr.Record(now, binary.BigEndian.AppendUint16(nil, uint16(i)), 1, 0, 0)
	}
	s := tr.Snapshot(now)
	if len(s.Samples) != 8 {
		t.Fatalf("%d samples", len(s.Samples))
	}
	for _, x := range s.Samples {
		// Eight samples at a 100 ms half-life: all from the last second.
		if i := binary.BigEndian.Uint16(x.Key); i < 20_000-100 {
			t.Errorf("sample of event %d survived to the end of a 200 s run", i)
		}
	}
	for _, it := range tr.mu.res.items {
		if math.IsInf(it.prio, 0) || math.IsNaN(it.prio) {
			t.Fatalf("priority %v", it.prio)
		}
	}
}

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

func TestFindSplit(t *testing.T) {
	start, end := []byte{'t', 0, 0, 0, 1}, []byte{'t', 0, 0, 0, 2}
	snap := keys.ShardBoundary
	t.Run("uniform", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 5))
		s := FindSplit(samplesOf(repeat(64, func(int) []byte { return sqlKey(rng.Uint64(), 'x') })...), start, end, snap)
		if s.Key == nil || s.Balance > 0.55 || s.HotShare > 0.1 {
			t.Fatalf("uniform load: %+v", s)
		}
		if !bytes.Equal(s.Key, snap(s.Key)) || len(s.Key) != 13 {
			t.Fatalf("key %x is not a block start", s.Key)
		}
	})
	t.Run("one block", func(t *testing.T) {
		s := FindSplit(samplesOf(repeat(64, func(i int) []byte { return sqlKey(77, byte(i)) })...), start, end, snap)
		if s.Key != nil || s.Balance != 1 || s.HotShare != 1 || !bytes.Equal(s.HotBlock, snap(sqlKey(77, 0))) {
			t.Fatalf("one hot block: %+v", s)
		}
	})
	t.Run("two blocks", func(t *testing.T) {
		s := FindSplit(samplesOf(repeat(64, func(i int) []byte { return sqlKey(uint64(i%2)*1000+10, byte(i)) })...), start, end, snap)
		if !bytes.Equal(s.Key, snap(sqlKey(1010, 0))) || s.Balance != 0.5 || s.HotShare != 0.5 {
			t.Fatalf("two blocks: %+v", s)
		}
	})
	t.Run("hot block among many", func(t *testing.T) {
		ks := repeat(60, func(i int) []byte { return sqlKey(500, byte(i)) })
		ks = append(ks, sqlKey(1, 0), sqlKey(2, 0), sqlKey(900, 0), sqlKey(901, 0))
		s := FindSplit(samplesOf(ks...), start, end, snap)
		if s.HotShare < 0.9 || s.Balance < 0.9 {
			t.Fatalf("a block with 60 of 64 samples: %+v", s)
		}
	})
	t.Run("range start is no split", func(t *testing.T) {
		first := sqlKey(100, 0)
		ks := repeat(40, func(i int) []byte { return sqlKey(100, byte(i)) })
		ks = append(ks, repeat(24, func(i int) []byte { return sqlKey(200, byte(i)) })...)
		s := FindSplit(samplesOf(ks...), snap(first), end, snap)
		if !bytes.Equal(s.Key, snap(sqlKey(200, 0))) {
			t.Fatalf("the range's own start was chosen or the boundary missed: %+v", s)
		}
		s = FindSplit(samplesOf(repeat(64, func(i int) []byte { return sqlKey(100, byte(i)) })...), snap(first), end, snap)
		if s.Key != nil {
			t.Fatalf("a split at the range's start: %+v", s)
		}
	})
	t.Run("too few samples", func(t *testing.T) {
		s := FindSplit(samplesOf(sqlKey(1, 0), sqlKey(1<<63, 0)), start, end, snap)
		if s.Key != nil || s.Samples != 2 {
			t.Fatalf("2 samples: %+v", s)
		}
	})
	t.Run("raw keys are their own blocks", func(t *testing.T) {
		ks := repeat(40, func(i int) []byte { return []byte{'k', byte(i)} })
		s := FindSplit(samplesOf(ks...), []byte("a"), nil, snap)
		if !bytes.Equal(s.Key, []byte{'k', 20}) || s.Balance != 0.5 {
			t.Fatalf("raw keys: %+v", s)
		}
	})
}

func BenchmarkRecord(b *testing.B) {
	tr := newTestTracker(6)
	now := time.Unix(0, 0)
	key := sqlKey(42, 'k')
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.Record(now.Add(time.Duration(i)*time.Microsecond), key, 0, 1, 64)
	}
}
