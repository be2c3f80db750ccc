package sql

import (
	"context"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// planner plans one statement.
type planner struct {
	se     *Session
	cat    *catalog.Catalog
	db     *catalog.Database
	params *expr.Params
}

// scope is what names resolve against: the columns of the input row, and
// the enclosing query's scope for correlated subqueries.
type scope struct {
	cols  []scopeCol
	outer *scope
}

// queryPlan is a planned SELECT (or VALUES) producing rows.
type queryPlan struct {
	root      rel
	out       []resultCol
	forUpdate bool
}

func (q *queryPlan) columns() []resultCol { return q.out }
func (q *queryPlan) mode() txnMode {
	if q.forUpdate {
		return modeWrite
	}
	return modeRead
}

func (q *queryPlan) run(e *execCtx) (*result, error) {
	rows, err := q.root.rows(e)
	if err != nil {
		return nil, err
	}
	return &result{rows: rows, tag: "SELECT " + itoa(len(rows))}, nil
}

func resultCols(cols []scopeCol) []resultCol {
	out := make([]resultCol, 0, len(cols))
	for _, c := range cols {
		out = append(out, resultCol{name: c.name, typ: c.typ, tableOID: c.tableOID, attnum: c.attnum})
	}
	return out
}

// planQuery plans a SELECT statement as a top-level query.
func (p *planner) planQuery(s *pg_query.SelectStmt) (*queryPlan, error) {
	r, err := p.planSelect(s, nil, nil)
	if err != nil {
		return nil, err
	}
	return &queryPlan{root: r, out: resultCols(r.cols()), forUpdate: len(s.LockingClause) > 0}, nil
}

// planSelect plans s; outer is the enclosing scope for correlated names;
// want types the columns of a VALUES list (INSERT targets) when set.
func (p *planner) planSelect(s *pg_query.SelectStmt, outer *scope, want []types.T) (rel, error) {
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH queries are not supported yet")
	}
	if s.IntoClause != nil {
		return nil, pgerror.Unsupported("SELECT INTO is not supported")
	}
	if len(s.WindowClause) > 0 {
		return nil, pgerror.Unsupported("window functions are not supported yet")
	}
	switch s.Op {
	case pg_query.SetOperation_SETOP_UNION, pg_query.SetOperation_SETOP_INTERSECT, pg_query.SetOperation_SETOP_EXCEPT:
		return p.planSetOp(s, outer)
	}
	if len(s.ValuesLists) > 0 {
		r, err := p.planValues(s.ValuesLists, outer, want)
		if err != nil {
			return nil, err
		}
		return p.finishOrderLimit(s, r, &scope{cols: r.cols(), outer: outer}, nil, nil)
	}

	// FROM and WHERE.
	var from rel
	var err error
	if len(s.FromClause) == 0 {
		from = &valuesRel{exprs: [][]expr.Expr{{}}}
	} else {
		from, err = p.planFrom(s.FromClause, outer)
		if err != nil {
			return nil, err
		}
	}
	in := &scope{cols: from.cols(), outer: outer}
	if s.WhereClause != nil {
		from, err = p.applyWhere(from, in, s.WhereClause, len(s.LockingClause) > 0)
		if err != nil {
			return nil, err
		}
	}

	// Aggregation.
	needAgg := len(s.GroupClause) > 0 || s.HavingClause != nil
	if !needAgg {
		probe := &env{p: p, sc: in, probeAgg: true}
		for _, t := range s.TargetList {
			if rt := t.GetResTarget(); rt != nil && rt.Val != nil && containsAggregate(rt.Val) {
				needAgg = true
				break
			}
		}
		for _, sb := range s.SortClause {
			if by := sb.GetSortBy(); by != nil && containsAggregate(by.Node) {
				needAgg = true
			}
		}
		_ = probe
	}
	var ev *env
	if needAgg {
		ar, aenv, err := p.planGroupBy(s, from, in)
		if err != nil {
			return nil, err
		}
		from, ev = ar, aenv
	} else {
		ev = &env{p: p, sc: in}
	}

	// Select list.
	b := p.builder(ev)
	var exprs []expr.Expr
	var cols []scopeCol
	for _, t := range s.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "unexpected target")
		}
		if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
			xs, cs, err := ev.expandStar(cr)
			if err != nil {
				return nil, err
			}
			exprs, cols = append(exprs, xs...), append(cols, cs...)
			continue
		}
		x, err := b.Build(rt.Val, types.Unknown)
		if err != nil {
			return nil, err
		}
		x = resolveUnknown(x)
		c := scopeCol{name: targetName(rt), typ: x.Type()}
		if cr, ok := x.(*expr.ColRef); ok && !needAgg && cr.Idx < len(ev.sc.cols) {
			src := ev.sc.cols[cr.Idx]
			c.tableOID, c.attnum = src.tableOID, src.attnum
		}
		exprs, cols = append(exprs, x), append(cols, c)
	}
	var having expr.Expr
	if s.HavingClause != nil {
		having, err = b.Build(s.HavingClause, types.Bool)
		if err != nil {
			return nil, err
		}
	}
	if having != nil {
		from = &filterRel{in: from, pred: having}
	}
	return p.finishOrderLimit(s, from, ev.sc, exprs, cols, ev)
}

