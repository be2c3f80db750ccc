package sql

import (
	"encoding/json"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/types"
)

// Pushdown: after a statement is planned, every full or shard scan is given
// the part of the work that can run at the ranges (a scan program, see
// scanprog.go):
//
//   - filter: the conjuncts of its WHERE that the range can evaluate exactly
//     as the gateway would (no subqueries, outer references, stable or
//     volatile functions, reg* types); the gateway still evaluates the
//     whole WHERE when some conjunct stays behind;
//   - projection: only the values of the columns the operators above read
//     come back (every expression an operator evaluates counts, so that an
//     error a dropped value would have raised is still raised);
//   - limit: under a LIMIT with nothing in between but projections (no ORDER
//     BY, DISTINCT, aggregate, join or gateway-side filter), and not for a
//     locking scan, each range stops after LIMIT+OFFSET rows and the
//     gateway stops asking further ranges once it has them;
//   - partial aggregates: an aggregation directly over a scan whose WHERE is
//     entirely pushed, with mergeable calls (expr.PartialTypes, no
//     DISTINCT, FILTER or ORDER BY), becomes per-range partial states that
//     the gateway merges.
//
// The decisions are made once per plan; at execution a scan falls back to
// reading whole rows when the transaction has buffered writes in its span
// (the ranges cannot see them) or the session turned the
// shard.scan_pushdown setting off.

// scanPush is what a scan asks the ranges to do.
type scanPush struct {
	spec *scanSpec
	code []byte       // the encoded spec
	prog *scanProgram // the spec compiled at the gateway (partial decoding)
	// residual is what the gateway still evaluates of the scan's filter
	// (the whole filter when some conjunct is not pushed); nil: nothing.
	residual expr.Expr
	// limit, when set, is the LIMIT (and OFFSET) pushed down.
	limit *limitRel
	// agg is set when the program computes partial aggregates for the
	// aggregation above the scan (the scan's rows are then read by
	// aggRel, not by the scan).
	agg bool
}

// pushdownSetting turns pushdown off for a session ("off").
const pushdownSetting = "shard.scan_pushdown"

// pushdownOn reports whether the session lets scans run programs.
func pushdownOn(e *execCtx) bool {
	v, _ := e.se.setting(pushdownSetting)
	b, ok := parseBoolSetting(v)
	return !ok || b
}

// pushDownPlan plans the pushdown of every scan of pl.
func (p *planner) pushDownPlan(pl plan) {
	switch x := pl.(type) {
	case *queryPlan:
		p.pushRel(x.root, nil, nil)
	case *insertPlan:
		p.pushRel(x.source, nil, nil)
	case *updatePlan:
		p.pushScan(x.scan, nil, nil)
	case *deletePlan:
		p.pushScan(x.scan, nil, nil)
	}
}

// paramTypes returns the statement's parameter types as they will be
// bound.
func (p *planner) paramTypes() []types.T {
	if p.params == nil {
		return nil
	}
	return p.params.Types
}

// pushRel plans the pushdown of the scans under r, whose consumer reads the
// columns need marks (nil: all); lim is a LIMIT above r with only
// row-preserving projections in between.
func (p *planner) pushRel(r rel, need []bool, lim *limitRel) {
	switch x := r.(type) {
	case *scanRel:
		p.pushScan(x, need, lim)
	case *projectRel:
		in := newNeed(x.in)
		for _, ex := range x.exprs {
			p.exprNeed(ex, in)
		}
		p.pushRel(x.in, in, lim)
	case *aliasRel:
		p.pushRel(x.in, need, lim)
	case *limitRel:
		p.pushRel(x.in, need, x)
	case *filterRel:
		in := copyNeed(need, x.in)
		p.exprNeed(x.pred, in)
		p.pushRel(x.in, in, nil)
	case *sortRel:
		in := copyNeed(need, x.in)
		for _, k := range x.keys {
			in[k.idx] = true
		}
		p.pushRel(x.in, in, nil)
	case *distinctRel:
		p.pushRel(x.in, nil, nil)
	case *setOpRel:
		p.pushRel(x.left, nil, nil)
		p.pushRel(x.right, nil, nil)
	case *joinRel:
		nl := len(x.left.cols())
		all := copyNeed(need, x)
		if x.on != nil {
			p.exprNeed(x.on, all)
		}
		for _, k := range x.leftKey {
			all[k] = true
		}
		for _, k := range x.rightKey {
			all[nl+k] = true
		}
		p.pushRel(x.left, all[:nl], nil)
		p.pushRel(x.right, all[nl:], nil)
	case *aggRel:
		in := newNeed(x.in)
		for _, g := range x.groups {
			p.exprNeed(g, in)
		}
		for _, a := range x.aggs {
			for _, ax := range a.args {
				p.exprNeed(ax, in)
			}
			if a.filter != nil {
				p.exprNeed(a.filter, in)
			}
			for _, o := range a.order {
				p.exprNeed(o.x, in)
			}
		}
		p.pushRel(x.in, in, nil)
		p.pushAggregate(x)
	case *valuesRel:
		for _, l := range x.exprs {
			for _, ex := range l {
				p.exprNeed(ex, nil)
			}
		}
	case *funcRel:
		if x.filter != nil {
			p.exprNeed(x.filter, nil)
		}
	}
}

