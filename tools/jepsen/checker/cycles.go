package checker

import (
	"container/heap"
	"fmt"
	"strings"
)

// Cycle search. The graph's strongly connected components (Tarjan) hold
// every cycle; each component of more than one transaction is searched in
// stages, from the most severe anomaly to the least, each stage looking for
// a short cycle (breadth-first) in a subgraph:
//
//	G0        ww edges only
//	G1c       ww and wr, through a wr edge
//	G-single  one rw edge back to its source over ww and wr
//	G2-item   any data cycle, through an rw edge (so, no G-single left:
//	          two rw edges at least; G-nonadjacent when no two are adjacent)
//	-realtime the same with rt edges, through an rt edge
//
// G2-item and the real-time stages run only in components where no
// forbidden cycle was found. A stage reports at most one cycle per
// component it searches.
//
// The G-single stage asks, for each rw edge u → v, whether v reaches u
// over ww and wr edges. It condenses the component's ww/wr subgraph into a
// DAG whose topological order follows completion time (Kahn's algorithm
// with the earliest component first), so a path from v to u stays within
// the components between v's and u's in that order: a short window when u
// and v were concurrent, as rw edges between valid transactions are.

// nodeSet is a set of nodes, cleared in O(1) by a new stamp.
type nodeSet struct {
	stamp []int32
	cur   int32
}

func newNodeSet(n int) nodeSet { return nodeSet{stamp: make([]int32, n)} }

func (s *nodeSet) reset(nodes []int32) {
	s.cur++
	for _, x := range nodes {
		s.stamp[x] = s.cur
	}
}

func (s *nodeSet) has(x int32) bool { return s.stamp[x] == s.cur }

// searcher holds the scratch space of one search.
type searcher struct {
	g         *graph
	budget    int64 // edge visits left
	exhausted bool

	set, sub nodeSet // the component searched; a sub-component
	comp     []int32 // node → component, from the last sccs call

	// Tarjan.
	index, low []int32
	onStack    []bool
	visited    nodeSet
	// BFS.
	seen   nodeSet
	parent []int32
}

func newSearcher(g *graph, budget int64) *searcher {
	return &searcher{
		g: g, budget: budget,
		set: newNodeSet(g.n), sub: newNodeSet(g.n), comp: make([]int32, g.n),
		index: make([]int32, g.n), low: make([]int32, g.n), onStack: make([]bool, g.n),
		visited: newNodeSet(g.n), seen: newNodeSet(g.n), parent: make([]int32, g.n),
	}
}

// spend takes n edge visits from the budget and reports whether any were
// left.
func (s *searcher) spend(n int) bool {
	s.budget -= int64(n)
	if s.budget < 0 {
		s.exhausted = true
	}
	return !s.exhausted
}

// sccs returns the strongly connected components of the subgraph of the
// nodes in s.set with edges of types m (every component, singletons
// included), and sets s.comp for those nodes. Components come in reverse
// topological order.
func (s *searcher) sccs(nodes []int32, m edgeType) [][]int32 {
	type frame struct {
		u int32
		e int32 // next edge
	}
	var comps [][]int32
	var stack []int32
	var frames []frame
	var counter int32
	s.visited.reset(nil)
	for _, root := range nodes {
		if s.visited.has(root) {
			continue
		}
		push := func(u int32) {
			s.visited.stamp[u] = s.visited.cur
			s.index[u], s.low[u] = counter, counter
			counter++
			stack = append(stack, u)
			s.onStack[u] = true
			frames = append(frames, frame{u: u, e: s.g.start[u]})
		}
		push(root)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			u := f.u
			descended := false
			for f.e < s.g.start[u+1] {
				v, mask := s.g.to[f.e], s.g.mask[f.e]
				f.e++
				if mask&m == 0 || !s.set.has(v) {
					continue
				}
				if !s.visited.has(v) {
					push(v)
					descended = true
					break
				}
				if s.onStack[v] {
					s.low[u] = min(s.low[u], s.index[v])
				}
			}
			if descended {
				continue
			}
			s.spend(int(s.g.start[u+1] - s.g.start[u]))
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				p := frames[len(frames)-1].u
				s.low[p] = min(s.low[p], s.low[u])
			}
			if s.low[u] != s.index[u] {
				continue
			}
			id := int32(len(comps))
			var c []int32
			for {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				s.onStack[x] = false
				s.comp[x] = id
				c = append(c, x)
				if x == u {
					break
				}
			}
			comps = append(comps, c)
		}
	}
	return comps
}