// finishOrderLimit adds projection, DISTINCT, ORDER BY and LIMIT on top of
// r. When exprs is nil, r's columns are the output (VALUES, set ops).
func (p *planner) finishOrderLimit(s *pg_query.SelectStmt, r rel, sc *scope, exprs []expr.Expr, cols []scopeCol, envs ...*env) (rel, error) {
	if exprs == nil {
		cols = r.cols()
		for i, c := range cols {
			exprs = append(exprs, &expr.ColRef{Idx: i, T: c.typ, Name: c.name})
		}
	}
	var ev *env
	if len(envs) > 0 {
		ev = envs[0]
	} else {
		ev = &env{p: p, sc: sc}
	}
	nOut := len(exprs)
	// ORDER BY an expression of the select list sorts by that column (and
	// so is allowed with DISTINCT); positions are known when there is no *.
	var targetKeys map[string]int
	if len(s.TargetList) == nOut {
		targetKeys = map[string]int{}
		for i, t := range s.TargetList {
			if rt := t.GetResTarget(); rt != nil && rt.Val != nil {
				if cr := rt.Val.GetColumnRef(); cr != nil && isStar(cr) {
					targetKeys = nil
					break
				}
				if _, dup := targetKeys[nodeKey(rt.Val)]; !dup {
					targetKeys[nodeKey(rt.Val)] = i
				}
			}
		}
	}
	var keys []sortKey
	for _, n := range s.SortClause {
		by := n.GetSortBy()
		idx := -1
		// An output column name or position.
		if cr := by.Node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
			if name := cr.Fields[0].GetString_(); name != nil {
				for i := 0; i < nOut; i++ {
					if cols[i].name == name.Sval {
						idx = i
						break
					}
				}
			}
		}
		if c := by.Node.GetAConst(); c != nil && c.GetIval() != nil {
			pos := int(c.GetIval().Ival)
			if pos < 1 || pos > nOut {
				return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "ORDER BY position %d is not in select list", pos)
			}
			idx = pos - 1
		}
		if idx < 0 && targetKeys != nil {
			if i, ok := targetKeys[nodeKey(by.Node)]; ok {
				idx = i
			}
		}
		if idx < 0 {
			x, err := p.builder(ev).Build(by.Node, types.Unknown)
			if err != nil {
				return nil, err
			}
			x = resolveUnknown(x)
			idx = len(exprs)
			exprs = append(exprs, x)
			cols = append(cols, scopeCol{name: "?sort?", typ: x.Type(), hidden: true})
		}
		k := sortKey{idx: idx, desc: by.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
		switch by.SortbyNulls {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			k.nullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			k.nullsFirst = false
		default:
			k.nullsFirst = k.desc
		}
		keys = append(keys, k)
	}
	var out rel = &projectRel{in: r, exprs: exprs, columns: cols}
	if len(s.DistinctClause) > 0 {
		if len(exprs) > nOut {
			return nil, pgerror.New(pgerror.CodeInvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
		}
		on := 0
		if len(s.DistinctClause) > 1 || (len(s.DistinctClause) == 1 && s.DistinctClause[0].Node != nil) {
			return nil, pgerror.Unsupported("SELECT DISTINCT ON is not supported yet")
		}
		out = &distinctRel{in: out, on: on}
	}
	if len(keys) > 0 {
		out = &sortRel{in: out, keys: keys}
	}
	if s.LimitCount != nil || s.LimitOffset != nil {
		lr := &limitRel{in: out}
		b := p.builder(&env{p: p, sc: &scope{outer: sc.outer}})
		var err error
		if s.LimitCount != nil {
			if c := s.LimitCount.GetAConst(); c == nil || !c.Isnull {
				if lr.limit, err = b.Build(s.LimitCount, types.Int8); err != nil {
					return nil, err
				}
			}
		}
		if s.LimitOffset != nil {
			if lr.offset, err = b.Build(s.LimitOffset, types.Int8); err != nil {
				return nil, err
			}
		}
		out = lr
	}
	if len(exprs) > nOut {
		strip := make([]expr.Expr, nOut)
		for i := range strip {
			strip[i] = &expr.ColRef{Idx: i, T: cols[i].typ, Name: cols[i].name}
		}
		out = &projectRel{in: out, exprs: strip, columns: cols[:nOut]}
	}
	return out, nil
}

