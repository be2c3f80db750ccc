package checker

import (
	"fmt"
	"slices"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Bank checks the bank workload's reads (F read with Balances): every OK
// read shows exactly the configured accounts, no negative balance, and
// balances that sum to Total. Transfers are only counted: whatever they
// did, a read must see the invariant hold.
//
// No successful read makes the result Unknown.
//
// Stats: "reads" checked.
type Bank struct {
	Accounts []int64
	Total    int64
}

// Check implements Checker.
func (c Bank) Check(h history.History) Result {
	rs := newResults("bank")
	if len(c.Accounts) == 0 {
		rs.unknown("bank: no accounts configured")
		return rs.done()
	}
	if !rs.validate(h) {
		return rs.done()
	}
	known := map[int64]bool{}
	for _, a := range c.Accounts {
		known[a] = true
	}
	for _, p := range h.Pairs() {
		if p.Invoke.F != history.FRead && p.Invoke.F != history.FTransfer {
			continue
		}
		rs.r.Counts.add(p)
		if p.Invoke.F != history.FRead || p.Outcome() != history.OK {
			continue
		}
		rs.r.Stats["reads"]++
		checkBankRead(rs, p, c.Accounts, known, c.Total)
	}
	if rs.r.Stats["reads"] == 0 {
		rs.unknown("no successful read")
	}
	return rs.done()
}

// checkBankRead records the anomalies of one OK read.
func checkBankRead(rs *results, p history.Pair, accounts []int64, known map[int64]bool, total int64) {
	bal := p.Completion.Balances
	var missing, extra, negative []int64
	var sum int64
	for _, a := range accounts {
		if _, ok := bal[a]; !ok {
			missing = append(missing, a)
		}
	}
	for a, v := range bal {
		sum += v
		if !known[a] {
			extra = append(extra, a)
		}
		if v < 0 {
			negative = append(negative, a)
		}
	}
	slices.Sort(extra)
	slices.Sort(negative)
	op := p.Completion.Index
	if len(missing) > 0 {
		rs.add(Anomaly{Kind: KindMissingAccount, Ops: opsOf(p), Keys: missing,
			Explanation: fmt.Sprintf("op %d read no balance for account(s) %v", op, missing)})
	}
	if len(extra) > 0 {
		rs.add(Anomaly{Kind: KindUnexpectedAccount, Ops: opsOf(p), Keys: extra,
			Explanation: fmt.Sprintf("op %d read account(s) %v, which the test never created", op, extra)})
	}
	for _, a := range negative {
		rs.add(Anomaly{Kind: KindNegativeBalance, Ops: opsOf(p), Keys: []int64{a},
			Explanation: fmt.Sprintf("op %d read balance %d for account %d", op, bal[a], a)})
	}
	// A read with missing accounts cannot have the total: not reported twice.
	if sum != total && len(missing) == 0 {
		rs.add(Anomaly{Kind: KindWrongTotal, Ops: opsOf(p),
			Explanation: fmt.Sprintf("op %d read balances summing to %d, not %d (%d accounts read)", op, sum, total, len(bal))})
	}
}
