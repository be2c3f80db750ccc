package expr

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// preferredType reports pg_type.typispreferred.
func preferredType(t types.T) bool {
	switch t.Oid {
	case types.OidBool, types.OidText, types.OidOid, types.OidFloat8, types.OidTimestampTZ, types.OidInterval:
		return true
	}
	return false
}

// commonType is PostgreSQL's select_common_type: the type that CASE
// results, COALESCE/GREATEST arguments and ARRAY elements are converted to.
// what names the construct in the error ("CASE", "COALESCE", "ARRAY").
func commonType(es []Expr, what string, locs []int32) (types.T, error) {
	pt := types.Unknown
	sameMod := true
	for i, e := range es {
		nt := e.Type()
		if nt.Oid == types.OidUnknown {
			continue
		}
		if pt.Oid == types.OidUnknown {
			pt = nt
			continue
		}
		if nt.Oid == pt.Oid {
			if nt.Mod != pt.Mod {
				sameMod = false
			}
			continue
		}
		sameMod = false
		if category(nt) != category(pt) {
			loc := int32(-1)
			if i < len(locs) {
				loc = locs[i]
			}
			return types.T{}, errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", what, typeName(pt), typeName(nt)), loc)
		}
		if !preferredType(pt) && castContext(pt, nt) == castImplicit && castContext(nt, pt) != castImplicit {
			pt = nt
		}
	}
	if pt.Oid == types.OidUnknown {
		return types.Text, nil
	}
	if !sameMod {
		pt.Mod = -1
	}
	return pt, nil
}

// category is pg_type.typcategory; the string types share 'S'.
func category(t types.T) byte {
	if t.Oid == types.OidChar || t.Oid == types.OidName {
		return 'S'
	}
	return t.Category()
}

// coerceAll converts every expression to t (implicit casts).
func (b *Builder) coerceAll(es []Expr, t types.T, what string, locs []int32) error {
	for i, e := range es {
		loc := int32(-1)
		if i < len(locs) {
			loc = locs[i]
		}
		if e.Type() != t && e.Type().Oid != types.OidUnknown && castContext(e.Type(), t) != castImplicit {
			return errAt(pgerror.New(pgerror.CodeCannotCoerce, "%s could not convert type %s to %s", what, typeName(e.Type()), typeName(t)), loc)
		}
		c, err := b.coerce(e, t, castImplicit, loc)
		if err != nil {
			return err
		}
		es[i] = c
	}
	return nil
}

// caseExpr is CASE: searched (conds are bool expressions) or simple (arg is
// compared with each value in whens).
type caseExpr struct {
	arg     Expr
	cmp     cmpFunc
	whens   []Expr
	results []Expr
	def     Expr // nil: NULL
	t       types.T
}

func (e *caseExpr) Type() types.T  { return e.t }
func (e *caseExpr) foldable() bool { return true }
func (e *caseExpr) children() []Expr {
	var k []Expr
	if e.arg != nil {
		k = append(k, e.arg)
	}
	k = append(k, e.whens...)
	k = append(k, e.results...)
	if e.def != nil {
		k = append(k, e.def)
	}
	return k
}

func (e *caseExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	if e.arg != nil {
		v, err := e.arg.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if v != nil {
			for i, w := range e.whens {
				d, err := w.Eval(c, row)
				if err != nil {
					return nil, err
				}
				if d != nil && e.cmp(v, d) == 0 {
					return e.results[i].Eval(c, row)
				}
			}
		}
	} else {
		for i, w := range e.whens {
			d, err := w.Eval(c, row)
			if err != nil {
				return nil, err
			}
			if d != nil && d.(bool) {
				return e.results[i].Eval(c, row)
			}
		}
	}
	if e.def == nil {
		return nil, nil
	}
	return e.def.Eval(c, row)
}