// planValues plans a VALUES list.
func (p *planner) planValues(lists []*pg_query.Node, outer *scope, want []types.T) (rel, error) {
	b := p.builder(&env{p: p, sc: &scope{outer: outer}})
	v := &valuesRel{}
	var colTypes []types.T
	for li, l := range lists {
		items := l.GetList().GetItems()
		if li > 0 && len(items) != len(colTypes) {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "VALUES lists must all be the same length")
		}
		var row []expr.Expr
		for i, it := range items {
			w := types.Unknown
			if i < len(want) {
				w = want[i]
			} else if li > 0 {
				w = colTypes[i]
			}
			if it.GetSetToDefault() != nil {
				row = append(row, &defaultMarker{t: w})
				if li == 0 {
					colTypes = append(colTypes, w)
				}
				continue
			}
			x, err := b.Build(it, w)
			if err != nil {
				return nil, err
			}
			if li == 0 {
				colTypes = append(colTypes, x.Type())
			} else if x.Type().Oid != colTypes[i].Oid && colTypes[i].Oid == types.OidUnknown {
				colTypes[i] = x.Type()
			}
			row = append(row, x)
		}
		v.exprs = append(v.exprs, row)
	}
	for i, t := range colTypes {
		if t.Oid == types.OidUnknown {
			colTypes[i] = types.Text
		}
	}
	// Unify the column types: every row's value is coerced to the first
	// row's type unless a target type was given.
	for _, row := range v.exprs {
		for i, x := range row {
			if _, ok := x.(*defaultMarker); ok {
				continue
			}
			if x.Type().Oid != colTypes[i].Oid {
				cx, err := expr.Coerce(x, colTypes[i])
				if err == nil {
					row[i] = cx
				}
			}
		}
	}
	for i, t := range colTypes {
		v.columns = append(v.columns, scopeCol{name: "column" + itoa(i+1), typ: t})
	}
	return v, nil
}

// defaultMarker stands for DEFAULT in a VALUES list of an INSERT.
type defaultMarker struct{ t types.T }

func (d *defaultMarker) Type() types.T { return d.t }
func (d *defaultMarker) Eval(*expr.Ctx, []types.Datum) (types.Datum, error) {
	return defaultValue{}, nil
}

// defaultValue is the datum a defaultMarker yields; INSERT replaces it.
type defaultValue struct{}

// planSetOp plans UNION / INTERSECT / EXCEPT.
func (p *planner) planSetOp(s *pg_query.SelectStmt, outer *scope) (rel, error) {
	l, err := p.planSelect(s.Larg, outer, nil)
	if err != nil {
		return nil, err
	}
	r, err := p.planSelect(s.Rarg, outer, nil)
	if err != nil {
		return nil, err
	}
	lc, rc := l.cols(), r.cols()
	if len(lc) != len(rc) {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "each %s query must have the same number of columns", strings.ToUpper(setOpName(s.Op)))
	}
	cols := make([]scopeCol, len(lc))
	for i := range lc {
		cols[i] = scopeCol{name: lc[i].name, typ: lc[i].typ}
		if lc[i].typ.Oid == types.OidUnknown || lc[i].typ.Oid == types.OidText && rc[i].typ.Family() != types.StringFamily {
			cols[i].typ = rc[i].typ
		}
	}
	l, r = coerceRel(l, cols), coerceRel(r, cols)
	sr := &setOpRel{left: l, right: r, op: setOpName(s.Op), all: s.All, columns: cols}
	return p.finishOrderLimit(s, sr, &scope{cols: cols, outer: outer}, nil, nil)
}

