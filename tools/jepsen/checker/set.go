package checker

import (
	"fmt"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Set checks the set workload: adds (F add, Value the element) and a
// final read (the last OK F read; its Elements, nil meaning empty).
//
//   - an add acknowledged (OK) before the final read was invoked must be in
//     it (else lost); one still running then may be absent;
//   - an element whose every add failed must not be (failed-add-read);
//   - an add that ended Info may be either (present: "recovered");
//   - an element never added must not be (unexpected), nor any element
//     twice (duplicate).
//
// No final read makes the result Unknown.
//
// Stats: "attempted", "acknowledged", "present" (in the final read),
// "recovered" (Info adds present), "concurrent" (OK adds that ended after
// the final read began, absent).
type Set struct{}

// setAdd is what the adds of one element came to.
type setAdd struct {
	ok, info, fail []history.Pair
}

// Check implements Checker.
func (Set) Check(h history.History) Result {
	rs := newResults("set")
	if !rs.validate(h) {
		return rs.done()
	}
	adds := map[int64]*setAdd{}
	var order []int64 // elements in first-add order
	var final *history.Pair
	for _, p := range h.Pairs() {
		switch p.Invoke.F {
		case history.FAdd:
			rs.r.Counts.add(p)
			if p.Invoke.Value == nil {
				continue
			}
			e := *p.Invoke.Value
			a := adds[e]
			if a == nil {
				a = &setAdd{}
				adds[e] = a
				order = append(order, e)
			}
			switch p.Outcome() {
			case history.OK:
				a.ok = append(a.ok, p)
			case history.Fail:
				a.fail = append(a.fail, p)
			default:
				a.info = append(a.info, p)
			}
		case history.FRead:
			rs.r.Counts.add(p)
			if p.Outcome() == history.OK {
				final = &p
			}
		}
	}
	rs.r.Stats["attempted"] = len(adds)
	if final == nil {
		rs.unknown("no successful final read")
		return rs.done()
	}
	readAt := final.Invoke.Index
	fop := final.Completion.Index
	present := map[int64]bool{}
	for _, e := range final.Completion.Elements {
		if present[e] {
			rs.add(Anomaly{Kind: KindDuplicate, Ops: opsOf(*final),
				Explanation: fmt.Sprintf("the final read (op %d) has element %d more than once", fop, e)})
			continue
		}
		present[e] = true
		a := adds[e]
		switch {
		case a == nil:
			rs.add(Anomaly{Kind: KindUnexpected, Ops: opsOf(*final),
				Explanation: fmt.Sprintf("the final read (op %d) has element %d, which no op added", fop, e)})
		case len(a.ok) == 0 && len(a.info) == 0:
			rs.add(Anomaly{Kind: KindFailedAddRead, Ops: opsOf(append(a.fail, *final)...),
				Explanation: fmt.Sprintf("the final read (op %d) has element %d, whose add failed (op %d: %s)",
					fop, e, a.fail[0].Completion.Index, a.fail[0].Completion.Error)})
		case len(a.ok) == 0:
			rs.r.Stats["recovered"]++
		}
	}
	rs.r.Stats["present"] = len(present)
	for _, e := range order {
		a := adds[e]
		if len(a.ok) == 0 {
			continue
		}
		rs.r.Stats["acknowledged"]++
		if present[e] {
			continue
		}
		first := a.ok[0]
		for _, p := range a.ok {
			if p.Completion.Index < first.Completion.Index {
				first = p
			}
		}
		if first.Completion.Index > readAt {
			rs.r.Stats["concurrent"]++
			continue
		}
		rs.add(Anomaly{Kind: KindLost, Ops: opsOf(first, *final),
			Explanation: fmt.Sprintf("element %d, added by op %d (OK), is missing from the final read (op %d, invoked at op %d)",
				e, first.Completion.Index, fop, readAt)})
	}
	return rs.done()
}
