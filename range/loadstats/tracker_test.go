package loadstats

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func newTestTracker(seed uint64, halfLife time.Duration, samples int) *Tracker {
	return NewTracker(Config{HalfLife: halfLife, Samples: samples, Rand: rand.New(rand.NewPCG(seed, seed))})
}

// sqlKey is a SQL row key of database 1 in the block of hash: 't' db:4
// hash:8 table:4 index:4, then one column byte.
func sqlKey(hash uint64, suffix byte) []byte {
	k := binary.BigEndian.AppendUint32([]byte{'t'}, 1)
	k = binary.BigEndian.AppendUint64(k, hash)
	k = binary.BigEndian.AppendUint32(k, 5)
	k = binary.BigEndian.AppendUint32(k, 1)
	return append(k, suffix)
}

// steadyLoad is a load offered every tick.
type steadyLoad struct {
	reads, writes, bytes int
	cpu                  time.Duration
}

func (l steadyLoad) apply(tr *Tracker, now time.Time, key []byte) {
	if l.reads > 0 || l.writes > 0 || l.bytes > 0 {
		tr.Record(now, key, l.reads, l.writes, l.bytes)
	}
	if l.cpu > 0 {
		tr.RecordCPU(now, l.cpu)
	}
}

func TestRatesConvergeAndDecay(t *testing.T) {
	for _, tc := range []struct {
		name     string
		halfLife time.Duration
		tick     time.Duration
		load     steadyLoad
		run      time.Duration
		// want is reads, writes, bytes and cpu per second.
		want [4]float64
	}{
		{name: "1000 reads/s", halfLife: 2 * time.Second, tick: time.Millisecond,
			load: steadyLoad{reads: 1}, run: 10 * time.Second, want: [4]float64{1000, 0, 0, 0}},
		{name: "1000 writes/s of 100 bytes", halfLife: 2 * time.Second, tick: time.Millisecond,
			load: steadyLoad{writes: 1, bytes: 100}, run: 10 * time.Second, want: [4]float64{0, 1000, 100_000, 0}},
		{name: "batches of 10 reads and 5 writes at 200/s", halfLife: 2 * time.Second, tick: 5 * time.Millisecond,
			load: steadyLoad{reads: 10, writes: 5, bytes: 640}, run: 10 * time.Second, want: [4]float64{2000, 1000, 128_000, 0}},
		{name: "a fifth of a core", halfLife: 2 * time.Second, tick: time.Millisecond,
			load: steadyLoad{cpu: 200 * time.Microsecond}, run: 10 * time.Second, want: [4]float64{0, 0, 0, 0.2}},
		{name: "short half-life", halfLife: 500 * time.Millisecond, tick: time.Millisecond,
			load: steadyLoad{reads: 1, writes: 1, cpu: 100 * time.Microsecond}, run: 3 * time.Second, want: [4]float64{1000, 1000, 0, 0.1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(1, tc.halfLife, 64)
			rates := func(s Snapshot) [4]float64 {
				return [4]float64{s.ReadsPerSec, s.WritesPerSec, s.WriteBytesPerSec, s.CPUPerSec}
			}
			t0 := time.Unix(1000, 0)
			now := t0
			var prev [4]float64
			for i := 0; time.Duration(i)*tc.tick < tc.run; i++ {
				now = t0.Add(time.Duration(i) * tc.tick)
				tc.load.apply(tr, now, []byte("k"))
				if i%100 != 0 {
					continue
				}
				got := rates(tr.Snapshot(now))
				for j := range got {
					// From below: never above the true rate by more than
					// one tick's amount over τ (about 2% here), and never
					// falling while the load is steady.
					if got[j] > tc.want[j]*1.03 {
						t.Fatalf("at %v rate %d is %.3f, above the true %.3f", now.Sub(t0), j, got[j], tc.want[j])
					}
					if got[j] < prev[j]*0.99 {
						t.Fatalf("at %v rate %d fell under a steady load: %.3f after %.3f", now.Sub(t0), j, got[j], prev[j])
					}
				}
				prev = got
			}
			got := rates(tr.Snapshot(now))
			for j := range got {
				if math.Abs(got[j]-tc.want[j]) > 0.05*tc.want[j] {
					t.Errorf("rate %d after %v of steady load: %.3f, want %.3f ± 5%%", j, tc.run, got[j], tc.want[j])
				}
			}
			// Five half-lives without load: under 5% (2^-5 ≈ 3%).
			late := rates(tr.Snapshot(now.Add(5 * tc.halfLife)))
			for j := range late {
				if late[j] > 0.05*tc.want[j] {
					t.Errorf("rate %d five half-lives after the load stopped: %.3f, want under 5%% of %.3f", j, late[j], tc.want[j])
				}
			}
		})
	}
}

