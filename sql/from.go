package sql

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// planFrom plans a FROM list (a cross join of its items).
func (p *planner) planFrom(items []*pg_query.Node, outer *scope) (rel, error) {
	var acc rel
	for _, it := range items {
		r, err := p.planFromItem(it, outer)
		if err != nil {
			return nil, err
		}
		if acc == nil {
			acc = r
		} else {
			acc = &joinRel{left: acc, right: r, kind: joinInner}
		}
	}
	return acc, nil
}

func (p *planner) planFromItem(n *pg_query.Node, outer *scope) (rel, error) {
	switch {
	case n.GetRangeVar() != nil:
		return p.planRangeVar(n.GetRangeVar())
	case n.GetJoinExpr() != nil:
		return p.planJoin(n.GetJoinExpr(), outer)
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return nil, pgerror.Unsupported("LATERAL subqueries are not supported yet")
		}
		sel := rs.Subquery.GetSelectStmt()
		r, err := p.planSelect(sel, outer, nil)
		if err != nil {
			return nil, err
		}
		return renameRel(r, rs.Alias)
	case n.GetRangeFunction() != nil:
		return p.planRangeFunction(n.GetRangeFunction(), outer)
	}
	return nil, pgerror.Unsupported("this kind of FROM item is not supported")
}

// renameRel applies a table alias (and column aliases) to r's columns.
func renameRel(r rel, alias *pg_query.Alias) (rel, error) {
	if alias == nil {
		cols := append([]scopeCol(nil), r.cols()...)
		for i := range cols {
			cols[i].table = ""
		}
		return &aliasRel{in: r, columns: cols}, nil
	}
	cols := append([]scopeCol(nil), r.cols()...)
	for i := range cols {
		cols[i].table = alias.Aliasname
	}
	for i, c := range alias.Colnames {
		if i < len(cols) {
			cols[i].name = c.GetString_().GetSval()
		}
	}
	return &aliasRel{in: r, columns: cols}, nil
}

// aliasRel renames its input's columns.
type aliasRel struct {
	in      rel
	columns []scopeCol
}

func (r *aliasRel) cols() []scopeCol               { return r.columns }
func (r *aliasRel) rows(e *execCtx) ([]row, error) { return r.in.rows(e) }

// planRangeVar plans a table reference: a user table or a catalog view.
func (p *planner) planRangeVar(rv *pg_query.RangeVar) (rel, error) {
	name, schema := rv.Relname, rv.Schemaname
	alias := name
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	if schema == "" || schema == "public" {
		if t := p.cat.Table(p.db.ID, name); t != nil {
			s := newScan(t, alias)
			if rv.Alias != nil {
				for i, c := range rv.Alias.Colnames {
					vis := 0
					for j := range s.columns {
						if !s.columns[j].hidden {
							if vis == i {
								s.columns[j].name = c.GetString_().GetSval()
							}
							vis++
						}
					}
				}
			}
			return s, nil
		}
	}
	if schema == "" || schema == "pg_catalog" || schema == "information_schema" {
		if vt := lookupVirtual(schema, name); vt != nil {
			cols := make([]scopeCol, len(vt.columns))
			for i, c := range vt.columns {
				cols[i] = scopeCol{table: alias, name: c.name, typ: c.typ}
			}
			gen := vt.gen
			return &funcRel{columns: cols, gen: func(e *execCtx) ([]row, error) { return gen(e) }}, nil
		}
	}
	full := name
	if schema != "" {
		full = schema + "." + name
	}
	e := pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", full)
	e.Position = rv.Location + 1
	return nil, e
}

// newScan returns a full scan of t; applyWhere narrows it.
func newScan(t *catalog.Table, alias string) *scanRel {
	cols := make([]scopeCol, len(t.Columns))
	attnum := int16(0)
	for i, c := range t.Columns {
		cols[i] = scopeCol{table: alias, name: c.Name, typ: c.Type, hidden: c.Hidden, tableOID: t.OID()}
		if !c.Hidden {
			attnum++ // pg_attribute numbers the visible columns
			cols[i].attnum = attnum
		}
	}
	return &scanRel{table: t, columns: cols}
}

