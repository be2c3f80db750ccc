package sql

import (
	"sort"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// sortKeyExpr orders an aggregate's input (string_agg(x, ',' ORDER BY y)).
type sortKeyExpr struct {
	x    expr.Expr
	desc bool
}

// aggSpec is one aggregate call.
type aggSpec struct {
	newState func() expr.AggFunc
	args     []expr.Expr
	typ      types.T
	filter   expr.Expr
	order    []sortKeyExpr
	// For pushdown: the call's name, argument nodes and modifiers.
	name     string
	argNodes []*pg_query.Node
	star     bool
	distinct bool
}

// aggRel groups its input by the group expressions and computes the
// aggregates of each group. Its rows are the group values followed by the
// aggregate results.
type aggRel struct {
	in      rel
	groups  []expr.Expr
	aggs    []*aggSpec
	columns []scopeCol
	// groupNodes are the parse nodes of groups, for pushdown.
	groupNodes []*pg_query.Node
	// push, when set, is the scan below whose ranges compute partial
	// aggregates (pushdown.go).
	push *scanRel
}

func (r *aggRel) cols() []scopeCol {
	if r.columns != nil {
		return r.columns
	}
	var cols []scopeCol
	for i, g := range r.groups {
		cols = append(cols, scopeCol{name: "group" + itoa(i), typ: g.Type()})
	}
	for i, a := range r.aggs {
		cols = append(cols, scopeCol{name: "agg" + itoa(i), typ: a.typ})
	}
	return cols
}

type aggGroup struct {
	vals   row
	states []expr.AggFunc
	// inputs keeps each ordered aggregate's arguments until the end.
	inputs [][]row
}

// aggGrouper collects the groups of an aggregation, in the order they are
// first met.
type aggGrouper struct {
	r      *aggRel
	gcols  []scopeCol
	groups map[string]*aggGroup
	order  []*aggGroup
}

func (r *aggRel) newMerger() *aggGrouper {
	m := &aggGrouper{r: r, gcols: make([]scopeCol, len(r.groups)), groups: map[string]*aggGroup{}}
	for i, g := range r.groups {
		m.gcols[i] = scopeCol{typ: g.Type()}
	}
	if len(r.groups) == 0 {
		m.group(nil) // no GROUP BY: one group, even over no rows
	}
	return m
}

// group returns the group of vals, new if it was not met yet.
func (m *aggGrouper) group(vals row) *aggGroup {
	k := rowKeyString(vals, m.gcols)
	g := m.groups[k]
	if g == nil {
		r := m.r
		g = &aggGroup{vals: vals, states: make([]expr.AggFunc, len(r.aggs)), inputs: make([][]row, len(r.aggs))}
		for i, a := range r.aggs {
			g.states[i] = a.newState()
		}
		m.groups[k] = g
		m.order = append(m.order, g)
	}
	return g
}

func (r *aggRel) rows(e *execCtx) ([]row, error) {
	if r.push != nil {
		out, ok, err := r.pushedRows(e)
		if err != nil || ok {
			return out, err
		}
	}
	in, err := r.in.rows(e)
	if err != nil {
		return nil, err
	}
	m := r.newMerger()
	for _, src := range in {
		vals := make(row, len(r.groups))
		for i, gx := range r.groups {
			if vals[i], err = gx.Eval(e.ev, src); err != nil {
				return nil, err
			}
		}
		g := m.group(vals)
		for i, a := range r.aggs {
			if a.filter != nil {
				ok, err := evalBool(e, a.filter, src)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
			}
			args := make([]types.Datum, len(a.args), len(a.args)+len(a.order))
			for j, ax := range a.args {
				if args[j], err = ax.Eval(e.ev, src); err != nil {
					return nil, err
				}
			}
			if len(a.order) > 0 {
				for _, o := range a.order {
					d, err := o.x.Eval(e.ev, src)
					if err != nil {
						return nil, err
					}
					args = append(args, d)
				}
				g.inputs[i] = append(g.inputs[i], args)
				continue
			}
			if err := g.states[i].Add(e.ev, args); err != nil {
				return nil, err
			}
		}
	}
	return m.finish(e)
}

// finish returns the rows of the groups: their values, then the aggregates'
// results.
func (m *aggGrouper) finish(e *execCtx) ([]row, error) {
	r := m.r
	out := make([]row, 0, len(m.order))
	for _, g := range m.order {
		rw := make(row, 0, len(r.groups)+len(r.aggs))
		rw = append(rw, g.vals...)
		for i, a := range r.aggs {
			if len(a.order) > 0 {
				n := len(a.args)
				keys := make([]sortKey, len(a.order))
				kcols := make([]scopeCol, n+len(a.order))
				for j, o := range a.order {
					keys[j] = sortKey{idx: n + j, desc: o.desc, nullsFirst: o.desc}
					kcols[n+j] = scopeCol{typ: o.x.Type()}
				}
				inputs := g.inputs[i]
				sort.SliceStable(inputs, func(x, y int) bool { return compareRows(inputs[x], inputs[y], keys, kcols) < 0 })
				for _, args := range inputs {
					if err := g.states[i].Add(e.ev, args[:n]); err != nil {
						return nil, err
					}
				}
			}
			d, err := g.states[i].Result()
			if err != nil {
				return nil, err
			}
			rw = append(rw, d)
		}
		out = append(out, rw)
	}
	return out, nil
}

// planGroupBy builds the aggregation over from and returns it with the env
// that builds the select list, HAVING and ORDER BY over its output.
func (p *planner) planGroupBy(s *pg_query.SelectStmt, from rel, in *scope) (rel, *env, error) {
	ar := &aggRel{in: from}
	ab := &aggBuild{input: in, rel: ar}
	ib := p.builder(&env{p: p, sc: in})
	for _, g := range s.GroupClause {
		n := g
		// GROUP BY 1 and GROUP BY output-name refer to the select list.
		if c := g.GetAConst(); c != nil && c.GetIval() != nil {
			pos := int(c.GetIval().Ival)
			if pos < 1 || pos > len(s.TargetList) {
				return nil, nil, pgerror.New(pgerror.CodeInvalidColumnReference, "GROUP BY position %d is not in select list", pos)
			}
			n = s.TargetList[pos-1].GetResTarget().Val
		} else if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
			if _, _, err := resolveIn(in, cr); err != nil {
				name := cr.Fields[0].GetString_().GetSval()
				for _, t := range s.TargetList {
					if rt := t.GetResTarget(); rt.Name == name {
						n = rt.Val
						break
					}
				}
			}
		}
		if g.GetGroupingSet() != nil {
			return nil, nil, pgerror.Unsupported("GROUPING SETS, ROLLUP and CUBE are not supported yet")
		}
		x, err := ib.Build(n, types.Unknown)
		if err != nil {
			return nil, nil, err
		}
		x = resolveUnknown(x)
		ar.groups = append(ar.groups, x)
		ar.groupNodes = append(ar.groupNodes, n)
		ab.groupKeys = append(ab.groupKeys, nodeKey(n))
		col := -1
		if cr, ok := x.(*expr.ColRef); ok {
			col = cr.Idx
		}
		ab.groupCols = append(ab.groupCols, col)
	}
	ev := &env{p: p, agg: ab}
	// The env's scope, for ORDER BY and result metadata, is the output of
	// the aggregation; columns are filled in lazily as aggregates appear.
	ev.sc = &scope{outer: in.outer}
	return ar, ev, nil
}

func itoa(i int) string {
	if i >= 0 && i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
