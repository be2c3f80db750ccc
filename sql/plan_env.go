package sql

import (
	"context"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// env implements expr.Env for one scope.
type env struct {
	p  *planner
	sc *scope
	// agg is set while building over an aggregation's output: input is the
	// pre-aggregation scope, groups the GROUP BY expressions (their nodes'
	// keys), and aggs collects the aggregate calls met.
	agg *aggBuild
	// probeAgg is set while only checking whether aggregates occur.
	probeAgg bool
}

type aggBuild struct {
	input     *scope
	groupKeys []string // nodeKey of each GROUP BY expression
	groupCols []int    // for plain column GROUP BY items: the input column; else -1
	rel       *aggRel
}

// Column implements expr.Env.
func (ev *env) Column(ref *pg_query.ColumnRef) (expr.Expr, error) {
	if ev.agg != nil {
		idx, c, err := resolveIn(ev.agg.input, ref)
		if err != nil {
			if x, ok := ev.outerRef(ev.agg.input.outer, ref, 1); ok {
				return x, nil
			}
			return nil, err
		}
		for g, gc := range ev.agg.groupCols {
			if gc == idx {
				return &expr.ColRef{Idx: g, T: c.typ, Name: c.name}, nil
			}
		}
		e := pgerror.New(pgerror.CodeGroupingError, "column \"%s\" must appear in the GROUP BY clause or be used in an aggregate function", colRefText(ref))
		e.Position = ref.Location + 1
		return nil, e
	}
	idx, c, err := resolveIn(ev.sc, ref)
	if err != nil {
		if x, ok := ev.outerRef(ev.sc.outer, ref, 1); ok {
			return x, nil
		}
		return nil, err
	}
	return &expr.ColRef{Idx: idx, T: c.typ, Name: c.name}, nil
}

// outerRef resolves ref in an enclosing query's scope.
func (ev *env) outerRef(sc *scope, ref *pg_query.ColumnRef, depth int) (expr.Expr, bool) {
	for s := sc; s != nil; s = s.outer {
		if idx, c, err := resolveIn(s, ref); err == nil {
			return &outerRef{depth: depth, idx: idx, t: c.typ}, true
		}
		depth++
	}
	return nil, false
}

func colRefText(ref *pg_query.ColumnRef) string {
	var parts []string
	for _, f := range ref.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		} else {
			parts = append(parts, "*")
		}
	}
	return strings.Join(parts, ".")
}

// resolveIn finds ref among sc's own columns.
func resolveIn(sc *scope, ref *pg_query.ColumnRef) (int, scopeCol, error) {
	var table, name string
	switch len(ref.Fields) {
	case 1:
		name = ref.Fields[0].GetString_().GetSval()
	case 2:
		table, name = ref.Fields[0].GetString_().GetSval(), ref.Fields[1].GetString_().GetSval()
	case 3:
		table, name = ref.Fields[1].GetString_().GetSval(), ref.Fields[2].GetString_().GetSval()
	default:
		return 0, scopeCol{}, pgerror.New(pgerror.CodeSyntaxError, "improper qualified name (too many dotted names): %s", colRefText(ref))
	}
	found, hiddenFound := -1, -1
	if sc != nil {
		for i, c := range sc.cols {
			if c.name != name || (table != "" && c.table != table) {
				continue
			}
			if c.hidden && c.table != "" && table == "" {
				if hiddenFound < 0 {
					hiddenFound = i
				}
				continue
			}
			if found >= 0 {
				e := pgerror.New(pgerror.CodeAmbiguousColumn, "column reference \"%s\" is ambiguous", name)
				e.Position = ref.Location + 1
				return 0, scopeCol{}, e
			}
			found = i
		}
	}
	if found < 0 {
		found = hiddenFound
	}
	if found < 0 {
		var e *pgerror.Error
		if table != "" && sc != nil && !hasTable(sc, table) {
			e = pgerror.New(pgerror.CodeUndefinedTable, "missing FROM-clause entry for table \"%s\"", table)
		} else if table != "" {
			e = pgerror.New(pgerror.CodeUndefinedColumn, "column %s.%s does not exist", table, name)
		} else {
			e = pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", name)
		}
		e.Position = ref.Location + 1
		return 0, scopeCol{}, e
	}
	return found, sc.cols[found], nil
}