func TestFreshTrackerDoesNotOvershoot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events int
		within time.Duration
		// max is the most writes/s the tracker may report.
		max float64
	}{
		{name: "one write", events: 1, within: 0, max: 1},
		{name: "ten writes at one instant", events: 10, within: 0, max: 10},
		{name: "ten writes in a microsecond", events: 10, within: time.Microsecond, max: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(2, 2*time.Second, 64)
			now := time.Unix(5, 0)
			for i := range tc.events {
				tr.Record(now.Add(tc.within*time.Duration(i)/time.Duration(tc.events)), []byte("a"), 0, 1, 10)
			}
			// A burst of n events on a fresh tracker reads as n/τ, not
			// n/(elapsed time).
			if s := tr.Snapshot(now.Add(tc.within)); s.WritesPerSec > tc.max {
				t.Fatalf("%d writes read as %.1f writes/s", tc.events, s.WritesPerSec)
			}
		})
	}
}

func TestRecordOutOfOrder(t *testing.T) {
	// Goroutines read the clock before taking the lock, so now can go
	// backwards a little: the event counts as at the latest time seen.
	tr := newTestTracker(3, 2*time.Second, 8)
	now := time.Unix(50, 0)
	tr.Record(now, []byte("a"), 1, 0, 0)
	tr.Record(now.Add(-time.Millisecond), []byte("b"), 1, 0, 0)
	tr.RecordCPU(now.Add(-time.Second), time.Millisecond)
	s := tr.Snapshot(now)
	if want := 2 / tr.tau; math.Abs(s.ReadsPerSec-want) > 1e-9 {
		t.Errorf("reads %.6f, want %.6f", s.ReadsPerSec, want)
	}
	if want := 0.001 / tr.tau; math.Abs(s.CPUPerSec-want) > 1e-12 {
		t.Errorf("cpu %.6f, want %.6f", s.CPUPerSec, want)
	}
	if len(s.Samples) != 2 {
		t.Errorf("%d samples, want 2", len(s.Samples))
	}
}

func TestReset(t *testing.T) {
	tr := newTestTracker(4, 2*time.Second, 8)
	now := time.Unix(10, 0)
	for i := range 100 {
		tr.Record(now.Add(time.Duration(i)*time.Millisecond), []byte{byte(i)}, 1, 1, 10)
		tr.RecordCPU(now, time.Millisecond)
	}
	written := tr.Written()
	tr.Reset()
	s := tr.Snapshot(now.Add(time.Second))
	if s.ReadsPerSec != 0 || s.WritesPerSec != 0 || s.WriteBytesPerSec != 0 || s.CPUPerSec != 0 || len(s.Samples) != 0 {
		t.Fatalf("after Reset: %+v", s)
	}
	if tr.Written() != written || written != 1000 {
		t.Fatalf("Written %d after Reset, %d before; want 1000", tr.Written(), written)
	}
	// The tracker starts over, even at an earlier time.
	tr.Record(now, []byte("x"), 1, 0, 0)
	if s := tr.Snapshot(now); len(s.Samples) != 1 || s.ReadsPerSec > 1 {
		t.Fatalf("after Reset and one read: %+v", s)
	}
}

// share is the fraction of samples whose key ends with last.
func share(s Snapshot, last byte) float64 {
	n := 0
	for _, x := range s.Samples {
		if x.Key[len(x.Key)-1] == last {
			n++
		}
	}
	return float64(n) / float64(len(s.Samples))
}

func TestReservoirFollowsTheLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		// the load moves from keys ending in 'a' to keys ending in 'b'
		// after before, and the snapshot is taken after. The old load's
		// share of the decayed weight is then 2^-(after/H): 25%, 6%, 1.6%;
		// minB leaves room for the sampling error of 64 samples (the
		// smallest shares over 40 seeds were 66%, 84% and 95%).
		before, after time.Duration
		minB          float64
	}{
		{name: "two half-lives", before: 10 * time.Second, after: 4 * time.Second, minB: 0.55},
		{name: "four half-lives", before: 10 * time.Second, after: 8 * time.Second, minB: 0.8},
		{name: "six half-lives after a long history", before: 60 * time.Second, after: 12 * time.Second, minB: 0.9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(5, 2*time.Second, 64)
			rng := rand.New(rand.NewPCG(9, 9))
			t0 := time.Unix(100, 0)
			var now time.Time
			for d := time.Duration(0); d < tc.before+tc.after; d += time.Millisecond {
				now = t0.Add(d)
				if d < tc.before {
					tr.Record(now, sqlKey(rng.Uint64N(1<<62), 'a'), 0, 1, 1)
				} else {
					// The load moves to the top quarter of the hash space.
					tr.Record(now, sqlKey(3<<62+rng.Uint64N(1<<62), 'b'), 0, 1, 1)
				}
			}
			s := tr.Snapshot(now)
			if len(s.Samples) != 64 {
				t.Fatalf("%d samples, want 64", len(s.Samples))
			}
			if got := share(s, 'b'); got < tc.minB {
				t.Errorf("%.0f%% of the samples are from the current load, want at least %.0f%%", 100*got, 100*tc.minB)
			}
		})
	}
}

func TestReservoirWeighsByCost(t *testing.T) {
	// Equal request counts, but requests on 'h' keys cost 9 and those on
	// 'c' keys 1: 90% of the load, and of the sample, is 'h'.
	tr := newTestTracker(6, 2*time.Second, 64)
	now := time.Unix(0, 0)
	var got float64
	const snapshots = 20
	for i := range 20_000 {
		now = now.Add(time.Millisecond)
		if i%2 == 0 {
			tr.Record(now, []byte{byte(i >> 8), byte(i), 'h'}, 5, 4, 0)
		} else {
			tr.Record(now, []byte{byte(i >> 8), byte(i), 'c'}, 1, 0, 0)
		}
		if i%1000 == 999 {
			got += share(tr.Snapshot(now), 'h') / snapshots
		}
	}
	// Over 40 seeds the average share ranged over 86%..94%.
	if math.Abs(got-0.9) > 0.07 {
		t.Errorf("costly requests are %.0f%% of the sample, want 90%%", 100*got)
	}
}

func TestReservoirSurvivesLongRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		// events arrive every gap; pause is an idle stretch in the middle.
		gap, pause time.Duration
	}{
		// λ·t reaches about 14 000: the landmark moves a dozen times.
		{name: "steady", gap: 10 * time.Millisecond},
		// One idle stretch with λ·t of 2.5e7 (an exponent e^λt would
		// overflow float64 long before).
		{name: "long pause", gap: 10 * time.Millisecond, pause: 1000 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTracker(7, 100*time.Millisecond, 8)
			now := time.Unix(0, 0)
			const n = 20_000
			for i := range n {
				now = now.Add(tc.gap)
				if i == n/2 {
					now = now.Add(tc.pause)
				}
				tr.Record(now, binary.BigEndian.AppendUint16(nil, uint16(i)), 1, 0, 0)
			}
			s := tr.Snapshot(now)
			if len(s.Samples) != 8 {
				t.Fatalf("%d samples", len(s.Samples))
			}
			for _, x := range s.Samples {
				// Eight samples at a 100 ms half-life: all from the last
				// second.
				if i := binary.BigEndian.Uint16(x.Key); i < n-100 {
					t.Errorf("sample of event %d survived to the end of the run", i)
				}
			}
			for _, it := range tr.mu.res.items {
				if math.IsInf(it.prio, 0) || math.IsNaN(it.prio) || math.Abs(it.prio) > 2*maxAge {
					t.Fatalf("priority %v", it.prio)
				}
			}
		})
	}
}