// path returns a shortest path from src to dst (src == dst: a cycle) over
// edges of types m between nodes ok accepts, as its nodes from src to dst;
// nil when there is none or the budget ran out.
func (s *searcher) path(src, dst int32, m edgeType, ok func(int32) bool) []int32 {
	s.seen.reset(nil)
	s.seen.stamp[src] = s.seen.cur
	queue := []int32{src}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		to, mask := s.g.edges(u)
		if !s.spend(len(to)) {
			return nil
		}
		for i, v := range to {
			if mask[i]&m == 0 || !ok(v) {
				continue
			}
			if v == dst {
				p := []int32{dst, u}
				for x := u; x != src; {
					x = s.parent[x]
					p = append(p, x)
				}
				for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
					p[i], p[j] = p[j], p[i]
				}
				return p
			}
			if s.seen.has(v) {
				continue
			}
			s.seen.stamp[v] = s.seen.cur
			s.parent[v] = u
			queue = append(queue, v)
		}
	}
	return nil
}

// step is one edge of a cycle, with the type it stands for.
type step struct {
	from, to int32
	t        edgeType
}

// cycleOf makes the cycle u → path[0] → ... → path[last] = u: the first
// edge as type first, the others as the mildest of their types within m.
func (s *searcher) cycleOf(u int32, first edgeType, path []int32, m edgeType) []step {
	steps := []step{{from: u, to: path[0], t: first}}
	for i := 1; i < len(path); i++ {
		steps = append(steps, step{from: path[i-1], to: path[i], t: mildest(s.g.maskOf(path[i-1], path[i]) & m)})
	}
	return steps
}

// mildest picks the type an edge counts as: a data dependency before real
// time, and rw last.
func mildest(m edgeType) edgeType {
	for _, t := range []edgeType{ww, wr, rt, rw} {
		if m&t != 0 {
			return t
		}
	}
	return 0
}

// classify names a cycle's anomaly.
func classify(steps []step) Kind {
	var nrw int
	var hasWR, hasRT, adjacent bool
	for i, st := range steps {
		switch st.t {
		case rw:
			nrw++
			if steps[(i+1)%len(steps)].t == rw {
				adjacent = true
			}
		case wr:
			hasWR = true
		case rt:
			hasRT = true
		}
	}
	pick := func(plain, realtime Kind) Kind {
		if hasRT {
			return realtime
		}
		return plain
	}
	switch {
	case nrw == 0 && !hasWR:
		return pick(KindG0, KindG0Realtime)
	case nrw == 0:
		return pick(KindG1c, KindG1cRealtime)
	case nrw == 1:
		return pick(KindGSingle, KindGSingleRealtime)
	case !adjacent:
		return pick(KindGNonadjacent, KindGNonadjacentRealtime)
	default:
		return pick(KindG2Item, KindG2ItemRealtime)
	}
}

