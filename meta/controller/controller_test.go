package controller

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_000_000, 0)

// key is a SQL key of database db at hash h (a block start).
func key(db uint32, h uint64) []byte {
	k := binary.BigEndian.AppendUint32([]byte{'t'}, db)
	return binary.BigEndian.AppendUint64(k, h)
}

func dbStart(db uint32) []byte { return binary.BigEndian.AppendUint32([]byte{'t'}, db) }

func testConfig() Config {
	c := DefaultConfig()
	c.SplitQPS = 100
	c.SplitCPU = 0.5
	c.SplitWindow = 10 * time.Second
	c.MergeAfter = time.Minute
	c.MergeCooldown = time.Minute
	c.DeadAfter = 30 * time.Second
	c.RangeMaxBytes = 1 << 20
	return c
}

func nodes(now time.Time, ids ...uint64) []Node {
	var out []Node
	for _, id := range ids {
		out = append(out, Node{ID: id, LastSeen: now})
	}
	return out
}

func reps(ids ...uint64) []Replica {
	var out []Replica
	for _, id := range ids {
		out = append(out, Replica{NodeID: id, Voter: true})
	}
	return out
}

// rng is a reported range of database 7 between hashes lo and hi.
func rng(id uint64, lo, hi uint64, now time.Time, replicas ...uint64) Range {
	return Range{ID: id, Generation: 1, StartKey: key(7, lo), EndKey: key(7, hi), Replicas: reps(replicas...),
		Leader: replicas[0], ReportedAt: now, Bytes: 1000}
}

func kinds(p Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.Kind.String())
	}
	return out
}

func eventKinds(p Plan) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Kind)
	}
	return out
}

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.SplitWindow = 0
	bad.MaxSplitImbalance = 0.3
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "split window") || !strings.Contains(err.Error(), "imbalance") {
		t.Fatalf("Validate: %v", err)
	}
}

// TestLoadSplitNeedsTheWholeWindow: a range over the threshold splits once
// it has been hot for the whole window, not before, and not on a stale
// report.
func TestLoadSplitNeedsTheWholeWindow(t *testing.T) {
	c := New(testConfig())
	hot := func(now time.Time, writes float64) State {
		r := rng(2, 0, 1<<62, now, 1, 2, 3)
		r.Load.WritesPerSec = writes
		r.LoadSplit = LoadSplit{Key: key(7, 1<<61), Balance: 0.55, Samples: 64, HotShare: 0.05, HotBlock: key(7, 5)}
		return State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: []Range{r}}
	}
	for s := 0; s < 10; s++ {
		if p := c.Decide(hot(t0.Add(time.Duration(s)*time.Second), 150)); slices.Contains(kinds(p), "split") {
			t.Fatalf("split after %ds of a 10s window", s)
		}
	}
	p := c.Decide(hot(t0.Add(10*time.Second), 150))
	if !slices.Equal(kinds(p), []string{"split"}) || string(p.Actions[0].Key) != string(key(7, 1<<61)) || p.Actions[0].Reason != "load" {
		t.Fatalf("after the window: %+v", p.Actions)
	}
	if !strings.Contains(p.Actions[0].Detail, "150 writes/s > 100") {
		t.Fatalf("detail %q does not say why", p.Actions[0].Detail)
	}
	// Exactly at the threshold is not over it.
	c = New(testConfig())
	for s := 0; s <= 12; s++ {
		if p := c.Decide(hot(t0.Add(time.Duration(s)*time.Second), 100)); len(p.Actions) > 0 {
			t.Fatalf("split at exactly the threshold: %+v", p.Actions)
		}
	}
	// A dip under the threshold restarts the window.
	c = New(testConfig())
	for s := 0; s < 9; s++ {
		c.Decide(hot(t0.Add(time.Duration(s)*time.Second), 150))
	}
	c.Decide(hot(t0.Add(9*time.Second), 50))
	if p := c.Decide(hot(t0.Add(11*time.Second), 150)); len(p.Actions) > 0 {
		t.Fatalf("split right after a dip: %+v", p.Actions)
	}
	// A stale report decides nothing.
	c = New(testConfig())
	st := hot(t0, 150)
	st.Ranges[0].ReportedAt = t0.Add(-time.Hour)
	for s := 0; s <= 20; s++ {
		st.Now = t0.Add(time.Duration(s) * time.Second)
		if p := c.Decide(st); len(p.Actions) > 0 {
			t.Fatalf("decided on a stale report: %+v", p.Actions)
		}
	}
}