// coerceRel casts r's columns to the types of cols where they differ.
func coerceRel(r rel, cols []scopeCol) rel {
	rc := r.cols()
	need := false
	exprs := make([]expr.Expr, len(rc))
	for i, c := range rc {
		exprs[i] = &expr.ColRef{Idx: i, T: c.typ, Name: c.name}
		if c.typ.Oid != cols[i].typ.Oid {
			if cx, err := expr.Coerce(exprs[i], cols[i].typ); err == nil {
				exprs[i], need = cx, true
			}
		}
	}
	if !need {
		return r
	}
	return &projectRel{in: r, exprs: exprs, columns: cols}
}

func setOpName(op pg_query.SetOperation) string {
	switch op {
	case pg_query.SetOperation_SETOP_INTERSECT:
		return "intersect"
	case pg_query.SetOperation_SETOP_EXCEPT:
		return "except"
	}
	return "union"
}

// resolveUnknown turns an unresolved literal into text.
func resolveUnknown(x expr.Expr) expr.Expr {
	if x.Type().Oid == types.OidUnknown {
		if cx, err := expr.Coerce(x, types.Text); err == nil {
			return cx
		}
	}
	return x
}

// targetName is the column name PostgreSQL gives a select-list item.
func targetName(rt *pg_query.ResTarget) string {
	if rt.Name != "" {
		return rt.Name
	}
	return nodeName(rt.Val)
}

func nodeName(n *pg_query.Node) string {
	switch {
	case n == nil:
		return "?column?"
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().Fields
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetFuncCall() != nil:
		f := n.GetFuncCall().Funcname
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.Sval
		}
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if name := nodeName(tc.Arg); name != "?column?" {
			return name
		}
		if names := tc.TypeName.GetNames(); len(names) > 0 {
			if s := names[len(names)-1].GetString_(); s != nil {
				switch s.Sval {
				case "int4":
					return "int4"
				}
				return s.Sval
			}
		}
	case n.GetCaseExpr() != nil:
		// PostgreSQL names a CASE after its ELSE result when that is a
		// column or a function call.
		if d := n.GetCaseExpr().Defresult; d != nil && (d.GetColumnRef() != nil || d.GetFuncCall() != nil) {
			return nodeName(d)
		}
		return "case"
	case n.GetCoalesceExpr() != nil:
		return "coalesce"
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case n.GetNullIfExpr() != nil:
		return "nullif"
	case n.GetAArrayExpr() != nil:
		return "array"
	case n.GetRowExpr() != nil:
		return "row"
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := sl.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				return targetName(sel.TargetList[0].GetResTarget())
			}
		}
	case n.GetSqlvalueFunction() != nil:
		return sqlValueFunctionName(n.GetSqlvalueFunction().Op)
	case n.GetAIndirection() != nil:
		return nodeName(n.GetAIndirection().Arg)
	}
	return "?column?"
}

func sqlValueFunctionName(op pg_query.SQLValueFunctionOp) string {
	switch op {
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return "current_date"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:
		return "current_time"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return "current_timestamp"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return "localtime"
	case pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return "localtimestamp"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return "current_role"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:
		return "current_user"
	case pg_query.SQLValueFunctionOp_SVFOP_USER:
		return "user"
	case pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return "session_user"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return "current_catalog"
	case pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return "current_schema"
	}
	return "?column?"
}

func isStar(cr *pg_query.ColumnRef) bool {
	return len(cr.Fields) > 0 && cr.Fields[len(cr.Fields)-1].GetAStar() != nil
}

func (p *planner) builder(ev *env) *expr.Builder {
	return &expr.Builder{Env: ev, Params: p.params, Session: sessionInfo{p.se}}
}

// execFromContext returns the execution a subquery runs in.
type execKey struct{}

func execFrom(ctx context.Context) *execCtx {
	e, _ := ctx.Value(execKey{}).(*execCtx)
	return e
}
