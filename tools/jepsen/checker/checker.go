package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Checker decides whether a history is correct under a model.
type Checker interface {
	// Check examines h and returns its verdict. h should satisfy
	// [history.History.Validate]; a malformed history makes the result
	// Unknown. Check does no I/O, does not modify h and is safe for
	// concurrent use; the Result holds copies of the ops it names and
	// shares no memory with h.
	Check(h history.History) Result
}

// Kind names an anomaly. The kinds are defined in the package comment.
type Kind string

// Register.
const (
	KindNonlinearizable Kind = "nonlinearizable"
)

// Bank.
const (
	KindWrongTotal        Kind = "wrong-total"
	KindNegativeBalance   Kind = "negative-balance"
	KindMissingAccount    Kind = "missing-account"
	KindUnexpectedAccount Kind = "unexpected-account"
)

// Set.
const (
	KindLost          Kind = "lost"
	KindUnexpected    Kind = "unexpected"
	KindFailedAddRead Kind = "failed-add-read"
	KindDuplicate     Kind = "duplicate"
)

// List-append: anomalies found without the dependency graph.
const (
	KindIncompatibleOrder Kind = "incompatible-order"
	KindDuplicateElements Kind = "duplicate-elements"
	KindInternal          Kind = "internal"
	KindG1a               Kind = "G1a"
	KindG1b               Kind = "G1b"
	KindUnknownElement    Kind = "unknown-element"
	KindLostUpdate        Kind = "lost-update"
)

// List-append: cycles of the dependency graph. The -realtime kinds are
// cycles that need at least one real-time edge.
const (
	KindG0                   Kind = "G0"
	KindG1c                  Kind = "G1c"
	KindGSingle              Kind = "G-single"
	KindGNonadjacent         Kind = "G-nonadjacent"
	KindG2Item               Kind = "G2-item"
	KindG0Realtime           Kind = "G0-realtime"
	KindG1cRealtime          Kind = "G1c-realtime"
	KindGSingleRealtime      Kind = "G-single-realtime"
	KindGNonadjacentRealtime Kind = "G-nonadjacent-realtime"
	KindG2ItemRealtime       Kind = "G2-item-realtime"
)

// Anomaly is one finding.
type Anomaly struct {
	Kind Kind `json:"kind"`
	// Ops are the ops involved: completions (an invocation when the op
	// never completed), in the order the explanation names them. For a
	// cycle, in cycle order.
	Ops []history.Op `json:"ops"`
	// Keys are the keys involved (register and list-append), if any.
	Keys []int64 `json:"keys,omitempty"`
	// Explanation says what was seen, in one line.
	Explanation string `json:"explanation"`
}

func (a Anomaly) String() string { return string(a.Kind) + ": " + a.Explanation }

// Counts counts the completions of the ops a checker looked at (an op
// still in flight when the history ended counts as Info).
type Counts struct {
	OK   int `json:"ok"`
	Fail int `json:"fail"`
	Info int `json:"info"`
}

func (c *Counts) add(p history.Pair) {
	switch p.Outcome() {
	case history.OK:
		c.OK++
	case history.Fail:
		c.Fail++
	default:
		c.Info++
	}
}