// searchCycles finds and reports the cycles of g: the data stages in
// each strongly connected component of the ww/wr/rw graph, then, with real
// time, the real-time stages in each component of the whole graph that
// holds no forbidden data cycle.
func (a *listAnalysis) searchCycles(g *graph) {
	budget := a.c.SearchBudget
	if budget <= 0 {
		budget = defaultSearchBudget
	}
	s := newSearcher(g, budget)
	all := make([]int32, g.n)
	for i := range all {
		all[i] = int32(i)
	}
	// Nodes of data components with a forbidden cycle (tainted) or any
	// cycle (explained).
	tainted, explained := make([]bool, g.n), make([]bool, g.n)
	exhausted := func(c []int32) bool {
		if s.exhausted {
			a.rs.unknown("cycle search ran out of budget (%d edge visits) in a component of %d transactions; raise SearchBudget",
				budget, len(c))
		}
		return s.exhausted
	}
	for _, c := range a.bigComponents(s, all, dataEdges, "sccs") {
		forbidden, found := a.searchData(s, c)
		if exhausted(c) {
			return
		}
		for _, x := range c {
			tainted[x], explained[x] = forbidden, found
		}
	}
	if !a.c.RealTime {
		return
	}
	for _, c := range a.bigComponents(s, all, allEdges, "sccs-realtime") {
		skip, quiet := false, true
		for _, x := range c {
			skip = skip || tainted[x]
			quiet = quiet && !explained[x]
		}
		if skip {
			continue
		}
		a.searchRealtime(s, c, quiet)
		if exhausted(c) {
			return
		}
	}
}

// bigComponents returns the strongly connected components of more than one
// node of the subgraph of types m, and counts them in Stats[stat].
func (a *listAnalysis) bigComponents(s *searcher, nodes []int32, m edgeType, stat string) [][]int32 {
	s.set.reset(nodes)
	var big [][]int32
	for _, c := range s.sccs(nodes, m) {
		if len(c) > 1 {
			big = append(big, c)
		}
	}
	a.rs.r.Stats[stat] = len(big)
	return big
}

// reporter records the cycles of one component.
type reporter struct {
	a                *listAnalysis
	s                *searcher
	forbidden, found bool
}

func (r *reporter) report(steps []step) {
	if steps == nil {
		return
	}
	k := classify(steps)
	r.found = true
	an := r.a.cycleAnomaly(r.s.g, k, steps)
	if r.a.c.forbidden(k) {
		r.forbidden = true
		r.a.rs.add(an)
	} else {
		r.a.rs.allow(an)
	}
}

// through reports a cycle through an edge of type want (and of no type in
// exclude) within each component of nodes' subgraph of types m.
func (r *reporter) through(nodes []int32, m, want, exclude edgeType) {
	s := r.s
	s.set.reset(nodes)
	for _, c := range s.sccs(nodes, m) {
		if len(c) < 2 || s.exhausted {
			continue
		}
		s.sub.reset(c)
		r.report(s.cycleThrough(c, m, want, exclude))
	}
}

// searchData runs the data stages on a component of the ww/wr/rw graph.
func (a *listAnalysis) searchData(s *searcher, nodes []int32) (forbidden, found bool) {
	r := &reporter{a: a, s: s}
	r.through(nodes, ww, ww, 0)
	r.through(nodes, ww|wr, wr, ww)
	r.report(s.single(nodes, ww|wr))
	if !r.forbidden {
		r.through(nodes, dataEdges, rw, ww|wr)
	}
	return r.forbidden, r.found
}

// searchRealtime runs the real-time stages on a component of the whole
// graph; quiet says no data cycle was found in it, so that a cycle with
// two rw edges is worth reporting as G2-item-realtime.
func (a *listAnalysis) searchRealtime(s *searcher, nodes []int32, quiet bool) {
	r := &reporter{a: a, s: s}
	r.through(nodes, ww|wr|rt, rt, ww|wr)
	r.report(s.single(nodes, ww|wr|rt))
	if quiet && !r.found {
		r.through(nodes, allEdges, rw, ww|wr|rt)
	}
}

// cycleThrough returns a short cycle within component c (in s.sub) over
// edges of types m, through an edge that has type want and none of
// exclude; nil if there is none.
func (s *searcher) cycleThrough(c []int32, m, want, exclude edgeType) []step {
	within := func(int32, int32) func(int32) bool { return s.sub.has }
	return s.closing(c, s.sub.has, want, exclude, m, within)
}

