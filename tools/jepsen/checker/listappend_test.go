package checker

import (
	"strings"
	"testing"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

var (
	si       = ListAppend{}
	ser      = ListAppend{Model: Serializable}
	siRT     = ListAppend{RealTime: true}
	serRT    = ListAppend{Model: Serializable, RealTime: true}
	checkers = map[string]ListAppend{"si": si, "serializable": ser, "si+rt": siRT, "serializable+rt": serRT}
)

func TestListAppendValid(t *testing.T) {
	var b builder
	b.run(0, history.OK, txn(ap(1, 1), ap(2, 1)))
	b.run(1, history.OK, txn(rd(1, 1), ap(1, 2), rd(1, 1, 2)))
	b.run(0, history.OK, txn(rd(1, 1, 2), rd(2, 1), rd(3)))
	// Concurrent: an append to key 1 and a read that does not see it.
	b.invoke(0, txn(ap(1, 3)))
	b.invoke(1, txn(rd(1)))
	b.ok(1, txn(rd(1, 1, 2)))
	b.ok(0, txn(ap(1, 3)))
	b.run(2, history.Fail, txn(ap(2, 9))) // never read: fine
	b.run(1, history.OK, txn(rd(1, 1, 2, 3), rd(2, 1)))
	// An append never read by anyone: fine too.
	b.run(1, history.OK, txn(ap(4, 1)))
	checkValid(t, b.h)
	for name, c := range checkers {
		t.Run(name, func(t *testing.T) {
			r := c.Check(b.h)
			mustValid(t, r)
			if len(r.Allowed) > 0 || r.Counts != (Counts{OK: 7, Fail: 1}) || r.Stats["txns"] != 8 || r.Stats["nodes"] != 7 {
				t.Fatalf("%s: allowed %v, stats %v", r, r.Allowed, r.Stats)
			}
		})
	}
}

// Two committed transactions read the same version of a key and both
// appended to it.
func TestListAppendLostUpdate(t *testing.T) {
	var b builder
	b.both(txn(rd(1), ap(1, 1)), txn(rd(1), ap(1, 2)))
	b.run(0, history.OK, txn(rd(1, 1, 2)))
	for name, c := range checkers {
		t.Run(name, func(t *testing.T) {
			r := c.Check(b.h)
			a := mustFind(t, r, KindLostUpdate)
			if len(a.Ops) != 2 || a.Ops[0].Index != 2 || a.Ops[1].Index != 3 {
				t.Fatalf("ops %v", a.Ops)
			}
			mustFind(t, r, KindGSingle) // the same, as a cycle
		})
	}
}

// A lost update whose second append no one read: no cycle shows it, the
// direct check does.
func TestListAppendLostUpdateUnobserved(t *testing.T) {
	var b builder
	b.both(txn(rd(1), ap(1, 1)), txn(rd(1), ap(1, 2)))
	mustFind(t, si.Check(b.h), KindLostUpdate)
}

// Write cycle: the two transactions' appends are ordered one way on key 1,
// the other on key 2.
func TestListAppendG0(t *testing.T) {
	var b builder
	b.both(txn(ap(1, 1), ap(2, 1)), txn(ap(1, 2), ap(2, 2)))
	b.run(2, history.OK, txn(rd(1, 1, 2), rd(2, 2, 1)))
	r := si.Check(b.h)
	a := mustFind(t, r, KindG0)
	if len(a.Ops) != 2 || !strings.Contains(a.Explanation, "ww on key 1") || !strings.Contains(a.Explanation, "ww on key 2") {
		t.Fatalf("%+v", a)
	}
}

// An Info transaction whose appends were read is in the graph: here, in a
// G0 cycle.
func TestListAppendInfoInCycle(t *testing.T) {
	var b builder
	b.invoke(0, txn(ap(1, 1), ap(2, 1)))
	b.invoke(1, txn(ap(1, 2), ap(2, 2)))
	b.info(0, txn(ap(1, 1), ap(2, 1)))
	b.ok(1, txn(ap(1, 2), ap(2, 2)))
	b.run(2, history.OK, txn(rd(1, 1, 2), rd(2, 2, 1)))
	mustFind(t, si.Check(b.h), KindG0)
}

// An indeterminate append that shows up later is fine.
func TestListAppendInfoAppearsLater(t *testing.T) {
	var b builder
	b.invoke(0, txn(ap(1, 1)))
	b.info(0, txn(ap(1, 1)))
	b.run(1, history.OK, txn(rd(1)))
	b.run(1, history.OK, txn(rd(1, 1)))
	b.invoke(2, txn(ap(2, 1))) // never read: not in the graph
	b.info(2, txn(ap(2, 1)))
	b.run(1, history.OK, txn(rd(2)))
	for name, c := range checkers {
		t.Run(name, func(t *testing.T) {
			r := c.Check(b.h)
			mustValid(t, r)
			if r.Stats["nodes"] != 4 || r.Counts.Info != 2 {
				t.Fatalf("stats %v, counts %+v", r.Stats, r.Counts)
			}
		})
	}
}

// Aborted read: an element of a failed transaction is visible.
func TestListAppendG1a(t *testing.T) {
	var b builder
	b.run(0, history.Fail, txn(ap(1, 1)))
	b.run(1, history.OK, txn(rd(1, 1)))
	a := mustFind(t, si.Check(b.h), KindG1a)
	if len(a.Ops) != 2 || a.Ops[0].Index != 3 || a.Ops[1].Index != 1 {
		t.Fatalf("ops %v", a.Ops)
	}
}

// Intermediate read: a transaction's first of two appends to a key is
// visible without the second.
func TestListAppendG1b(t *testing.T) {
	var b builder
	b.invoke(0, txn(ap(1, 1), ap(1, 2)))
	b.run(1, history.OK, txn(rd(1, 1)))
	b.ok(0, txn(ap(1, 1), ap(1, 2)))
	b.run(1, history.OK, txn(rd(1, 1, 2)))
	mustFind(t, si.Check(b.h), KindG1b)
}

// Circular information flow: each transaction read the other's append.
func TestListAppendG1c(t *testing.T) {
	var b builder
	b.both(txn(ap(1, 1), rd(2, 1)), txn(ap(2, 1), rd(1, 1)))
	a := mustFind(t, si.Check(b.h), KindG1c)
	if strings.Count(a.Explanation, "(wr on key") != 2 {
		t.Fatalf("%s", a.Explanation)
	}
}

// Read skew: a reader sees a writer's append to key 2 but not its append
// to key 1 (one rw edge).
func TestListAppendGSingle(t *testing.T) {
	var b builder
	b.invoke(1, txn(rd(1), rd(2)))
	b.run(0, history.OK, txn(ap(1, 1), ap(2, 1)))
	b.ok(1, txn(rd(1), rd(2, 1)))
	b.run(0, history.OK, txn(rd(1, 1)))
	for _, c := range []ListAppend{si, ser} {
		r := c.Check(b.h)
		a := mustFind(t, r, KindGSingle)
		if !strings.Contains(a.Explanation, "rw on key 1") || !strings.Contains(a.Explanation, "wr on key 2") {
			t.Fatalf("%s", a.Explanation)
		}
		if len(r.Allowed) > 0 {
			t.Fatalf("a forbidden cycle is not also allowed: %v", r.Allowed)
		}
	}
}

// Write skew: each transaction read both keys empty and appended to one
// (two rw edges): snapshot isolation allows it, serializability does not.
func TestListAppendG2Item(t *testing.T) {
	var b builder
	b.both(txn(rd(1), rd(2), ap(1, 1)), txn(rd(1), rd(2), ap(2, 1)))
	b.run(0, history.OK, txn(rd(1, 1), rd(2, 1)))

	r := si.Check(b.h)
	mustValid(t, r)
	if len(r.Allowed) != 1 || r.Allowed[0].Kind != KindG2Item || r.Stats[string(KindG2Item)] != 1 {
		t.Fatalf("want one allowed G2-item, got %s\n%s", r, explain(r))
	}
	t.Logf("%s", r.Allowed[0])

	r = ser.Check(b.h)
	mustFind(t, r, KindG2Item)
	if len(r.Allowed) > 0 {
		t.Fatalf("serializable allows nothing: %v", r.Allowed)
	}
}

// A read invoked after an append completed does not see it: fine without
// real time, a G-single-realtime with it.
func TestListAppendStaleRead(t *testing.T) {
	t.Run("observed-later", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.run(1, history.OK, txn(rd(1)))
		b.run(1, history.OK, txn(rd(1, 1)))
		mustValid(t, si.Check(b.h))
		mustValid(t, ser.Check(b.h))
		a := mustFind(t, siRT.Check(b.h), KindGSingleRealtime)
		if !strings.Contains(a.Explanation, "(rt: T1 completed at op 1, before T3 was invoked at op 2)") {
			t.Fatalf("%s", a.Explanation)
		}
		mustFind(t, serRT.Check(b.h), KindGSingleRealtime)
	})
	t.Run("never-observed", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.run(1, history.OK, txn(rd(1)))
		mustValid(t, si.Check(b.h))
		a := mustFind(t, siRT.Check(b.h), KindGSingleRealtime)
		if !strings.Contains(a.Explanation, "never read") {
			t.Fatalf("%s", a.Explanation)
		}
	})
	t.Run("concurrent-is-fine", func(t *testing.T) {
		var b builder
		b.both(txn(ap(1, 1)), txn(rd(1)))
		b.run(1, history.OK, txn(rd(1, 1)))
		mustValid(t, siRT.Check(b.h))
	})
}