// TestHotKeyNotSplit: when one block holds the load, the range is reported
// as a hot key (once), not split.
func TestHotKeyNotSplit(t *testing.T) {
	c := New(testConfig())
	var events []Event
	for s := 0; s <= 30; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		r := rng(2, 0, 1<<62, now, 1, 2, 3)
		r.Load.WritesPerSec = 500
		r.LoadSplit = LoadSplit{Key: key(7, 99), Balance: 0.98, HotBlock: key(7, 42), HotShare: 0.98, Samples: 64}
		p := c.Decide(State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: []Range{r}})
		if len(p.Actions) > 0 {
			t.Fatalf("acted on a hot key: %+v", p.Actions)
		}
		events = append(events, p.Events...)
	}
	if len(events) != 1 || events[0].Kind != "hot-key" || !strings.Contains(events[0].Message, "98%") {
		t.Fatalf("want one hot-key event in 30 s, got %+v", events)
	}
}

// TestSizeSplit: too big splits at the size key; too big in one block is a
// hot key; the meta range never splits.
func TestSizeSplit(t *testing.T) {
	c := New(testConfig())
	r := rng(2, 0, 1<<62, t0, 1, 2, 3)
	r.Bytes = 3 << 20
	r.SizeSplitKey = key(7, 1<<60)
	p := c.Decide(State{Now: t0, Nodes: nodes(t0, 1, 2, 3), Ranges: []Range{r}})
	if !slices.Equal(kinds(p), []string{"split"}) || p.Actions[0].Reason != "size" {
		t.Fatalf("size split: %+v", p.Actions)
	}
	r.SizeSplitKey = r.StartKey // not strictly inside
	p = New(testConfig()).Decide(State{Now: t0, Nodes: nodes(t0, 1, 2, 3), Ranges: []Range{r}})
	if len(p.Actions) > 0 || !slices.Contains(eventKinds(p), "hot-key") {
		t.Fatalf("one big block: %+v %+v", p.Actions, p.Events)
	}
	m := r
	m.ID, m.SizeSplitKey = 1, key(7, 1<<60)
	if p := New(testConfig()).Decide(State{Now: t0, Nodes: nodes(t0, 1, 2, 3), Ranges: []Range{m}}); len(p.Actions) > 0 {
		t.Fatalf("the meta range split: %+v", p.Actions)
	}
}

// TestShardCap: a database at its template's shard cap is not split, and
// an event says so; other databases split as usual.
func TestShardCap(t *testing.T) {
	big := func(id uint64, lo, hi uint64) Range {
		r := rng(id, lo, hi, t0, 1, 2, 3)
		r.Bytes = 3 << 20
		r.SizeSplitKey = key(7, lo+(hi-lo)/2)
		return r
	}
	st := State{Now: t0, Nodes: nodes(t0, 1, 2, 3), Ranges: []Range{big(2, 0, 1<<62), big(3, 1<<62, 1<<63)}, ShardCaps: map[uint32]int{7: 2}}
	splits := func(p Plan) []string {
		var out []string
		for _, k := range kinds(p) {
			if k == "split" {
				out = append(out, k)
			}
		}
		return out
	}
	p := New(testConfig()).Decide(st)
	if len(splits(p)) > 0 {
		t.Fatalf("split beyond the cap: %+v", p.Actions)
	}
	found := false
	for _, e := range p.Events {
		found = found || (e.Kind == "not-split" && strings.Contains(e.Message, "the cap of its template"))
	}
	if !found {
		t.Fatalf("no event about the cap: %+v", p.Events)
	}
	// One shard under the cap: one split, not two.
	st.ShardCaps[7] = 3
	if p := New(testConfig()).Decide(st); len(splits(p)) != 1 {
		t.Fatalf("with room for one more shard: %+v", p.Actions)
	}
	st.ShardCaps = nil
	if p := New(testConfig()).Decide(st); len(splits(p)) != 2 {
		t.Fatalf("without a cap: %+v", p.Actions)
	}
}