func (b *Builder) buildCase(x *pg_query.CaseExpr) (Expr, error) {
	e := &caseExpr{}
	var err error
	if x.Arg != nil {
		if e.arg, err = b.build(x.Arg, types.Unknown); err != nil {
			return nil, err
		}
	}
	var resLocs []int32
	for _, wn := range x.Args {
		w := wn.GetCaseWhen()
		cond, err := b.build(w.Expr, types.Unknown)
		if err != nil {
			return nil, err
		}
		if e.arg == nil {
			if cond, err = b.coerceBool(cond, "CASE/WHEN", exprLocation(w.Expr, w.Location)); err != nil {
				return nil, err
			}
		}
		e.whens = append(e.whens, cond)
		res, err := b.build(w.Result, types.Unknown)
		if err != nil {
			return nil, err
		}
		e.results = append(e.results, res)
		resLocs = append(resLocs, exprLocation(w.Result, w.Location))
	}
	if e.arg != nil {
		// One comparison type for the operand and all WHEN values.
		all := append([]Expr{e.arg}, e.whens...)
		t := types.Unknown
		for _, a := range all {
			at := a.Type()
			if at.Oid == types.OidUnknown {
				continue
			}
			if t.Oid == types.OidUnknown {
				t = at
				continue
			}
			ct, ok := cmpType(t, at)
			if !ok {
				return nil, errNoOperator("=", t, at, x.Location)
			}
			t = ct
		}
		if t.Oid == types.OidUnknown {
			t = types.Text
		}
		t = baseType(t)
		for i, a := range all {
			if all[i], err = b.coerceCmp(a, t, x.Location); err != nil {
				return nil, err
			}
		}
		e.arg, e.whens, e.cmp = all[0], all[1:], comparator(t)
	}
	// PostgreSQL resolves the ELSE result first, then the THEN results.
	results := e.results
	if x.Defresult != nil {
		if e.def, err = b.build(x.Defresult, types.Unknown); err != nil {
			return nil, err
		}
		results = append([]Expr{e.def}, e.results...)
		resLocs = append([]int32{exprLocation(x.Defresult, x.Location)}, resLocs...)
	}
	t, err := commonType(results, "CASE", resLocs)
	if err != nil {
		return nil, err
	}
	if err := b.coerceAll(results, t, "CASE/WHEN", resLocs); err != nil {
		return nil, err
	}
	e.t = t
	if e.def != nil {
		e.def = results[0]
		copy(e.results, results[1:])
	}
	return foldCase(e), nil
}

// foldCase drops WHEN arms whose condition is a constant false or NULL and
// resolves a leading constant true, as eval_const_expressions does.
func foldCase(e *caseExpr) Expr {
	if e.arg != nil {
		return fold(e)
	}
	var whens, results []Expr
	for i, w := range e.whens {
		if k, ok := w.(*Const); ok {
			if k.D == nil || !k.D.(bool) {
				continue
			}
			if len(whens) == 0 {
				return e.results[i]
			}
			e.def = e.results[i]
			break
		}
		whens = append(whens, w)
		results = append(results, e.results[i])
	}
	if len(whens) == 0 {
		if e.def == nil {
			return &Const{T: e.t}
		}
		return e.def
	}
	e.whens, e.results = whens, results
	return fold(e)
}

// coerceBool makes e a bool expression for a boolean context (an untyped
// literal is read as a bool).
func (b *Builder) coerceBool(e Expr, what string, loc int32) (Expr, error) {
	t := e.Type()
	if t.Oid == types.OidBool {
		return e, nil
	}
	if t.Oid == types.OidUnknown {
		return b.coerce(e, types.Bool, castImplicit, loc)
	}
	return nil, errNotBool(what, t, loc)
}

// coalesceExpr is COALESCE: the first non-NULL argument.
type coalesceExpr struct {
	args []Expr
	t    types.T
}

func (e *coalesceExpr) Type() types.T    { return e.t }
func (e *coalesceExpr) children() []Expr { return e.args }
func (e *coalesceExpr) foldable() bool   { return true }

func (e *coalesceExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	for _, a := range e.args {
		d, err := a.Eval(c, row)
		if d != nil || err != nil {
			return d, err
		}
	}
	return nil, nil
}

// buildList builds expressions without a type hint and returns their
// locations.
func (b *Builder) buildList(ns []*pg_query.Node, def int32) ([]Expr, []int32, error) {
	es := make([]Expr, len(ns))
	locs := make([]int32, len(ns))
	for i, n := range ns {
		e, err := b.build(n, types.Unknown)
		if err != nil {
			return nil, nil, err
		}
		es[i], locs[i] = e, exprLocation(n, def)
	}
	return es, locs, nil
}

func (b *Builder) buildCoalesce(x *pg_query.CoalesceExpr, want types.T) (Expr, error) {
	args, locs, err := b.buildList(x.Args, x.Location)
	if err != nil {
		return nil, err
	}
	t, err := commonType(args, "COALESCE", locs)
	if err != nil {
		return nil, err
	}
	if err := b.coerceAll(args, t, "COALESCE", locs); err != nil {
		return nil, err
	}
	// Leading constant NULLs never matter; a constant non-NULL ends the list.
	var kept []Expr
	for _, a := range args {
		if k, ok := a.(*Const); ok {
			if k.D == nil {
				continue
			}
			kept = append(kept, a)
			break
		}
		kept = append(kept, a)
	}
	switch len(kept) {
	case 0:
		return &Const{T: t}, nil
	case 1:
		return kept[0], nil
	}
	return &coalesceExpr{args: kept, t: t}, nil
}