// Real-time order contradicting the version order: T2 began after T1
// ended, yet its append comes first.
func TestListAppendG0Realtime(t *testing.T) {
	var b builder
	b.run(0, history.OK, txn(ap(1, 1)))
	b.run(0, history.OK, txn(ap(1, 2)))
	b.run(1, history.OK, txn(rd(1, 2, 1)))
	mustValid(t, si.Check(b.h))
	mustFind(t, siRT.Check(b.h), KindG0Realtime)
}

func TestListAppendInternal(t *testing.T) {
	for name, op := range map[string]history.Op{
		"own-append-missing":     txn(ap(1, 2), rd(1, 1)),
		"own-append-missing-2":   txn(rd(1, 1), ap(1, 2), rd(1, 1)),
		"non-repeatable":         txn(rd(1), rd(1, 1)),
		"own-append-misplaced":   txn(ap(1, 2), rd(1, 2, 1)),
		"other-key-is-separate*": txn(ap(2, 1), rd(1, 1)),
		"own-append-seen*":       txn(rd(1, 1), ap(1, 2), rd(1, 1, 2)),
	} {
		t.Run(name, func(t *testing.T) {
			var b builder
			b.run(0, history.OK, txn(ap(1, 1)))
			b.run(1, history.OK, op)
			r := si.Check(b.h)
			if strings.HasSuffix(name, "*") {
				mustValid(t, r)
				return
			}
			mustFind(t, r, KindInternal)
		})
	}
}