func TestSnapshotOwnsItsKeys(t *testing.T) {
	tr := newTestTracker(8, 2*time.Second, 4)
	now := time.Unix(0, 0)
	key := []byte("abc")
	tr.Record(now, key, 1, 0, 0)
	key[0] = 'X' // the caller reuses its buffer
	s := tr.Snapshot(now)
	if len(s.Samples) != 1 || string(s.Samples[0].Key) != "abc" || s.Samples[0].Weight != 1 {
		t.Fatalf("samples %+v", s.Samples)
	}
	s.Samples[0].Key[0] = 'Y' // the snapshot's owner scribbles on it
	if s := tr.Snapshot(now); string(s.Samples[0].Key) != "abc" {
		t.Fatalf("the reservoir changed with the snapshot: %q", s.Samples[0].Key)
	}
	// Many evictions reuse buffers; snapshots taken earlier stay intact.
	for i := range 1000 {
		tr.Record(now.Add(time.Duration(i)*time.Millisecond), []byte{'k', byte(i)}, 1, 0, 0)
	}
	before := tr.Snapshot(now.Add(time.Second))
	keep := make([][]byte, len(before.Samples))
	for i, x := range before.Samples {
		keep[i] = bytes.Clone(x.Key)
	}
	for i := range 1000 {
		tr.Record(now.Add(time.Second+time.Duration(i)*time.Millisecond), []byte{'z', byte(i)}, 1, 0, 0)
	}
	for i, x := range before.Samples {
		if !bytes.Equal(x.Key, keep[i]) {
			t.Fatalf("snapshot key %d changed from %q to %q", i, keep[i], x.Key)
		}
		if i > 0 && bytes.Compare(before.Samples[i-1].Key, x.Key) > 0 {
			t.Fatalf("snapshot not sorted: %q before %q", before.Samples[i-1].Key, x.Key)
		}
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	tr := newTestTracker(9, 2*time.Second, 64)
	now := time.Unix(0, 0)
	key := sqlKey(42, 'k')
	i := 0
	record := func() {
		i++
		tr.Record(now.Add(time.Duration(i)*time.Microsecond), key, 0, 1, 64)
	}
	for range 64 {
		record() // fill the reservoir: each entry copies the key
	}
	// A full reservoir: the key enters now and then, into the buffer of
	// the key it evicts.
	if a := testing.AllocsPerRun(10_000, record); a != 0 {
		t.Errorf("Record allocates %.2f times per call", a)
	}
}

func TestConcurrentUse(t *testing.T) {
	tr := NewTracker(Config{})
	now := time.Unix(0, 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				at := now.Add(time.Duration(i) * time.Millisecond)
				tr.Record(at, []byte{byte(g), byte(i)}, 1, 1, 8)
				tr.RecordCPU(at, time.Microsecond)
				if i%100 == 0 {
					tr.Snapshot(at)
				}
			}
		})
	}
	wg.Wait()
	if s := tr.Snapshot(now.Add(time.Second)); len(s.Samples) != 64 || s.ReadsPerSec <= 0 {
		t.Fatalf("after concurrent load: %d samples, %.0f reads/s", len(s.Samples), s.ReadsPerSec)
	}
	if tr.Written() != 4*1000*8 {
		t.Fatalf("written %d", tr.Written())
	}
}

func BenchmarkRecord(b *testing.B) {
	for _, bc := range []struct {
		name string
		keys int
	}{
		{name: "one key", keys: 1},
		{name: "uniform keys", keys: 1 << 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTestTracker(10, 2*time.Second, 64)
			now := time.Unix(0, 0)
			ks := make([][]byte, bc.keys)
			for i := range ks {
				ks[i] = sqlKey(uint64(i)*0x9e3779b97f4a7c15, 'k')
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				tr.Record(now.Add(time.Duration(i)*time.Microsecond), ks[i%len(ks)], 0, 1, 64)
			}
		})
	}
}