// minMaxExpr is GREATEST / LEAST: NULL arguments are ignored.
type minMaxExpr struct {
	args     []Expr
	cmp      cmpFunc
	greatest bool
	t        types.T
}

func (e *minMaxExpr) Type() types.T    { return e.t }
func (e *minMaxExpr) children() []Expr { return e.args }
func (e *minMaxExpr) foldable() bool   { return true }

func (e *minMaxExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	var best types.Datum
	for _, a := range e.args {
		d, err := a.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue
		}
		if best == nil {
			best = d
			continue
		}
		if r := e.cmp(d, best); (r > 0) == e.greatest && r != 0 {
			best = d
		}
	}
	return best, nil
}

func (b *Builder) buildMinMax(x *pg_query.MinMaxExpr) (Expr, error) {
	what := "GREATEST"
	if x.Op == pg_query.MinMaxOp_IS_LEAST {
		what = "LEAST"
	}
	args, locs, err := b.buildList(x.Args, x.Location)
	if err != nil {
		return nil, err
	}
	t, err := commonType(args, what, locs)
	if err != nil {
		return nil, err
	}
	if !comparable(t) {
		return nil, errAt(pgerror.New(pgerror.CodeUndefinedFunction, "could not identify a comparison function for type %s", typeName(t)), x.Location)
	}
	if err := b.coerceAll(args, t, what, locs); err != nil {
		return nil, err
	}
	return fold(&minMaxExpr{args: args, cmp: comparator(t), greatest: what == "GREATEST", t: t}), nil
}

// nullIfExpr is NULLIF(l, r): NULL when l = r, else l.
type nullIfExpr struct {
	l, r Expr
	cmp  cmpFunc
}

func (e *nullIfExpr) Type() types.T    { return e.l.Type() }
func (e *nullIfExpr) children() []Expr { return []Expr{e.l, e.r} }
func (e *nullIfExpr) foldable() bool   { return true }

func (e *nullIfExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.Eval(c, row)
	if a == nil || err != nil {
		return nil, err
	}
	d, err := e.r.Eval(c, row)
	if err != nil {
		return nil, err
	}
	if d != nil && e.cmp(a, d) == 0 {
		return nil, nil
	}
	return a, nil
}

func (b *Builder) nullIf(l, r Expr, loc int32) (Expr, error) {
	l, r, t, err := b.resolveCmp("=", l, r, loc)
	if err != nil {
		return nil, err
	}
	return fold(&nullIfExpr{l: l, r: r, cmp: comparator(t)}), nil
}

// boolTest is IS [NOT] TRUE / FALSE / UNKNOWN.
type boolTest struct {
	arg  Expr
	kind pg_query.BoolTestType
}

func (e *boolTest) Type() types.T    { return types.Bool }
func (e *boolTest) children() []Expr { return []Expr{e.arg} }
func (e *boolTest) foldable() bool   { return true }

func (e *boolTest) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	d, err := e.arg.Eval(c, row)
	if err != nil {
		return nil, err
	}
	switch e.kind {
	case pg_query.BoolTestType_IS_TRUE:
		return d != nil && d.(bool), nil
	case pg_query.BoolTestType_IS_NOT_TRUE:
		return d == nil || !d.(bool), nil
	case pg_query.BoolTestType_IS_FALSE:
		return d != nil && !d.(bool), nil
	case pg_query.BoolTestType_IS_NOT_FALSE:
		return d == nil || d.(bool), nil
	case pg_query.BoolTestType_IS_UNKNOWN:
		return d == nil, nil
	}
	return d != nil, nil
}

func (b *Builder) buildBoolTest(x *pg_query.BooleanTest) (Expr, error) {
	arg, err := b.build(x.Arg, types.Bool)
	if err != nil {
		return nil, err
	}
	what := "IS TRUE"
	switch x.Booltesttype {
	case pg_query.BoolTestType_IS_NOT_TRUE:
		what = "IS NOT TRUE"
	case pg_query.BoolTestType_IS_FALSE:
		what = "IS FALSE"
	case pg_query.BoolTestType_IS_NOT_FALSE:
		what = "IS NOT FALSE"
	case pg_query.BoolTestType_IS_UNKNOWN:
		what = "IS UNKNOWN"
	case pg_query.BoolTestType_IS_NOT_UNKNOWN:
		what = "IS NOT UNKNOWN"
	}
	if arg, err = b.coerceBool(arg, what, x.Location); err != nil {
		return nil, err
	}
	return fold(&boolTest{arg: arg, kind: x.Booltesttype}), nil
}