func TestListAppendReadAnomalies(t *testing.T) {
	t.Run("incompatible-order", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.both(txn(ap(1, 2)), txn(ap(1, 3)))
		b.run(2, history.OK, txn(rd(1, 1, 2)))
		b.run(2, history.OK, txn(rd(1, 1, 3)))
		mustFind(t, si.Check(b.h), KindIncompatibleOrder)
	})
	t.Run("duplicate-elements", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.run(0, history.OK, txn(ap(1, 2)))
		b.run(2, history.OK, txn(rd(1, 1, 2, 1)))
		r := si.Check(b.h)
		mustFind(t, r, KindDuplicateElements)
		if r.Stats[string(KindG0)] > 0 {
			t.Fatalf("no order is inferred from a list with duplicates: %s", r)
		}
	})
	t.Run("unknown-element", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.run(2, history.OK, txn(rd(1, 1, 9)))
		mustFind(t, si.Check(b.h), KindUnknownElement)
	})
}

func TestListAppendUnknown(t *testing.T) {
	t.Run("duplicate-appends", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		b.run(0, history.OK, txn(ap(1, 1)))
		r := si.Check(b.h)
		if r.Valid || !r.Unknown || !strings.Contains(r.Reason, "appended twice") {
			t.Fatalf("want unknown, got %s", r)
		}
	})
	t.Run("bad-model", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, txn(ap(1, 1)))
		r := ListAppend{Model: "read-committed"}.Check(b.h)
		if r.Valid || !r.Unknown {
			t.Fatalf("want unknown, got %s", r)
		}
	})
	t.Run("nothing-committed", func(t *testing.T) {
		var b builder
		b.run(0, history.Fail, txn(ap(1, 1)))
		if r := si.Check(b.h); r.Valid || !r.Unknown {
			t.Fatalf("want unknown, got %s", r)
		}
	})
	t.Run("budget", func(t *testing.T) {
		var b builder
		b.both(txn(ap(1, 1), ap(2, 1)), txn(ap(1, 2), ap(2, 2)))
		b.run(2, history.OK, txn(rd(1, 1, 2), rd(2, 2, 1)))
		r := ListAppend{SearchBudget: 1}.Check(b.h)
		if r.Valid || !r.Unknown || !strings.Contains(r.Reason, "budget") {
			t.Fatalf("want unknown, got %s", r)
		}
	})
}

// An empty read list loses its List in JSON: an OK read with none read
// nothing.
func TestListAppendJSONEmptyRead(t *testing.T) {
	var b builder
	b.run(0, history.OK, txn(ap(1, 1)))
	b.run(1, history.OK, txn(history.Mop{F: history.MopRead, Key: 1}))
	b.run(1, history.OK, txn(rd(1, 1)))
	mustValid(t, si.Check(b.h))
	mustFind(t, siRT.Check(b.h), KindGSingleRealtime)
}

func TestClassify(t *testing.T) {
	cyc := func(ts ...edgeType) []step {
		var s []step
		for i, t := range ts {
			s = append(s, step{from: int32(i), to: int32((i + 1) % len(ts)), t: t})
		}
		return s
	}
	for _, tc := range []struct {
		steps []step
		want  Kind
	}{
		{cyc(ww, ww), KindG0},
		{cyc(ww, wr), KindG1c},
		{cyc(wr, wr, wr), KindG1c},
		{cyc(rw, ww, wr), KindGSingle},
		{cyc(rw, rw), KindG2Item},
		{cyc(rw, ww, rw), KindG2Item}, // the last rw is adjacent to the first
		{cyc(rw, ww, rw, wr), KindGNonadjacent},
		{cyc(ww, rt), KindG0Realtime},
		{cyc(wr, rt), KindG1cRealtime},
		{cyc(rw, rt), KindGSingleRealtime},
		{cyc(rw, rt, rw, rt), KindGNonadjacentRealtime},
		{cyc(rw, rw, rt), KindG2ItemRealtime},
	} {
		if got := classify(tc.steps); got != tc.want {
			t.Errorf("%v: got %s, want %s", tc.steps, got, tc.want)
		}
	}
}