// TestDroppedDatabaseRangesReleased: the ranges of dropped databases merge
// with each other across database and sticky boundaries, at once; never
// with the range of a database not known to be dropped.
func TestDroppedDatabaseRangesReleased(t *testing.T) {
	mk := func(id uint64, start, end []byte) Range {
		r := rng(id, 0, 1, t0, 1, 2, 3)
		r.StartKey, r.EndKey, r.Sticky = start, end, true
		return r
	}
	rs := []Range{
		mk(2, dbStart(7), dbStart(8)),
		mk(3, dbStart(8), key(8, 1<<63)),
		mk(4, key(8, 1<<63), dbStart(9)),
		mk(5, dbStart(9), dbStart(10)),
		mk(6, dbStart(10), dbStart(11)),
	}
	st := State{Now: t0, Nodes: nodes(t0, 1, 2, 3), Ranges: rs, Dropped: map[uint32]bool{8: true, 9: true}}
	mergesOf := func(p Plan) []Action {
		var out []Action
		for _, a := range p.Actions {
			if a.Kind == Merge {
				out = append(out, a)
			}
		}
		return out
	}
	m := mergesOf(New(testConfig()).Decide(st))
	if len(m) != 1 || m[0].RangeID != 3 || m[0].RightID != 4 || m[0].Reason != "released" {
		t.Fatalf("want r4 merged into r3 (both of dropped database 8): %+v", m)
	}
	// Next round: r3 now covers database 8 and r5 database 9, both dropped.
	st.Ranges = []Range{rs[0], mk(3, dbStart(8), dbStart(9)), rs[3], rs[4]}
	if m := mergesOf(New(testConfig()).Decide(st)); len(m) != 1 || m[0].RangeID != 3 || m[0].RightID != 5 {
		t.Fatalf("want r5 (dropped database 9) merged into r3: %+v", m)
	}
	st.Dropped = map[uint32]bool{8: true}
	if m := mergesOf(New(testConfig()).Decide(st)); len(m) > 0 {
		t.Fatalf("a range of database 9, not dropped, merged as released: %+v", m)
	}
}

// coldPair returns two cold neighbours of database 7 on the given nodes.
func coldPair(now time.Time, left, right []uint64) []Range {
	return []Range{rng(2, 0, 1<<62, now, left...), rng(3, 1<<62, 1<<63, now, right...)}
}

func runRounds(c *Controller, from, to time.Duration, state func(now time.Time) State) Plan {
	var all Plan
	for d := from; d <= to; d += time.Second {
		p := c.Decide(state(t0.Add(d)))
		all.Actions = append(all.Actions, p.Actions...)
		all.Events = append(all.Events, p.Events...)
	}
	return all
}

