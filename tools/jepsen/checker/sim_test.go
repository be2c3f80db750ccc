package checker

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// simConfig describes a toy multi-version store that runs list-append
// transactions from concurrent processes: the oracle for the checker.
type simConfig struct {
	seed   uint64
	txns   int
	procs  int
	keys   int // live keys at a time
	perKey int // appends before a key is retired
	// info is the chance a commit ends Info (half of those never commit).
	info float64
	// mode: how a transaction reads and commits.
	mode simMode
}

type simMode int

const (
	// simSI: reads from a snapshot taken at invocation; first committer
	// wins on every key appended (snapshot isolation).
	simSI simMode = iota
	// simSerial: the whole transaction runs at its completion
	// (strictly serializable).
	simSerial
	// simNoConflicts: snapshot reads, no write conflict check: lost
	// updates.
	simNoConflicts
	// simStale: like simSI, but the snapshot lags a few commits behind.
	simStale
)

// simulate runs cfg and returns the history.
func simulate(cfg simConfig) history.History {
	rng := rand.New(rand.NewPCG(cfg.seed, 1))
	var b builder
	type version struct {
		v  int64
		ts int
	}
	store := map[int64][]version{} // committed appends, in order
	lastCommit := map[int64]int{}
	var ts int
	stateAt := func(k int64, snap int) []int64 {
		l := []int64{}
		for _, e := range store[k] {
			if e.ts <= snap {
				l = append(l, e.v)
			}
		}
		return l
	}
	// The key window.
	live := make([]int64, cfg.keys)
	for i := range live {
		live[i] = int64(i)
	}
	nextKey, counts := int64(cfg.keys), map[int64]int64{}

	type running struct {
		op   history.Op
		snap int
	}
	slots := make([]*running, cfg.procs)
	pid := make([]int, cfg.procs)
	for i := range pid {
		pid[i] = i
	}
	nextPid := cfg.procs
	started, inFlight := 0, 0
	for started < cfg.txns || inFlight > 0 {
		s := rng.IntN(cfg.procs)
		r := slots[s]
		if r == nil {
			if started >= cfg.txns {
				continue
			}
			var mops []history.Mop
			for range 1 + rng.IntN(4) {
				i := rng.IntN(len(live))
				k := live[i]
				if rng.IntN(2) == 0 {
					mops = append(mops, history.Mop{F: history.MopRead, Key: k})
					continue
				}
				counts[k]++
				mops = append(mops, history.Mop{F: history.MopAppend, Key: k, Value: counts[k]})
				if counts[k] >= int64(cfg.perKey) {
					live[i] = nextKey
					nextKey++
				}
			}
			op := txn(mops...)
			b.invoke(pid[s], op)
			snap := ts
			if cfg.mode == simStale {
				snap = max(0, ts-rng.IntN(4))
			}
			slots[s] = &running{op: op, snap: snap}
			started++
			inFlight++
			continue
		}
		slots[s] = nil
		inFlight--
		snap := r.snap
		if cfg.mode == simSerial {
			snap = ts
		}
		done := txn(append([]history.Mop(nil), r.op.Txn...)...)
		own := map[int64][]int64{}
		conflict := false
		for i, m := range done.Txn {
			if m.F == history.MopAppend {
				own[m.Key] = append(own[m.Key], m.Value)
				if cfg.mode != simNoConflicts && lastCommit[m.Key] > snap {
					conflict = true
				}
				continue
			}
			done.Txn[i].List = append(stateAt(m.Key, snap), own[m.Key]...)
		}
		if conflict {
			b.fail(pid[s], r.op, "40001: could not serialize access")
			continue
		}
		indeterminate := rng.Float64() < cfg.info
		if !indeterminate || rng.IntN(2) == 0 {
			ts++
			for k, vs := range own {
				for _, v := range vs {
					store[k] = append(store[k], version{v: v, ts: ts})
				}
				lastCommit[k] = ts
			}
		}
		if indeterminate {
			b.info(pid[s], r.op)
			pid[s] = nextPid
			nextPid++
			continue
		}
		b.ok(pid[s], done)
	}
	return b.h
}

func smallSim(seed uint64, mode simMode) simConfig {
	return simConfig{seed: seed, txns: 2000, procs: 8, keys: 6, perKey: 40, info: 0.02, mode: mode}
}

// Snapshot isolation passes under snapshot isolation (with real time too:
// snapshots are taken at invocation) and shows G2-item, which fails it
// under serializability.
func TestSimSnapshotIsolation(t *testing.T) {
	g2 := 0
	for seed := range uint64(5) {
		h := simulate(smallSim(seed, simSI))
		checkValid(t, h)
		r := si.Check(h)
		mustValid(t, r)
		mustValid(t, siRT.Check(h))
		g2 += r.Stats[string(KindG2Item)]
		if r.Stats[string(KindG2Item)] > 0 {
			mustFind(t, ser.Check(h), KindG2Item)
		}
		t.Logf("seed %d: %s; stats %v", seed, r, r.Stats)
	}
	if g2 == 0 {
		t.Fatalf("no G2-item in five runs of snapshot isolation: the search misses write skew")
	}
}

func TestSimSerializable(t *testing.T) {
	for seed := range uint64(3) {
		h := simulate(smallSim(seed, simSerial))
		r := serRT.Check(h)
		mustValid(t, r)
		if len(r.Allowed) > 0 {
			t.Fatalf("seed %d: allowed %v", seed, r.Allowed)
		}
	}
}

func TestSimLostUpdates(t *testing.T) {
	h := simulate(smallSim(1, simNoConflicts))
	r := si.Check(h)
	mustFind(t, r, KindLostUpdate)
	t.Logf("%s", r)
}

func TestSimStaleSnapshots(t *testing.T) {
	h := simulate(smallSim(1, simStale))
	r := si.Check(h)
	mustValid(t, r) // stale snapshots are still snapshot isolation
	r = siRT.Check(h)
	mustFind(t, r, KindGSingleRealtime)
	t.Logf("%s", r)
}

// 50,000 transactions (100,000 ops) of snapshot isolation check in a few
// seconds, with and without real-time edges.
func TestListAppendLargeHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	h := simulate(simConfig{seed: 7, txns: 50_000, procs: 16, keys: 8, perKey: 64, info: 0.01, mode: simSI})
	for _, c := range []ListAppend{si, siRT} {
		start := time.Now()
		r := c.Check(h)
		el := time.Since(start)
		t.Logf("realtime=%v: %v: %s; stats %v", c.RealTime, el, r, r.Stats)
		mustValid(t, r)
		if el > 30*time.Second {
			t.Fatalf("took %v", el)
		}
	}
}

func BenchmarkListAppend(b *testing.B) {
	h := simulate(simConfig{seed: 7, txns: 50_000, procs: 16, keys: 8, perKey: 64, info: 0.01, mode: simSI})
	for b.Loop() {
		siRT.Check(h)
	}
}

// A history read back from JSON lines (where empty lists and nil values
// disappear) checks the same.
func TestSimJSONRoundTrip(t *testing.T) {
	h := simulate(smallSim(2, simStale))
	var buf bytes.Buffer
	if err := history.Write(&buf, h); err != nil {
		t.Fatal(err)
	}
	back, err := history.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want, got := siRT.Check(h), siRT.Check(back)
	if !maps.Equal(want.Stats, got.Stats) || want.Valid != got.Valid {
		t.Fatalf("before JSON: %s %v\nafter: %s %v", want, want.Stats, got, got.Stats)
	}
}