// Result is a checker's verdict.
//
// Exactly one of three states holds: valid (Valid, no Anomalies, not
// Unknown), invalid (Anomalies not empty) or unknown (Unknown, with
// Reason; Valid is false). Unknown is a failure to verify, never a pass.
// Allowed findings never affect Valid.
type Result struct {
	// Checker names the checker (register, bank, set, list-append).
	Checker string `json:"checker"`
	Valid   bool   `json:"valid"`
	// Unknown: the checker could not decide (a search ran out of time, the
	// history was malformed, nothing succeeded); Reason says why.
	Unknown bool   `json:"unknown,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Anomalies fail the check; Allowed are anomalies the consistency model
	// permits (G2-item under snapshot isolation), reported only. At most
	// [MaxPerKind] of each kind are listed; Stats counts them all.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	Allowed   []Anomaly `json:"allowed,omitempty"`
	Counts    Counts    `json:"counts"`
	// Stats are the checker's own counts: one entry per anomaly kind found
	// (every instance, listed or not), and checker-specific figures
	// documented on each checker.
	Stats map[string]int `json:"stats,omitempty"`
}

// MaxPerKind bounds how many anomalies of one kind a Result lists.
const MaxPerKind = 10

// String summarizes r in one line: the verdict, the anomaly kinds with
// their counts, the allowed ones and the op counts.
func (r Result) String() string {
	var b strings.Builder
	b.WriteString(r.Checker)
	switch {
	case r.Unknown:
		fmt.Fprintf(&b, ": UNKNOWN (%s)", r.Reason)
	case r.Valid:
		b.WriteString(": valid")
	default:
		b.WriteString(": INVALID")
	}
	kinds := func(as []Anomaly) string {
		var ks []string
		for _, a := range as {
			if !slices.Contains(ks, string(a.Kind)) {
				ks = append(ks, string(a.Kind))
			}
		}
		for i, k := range ks {
			ks[i] = fmt.Sprintf("%s ×%d", k, r.Stats[k])
		}
		return strings.Join(ks, ", ")
	}
	if len(r.Anomalies) > 0 {
		fmt.Fprintf(&b, "; anomalies: %s", kinds(r.Anomalies))
	}
	if len(r.Allowed) > 0 {
		fmt.Fprintf(&b, "; allowed: %s", kinds(r.Allowed))
	}
	fmt.Fprintf(&b, "; ok %d, fail %d, info %d", r.Counts.OK, r.Counts.Fail, r.Counts.Info)
	return b.String()
}

// results builds a Result.
type results struct {
	r Result
}

func newResults(name string) *results {
	return &results{r: Result{Checker: name, Stats: map[string]int{}}}
}

// add records a failing anomaly.
func (rs *results) add(a Anomaly) { rs.record(a, false) }

// allow records an anomaly the model permits.
func (rs *results) allow(a Anomaly) { rs.record(a, true) }

func (rs *results) record(a Anomaly, allowed bool) {
	rs.r.Stats[string(a.Kind)]++
	if rs.r.Stats[string(a.Kind)] > MaxPerKind {
		return
	}
	if allowed {
		rs.r.Allowed = append(rs.r.Allowed, a)
	} else {
		rs.r.Anomalies = append(rs.r.Anomalies, a)
	}
}

// unknown marks the result undecided; the first reason is kept.
func (rs *results) unknown(format string, args ...any) {
	if !rs.r.Unknown {
		rs.r.Unknown = true
		rs.r.Reason = fmt.Sprintf(format, args...)
	}
}

// found reports whether an anomaly of kind k was recorded.
func (rs *results) found(k Kind) bool { return rs.r.Stats[string(k)] > 0 }

// done fills in Valid and returns the result.
func (rs *results) done() Result {
	if rs.r.Counts.OK == 0 && !rs.r.Unknown && len(rs.r.Anomalies) == 0 {
		rs.unknown("no operation succeeded: nothing to verify")
	}
	rs.r.Valid = !rs.r.Unknown && len(rs.r.Anomalies) == 0
	return rs.r
}

// validate marks the result Unknown when h is malformed and reports
// whether it is well formed.
func (rs *results) validate(h history.History) bool {
	if err := h.Validate(); err != nil {
		rs.unknown("malformed history: %v", err)
		return false
	}
	return true
}

// completion returns the op that stands for p in a report: its completion,
// or its invocation when it never completed.
func completion(p history.Pair) *history.Op {
	if p.Completion != nil {
		return p.Completion
	}
	return p.Invoke
}

// opsOf copies the ops that stand for pairs.
func opsOf(pairs ...history.Pair) []history.Op {
	out := make([]history.Op, len(pairs))
	for i, p := range pairs {
		out[i] = cloneOp(*completion(p))
	}
	return out
}

// cloneOp copies op deeply, so a Result shares nothing with its history.
func cloneOp(op history.Op) history.Op {
	if op.Value != nil {
		op.Value = history.Int(*op.Value)
	}
	if op.Old != nil {
		op.Old = history.Int(*op.Old)
	}
	if op.Balances != nil {
		b := make(map[int64]int64, len(op.Balances))
		for k, v := range op.Balances {
			b[k] = v
		}
		op.Balances = b
	}
	op.Elements = slices.Clone(op.Elements)
	if op.Txn != nil {
		txn := make([]history.Mop, len(op.Txn))
		for i, m := range op.Txn {
			m.List = slices.Clone(m.List)
			txn[i] = m
		}
		op.Txn = txn
	}
	return op
}

// listString formats a list as [1 2 3], eliding the middle of a long one.
func listString(l []int64) string {
	const keep = 6
	if len(l) <= 2*keep {
		return fmt.Sprint(l)
	}
	head := strings.Trim(fmt.Sprint(l[:keep]), "[]")
	tail := strings.Trim(fmt.Sprint(l[len(l)-keep:]), "[]")
	return fmt.Sprintf("[%s … (%d more) … %s]", head, len(l)-2*keep, tail)
}