func TestMerge(t *testing.T) {
	state := func(mut func(rs []Range)) func(now time.Time) State {
		return func(now time.Time) State {
			rs := coldPair(now, []uint64{1, 2, 3}, []uint64{1, 2, 3})
			if mut != nil {
				mut(rs)
			}
			return State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: rs}
		}
	}
	t.Run("cold for the window", func(t *testing.T) {
		c := New(testConfig())
		if p := runRounds(c, 0, 59*time.Second, state(nil)); slices.Contains(kinds(p), "merge") {
			t.Fatalf("merged before MergeAfter: %+v", p.Actions)
		}
		p := c.Decide(state(nil)(t0.Add(60 * time.Second)))
		if !slices.Equal(kinds(p), []string{"merge"}) || p.Actions[0].RangeID != 2 || p.Actions[0].RightID != 3 {
			t.Fatalf("merge: %+v", p.Actions)
		}
	})
	t.Run("cool-down after a split", func(t *testing.T) {
		c := New(testConfig())
		p := runRounds(c, 0, 70*time.Second, state(func(rs []Range) { rs[1].SplitAt = t0.Add(30 * time.Second) }))
		if slices.Contains(kinds(p), "merge") {
			t.Fatalf("merged within the cool-down: %+v", p.Actions)
		}
		found := false
		for _, e := range p.Events {
			found = found || (e.Kind == "not-merged" && strings.Contains(e.Message, "r3 split"))
		}
		if !found {
			t.Fatalf("no not-merged event naming the split: %+v", p.Events)
		}
		if p := runRounds(c, 91*time.Second, 91*time.Second, state(func(rs []Range) { rs[1].SplitAt = t0.Add(30 * time.Second) })); !slices.Equal(kinds(p), []string{"merge"}) {
			t.Fatalf("no merge after the cool-down: %+v", p.Actions)
		}
	})
	for name, mut := range map[string]func(rs []Range){
		"sticky":              func(rs []Range) { rs[1].Sticky = true },
		"different databases": func(rs []Range) { rs[1].StartKey, rs[1].EndKey = dbStart(8), key(8, 5); rs[0].EndKey = dbStart(8) },
		"raw keys": func(rs []Range) {
			rs[0].StartKey, rs[0].EndKey, rs[1].StartKey, rs[1].EndKey = []byte("a"), []byte("m"), []byte("m"), []byte("z")
		},
		"too big":       func(rs []Range) { rs[0].Bytes, rs[1].Bytes = 300<<10, 300<<10 },
		"warm together": func(rs []Range) { rs[0].Load.WritesPerSec, rs[1].Load.WritesPerSec = 30, 30 },
		"meta":          func(rs []Range) { rs[0].ID = 1 },
		"not adjacent":  func(rs []Range) { rs[1].StartKey = key(7, 1<<62+1) },
	} {
		t.Run("no merge: "+name, func(t *testing.T) {
			if p := runRounds(New(testConfig()), 0, 120*time.Second, state(mut)); slices.Contains(kinds(p), "merge") {
				t.Fatalf("merged: %+v", p.Actions)
			}
		})
	}
	t.Run("co-locate first", func(t *testing.T) {
		c := New(testConfig())
		runRounds(c, 0, 59*time.Second, func(now time.Time) State {
			return State{Now: now, Nodes: nodes(now, 1, 2, 3, 4), Ranges: coldPair(now, []uint64{1, 2, 3}, []uint64{1, 2, 4})}
		})
		now := t0.Add(60 * time.Second)
		p := c.Decide(State{Now: now, Nodes: nodes(now, 1, 2, 3, 4), Ranges: coldPair(now, []uint64{1, 2, 3}, []uint64{1, 2, 4})})
		if len(p.Actions) == 0 || p.Actions[0].Kind != Relocate {
			t.Fatalf("want a relocation of the right range first: %+v", p.Actions)
		}
		if a := p.Actions[0]; a.RangeID != 3 || a.From != 4 || a.To != 3 || a.Reason != "merge" {
			t.Fatalf("relocation %+v", a)
		}
	})
	t.Run("the left stays put while the right comes", func(t *testing.T) {
		// n1 and n2 are over the mean and n5 is empty: the cold left would
		// be the first range rebalancing moves, and the right would follow.
		st := func(now time.Time, rightReported time.Time) State {
			rs := coldPair(now, []uint64{1, 2, 3}, []uint64{1, 2, 4})
			rs[1].ReportedAt = rightReported
			for id := uint64(4); id <= 6; id++ {
				w := rng(id, id<<60, (id+1)<<60, now, 1, 2, 3)
				w.Load.WritesPerSec = 30
				rs = append(rs, w)
			}
			return State{Now: now, Nodes: nodes(now, 1, 2, 3, 4, 5), Ranges: rs}
		}
		c := New(testConfig())
		runRounds(c, 0, 60*time.Second, func(now time.Time) State { return st(now, now) })
		// The right's move is running: its last report is too old for a
		// merge decision.
		for d := 61 * time.Second; d < 64*time.Second; d += time.Second {
			now := t0.Add(d)
			for _, a := range c.Decide(st(now, t0.Add(50*time.Second))).Actions {
				if a.RangeID == 2 && a.Kind.isMove() {
					t.Fatalf("moved the left while its right comes to it: %+v", a)
				}
			}
		}
	})
}

