package checker

import (
	"testing"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

func add(v int64) history.Op { return history.Op{F: history.FAdd, Value: history.Int(v)} }

func finalRead(els ...int64) history.Op {
	if els == nil {
		els = []int64{}
	}
	return history.Op{F: history.FRead, Elements: els}
}

func TestSetValid(t *testing.T) {
	var b builder
	b.run(0, history.OK, add(1))
	b.run(0, history.OK, add(2))
	b.run(1, history.Fail, add(3)) // must be absent
	b.run(1, history.Info, add(4)) // present: recovered
	b.run(2, history.Info, add(5)) // absent: fine
	// 6 is acknowledged only after the final read began: absent is fine.
	b.invoke(3, add(6))
	b.invoke(0, finalRead())
	b.ok(3, add(6))
	b.ok(0, finalRead(2, 4, 1))
	checkValid(t, b.h)
	r := Set{}.Check(b.h)
	mustValid(t, r)
	want := map[string]int{"attempted": 6, "acknowledged": 3, "present": 3, "recovered": 1, "concurrent": 1}
	for k, v := range want {
		if r.Stats[k] != v {
			t.Errorf("stats[%s] = %d, want %d (%v)", k, r.Stats[k], v, r.Stats)
		}
	}
	if r.Counts != (Counts{OK: 4, Fail: 1, Info: 2}) {
		t.Errorf("counts %+v", r.Counts)
	}
}

func TestSetAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		final []int64
		want  Kind
	}{
		{"lost-insert", []int64{1}, KindLost},
		{"unexpected", []int64{1, 2, 9}, KindUnexpected},
		{"failed-add-read", []int64{1, 2, 3}, KindFailedAddRead},
		{"duplicate", []int64{1, 2, 2}, KindDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			b.run(0, history.OK, add(1))
			b.run(0, history.OK, add(2))
			b.run(0, history.Fail, add(3))
			b.run(0, history.OK, finalRead(tc.final...))
			r := Set{}.Check(b.h)
			mustFind(t, r, tc.want)
			if len(r.Anomalies) != 1 {
				t.Fatalf("want one anomaly, got %s\n%s", r, explain(r))
			}
		})
	}
}

func TestSetNoFinalRead(t *testing.T) {
	var b builder
	b.run(0, history.OK, add(1))
	b.run(0, history.Fail, finalRead())
	if r := (Set{}).Check(b.h); r.Valid || !r.Unknown {
		t.Fatalf("want unknown, got %s", r)
	}
}

// An empty final read loses its Elements in JSON; it is still a read.
func TestSetEmptyFinalRead(t *testing.T) {
	var b builder
	b.run(0, history.Fail, add(1))
	b.run(0, history.OK, history.Op{F: history.FRead})
	mustValid(t, Set{}.Check(b.h))
}