func hasTable(sc *scope, table string) bool {
	for _, c := range sc.cols {
		if c.table == table {
			return true
		}
	}
	return false
}

// expandStar expands * or t.* over the env's scope.
func (ev *env) expandStar(cr *pg_query.ColumnRef) ([]expr.Expr, []scopeCol, error) {
	if ev.agg != nil {
		return nil, nil, pgerror.New(pgerror.CodeGroupingError, "SELECT * with GROUP BY is not supported; name the columns")
	}
	table := ""
	if len(cr.Fields) >= 2 {
		table = cr.Fields[len(cr.Fields)-2].GetString_().GetSval()
	}
	var xs []expr.Expr
	var cs []scopeCol
	for i, c := range ev.sc.cols {
		if c.hidden || (table != "" && c.table != table) {
			continue
		}
		xs = append(xs, &expr.ColRef{Idx: i, T: c.typ, Name: c.name})
		cs = append(cs, c)
	}
	if table != "" && len(xs) == 0 && !hasTable(ev.sc, table) {
		return nil, nil, pgerror.New(pgerror.CodeUndefinedTable, "missing FROM-clause entry for table \"%s\"", table)
	}
	if len(ev.sc.cols) == 0 && table == "" {
		return nil, nil, pgerror.New(pgerror.CodeSyntaxError, "SELECT * with no tables specified is not valid")
	}
	return xs, cs, nil
}

// errAggregateFound stops a probe build at the first aggregate.
var errAggregateFound = pgerror.New(pgerror.CodeGroupingError, "aggregate found")

// Aggregate implements expr.Env.
func (ev *env) Aggregate(b *expr.Builder, call *pg_query.FuncCall) (expr.Expr, error) {
	if ev.probeAgg {
		return nil, errAggregateFound
	}
	if ev.agg == nil {
		e := pgerror.New(pgerror.CodeGroupingError, "aggregate functions are not allowed here")
		e.Position = call.Location + 1
		return nil, e
	}
	if call.Over != nil {
		return nil, pgerror.Unsupported("window functions are not supported yet")
	}
	name := strings.ToLower(call.Funcname[len(call.Funcname)-1].GetString_().GetSval())
	ib := ev.p.builder(&env{p: ev.p, sc: ev.agg.input})
	var args []expr.Expr
	var argTypes []types.T
	for _, a := range call.Args {
		x, err := ib.Build(a, types.Unknown)
		if err != nil {
			return nil, err
		}
		x = resolveUnknown(x)
		args = append(args, x)
		argTypes = append(argTypes, x.Type())
	}
	if len(call.AggOrder) > 0 && name != "string_agg" && name != "array_agg" {
		return nil, pgerror.Unsupported("ORDER BY inside aggregate %s is not supported", name)
	}
	var order []sortKeyExpr
	for _, o := range call.AggOrder {
		by := o.GetSortBy()
		x, err := ib.Build(by.Node, types.Unknown)
		if err != nil {
			return nil, err
		}
		order = append(order, sortKeyExpr{x: resolveUnknown(x), desc: by.SortbyDir == pg_query.SortByDir_SORTBY_DESC})
	}
	newState, rt, err := expr.NewAggregate(name, argTypes, call.AggDistinct, call.AggStar)
	if err != nil {
		return nil, err
	}
	var filter expr.Expr
	if call.AggFilter != nil {
		if filter, err = ib.Build(call.AggFilter, types.Bool); err != nil {
			return nil, err
		}
	}
	r := ev.agg.rel
	r.aggs = append(r.aggs, &aggSpec{newState: newState, args: args, typ: rt, filter: filter, order: order,
		name: name, argNodes: call.Args, star: call.AggStar, distinct: call.AggDistinct})
	return &expr.ColRef{Idx: len(r.groups) + len(r.aggs) - 1, T: rt, Name: name}, nil
}