// TestRepair: a dead node's replicas move within the budget, a range that
// lost its quorum gets an event only, under-replication adds replicas.
func TestRepair(t *testing.T) {
	cfg := testConfig()
	now := t0.Add(time.Hour)
	ns := nodes(now, 1, 2, 3, 4, 5)
	ns[2].LastSeen = now.Add(-time.Minute) // n3 dead
	rs := []Range{
		rng(2, 0, 10, now, 1, 2, 3), rng(3, 10, 20, now, 2, 3, 4), rng(4, 20, 30, now, 3, 4, 5), rng(5, 30, 40, now, 1, 2, 4),
	}
	p := New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: rs})
	var moves []Action
	for _, a := range p.Actions {
		if a.Kind == Relocate {
			moves = append(moves, a)
		}
	}
	if len(moves) != cfg.MaxConcurrentMoves {
		t.Fatalf("want %d relocations (the budget), got %+v", cfg.MaxConcurrentMoves, p.Actions)
	}
	for _, a := range moves {
		if a.From != 3 || a.To == 3 || a.Reason != "dead-node" {
			t.Fatalf("bad repair %+v", a)
		}
		if rg := rs[a.RangeID-2]; hasReplica(&rg, a.To) {
			t.Fatalf("target n%d already holds r%d", a.To, a.RangeID)
		}
	}
	if !slices.Contains(eventKinds(p), "node-dead") {
		t.Fatalf("no node-dead event: %v", eventKinds(p))
	}
	// With the budget spent in flight, nothing more.
	p = New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: rs, InFlight: moves})
	for _, a := range p.Actions {
		if a.Kind.isMove() {
			t.Fatalf("moved beyond the budget: %+v", a)
		}
	}
	// Quorum lost: two of three voters dead.
	ns2 := nodes(now, 1, 2, 3, 4)
	ns2[1].LastSeen, ns2[2].LastSeen = now.Add(-time.Minute), now.Add(-time.Minute)
	p = New(cfg).Decide(State{Now: now, Nodes: ns2, Ranges: []Range{rng(2, 0, 10, now, 1, 2, 3)}})
	if len(p.Actions) > 0 || !slices.Contains(eventKinds(p), "quorum-lost") {
		t.Fatalf("quorum lost: %+v %v", p.Actions, eventKinds(p))
	}
	// Under-replicated: one voter, three nodes.
	p = New(cfg).Decide(State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: []Range{rng(2, 0, 10, now, 1)}})
	if !slices.Equal(kinds(p), []string{"add-replica"}) || p.Actions[0].To == 1 {
		t.Fatalf("under-replicated: %+v", p.Actions)
	}
}

