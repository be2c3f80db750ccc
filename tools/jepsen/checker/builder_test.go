package checker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// builder writes histories by hand: invoke starts an op of a process,
// ok/fail/info complete it with the given results, run does both.
type builder struct {
	h history.History
}

func (b *builder) add(op history.Op) {
	op.Index = len(b.h)
	op.Time = time.Duration(len(b.h)) * time.Millisecond
	b.h = append(b.h, op)
}

// invoke starts op on process p. A transaction's read lists are dropped:
// they are results.
func (b *builder) invoke(p int, op history.Op) {
	op.Type, op.Process = history.Invoke, p
	if op.Txn != nil {
		op.Txn = slices.Clone(op.Txn)
		for i := range op.Txn {
			op.Txn[i].List = nil
		}
	}
	if op.F == history.FRead {
		op.Value, op.Balances, op.Elements = nil, nil, nil
	}
	b.add(op)
}

func (b *builder) complete(p int, t history.Type, op history.Op, err string) {
	op.Type, op.Process, op.Error = t, p, err
	b.add(op)
}

func (b *builder) ok(p int, op history.Op)               { b.complete(p, history.OK, op, "") }
func (b *builder) fail(p int, op history.Op, err string) { b.complete(p, history.Fail, op, err) }

// info completes op as indeterminate; the test must not use p again.
func (b *builder) info(p int, op history.Op) {
	b.complete(p, history.Info, op, "08006: connection lost")
}

// run invokes and completes op on p with outcome t.
func (b *builder) run(p int, t history.Type, op history.Op) {
	b.invoke(p, op)
	switch t {
	case history.Fail:
		b.fail(p, op, "40001: could not serialize access")
	case history.Info:
		b.info(p, op)
	default:
		b.ok(p, op)
	}
}

// both runs op0 on process 0 and op1 on process 1 concurrently, both OK.
func (b *builder) both(op0, op1 history.Op) {
	b.invoke(0, op0)
	b.invoke(1, op1)
	b.ok(0, op0)
	b.ok(1, op1)
}

// Register ops. read's v nil: no row.
func write(k, v int64) history.Op {
	return history.Op{F: history.FWrite, Key: k, Value: history.Int(v)}
}
func read(k int64, v *int64) history.Op {
	return history.Op{F: history.FRead, Key: k, Value: v}
}
func cas(k, old, new int64) history.Op {
	return history.Op{F: history.FCAS, Key: k, Old: history.Int(old), Value: history.Int(new)}
}

// List-append ops.
func txn(mops ...history.Mop) history.Op { return history.Op{F: history.FTxn, Txn: mops} }
func ap(k, v int64) history.Mop          { return history.Mop{F: history.MopAppend, Key: k, Value: v} }
func rd(k int64, list ...int64) history.Mop {
	if list == nil {
		list = []int64{}
	}
	return history.Mop{F: history.MopRead, Key: k, List: list}
}

// mustValid fails t unless r is valid.
func mustValid(t *testing.T, r Result) {
	t.Helper()
	if !r.Valid || r.Unknown || len(r.Anomalies) > 0 {
		t.Fatalf("want valid, got %s\n%s", r, explain(r))
	}
}

// mustFind fails t unless r is invalid with an anomaly of kind k, and
// returns the first.
func mustFind(t *testing.T, r Result, k Kind) Anomaly {
	t.Helper()
	if r.Valid {
		t.Fatalf("want %s, got valid: %s", k, r)
	}
	for _, a := range r.Anomalies {
		if a.Kind == k {
			t.Logf("%s", a)
			return a
		}
	}
	t.Fatalf("want %s, got %s\n%s", k, r, explain(r))
	return Anomaly{}
}

func explain(r Result) string {
	var b strings.Builder
	for _, a := range r.Anomalies {
		b.WriteString("  " + a.String() + "\n")
	}
	for _, a := range r.Allowed {
		b.WriteString("  allowed " + a.String() + "\n")
	}
	return b.String()
}

// checkValid fails t if h is malformed: hand-made histories must be.
func checkValid(t *testing.T, h history.History) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("test history: %v", err)
	}
}