// Replace implements expr.Env: GROUP BY expressions are read from the
// aggregation's output.
func (ev *env) Replace(b *expr.Builder, n *pg_query.Node) (expr.Expr, error) {
	if n.GetColumnRef() != nil || n.GetAConst() != nil {
		return nil, nil
	}
	if ev.agg == nil {
		return ev.p.replaceFunc(n)
	}
	k := nodeKey(n)
	for g, gk := range ev.agg.groupKeys {
		if gk == k {
			x := ev.agg.rel.groups[g]
			return &expr.ColRef{Idx: g, T: x.Type(), Name: nodeName(n)}, nil
		}
	}
	// nextval and friends are the planner's.
	return ev.p.replaceFunc(n)
}

// Subquery implements expr.Env.
func (ev *env) Subquery(b *expr.Builder, link *pg_query.SubLink) (expr.Expr, error) {
	if ev.probeAgg {
		return &expr.Const{T: types.Bool}, nil
	}
	sc := ev.sc
	if ev.agg != nil {
		sc = ev.agg.input
	}
	sel := link.Subselect.GetSelectStmt()
	if sel == nil {
		return nil, pgerror.Unsupported("this kind of subquery is not supported")
	}
	sub, err := ev.p.planSelect(sel, sc, nil)
	if err != nil {
		return nil, err
	}
	sq := &subquery{plan: sub, correlated: true}
	cols := sub.cols()
	switch link.SubLinkType {
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		sq.kind, sq.t = "exists", types.Bool
	case pg_query.SubLinkType_EXPR_SUBLINK:
		if len(cols) != 1 {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "subquery must return only one column")
		}
		sq.kind, sq.t = "expr", cols[0].typ
	case pg_query.SubLinkType_ARRAY_SUBLINK:
		if len(cols) != 1 {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "subquery must return only one column")
		}
		sq.kind, sq.t = "array", types.ArrayOf(cols[0].typ)
	case pg_query.SubLinkType_ANY_SUBLINK, pg_query.SubLinkType_ALL_SUBLINK:
		if len(cols) != 1 {
			return nil, pgerror.Unsupported("subqueries returning several columns are not supported in IN/ANY/ALL")
		}
		op := "="
		if len(link.OperName) > 0 {
			op = link.OperName[len(link.OperName)-1].GetString_().GetSval()
		}
		test, err := b.Build(link.Testexpr, cols[0].typ)
		if err != nil {
			return nil, err
		}
		sq.kind, sq.t, sq.op, sq.test, sq.elemT = "any", types.Bool, op, resolveUnknown(test), cols[0].typ
		if link.SubLinkType == pg_query.SubLinkType_ALL_SUBLINK {
			sq.kind = "all"
		}
	default:
		return nil, pgerror.Unsupported("this kind of subquery is not supported")
	}
	return sq, nil
}

// containsAggregate reports whether n calls an aggregate outside any
// subquery.
func containsAggregate(n *pg_query.Node) bool {
	found := false
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if found {
			return
		}
		if fc, ok := m.Interface().(*pg_query.FuncCall); ok && fc.Over == nil && len(fc.Funcname) > 0 {
			if expr.IsAggregate(strings.ToLower(fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval())) {
				found = true
				return
			}
		}
		if _, ok := m.Interface().(*pg_query.SubLink); ok {
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					walk(l.Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return !found
		})
	}
	if n != nil {
		walk(n.ProtoReflect())
	}
	return found
}

// nodeKey returns a key equal for two nodes that differ only in location.
func nodeKey(n *pg_query.Node) string {
	c := proto.Clone(n)
	clearLocations(c.ProtoReflect())
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	return string(b)
}

