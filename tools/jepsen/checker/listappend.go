package checker

import (
	"fmt"
	"math"
	"slices"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Model is a consistency model the list-append checker holds a history to.
type Model string

// The models. Both forbid G0, G1a, G1b, G1c, G-single, G-nonadjacent and
// lost updates; snapshot isolation allows G2-item (reported in
// Result.Allowed), serializability does not.
const (
	SnapshotIsolation Model = "snapshot-isolation"
	Serializable      Model = "serializable"
)

// ListAppend is an Elle-style checker (Kingsbury & Alvaro, "Elle:
// Inferring Isolation Anomalies from Experimental Observations", 2020) for
// transactions (F txn) of appends to and reads of lists: it infers each
// key's version order from the reads, finds the anomalies a single read or
// transaction shows, builds the dependency graph of the transactions and
// searches it for cycles. See the package comment for the anomalies.
//
// Appended values must be unique per key; a history where they are not
// cannot be analyzed and is Unknown.
//
// Stats: "txns", "nodes" (transactions in the graph), "edges", "sccs"
// (strongly connected components of more than one transaction) and
// "unobserved-skipped" (keys whose unobserved appends were too many to
// link to their readers; a loss of power, not of soundness).
type ListAppend struct {
	// Model is SnapshotIsolation (the default when empty) or Serializable.
	Model Model
	// RealTime adds real-time edges (T1 → T2 when T1 completed before T2
	// was invoked): cycles that need one are reported as the -realtime
	// kinds (a G-single-realtime is typically a stale read). Use it for
	// databases that promise strong (strict) isolation.
	RealTime bool
	// SearchBudget bounds the edges the cycle search may visit; running
	// out makes the result Unknown. Default 500 million.
	SearchBudget int64
}

const defaultSearchBudget = 500_000_000

// Validate reports what is wrong with c's options.
func (c ListAppend) Validate() error {
	switch c.Model {
	case "", SnapshotIsolation, Serializable:
		return nil
	}
	return fmt.Errorf("checker: unknown consistency model %q (want %q or %q)", c.Model, SnapshotIsolation, Serializable)
}

// forbidden reports whether c's model fails a history with an anomaly of
// kind k.
func (c ListAppend) forbidden(k Kind) bool {
	if c.Model == Serializable {
		return true
	}
	return k != KindG2Item && k != KindG2ItemRealtime
}

// elem is one appended value of one key.
type elem struct{ k, v int64 }

// appendRef says which transaction appended an element.
type appendRef struct {
	txn   int32
	final bool // the transaction's last append to the key
}

// laTxn is one transaction of the history.
type laTxn struct {
	pair    history.Pair
	outcome history.Type
	mops    []history.Mop // the completion's for OK, else the invocation's
	node    int32         // in the dependency graph; -1 when not in it
	// invoked and completed are history indexes; completed is MaxInt for a
	// transaction that did not complete OK (it may take effect at any time).
	invoked, completed int
}

// laRead is one read of an OK transaction.
type laRead struct {
	txn  int32
	key  int64
	list []int64
	// external: the transaction's first access to the key, so it read
	// other transactions' state.
	external bool
	// prefix: the list is a prefix of the key's version order.
	prefix bool
}

// listAnalysis is the state of one Check.
type listAnalysis struct {
	c  ListAppend
	rs *results

	txns     []laTxn
	appends  map[elem]appendRef
	keyAdds  map[int64][]int64 // key → values appended, in history order
	reads    []laRead
	observed map[elem]bool     // elements in some OK read
	order    map[int64][]int64 // key → version order: the longest read
	// noOrder marks keys whose longest read has a duplicate element: no
	// dependency is inferred from them.
	noOrder map[int64]bool
}

func (t *laTxn) label() string { return fmt.Sprintf("T%d", completion(t.pair).Index) }

// Check implements Checker.
func (c ListAppend) Check(h history.History) Result {
	rs := newResults("list-append")
	if err := c.Validate(); err != nil {
		rs.unknown("%v", err)
		return rs.done()
	}
	if !rs.validate(h) {
		return rs.done()
	}
	a := &listAnalysis{c: c, rs: rs, appends: map[elem]appendRef{}, keyAdds: map[int64][]int64{},
		observed: map[elem]bool{}, order: map[int64][]int64{}, noOrder: map[int64]bool{}}
	a.collect(h)
	rs.r.Stats["txns"] = len(a.txns)
	if !a.indexAppends() {
		return rs.done()
	}
	a.collectReads()
	a.checkReads()
	a.versionOrders()
	a.checkIntermediate()
	a.checkLostUpdates()
	g := a.buildGraph(len(h))
	a.searchCycles(g)
	return rs.done()
}

// collect gathers the transactions.
func (a *listAnalysis) collect(h history.History) {
	for _, p := range h.Pairs() {
		if p.Invoke.F != history.FTxn {
			continue
		}
		a.rs.r.Counts.add(p)
		t := laTxn{pair: p, outcome: p.Outcome(), mops: p.Invoke.Txn, node: -1,
			invoked: p.Invoke.Index, completed: math.MaxInt}
		if t.outcome == history.OK {
			t.mops = p.Completion.Txn
			t.completed = p.Completion.Index
		}
		a.txns = append(a.txns, t)
	}
}

// indexAppends records who appended each element; it marks the result
// Unknown and returns false when an element was appended twice.
func (a *listAnalysis) indexAppends() bool {
	for i := range a.txns {
		t := &a.txns[i]
		last := map[int64]int64{}
		for _, m := range t.mops {
			if m.F != history.MopAppend {
				continue
			}
			e := elem{m.Key, m.Value}
			if prev, dup := a.appends[e]; dup {
				a.rs.unknown("element %d of key %d appended twice (%s and %s): values must be unique per key",
					m.Value, m.Key, a.txns[prev.txn].label(), t.label())
				return false
			}
			a.appends[e] = appendRef{txn: int32(i)}
			a.keyAdds[m.Key] = append(a.keyAdds[m.Key], m.Value)
			last[m.Key] = m.Value
		}
		for k, v := range last {
			r := a.appends[elem{k, v}]
			r.final = true
			a.appends[elem{k, v}] = r
		}
	}
	return true
}

// collectReads gathers the reads of OK transactions and checks each
// transaction's internal consistency: a read sees what the transaction's
// earlier reads and appends to the key imply.
func (a *listAnalysis) collectReads() {
	type keyState struct {
		known bool    // list is the key's whole state in the transaction
		list  []int64 // when known
		own   []int64 // appends before any read, when not known
	}
	for i := range a.txns {
		t := &a.txns[i]
		if t.outcome != history.OK {
			continue
		}
		state := map[int64]*keyState{}
		for _, m := range t.mops {
			st := state[m.Key]
			if m.F == history.MopAppend {
				if st == nil {
					st = &keyState{}
					state[m.Key] = st
				}
				if st.known {
					st.list = append(slices.Clip(st.list), m.Value)
				} else {
					st.own = append(st.own, m.Value)
				}
				continue
			}
			if m.F != history.MopRead {
				continue
			}
			list := m.List
			if list == nil {
				list = []int64{} // JSON drops an empty list
			}
			a.reads = append(a.reads, laRead{txn: int32(i), key: m.Key, list: list, external: st == nil})
			switch {
			case st == nil:
				state[m.Key] = &keyState{known: true, list: list}
			case st.known:
				if !slices.Equal(list, st.list) {
					a.internal(t, m.Key, list, fmt.Sprintf("expected %s from its earlier ops", listString(st.list)))
				}
				st.list = list
			default:
				if len(list) < len(st.own) || !slices.Equal(list[len(list)-len(st.own):], st.own) {
					a.internal(t, m.Key, list, fmt.Sprintf("expected a list ending with its own appends %v", st.own))
				}
				st.known, st.list = true, list
			}
		}
	}
}

func (a *listAnalysis) internal(t *laTxn, key int64, list []int64, why string) {
	a.rs.add(Anomaly{Kind: KindInternal, Ops: opsOf(t.pair), Keys: []int64{key},
		Explanation: fmt.Sprintf("%s read key %d = %s, but %s", t.label(), key, listString(list), why)})
}

// checkReads finds duplicate elements, elements no one appended and
// elements of failed transactions (G1a) in every read, and records which
// elements were observed.
func (a *listAnalysis) checkReads() {
	type pairKey struct{ reader, writer int32 }
	g1a := map[pairKey]bool{}
	for _, r := range a.reads {
		t := &a.txns[r.txn]
		seen := make(map[int64]bool, len(r.list))
		for _, v := range r.list {
			if seen[v] {
				a.rs.add(Anomaly{Kind: KindDuplicateElements, Ops: opsOf(t.pair), Keys: []int64{r.key},
					Explanation: fmt.Sprintf("%s read key %d = %s, with %d more than once", t.label(), r.key, listString(r.list), v)})
				break
			}
			seen[v] = true
		}
		for _, v := range r.list {
			e := elem{r.key, v}
			a.observed[e] = true
			w, ok := a.appends[e]
			if !ok {
				a.rs.add(Anomaly{Kind: KindUnknownElement, Ops: opsOf(t.pair), Keys: []int64{r.key},
					Explanation: fmt.Sprintf("%s read key %d = %s, with %d, which no transaction appended", t.label(), r.key, listString(r.list), v)})
				continue
			}
			wt := &a.txns[w.txn]
			if wt.outcome == history.Fail && !g1a[pairKey{r.txn, w.txn}] {
				g1a[pairKey{r.txn, w.txn}] = true
				a.rs.add(Anomaly{Kind: KindG1a, Ops: opsOf(t.pair, wt.pair), Keys: []int64{r.key},
					Explanation: fmt.Sprintf("%s read key %d = %s, with %d, appended by %s, which failed (%s)",
						t.label(), r.key, listString(r.list), v, wt.label(), wt.pair.Completion.Error)})
			}
		}
	}
}

// versionOrders takes each key's longest read as its version order and
// checks that every other read is a prefix of it.
func (a *listAnalysis) versionOrders() {
	longest := map[int64]int{} // key → index of its longest read
	for i, r := range a.reads {
		if j, ok := longest[r.key]; !ok || len(r.list) > len(a.reads[j].list) {
			longest[r.key] = i
		}
	}
	for k, i := range longest {
		l := a.reads[i].list
		a.order[k] = l
		seen := make(map[int64]bool, len(l))
		for _, v := range l {
			if seen[v] {
				a.noOrder[k] = true
				break
			}
			seen[v] = true
		}
	}
	reported := map[int64]int{}
	for i := range a.reads {
		r := &a.reads[i]
		l := a.order[r.key]
		r.prefix = slices.Equal(r.list, l[:len(r.list)])
		if r.prefix {
			continue
		}
		// Report a key's first few disagreements; the stats count all.
		reported[r.key]++
		if reported[r.key] > 3 {
			a.rs.r.Stats[string(KindIncompatibleOrder)]++
			continue
		}
		lt := &a.txns[a.reads[longest[r.key]].txn]
		t := &a.txns[r.txn]
		a.rs.add(Anomaly{Kind: KindIncompatibleOrder, Ops: opsOf(t.pair, lt.pair), Keys: []int64{r.key},
			Explanation: fmt.Sprintf("%s read key %d = %s, which is not a prefix of %s read by %s",
				t.label(), r.key, listString(r.list), listString(l), lt.label())})
	}
}

// checkIntermediate finds G1b: a read whose last element is another
// transaction's append that was not its last to the key.
func (a *listAnalysis) checkIntermediate() {
	for _, r := range a.reads {
		if !r.external || len(r.list) == 0 {
			continue
		}
		v := r.list[len(r.list)-1]
		w, ok := a.appends[elem{r.key, v}]
		if !ok || w.final || w.txn == r.txn {
			continue
		}
		t, wt := &a.txns[r.txn], &a.txns[w.txn]
		a.rs.add(Anomaly{Kind: KindG1b, Ops: opsOf(t.pair, wt.pair), Keys: []int64{r.key},
			Explanation: fmt.Sprintf("%s read key %d = %s, ending with %d, an intermediate append of %s (which appended to key %d again later)",
				t.label(), r.key, listString(r.list), v, wt.label(), r.key)})
	}
}

// checkLostUpdates finds committed transactions that read the same
// version of a key and both appended to it.
func (a *listAnalysis) checkLostUpdates() {
	type version struct {
		key   int64
		last  int64
		empty bool
	}
	readers := map[version][]int32{}
	var versions []version
	for _, r := range a.reads {
		if !r.external {
			continue
		}
		t := &a.txns[r.txn]
		appends := false
		for _, m := range t.mops {
			appends = appends || (m.F == history.MopAppend && m.Key == r.key)
		}
		if !appends {
			continue
		}
		ver := version{key: r.key, empty: len(r.list) == 0}
		if !ver.empty {
			ver.last = r.list[len(r.list)-1]
		}
		if readers[ver] == nil {
			versions = append(versions, ver)
		}
		readers[ver] = append(readers[ver], r.txn)
	}
	for _, ver := range versions {
		ts := readers[ver]
		if len(ts) < 2 {
			continue
		}
		var pairs []history.Pair
		var labels []string
		for _, i := range ts {
			pairs = append(pairs, a.txns[i].pair)
			labels = append(labels, a.txns[i].label())
		}
		read := "nothing"
		if !ver.empty {
			read = fmt.Sprintf("a list ending with %d", ver.last)
		}
		a.rs.add(Anomaly{Kind: KindLostUpdate, Ops: opsOf(pairs...), Keys: []int64{ver.key},
			Explanation: fmt.Sprintf("%v all read key %d = %s and then appended to it, all committed", labels, ver.key, read)})
	}
}
