package checker

import (
	"slices"
	"testing"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

func transfer(from, to, amount int64) history.Op {
	return history.Op{F: history.FTransfer, From: from, To: to, Amount: amount}
}

func balances(b map[int64]int64) history.Op { return history.Op{F: history.FRead, Balances: b} }

var bank = Bank{Accounts: []int64{0, 1, 2}, Total: 300}

func TestBankValid(t *testing.T) {
	var b builder
	b.run(0, history.OK, balances(map[int64]int64{0: 100, 1: 100, 2: 100}))
	b.run(0, history.OK, transfer(0, 1, 30))
	b.run(1, history.Fail, transfer(2, 1, 500))
	b.invoke(1, transfer(1, 2, 10))
	b.info(1, transfer(1, 2, 10))
	b.run(0, history.OK, balances(map[int64]int64{0: 70, 1: 120, 2: 110}))
	b.run(0, history.Fail, balances(nil))
	checkValid(t, b.h)
	r := bank.Check(b.h)
	mustValid(t, r)
	if r.Counts != (Counts{OK: 3, Fail: 2, Info: 1}) || r.Stats["reads"] != 2 {
		t.Fatalf("counts %+v, stats %v", r.Counts, r.Stats)
	}
}

func TestBankAnomalies(t *testing.T) {
	for _, tc := range []struct {
		name string
		read map[int64]int64
		want Kind
		keys []int64
	}{
		{"wrong-total", map[int64]int64{0: 70, 1: 100, 2: 100}, KindWrongTotal, nil},
		{"negative-balance", map[int64]int64{0: -10, 1: 210, 2: 100}, KindNegativeBalance, []int64{0}},
		{"missing-account", map[int64]int64{0: 150, 1: 150}, KindMissingAccount, []int64{2}},
		{"unexpected-account", map[int64]int64{0: 100, 1: 100, 2: 100, 7: 0}, KindUnexpectedAccount, []int64{7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b builder
			b.run(0, history.OK, balances(map[int64]int64{0: 100, 1: 100, 2: 100}))
			b.run(0, history.OK, transfer(0, 1, 30))
			b.run(1, history.OK, balances(tc.read))
			r := bank.Check(b.h)
			a := mustFind(t, r, tc.want)
			if len(r.Anomalies) != 1 || !slices.Equal(a.Keys, tc.keys) || a.Ops[0].Index != 5 {
				t.Fatalf("want one %s of op 5 on %v, got %s\n%s", tc.want, tc.keys, r, explain(r))
			}
		})
	}
}

func TestBankUnknown(t *testing.T) {
	var b builder
	b.run(0, history.OK, transfer(0, 1, 30))
	b.run(0, history.Fail, balances(nil))
	if r := bank.Check(b.h); r.Valid || !r.Unknown {
		t.Fatalf("no successful read: want unknown, got %s", r)
	}
	if r := (Bank{}).Check(b.h); r.Valid || !r.Unknown {
		t.Fatalf("no accounts: want unknown, got %s", r)
	}
}