func clearLocations(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "location" && fd.Kind() == protoreflect.Int32Kind:
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				clearLocations(l.Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			clearLocations(v.Message())
		}
		return true
	})
}

// outerRef reads a column of an enclosing query's current row.
type outerRef struct {
	depth int
	idx   int
	t     types.T
}

func (o *outerRef) Type() types.T { return o.t }

func (o *outerRef) Eval(c *expr.Ctx, _ []types.Datum) (types.Datum, error) {
	stack, _ := c.Context.Value(outerKey{}).([]row)
	if o.depth > len(stack) {
		return nil, pgerror.New(pgerror.CodeInternalError, "correlated reference outside its query")
	}
	return stack[len(stack)-o.depth][o.idx], nil
}

type outerKey struct{}

// subquery evaluates a SubLink.
type subquery struct {
	plan       rel
	kind       string // exists, expr, array, any, all
	t          types.T
	op         string
	test       expr.Expr
	elemT      types.T
	correlated bool
}

func (s *subquery) Type() types.T { return s.t }

func (s *subquery) Eval(c *expr.Ctx, rw []types.Datum) (types.Datum, error) {
	e := execFrom(c.Context)
	if e == nil {
		return nil, pgerror.New(pgerror.CodeInternalError, "subquery evaluated outside a statement")
	}
	stack, _ := c.Context.Value(outerKey{}).([]row)
	ctx := context.WithValue(c.Context, outerKey{}, append(append([]row(nil), stack...), rw))
	sub := *e
	sub.ctx = ctx
	ev := *c
	ev.Context = ctx
	sub.ev = &ev
	rows, err := s.plan.rows(&sub)
	if err != nil {
		return nil, err
	}
	switch s.kind {
	case "exists":
		return len(rows) > 0, nil
	case "expr":
		if len(rows) == 0 {
			return nil, nil
		}
		if len(rows) > 1 {
			return nil, pgerror.New(pgerror.CodeCardinalityViolation, "more than one row returned by a subquery used as an expression")
		}
		return rows[0][0], nil
	case "array":
		a := &types.Array{Elem: s.t.Elem()}
		for _, r := range rows {
			a.Elems = append(a.Elems, r[0])
		}
		return a, nil
	}
	v, err := s.test.Eval(c, rw)
	if err != nil {
		return nil, err
	}
	sawNull := v == nil
	for _, r := range rows {
		if r[0] == nil || v == nil {
			sawNull = true
			continue
		}
		cmp, err := compareMixed(s.test.Type(), v, s.elemT, r[0])
		if err != nil {
			return nil, err
		}
		ok := opHolds(s.op, cmp)
		if s.kind == "any" && ok {
			return true, nil
		}
		if s.kind == "all" && !ok {
			return false, nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return s.kind == "all", nil
}

func opHolds(op string, cmp int) bool {
	switch op {
	case "=":
		return cmp == 0
	case "<>", "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

// compareMixed compares values of possibly different types in comparable
// families.
func compareMixed(ta types.T, a types.Datum, tb types.T, b types.Datum) (int, error) {
	fa, fb := ta.Family(), tb.Family()
	if fa == fb {
		return types.Compare(ta, a, b), nil
	}
	numeric := func(f types.Family) bool {
		return f == types.IntFamily || f == types.FloatFamily || f == types.DecimalFamily || f == types.OidFamily
	}
	if numeric(fa) && numeric(fb) {
		target := types.Numeric
		if fa == types.FloatFamily || fb == types.FloatFamily {
			target = types.Float8
		}
		x, err := types.Cast(a, ta, target)
		if err != nil {
			return 0, err
		}
		y, err := types.Cast(b, tb, target)
		if err != nil {
			return 0, err
		}
		return types.Compare(target, x, y), nil
	}
	y, err := types.Cast(b, tb, ta)
	if err != nil {
		return 0, err
	}
	return types.Compare(ta, a, y), nil
}