func TestDecommissionAndDrain(t *testing.T) {
	cfg := testConfig()
	now := t0
	ns := nodes(now, 1, 2, 3, 4)
	ns[3].Decommissioning = true
	rs := []Range{rng(2, 0, 10, now, 4, 2, 3), rng(3, 10, 20, now, 1, 2, 4)}
	p := New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: rs})
	var reloc, transfer int
	for _, a := range p.Actions {
		switch a.Kind {
		case Relocate:
			reloc++
			if rg := rs[a.RangeID-2]; a.From != 4 || hasReplica(&rg, a.To) || a.Reason != "decommission" {
				t.Fatalf("decommission move %+v", a)
			}
		case TransferLeader:
			transfer++
		}
	}
	if reloc != 2 {
		t.Fatalf("want both replicas relocated off n4: %+v", p.Actions)
	}
	// Once it holds nothing, it is marked removed.
	rs = []Range{rng(2, 0, 10, now, 1, 2, 3), rng(3, 10, 20, now, 1, 2, 3)}
	p = New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: rs})
	if !slices.Contains(kinds(p), "mark-removed") {
		t.Fatalf("empty decommissioning node not removed: %+v", p.Actions)
	}
	// Draining: leadership moves, replicas stay.
	ns = nodes(now, 1, 2, 3)
	ns[0].Draining = true
	rs = []Range{rng(2, 0, 10, now, 1, 2, 3), rng(3, 10, 20, now, 1, 2, 3)}
	p = New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: rs})
	if !slices.Equal(kinds(p), []string{"transfer-leader", "transfer-leader"}) {
		t.Fatalf("drain: %+v", p.Actions)
	}
	for _, a := range p.Actions {
		if a.To == 1 || a.Reason != "drain" {
			t.Fatalf("drain %+v", a)
		}
	}
	// Removed nodes are ignored; dead nodes are never targets.
	ns = nodes(now, 1, 2, 3, 4)
	ns[3].Removed = true
	ns[2].LastSeen = now.Add(-time.Hour)
	p = New(cfg).Decide(State{Now: now, Nodes: ns, Ranges: []Range{rng(2, 0, 10, now, 1, 2)}})
	for _, a := range p.Actions {
		if a.To == 3 || a.To == 4 {
			t.Fatalf("target n%d is dead or removed: %+v", a.To, a)
		}
	}
}

// sim is a tiny cluster the tests apply actions to.
type sim struct {
	now    time.Time
	nodes  []Node
	ranges []Range
}

func (s *sim) state() State {
	for i := range s.nodes {
		s.nodes[i].LastSeen = s.now
	}
	for i := range s.ranges {
		s.ranges[i].ReportedAt = s.now
	}
	return State{Now: s.now, Nodes: slices.Clone(s.nodes), Ranges: slices.Clone(s.ranges)}
}

// apply carries an action out at once.
func (s *sim) apply(t *testing.T, a Action) {
	for i := range s.ranges {
		rg := &s.ranges[i]
		if rg.ID != a.RangeID {
			continue
		}
		switch a.Kind {
		case Relocate, AddReplica, RemoveReplica:
			if a.To != 0 {
				if hasReplica(rg, a.To) {
					t.Fatalf("%+v: n%d already holds r%d", a, a.To, rg.ID)
				}
				rg.Replicas = append(rg.Replicas, Replica{NodeID: a.To, Voter: true})
			}
			if a.From != 0 {
				if a.From == rg.Leader {
					rg.Leader = a.To
				}
				rg.Replicas = slices.DeleteFunc(rg.Replicas, func(r Replica) bool { return r.NodeID == a.From })
			}
		case TransferLeader:
			if !hasVoter(rg, a.To) {
				t.Fatalf("%+v: n%d holds no voter", a, a.To)
			}
			rg.Leader = a.To
		default:
			t.Fatalf("unexpected %+v", a)
		}
	}
}