func newNeed(r rel) []bool { return make([]bool, len(r.cols())) }

// copyNeed returns a copy of need for r's columns (nil: all of them).
func copyNeed(need []bool, r rel) []bool {
	out := newNeed(r)
	for i := range out {
		out[i] = need == nil || (i < len(need) && need[i])
	}
	return out
}

// exprNeed marks in need the columns x reads; a subquery (which may read
// any column of the row through outer references) marks them all, and its
// own plan is pushed down too. need may be nil.
func (p *planner) exprNeed(x expr.Expr, need []bool) {
	expr.Walk(x, func(y expr.Expr) bool {
		switch z := y.(type) {
		case *expr.ColRef:
			if z.Idx < len(need) {
				need[z.Idx] = true
			}
		case *subquery:
			for i := range need {
				need[i] = true
			}
			if z.test != nil {
				p.exprNeed(z.test, need)
			}
			p.pushRel(z.plan, nil, nil)
		}
		return true
	})
}

// whereParts flattens the AND tree of a WHERE clause's parse node.
func whereParts(n *pg_query.Node) []*pg_query.Node {
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range be.Args {
			out = append(out, whereParts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// pushableScan reports whether s reads ranges with scans (not point reads).
func pushableScan(s *scanRel) bool { return s.kind == accessFull || s.kind == accessShard }

// specFilter adds to sp the conjuncts of s's WHERE that can be pushed and
// reports whether they all could.
func specFilter(sp *scanSpec, s *scanRel) bool {
	if s.filter == nil {
		return true
	}
	if len(s.where) == 0 {
		return false
	}
	all := true
	b := specBuilder(sp)
	for _, w := range s.where {
		for _, n := range whereParts(w) {
			raw := encodeNode(n)
			if hasSubLink(n) {
				all = false
				continue
			}
			if _, err := buildSpecExpr(b, raw, true); err != nil {
				all = false
				continue
			}
			sp.Filter = append(sp.Filter, raw)
		}
	}
	return all
}

// pushScan plans the filter, projection and limit of scan s, whose
// consumer reads the columns need marks (nil: all).
func (p *planner) pushScan(s *scanRel, need []bool, lim *limitRel) {
	if s.filter != nil {
		p.exprNeed(s.filter, nil) // push down the plans of its subqueries
	}
	if !pushableScan(s) {
		return
	}
	sp := newScanSpec(s, p.paramTypes())
	push := &scanPush{spec: sp}
	if !specFilter(sp, s) {
		push.residual = s.filter
	}
	if need != nil {
		want := copyNeed(need, s)
		if push.residual != nil {
			p.exprNeed(push.residual, want)
		}
		pk := s.table.PrimaryIndex()
		for i, c := range s.table.Columns {
			if !want[i] && !containsID(pk.Columns, c.ID) {
				sp.Projected = true
			}
			if want[i] {
				sp.Keep = append(sp.Keep, i)
			}
		}
		if !sp.Projected {
			sp.Keep = nil
		}
	}
	if lim != nil && lim.limit != nil && push.residual == nil && !s.lock {
		push.limit = lim
	}
	if len(sp.Filter) == 0 && !sp.Projected && push.limit == nil {
		return // nothing worth a program
	}
	p.setPush(s, push)
}

// setPush compiles push's spec at the gateway (so a program that would not
// compile is never sent) and gives it to s.
func (p *planner) setPush(s *scanRel, push *scanPush) bool {
	prog, err := compileScanSpec(push.spec)
	if err != nil {
		return false
	}
	code, err := json.Marshal(push.spec)
	if err != nil {
		return false
	}
	push.prog, push.code = prog, code
	s.push = push
	return true
}

func containsID(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// pushAggregate turns an aggregation directly over a scan into partial
// aggregates at the ranges, when every part of it can be.
func (p *planner) pushAggregate(a *aggRel) {
	s, ok := a.in.(*scanRel)
	if !ok || !pushableScan(s) || s.lock || len(a.groupNodes) != len(a.groups) {
		return
	}
	sp := newScanSpec(s, p.paramTypes())
	if !specFilter(sp, s) {
		return
	}
	b := specBuilder(sp)
	sa := &specAgg{}
	for i, n := range a.groupNodes {
		raw := encodeNode(n)
		x, err := buildSpecExpr(b, raw, false)
		if err != nil || x.Type() != a.groups[i].Type() {
			return
		}
		sa.Groups = append(sa.Groups, raw)
	}
	for _, c := range a.aggs {
		if c.name == "" || c.distinct || c.filter != nil || len(c.order) > 0 || len(c.argNodes) != len(c.args) {
			return
		}
		call := specCall{Name: c.name, Star: c.star}
		var argTypes []types.T
		for i, n := range c.argNodes {
			raw := encodeNode(n)
			x, err := buildSpecExpr(b, raw, false)
			if err != nil || x.Type() != c.args[i].Type() {
				return
			}
			call.Args = append(call.Args, raw)
			argTypes = append(argTypes, x.Type())
		}
		if _, ok := expr.PartialTypes(c.name, argTypes, c.star); !ok {
			return
		}
		sa.Calls = append(sa.Calls, call)
	}
	sp.Agg = sa
	if p.setPush(s, &scanPush{spec: sp, agg: true}) {
		a.push = s
	}
}

// describePush says, for EXPLAIN, what scan s asks the ranges to do.
func describePush(e *execCtx, s *scanRel, a *aggRel) string {
	push := s.push
	if push == nil {
		return ""
	}
	if !pushdownOn(e) {
		return "pushed: nothing (" + pushdownSetting + " is off)"
	}
	sp := push.spec
	var parts []string
	if len(sp.Filter) > 0 {
		if push.residual != nil {
			parts = append(parts, fmt.Sprintf("filter (%d conjunct(s); the rest at the gateway)", len(sp.Filter)))
		} else {
			parts = append(parts, "filter")
		}
	}
	if sp.Projected {
		parts = append(parts, fmt.Sprintf("projection (%d of %d columns)", len(sp.Keep), len(sp.Table.Columns)))
	}
	if l := push.limit; l != nil {
		parts = append(parts, "limit "+describeLimit(l))
	}
	if sp.Agg != nil && a != nil {
		var calls []string
		for _, c := range a.aggs {
			arg := "*"
			if !c.star {
				var names []string
				for _, n := range c.argNodes {
					names = append(names, nodeName(n))
				}
				arg = strings.Join(names, ", ")
			}
			calls = append(calls, c.name+"("+arg+")")
		}
		d := "partial aggregate " + strings.Join(calls, ", ")
		if len(a.groupNodes) > 0 {
			var names []string
			for _, n := range a.groupNodes {
				names = append(names, nodeName(n))
			}
			d += " group by (" + strings.Join(names, ", ") + ")"
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return ""
	}
	return "pushed: " + strings.Join(parts, ", ")
}

// describeLimit prints a pushed LIMIT: the rows each range returns at most.
func describeLimit(l *limitRel) string {
	c, ok := l.limit.(*expr.Const)
	if !ok {
		return "(from the parameters)"
	}
	n, ok := c.D.(int64)
	if !ok {
		return "(computed)"
	}
	if l.offset != nil {
		o, ok := l.offset.(*expr.Const)
		if !ok {
			return "(from the parameters)"
		}
		off, _ := o.D.(int64)
		return fmt.Sprintf("%d (%d + offset %d)", n+off, n, off)
	}
	return fmt.Sprintf("%d", n)
}
