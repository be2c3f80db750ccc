package checker

import (
	"fmt"
	"slices"
	"sort"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// edgeType is a set of dependency types: an edge of the graph may stand
// for several.
type edgeType uint8

const (
	ww edgeType = 1 << iota // write-write: the target appended the next version
	wr                      // write-read: the target read the source's append
	rw                      // read-write (anti-dependency): the target appended the version after the one the source read
	rt                      // real time: the source completed before the target was invoked

	dataEdges = ww | wr | rw
	allEdges  = dataEdges | rt
)

// maxUnobservedEdges bounds, per key, the rw edges from readers of the
// whole version order to transactions whose appends no one read.
const maxUnobservedEdges = 1 << 16

// edgeID names one dependency between two nodes.
type edgeID struct {
	from, to int32
	t        edgeType
}

// witness is why a data dependency holds: on key, a is the element read or
// overwritten (none when !hasA: the key was empty), b the element appended.
type witness struct {
	key      int64
	a, b     int64
	hasA     bool
	unobserv bool // b was never read: it comes after the whole version order
}

// graph is the dependency graph in compressed sparse rows: node u's edges
// are to[start[u]:start[u+1]], sorted by target, with their types in mask.
type graph struct {
	n     int
	start []int32
	to    []int32
	mask  []edgeType
	why   map[edgeID]witness
	txn   []int32 // node → transaction
	time  []int   // node → completion index (invocation for Info)
}

// edges returns u's targets and their types.
func (g *graph) edges(u int32) ([]int32, []edgeType) {
	return g.to[g.start[u]:g.start[u+1]], g.mask[g.start[u]:g.start[u+1]]
}

// maskOf returns the types of the edge u → v (0: none).
func (g *graph) maskOf(u, v int32) edgeType {
	to, mask := g.edges(u)
	i := sort.Search(len(to), func(i int) bool { return to[i] >= v })
	if i < len(to) && to[i] == v {
		return mask[i]
	}
	return 0
}

// graphBuilder collects edges.
type graphBuilder struct {
	edges []edgeID
	why   map[edgeID]witness
}

func (b *graphBuilder) add(u, v int32, t edgeType, w witness) {
	if u < 0 || v < 0 || u == v {
		return
	}
	id := edgeID{u, v, t}
	if t != rt {
		if _, ok := b.why[id]; ok {
			return
		}
		b.why[id] = w
	}
	b.edges = append(b.edges, id)
}

func (b *graphBuilder) build(n int) *graph {
	slices.SortFunc(b.edges, func(x, y edgeID) int {
		if x.from != y.from {
			return int(x.from - y.from)
		}
		return int(x.to - y.to)
	})
	g := &graph{n: n, start: make([]int32, n+1), why: b.why}
	last := edgeID{from: -1, to: -1}
	for _, e := range b.edges {
		if e.from == last.from && e.to == last.to {
			g.mask[len(g.mask)-1] |= e.t
			continue
		}
		last = e
		g.to = append(g.to, e.to)
		g.mask = append(g.mask, e.t)
		g.start[e.from+1]++
	}
	for u := 1; u <= n; u++ {
		g.start[u] += g.start[u-1]
	}
	return g
}

// buildGraph makes the dependency graph over the committed transactions
// and the Info ones whose appends someone read. hlen is the history's
// length.
func (a *listAnalysis) buildGraph(hlen int) *graph {
	var nodeTxn []int32
	var nodeTime []int
	for i := range a.txns {
		t := &a.txns[i]
		in := t.outcome == history.OK
		if t.outcome == history.Info {
			for _, m := range t.mops {
				in = in || (m.F == history.MopAppend && a.observed[elem{m.Key, m.Value}])
			}
		}
		if !in {
			continue
		}
		t.node = int32(len(nodeTxn))
		nodeTxn = append(nodeTxn, int32(i))
		if t.outcome == history.OK {
			nodeTime = append(nodeTime, t.completed)
		} else {
			nodeTime = append(nodeTime, t.invoked)
		}
	}
	b := &graphBuilder{why: map[edgeID]witness{}}
	a.dataEdges(b)
	if a.c.RealTime {
		a.realtimeEdges(b, hlen)
	}
	g := b.build(len(nodeTxn))
	g.txn, g.time = nodeTxn, nodeTime
	a.rs.r.Stats["nodes"] = g.n
	a.rs.r.Stats["edges"] = len(g.to)
	return g
}

// nodeOf returns the node of the transaction that appended e, -1 if none.
func (a *listAnalysis) nodeOf(e elem) int32 {
	w, ok := a.appends[e]
	if !ok {
		return -1
	}
	return a.txns[w.txn].node
}

// dataEdges adds the ww, wr and rw edges.
func (a *listAnalysis) dataEdges(b *graphBuilder) {
	// Per key: the committed appends no read saw. They come after the whole
	// version order (a list only grows, and no read has them).
	unobserved := map[int64][]int64{}
	for k, vs := range a.keyAdds {
		for _, v := range vs {
			e := elem{k, v}
			if !a.observed[e] && a.nodeOf(e) >= 0 {
				unobserved[k] = append(unobserved[k], v)
			}
		}
	}
	// ww: consecutive versions; then the last version to each unobserved.
	for k, l := range a.order {
		if a.noOrder[k] {
			continue
		}
		for i := 1; i < len(l); i++ {
			b.add(a.nodeOf(elem{k, l[i-1]}), a.nodeOf(elem{k, l[i]}), ww,
				witness{key: k, a: l[i-1], b: l[i], hasA: true})
		}
		if len(l) > 0 {
			last := l[len(l)-1]
			for _, v := range unobserved[k] {
				b.add(a.nodeOf(elem{k, last}), a.nodeOf(elem{k, v}), ww,
					witness{key: k, a: last, b: v, hasA: true, unobserv: true})
			}
		}
	}
	// wr and rw, from external reads.
	atEnd := map[int64][]int{} // key → reads of the whole version order
	for i, r := range a.reads {
		if !r.external {
			continue
		}
		t := a.txns[r.txn].node
		w := witness{key: r.key}
		if n := len(r.list); n > 0 {
			w.a, w.hasA = r.list[n-1], true
			b.add(a.nodeOf(elem{r.key, w.a}), t, wr, w)
		}
		if !r.prefix || a.noOrder[r.key] {
			continue
		}
		l := a.order[r.key]
		if len(r.list) < len(l) {
			w.b = l[len(r.list)]
			b.add(t, a.nodeOf(elem{r.key, w.b}), rw, w)
			continue
		}
		atEnd[r.key] = append(atEnd[r.key], i)
	}
	for k, rs := range atEnd {
		us := unobserved[k]
		if len(rs)*len(us) > maxUnobservedEdges {
			a.rs.r.Stats["unobserved-skipped"]++
			continue
		}
		for _, i := range rs {
			r := a.reads[i]
			w := witness{key: k, unobserv: true}
			if n := len(r.list); n > 0 {
				w.a, w.hasA = r.list[n-1], true
			}
			for _, v := range us {
				w.b = v
				b.add(a.txns[r.txn].node, a.nodeOf(elem{k, v}), rw, w)
			}
		}
	}
}

// realtimeEdges adds T1 → T2 for every T1 that completed OK before T2 was
// invoked, without the edges real-time order implies transitively: T2
// gets an edge from each transaction of the frontier (those completed and
// not yet followed by a completed successor) when it is invoked, and on
// completing replaces its predecessors in the frontier.
func (a *listAnalysis) realtimeEdges(b *graphBuilder, hlen int) {
	type event struct {
		txn      int32
		complete bool
	}
	events := make([]event, hlen)
	for i := range events {
		events[i].txn = -1
	}
	for i := range a.txns {
		t := &a.txns[i]
		if t.node < 0 {
			continue
		}
		events[t.invoked] = event{txn: int32(i)}
		if t.outcome == history.OK {
			events[t.completed] = event{txn: int32(i), complete: true}
		}
	}
	var frontier []int32
	inFrontier := map[int32]bool{}
	preds := map[int32][]int32{} // node → the frontier at its invocation
	for _, ev := range events {
		if ev.txn < 0 {
			continue
		}
		u := a.txns[ev.txn].node
		if !ev.complete {
			preds[u] = slices.Clone(frontier)
			for _, p := range frontier {
				b.add(p, u, rt, witness{})
			}
			continue
		}
		for _, p := range preds[u] {
			delete(inFrontier, p)
		}
		delete(preds, u)
		kept := frontier[:0]
		for _, p := range frontier {
			if inFrontier[p] {
				kept = append(kept, p)
			}
		}
		frontier = append(kept, u)
		inFrontier[u] = true
	}
}

// describe explains the edge u → v as type t.
func (a *listAnalysis) describe(g *graph, u, v int32, t edgeType) string {
	tu, tv := &a.txns[g.txn[u]], &a.txns[g.txn[v]]
	if t == rt {
		return fmt.Sprintf("%s → %s (rt: %s completed at op %d, before %s was invoked at op %d)",
			tu.label(), tv.label(), tu.label(), tu.completed, tv.label(), tv.invoked)
	}
	w := g.why[edgeID{u, v, t}]
	read := "nothing"
	if w.hasA {
		read = fmt.Sprintf("a list ending with %d", w.a)
	}
	var what string
	switch t {
	case ww:
		what = fmt.Sprintf("ww on key %d: %s appended %d after %s's %d", w.key, tv.label(), w.b, tu.label(), w.a)
		if w.unobserv {
			what += " (never read, so after every version read)"
		}
	case wr:
		what = fmt.Sprintf("wr on key %d: %s read %s's append of %d", w.key, tv.label(), tu.label(), w.a)
	case rw:
		what = fmt.Sprintf("rw on key %d: %s read %s, %s appended %d after it", w.key, tu.label(), read, tv.label(), w.b)
		if w.unobserv {
			what += " (never read, so after every version read)"
		}
	}
	return fmt.Sprintf("%s → %s (%s)", tu.label(), tv.label(), what)
}