// TestRebalanceConverges: 3 nodes with 12 ranges gain 2 empty nodes; rounds
// of decisions applied at once spread replicas and leaders to within one
// of the mean, never leave a range short of voters, and then stop.
func TestRebalanceConverges(t *testing.T) {
	cfg := testConfig()
	s := &sim{now: t0, nodes: nodes(t0, 1, 2, 3, 4, 5)}
	for i := range 12 {
		s.ranges = append(s.ranges, rng(uint64(i+2), uint64(i)*100, uint64(i+1)*100, t0, uint64(i%3+1), uint64((i+1)%3+1), uint64((i+2)%3+1)))
	}
	c := New(cfg)
	quiet := 0
	for round := 0; round < 200 && quiet < 20; round++ {
		s.now = s.now.Add(time.Second)
		p := c.Decide(s.state())
		for _, a := range p.Actions {
			s.apply(t, a)
		}
		for _, rg := range s.ranges {
			if len(voters(&rg)) < 3 {
				t.Fatalf("round %d: r%d has %d voters", round, rg.ID, len(voters(&rg)))
			}
		}
		if len(p.Actions) == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	if quiet < 20 {
		t.Fatalf("still moving after 200 rounds")
	}
	replicas, leaders := map[uint64]int{}, map[uint64]int{}
	for _, rg := range s.ranges {
		for _, r := range rg.Replicas {
			replicas[r.NodeID]++
		}
		leaders[rg.Leader]++
	}
	for n := uint64(1); n <= 5; n++ {
		// 36 replicas over 5 nodes: mean 7.2; 12 leaders: mean 2.4.
		if replicas[n] < 7-1 || replicas[n] > 8+1 || leaders[n] < 1 || leaders[n] > 4 {
			t.Fatalf("not balanced: replicas %v, leaders %v", replicas, leaders)
		}
	}
	t.Logf("replicas %v, leaders %v", replicas, leaders)
}

func TestEventsAreNotRepeated(t *testing.T) {
	c := New(testConfig())
	now := t0
	ns := nodes(now, 1, 2, 3)
	ns[1].LastSeen, ns[2].LastSeen = now.Add(-time.Hour), now.Add(-time.Hour)
	rs := []Range{rng(2, 0, 10, now, 1, 2, 3)}
	var n int
	for s := 0; s < 59; s++ {
		ns[0].LastSeen = now.Add(time.Duration(s) * time.Second)
		p := c.Decide(State{Now: now.Add(time.Duration(s) * time.Second), Nodes: ns, Ranges: rs})
		for _, e := range p.Events {
			if e.Kind == "quorum-lost" {
				n++
			}
		}
	}
	if n != 1 {
		t.Fatalf("quorum-lost recorded %d times in a minute, want once", n)
	}
	ns[0].LastSeen = now.Add(61 * time.Second)
	if p := c.Decide(State{Now: now.Add(61 * time.Second), Nodes: ns, Ranges: rs}); !slices.Contains(eventKinds(p), "quorum-lost") {
		t.Fatalf("not recorded again after a minute: %v", eventKinds(p))
	}
}

// TestRetriedActionsRecordedOnce: a repair whose executions keep failing
// is decided again every round, but its event is recorded once a minute.
func TestRetriedActionsRecordedOnce(t *testing.T) {
	c := New(testConfig())
	now := t0.Add(time.Hour)
	ns := nodes(now, 1, 2, 3, 4)
	var acts, evs int
	for s := 0; s < 30; s++ {
		at := now.Add(time.Duration(2*s) * time.Second)
		for i := range ns {
			ns[i].LastSeen = at
		}
		ns[3].LastSeen = now.Add(-time.Hour) // n4 dead all along
		p := c.Decide(State{Now: at, Nodes: ns, Ranges: []Range{rng(2, 0, 10, at, 1, 2, 4)}})
		for _, a := range p.Actions {
			if a.Kind == Relocate {
				acts++
			}
		}
		for _, e := range p.Events {
			if e.Kind == "relocate" {
				evs++
			}
		}
	}
	if acts != 30 || evs != 1 {
		t.Fatalf("repair decided %d times (want 30, one per round) and recorded %d times (want once)", acts, evs)
	}
}

func TestExplain(t *testing.T) {
	c := New(testConfig())
	now := t0
	r := rng(2, 0, 1<<62, now, 1, 2, 3)
	r.Load.WritesPerSec = 150
	r.LoadSplit = LoadSplit{Key: key(7, 1<<61), Balance: 0.5, Samples: 64}
	st := State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: []Range{r, rng(3, 1<<62, 1<<63, now, 1, 2, 3)}}
	c.Decide(st)
	st.Now = now.Add(5 * time.Second)
	st.Ranges[0].ReportedAt, st.Ranges[1].ReportedAt = st.Now, st.Now
	lines := strings.Join(c.Explain(st, 2), "\n")
	for _, want := range []string{"150 writes/s", "hot for 5s of the 10s window", "merge with r3: no", "decision: nothing to do now"} {
		if !strings.Contains(lines, want) {
			t.Errorf("explain lacks %q:\n%s", want, lines)
		}
	}
	// Explain does not change the memory: the split still comes at 10 s.
	st.Now = now.Add(10 * time.Second)
	st.Ranges[0].ReportedAt, st.Ranges[1].ReportedAt = st.Now, st.Now
	if lines := strings.Join(c.Explain(st, 2), "\n"); !strings.Contains(lines, "decision: split r2") {
		t.Errorf("explain at 10 s:\n%s", lines)
	}
	if p := c.Decide(st); !slices.Equal(kinds(p), []string{"split"}) {
		t.Fatalf("after Explain, Decide: %+v", p.Actions)
	}
	if got := c.Explain(st, 99); len(got) != 1 || !strings.Contains(got[0], "not in the meta range") {
		t.Fatalf("unknown range: %v", got)
	}
}