// single returns a cycle of one rw edge and edges of types base among
// nodes (in s.set), nil if there is none.
func (s *searcher) single(nodes []int32, base edgeType) []step {
	s.set.reset(nodes)
	comps := s.sccs(nodes, base)
	topo := s.timeOrder(nodes, comps, base)
	window := func(u, v int32) func(int32) bool {
		cu, cv := s.comp[u], s.comp[v]
		if topo[cv] > topo[cu] {
			return nil // v cannot reach u over base edges
		}
		limit := topo[cu]
		return func(x int32) bool { return s.set.has(x) && topo[s.comp[x]] <= limit }
	}
	return s.closing(nodes, s.set.has, rw, base, base, window)
}

// closing returns the first cycle it finds that starts with an edge u → v
// between members, of type want and of no type in exclude, and returns
// from v to u over edges of types m through the nodes that allow(u, v)
// accepts (allow returns nil to skip the edge). nil if there is none.
func (s *searcher) closing(nodes []int32, member func(int32) bool, want, exclude, m edgeType,
	allow func(u, v int32) func(int32) bool) []step {
	for _, u := range nodes {
		to, mask := s.g.edges(u)
		for i, v := range to {
			if mask[i]&want == 0 || mask[i]&exclude != 0 || !member(v) {
				continue
			}
			ok := allow(u, v)
			if ok == nil {
				continue
			}
			p := s.path(v, u, m, ok)
			if s.exhausted {
				return nil
			}
			if p != nil {
				return s.cycleOf(u, want, p, m)
			}
		}
	}
	return nil
}

// timeOrder returns a topological position for each component of comps
// (the condensation of nodes' subgraph of types m), earliest completion
// first among those ready.
func (s *searcher) timeOrder(nodes []int32, comps [][]int32, m edgeType) []int32 {
	indeg := make([]int32, len(comps))
	when := make([]int, len(comps))
	for ci, c := range comps {
		when[ci] = s.g.time[c[0]]
		for _, x := range c {
			when[ci] = min(when[ci], s.g.time[x])
		}
	}
	for _, u := range nodes {
		to, mask := s.g.edges(u)
		for i, v := range to {
			if mask[i]&m != 0 && s.set.has(v) && s.comp[v] != s.comp[u] {
				indeg[s.comp[v]]++
			}
		}
	}
	ready := &compHeap{when: when}
	for ci := range comps {
		if indeg[ci] == 0 {
			heap.Push(ready, int32(ci))
		}
	}
	topo := make([]int32, len(comps))
	var pos int32
	for ready.Len() > 0 {
		ci := heap.Pop(ready).(int32)
		topo[ci] = pos
		pos++
		for _, u := range comps[ci] {
			to, mask := s.g.edges(u)
			for i, v := range to {
				if mask[i]&m != 0 && s.set.has(v) && s.comp[v] != ci {
					if indeg[s.comp[v]]--; indeg[s.comp[v]] == 0 {
						heap.Push(ready, s.comp[v])
					}
				}
			}
		}
	}
	return topo
}

// compHeap is a min-heap of components by time.
type compHeap struct {
	ids  []int32
	when []int
}

func (h *compHeap) Len() int           { return len(h.ids) }
func (h *compHeap) Less(i, j int) bool { return h.when[h.ids[i]] < h.when[h.ids[j]] }
func (h *compHeap) Swap(i, j int)      { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *compHeap) Push(x any)         { h.ids = append(h.ids, x.(int32)) }
func (h *compHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}

// cycleAnomaly describes a cycle.
func (a *listAnalysis) cycleAnomaly(g *graph, k Kind, steps []step) Anomaly {
	an := Anomaly{Kind: k}
	var parts []string
	keys := map[int64]bool{}
	for _, st := range steps {
		an.Ops = append(an.Ops, opsOf(a.txns[g.txn[st.from]].pair)...)
		parts = append(parts, a.describe(g, st.from, st.to, st.t))
		if st.t != rt {
			if w := g.why[edgeID{st.from, st.to, st.t}]; !keys[w.key] {
				keys[w.key] = true
				an.Keys = append(an.Keys, w.key)
			}
		}
	}
	an.Explanation = fmt.Sprintf("cycle of %d transactions: %s", len(steps), strings.Join(parts, "; "))
	return an
}