// planJoin plans a JOIN.
func (p *planner) planJoin(j *pg_query.JoinExpr, outer *scope) (rel, error) {
	l, err := p.planFromItem(j.Larg, outer)
	if err != nil {
		return nil, err
	}
	r, err := p.planFromItem(j.Rarg, outer)
	if err != nil {
		return nil, err
	}
	jr := &joinRel{left: l, right: r}
	switch j.Jointype {
	case pg_query.JoinType_JOIN_INNER:
		jr.kind = joinInner
	case pg_query.JoinType_JOIN_LEFT:
		jr.kind = joinLeft
	case pg_query.JoinType_JOIN_RIGHT:
		jr.kind = joinRight
	case pg_query.JoinType_JOIN_FULL:
		jr.kind = joinFull
	default:
		return nil, pgerror.Unsupported("this join type is not supported")
	}
	lc, rc := l.cols(), r.cols()
	all := jr.cols()
	sc := &scope{cols: all, outer: outer}
	var using []string
	if j.IsNatural {
		for _, c := range lc {
			for _, d := range rc {
				if !c.hidden && !d.hidden && c.name == d.name {
					using = append(using, c.name)
				}
			}
		}
	}
	for _, u := range j.UsingClause {
		using = append(using, u.GetString_().GetSval())
	}
	var conds []expr.Expr
	for _, name := range using {
		li, ri := -1, -1
		for i, c := range lc {
			if c.name == name && !c.hidden {
				li = i
			}
		}
		for i, c := range rc {
			if c.name == name && !c.hidden {
				ri = i
			}
		}
		if li < 0 || ri < 0 {
			return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" specified in USING clause does not exist in %s table", name, map[bool]string{true: "left", false: "right"}[li < 0])
		}
		jr.leftKey = append(jr.leftKey, li)
		jr.rightKey = append(jr.rightKey, ri)
		c, err := mkEq(&expr.ColRef{Idx: li, T: lc[li].typ}, &expr.ColRef{Idx: len(lc) + ri, T: rc[ri].typ})
		if err != nil {
			return nil, err
		}
		conds = append(conds, c)
	}
	if j.Quals != nil {
		b := p.builder(&env{p: p, sc: sc})
		on, err := b.Build(j.Quals, types.Bool)
		if err != nil {
			return nil, err
		}
		conds = append(conds, on)
		if len(using) == 0 {
			jr.leftKey, jr.rightKey = equiKeys(on, len(lc))
		}
	}
	jr.on = andOf(conds)
	if len(using) > 0 {
		// The right side's USING columns are shown once, by the left's.
		cols := jr.cols()
		for _, ri := range jr.rightKey {
			cols[len(lc)+ri].hidden = true
		}
		out := rel(&aliasRel{in: jr, columns: cols})
		if j.Alias != nil {
			return renameRel(out, j.Alias)
		}
		return out, nil
	}
	if j.Alias != nil {
		return renameRel(jr, j.Alias)
	}
	return jr, nil
}

// equiKeys finds left.a = right.b conjuncts usable as hash join keys.
func equiKeys(on expr.Expr, nLeft int) (lk, rk []int) {
	var conj []expr.Expr
	if a, ok := on.(*expr.And); ok {
		conj = a.Args
	} else {
		conj = []expr.Expr{on}
	}
	for _, c := range conj {
		cmp, ok := c.(*expr.Cmp)
		if !ok || cmp.Op != "=" {
			continue
		}
		l, lok := unwrapColRef(cmp.L)
		r, rok := unwrapColRef(cmp.R)
		if !lok || !rok || l.T.Family() != r.T.Family() {
			continue
		}
		switch {
		case l.Idx < nLeft && r.Idx >= nLeft:
			lk, rk = append(lk, l.Idx), append(rk, r.Idx-nLeft)
		case r.Idx < nLeft && l.Idx >= nLeft:
			lk, rk = append(lk, r.Idx), append(rk, l.Idx-nLeft)
		}
	}
	return lk, rk
}

func unwrapColRef(x expr.Expr) (*expr.ColRef, bool) {
	c, ok := x.(*expr.ColRef)
	return c, ok
}

// planRangeFunction plans a function in FROM (generate_series).
func (p *planner) planRangeFunction(rf *pg_query.RangeFunction, outer *scope) (rel, error) {
	if len(rf.Functions) != 1 || rf.Lateral || rf.Ordinality || rf.IsRowsfrom {
		return nil, pgerror.Unsupported("this kind of function in FROM is not supported")
	}
	items := rf.Functions[0].GetList().GetItems()
	fc := items[0].GetFuncCall()
	if fc == nil {
		return nil, pgerror.Unsupported("this kind of function in FROM is not supported")
	}
	name := strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())
	b := p.builder(&env{p: p, sc: &scope{outer: outer}})
	var args []expr.Expr
	for _, a := range fc.Args {
		x, err := b.Build(a, types.Int8)
		if err != nil {
			return nil, err
		}
		args = append(args, x)
	}
	colName := name
	alias := name
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
		colName = alias
		if len(rf.Alias.Colnames) > 0 {
			colName = rf.Alias.Colnames[0].GetString_().GetSval()
		}
	}
	switch name {
	case "generate_series":
		if len(args) < 2 || len(args) > 3 {
			return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function generate_series with %d arguments does not exist", len(args))
		}
		for i, a := range args {
			if a.Type().Family() != types.IntFamily {
				ca, err := expr.Coerce(a, types.Int8)
				if err != nil {
					return nil, pgerror.Unsupported("generate_series over %s is not supported", a.Type().Name())
				}
				args[i] = ca
			}
		}
		t := types.Int4
		for _, a := range args {
			if a.Type().Oid == types.OidInt8 {
				t = types.Int8
			}
		}
		cols := []scopeCol{{table: alias, name: colName, typ: t}}
		return &funcRel{columns: cols, gen: func(e *execCtx) ([]row, error) {
			var vals [3]int64
			vals[2] = 1
			for i, a := range args {
				d, err := expr.ConstEval(e.ev, a)
				if err != nil {
					return nil, err
				}
				if d == nil {
					return nil, nil
				}
				vals[i] = d.(int64)
			}
			if vals[2] == 0 {
				return nil, pgerror.New(pgerror.CodeInvalidParameterValue, "step size cannot equal zero")
			}
			var out []row
			for v := vals[0]; (vals[2] > 0 && v <= vals[1]) || (vals[2] < 0 && v >= vals[1]); v += vals[2] {
				out = append(out, row{v})
				if len(out) > 10_000_000 {
					return nil, pgerror.New(pgerror.CodeProgramLimitExceeded, "generate_series produces too many rows")
				}
			}
			return out, nil
		}}, nil
	}
	return nil, pgerror.Unsupported("function %s in FROM is not supported", name)
}