// TestSmallClusterKeepsReplicas: in a 3-node cluster, neither a dead nor a
// decommissioning node loses its replicas: there is nowhere to move them,
// and dropping them would leave ranges with two copies.
func TestSmallClusterKeepsReplicas(t *testing.T) {
	now := t0.Add(time.Hour)
	for name, mut := range map[string]func(ns []Node){
		"dead":            func(ns []Node) { ns[2].LastSeen = now.Add(-time.Hour) },
		"decommissioning": func(ns []Node) { ns[2].Decommissioning = true },
		"draining":        func(ns []Node) { ns[2].Draining = true },
	} {
		t.Run(name, func(t *testing.T) {
			ns := nodes(now, 1, 2, 3)
			mut(ns)
			p := New(testConfig()).Decide(State{Now: now, Nodes: ns, Ranges: []Range{rng(2, 0, 10, now, 1, 2, 3)}})
			for _, a := range p.Actions {
				if a.Kind.isMove() || a.Kind == MarkRemoved {
					t.Fatalf("%+v", a)
				}
			}
		})
	}
}

func TestNotesIgnoreChangingNumbers(t *testing.T) {
	c := New(testConfig())
	var n int
	for s := 0; s < 50; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		r := rng(2, 0, 1<<62, now, 1, 2, 3)
		r.Load.WritesPerSec = float64(500 + 37*s) // the load wobbles every round
		r.LoadSplit = LoadSplit{Key: nil, Balance: 1, HotBlock: key(7, 42), HotShare: 0.9 + float64(s%7)/100, Samples: 64}
		for _, e := range c.Decide(State{Now: now, Nodes: nodes(now, 1, 2, 3), Ranges: []Range{r}}).Events {
			if e.Kind == "hot-key" {
				n++
			}
		}
	}
	if n != 1 {
		t.Fatalf("hot-key recorded %d times in 50 s of a wobbling load, want once", n)
	}
	if msgShape("r12 is 3.5 MiB, 97% hot") != "r# is # MiB, #% hot" {
		t.Fatalf("msgShape: %q", msgShape("r12 is 3.5 MiB, 97% hot"))
	}
}
