package failover

import (
	"errors"
	"testing"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

func TestLongestGap(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	for _, tc := range []struct {
		name             string
		succ             []time.Time
		from, to         int
		wantFrom, wantMs int
	}{
		// The gap that spans the kill counts from the last success before it.
		{"across the kill", at(0, 10, 20, 900, 910, 1500, 1900, 2100), 25, 2000, 20, 880},
		// Successes resume and a later, longer gap inside the window wins.
		{"later gap", at(0, 10, 100, 110, 1500), 50, 2000, 110, 1390},
		// No success after the kill: the gap runs to the window's end.
		{"never resumed", at(0, 10), 50, 2000, 10, 1990},
		// A gap that starts after the window is not counted.
		{"after the window", at(0, 10, 20, 30, 5000), 25, 40, 30, 4970},
		{"no success at all", nil, 50, 2000, 50, 1950},
	} {
		from, gap := longestGap(tc.succ, t0.Add(time.Duration(tc.from)*time.Millisecond), t0.Add(time.Duration(tc.to)*time.Millisecond))
		if ms(from.Sub(t0)) != tc.wantFrom || ms(gap) != tc.wantMs {
			t.Errorf("%s: gap of %d ms from %d ms, want %d ms from %d ms", tc.name, ms(gap), ms(from.Sub(t0)), tc.wantMs, tc.wantFrom)
		}
	}
}

func TestSlowest(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ops := []op{
		{end: at(10), took: 900 * time.Millisecond}, // ended before the window
		{end: at(150), took: 120 * time.Millisecond},
		{end: at(400), took: 350 * time.Millisecond}, // began before the window, ended in it
		{end: at(500), took: 5 * time.Millisecond},
		{end: at(2000), took: time.Second}, // ended at the window's end: not in it
	}
	if d := slowest(ops, at(100), at(2000)); d != 350*time.Millisecond {
		t.Fatalf("slowest %s, want 350ms", d)
	}
	if d := slowest(ops, at(600), at(1000)); d != 0 {
		t.Fatalf("slowest of an empty window %s, want 0", d)
	}
}

func TestVictim(t *testing.T) {
	rs := []cluster.Range{
		{ID: 1, Leader: 1},
		{ID: 5, Leader: 1, QPS: 900}, // busiest, but on the meta leader's node
		{ID: 6, Leader: 2, QPS: 300},
		{ID: 7, Leader: 3, QPS: 500},
		{ID: 8, Leader: 0, QPS: 2000}, // no leader
	}
	if r, err := victim(rs, MetaLeader); err != nil || r.ID != 1 {
		t.Errorf("meta-leader: r%d %v", r.ID, err)
	}
	if r, err := victim(rs, RangeLeader); err != nil || r.ID != 7 {
		t.Errorf("range-leader: r%d %v, want r7 (busiest off the meta leader's node)", r.ID, err)
	}
	// Every range on the meta leader's node: the busiest one anyway.
	if r, err := victim(rs[:2], RangeLeader); err != nil || r.ID != 5 {
		t.Errorf("range-leader, one node: r%d %v", r.ID, err)
	}
	if _, err := victim(rs[:1], RangeLeader); err == nil {
		t.Error("range-leader with only meta: no error")
	}
	if _, err := victim([]cluster.Range{{ID: 1}}, MetaLeader); err == nil {
		t.Error("meta-leader without a leader: no error")
	}
	// No load reported yet: no range can be told busy.
	idle := []cluster.Range{{ID: 1, Leader: 1}, {ID: 2, Leader: 2}, {ID: 6, Leader: 3}}
	if r, err := victim(idle, RangeLeader); !errors.Is(err, errNoLoad) {
		t.Errorf("range-leader with no load reported: r%d %v, want errNoLoad", r.ID, err)
	}
	if r, err := victim(idle, MetaLeader); err != nil || r.ID != 1 {
		t.Errorf("meta-leader with no load reported: r%d %v", r.ID, err)
	}
}
