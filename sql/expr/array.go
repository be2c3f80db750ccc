package expr

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Arrays are one-dimensional with lower bound 1 (types.Array).

// arrayExpr is ARRAY[e1, e2, ...].
type arrayExpr struct {
	elems []Expr
	t     types.T
}

func (e *arrayExpr) Type() types.T    { return e.t }
func (e *arrayExpr) children() []Expr { return e.elems }
func (e *arrayExpr) foldable() bool   { return true }

func (e *arrayExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a := &types.Array{Elem: e.t.Elem(), Elems: make([]types.Datum, len(e.elems))}
	for i, x := range e.elems {
		d, err := x.Eval(c, row)
		if err != nil {
			return nil, err
		}
		a.Elems[i] = d
	}
	return a, nil
}

func (b *Builder) buildArray(x *pg_query.A_ArrayExpr, want types.T) (Expr, error) {
	elemWant := types.Unknown
	if want.Family() == types.ArrayFamily {
		elemWant = want.Elem()
	}
	elems := make([]Expr, len(x.Elements))
	locs := make([]int32, len(x.Elements))
	for i, n := range x.Elements {
		if n.GetAArrayExpr() != nil {
			return nil, errAt(pgerror.Unsupported("multidimensional arrays are not supported"), x.Location)
		}
		e, err := b.build(n, elemWant)
		if err != nil {
			return nil, err
		}
		if e.Type().Family() == types.ArrayFamily {
			return nil, errAt(pgerror.Unsupported("multidimensional arrays are not supported"), x.Location)
		}
		elems[i], locs[i] = e, exprLocation(n, x.Location)
	}
	var et types.T
	if len(elems) == 0 {
		if elemWant.Oid == types.OidUnknown {
			return nil, errAt(pgerror.New(pgerror.CodeIndeterminateDatatype, "cannot determine type of empty array").
				WithHint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."), x.Location)
		}
		et = elemWant
	} else {
		var err error
		if et, err = commonType(elems, "ARRAY", locs); err != nil {
			return nil, err
		}
		if allUntyped(elems) && elemWant.Oid != types.OidUnknown {
			et = elemWant
		}
	}
	at := types.ArrayOf(baseType(et))
	if at.Oid == types.OidUnknown {
		return nil, errAt(pgerror.New(pgerror.CodeUndefinedObject, "could not find array type for data type %s", typeName(et)), x.Location)
	}
	if err := b.coerceAll(elems, baseType(et), "ARRAY", locs); err != nil {
		return nil, err
	}
	return fold(&arrayExpr{elems: elems, t: at}), nil
}

func allUntyped(es []Expr) bool {
	for _, e := range es {
		if !isUntyped(e) {
			return false
		}
	}
	return true
}

// subscriptExpr is arr[i] (NULL when out of range) or arr[lo:hi].
type subscriptExpr struct {
	arr, lo, hi Expr // lo nil for arr[i]; for slices either bound may be nil
	slice       bool
	t           types.T
}

func (e *subscriptExpr) Type() types.T  { return e.t }
func (e *subscriptExpr) foldable() bool { return true }
func (e *subscriptExpr) children() []Expr {
	k := []Expr{e.arr}
	if e.lo != nil {
		k = append(k, e.lo)
	}
	if e.hi != nil {
		k = append(k, e.hi)
	}
	return k
}

func (e *subscriptExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	ad, err := e.arr.Eval(c, row)
	if ad == nil || err != nil {
		return nil, err
	}
	a := ad.(*types.Array)
	if !e.slice {
		d, err := e.hi.Eval(c, row)
		if d == nil || err != nil {
			return nil, err
		}
		i := d.(int64)
		if i < 1 || i > int64(len(a.Elems)) {
			return nil, nil
		}
		return a.Elems[i-1], nil
	}
	lo, hi := int64(1), int64(len(a.Elems))
	if e.lo != nil {
		d, err := e.lo.Eval(c, row)
		if d == nil || err != nil {
			return nil, err
		}
		lo = max(lo, d.(int64))
	}
	if e.hi != nil {
		d, err := e.hi.Eval(c, row)
		if d == nil || err != nil {
			return nil, err
		}
		hi = min(hi, d.(int64))
	}
	r := &types.Array{Elem: a.Elem}
	if lo <= hi {
		r.Elems = a.Elems[lo-1 : hi]
	}
	return r, nil
}

func (b *Builder) buildIndirection(x *pg_query.A_Indirection) (Expr, error) {
	e, err := b.build(x.Arg, types.Unknown)
	if err != nil {
		return nil, err
	}
	for _, ind := range x.Indirection {
		idx := ind.GetAIndices()
		if idx == nil {
			return nil, errUnsupported("field selection", exprLocation(x.Arg, -1))
		}
		if e.Type().Family() != types.ArrayFamily {
			if e.Type().Oid == types.OidJSONB {
				return nil, errUnsupported("jsonb subscripting", exprLocation(x.Arg, -1))
			}
			return nil, errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "cannot subscript type %s because it does not support subscripting", typeName(e.Type())), exprLocation(x.Arg, -1))
		}
		s := &subscriptExpr{arr: e, slice: idx.IsSlice, t: e.Type()}
		if !idx.IsSlice {
			s.t = e.Type().Elem()
		}
		bound := func(n *pg_query.Node) (Expr, error) {
			if n == nil {
				return nil, nil
			}
			be, err := b.build(n, types.Int4)
			if err != nil {
				return nil, err
			}
			if be.Type().Family() != types.IntFamily && be.Type().Oid != types.OidUnknown {
				return nil, errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "array subscript must have type integer"), exprLocation(n, -1))
			}
			return b.coerce(be, types.Int4, castImplicit, exprLocation(n, -1))
		}
		if s.lo, err = bound(idx.Lidx); err != nil {
			return nil, err
		}
		if s.hi, err = bound(idx.Uidx); err != nil {
			return nil, err
		}
		e = fold(s)
	}
	return e, nil
}

// anyExpr is "l op ANY (arr)" (or ALL): true if some (every) element
// satisfies pred, with SQL NULL semantics; an empty array gives false
// (true) whatever l is.
type anyExpr struct {
	l, arr Expr
	pred   func(a, b types.Datum) (types.Datum, error)
	all    bool
}

func (e *anyExpr) Type() types.T    { return types.Bool }
func (e *anyExpr) children() []Expr { return []Expr{e.l, e.arr} }
func (e *anyExpr) foldable() bool   { return true }

func (e *anyExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	x, err := e.l.Eval(c, row)
	if err != nil {
		return nil, err
	}
	ad, err := e.arr.Eval(c, row)
	if ad == nil || err != nil {
		return nil, err
	}
	a := ad.(*types.Array)
	if len(a.Elems) == 0 {
		return e.all, nil
	}
	if x == nil {
		return nil, nil
	}
	null := false
	for _, d := range a.Elems {
		if d == nil {
			null = true
			continue
		}
		r, err := e.pred(x, d)
		if err != nil {
			return nil, err
		}
		if r == nil {
			null = true
			continue
		}
		if r.(bool) != e.all {
			return !e.all, nil
		}
	}
	if null {
		return nil, nil
	}
	return e.all, nil
}

func (b *Builder) buildAnyAll(x *pg_query.A_Expr, op string, all bool) (Expr, error) {
	l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
	if err != nil {
		return nil, err
	}
	if isUntyped(l) && isUntyped(r) {
		if l, err = b.coerce(l, types.Text, castImplicit, x.Location); err != nil {
			return nil, err
		}
	}
	if isUntyped(r) {
		if r, err = b.coerce(r, types.ArrayOf(baseType(l.Type())), castImplicit, x.Location); err != nil {
			return nil, err
		}
	}
	if r.Type().Family() != types.ArrayFamily {
		return nil, errAt(pgerror.New(pgerror.CodeWrongObjectType, "op ANY/ALL (array) requires array on right side"), x.Location)
	}
	elem := r.Type().Elem()
	if isUntyped(l) {
		if l, err = b.coerce(l, elem, castImplicit, x.Location); err != nil {
			return nil, err
		}
	}
	e := &anyExpr{l: l, arr: r, all: all}
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		t, ok := cmpType(l.Type(), elem)
		if !ok || !comparable(t) {
			return nil, errNoOperator(op, l.Type(), elem, x.Location)
		}
		if e.l, err = b.coerceCmp(l, t, x.Location); err != nil {
			return nil, err
		}
		if elem.Family() != t.Family() || elem.Oid == types.OidBPChar && t.Oid != types.OidBPChar {
			if e.arr, err = b.coerce(r, types.ArrayOf(t), castImplicit, x.Location); err != nil {
				return nil, err
			}
		}
		cmp, test := comparator(t), cmpTest(op)
		e.pred = func(a, b types.Datum) (types.Datum, error) { return test(cmp(a, b)), nil }
	case "~~", "!~~", "~~*", "!~~*":
		if !isStringType(l.Type()) || !isStringType(elem) {
			return nil, errNoOperator(op, l.Type(), elem, x.Location)
		}
		fold, not := strings.HasSuffix(op, "*"), op[0] == '!'
		e.pred = func(a, b types.Datum) (types.Datum, error) {
			p, err := compileLike(b.(string), fold)
			if err != nil {
				return nil, err
			}
			m, err := p.match(a.(string))
			if err != nil {
				return nil, err
			}
			return m != not, nil
		}
	default:
		return nil, errUnsupported("operator "+op+" with ANY/ALL", x.Location)
	}
	return fold(e), nil
}

// concatOp is ||: text concatenation (a non-string operand is converted
// with its output function), array concatenation, bytea and jsonb.
func (b *Builder) concatOp(l, r Expr, loc int32) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	la, ra := lt.Family() == types.ArrayFamily, rt.Family() == types.ArrayFamily
	var err error
	switch {
	case la || ra:
		return b.arrayConcat(l, r, loc)
	case lt.Oid == types.OidJSONB || rt.Oid == types.OidJSONB:
		if l, r, err = b.resolveUntyped(l, r, loc); err != nil {
			return nil, err
		}
		if l.Type().Oid != types.OidJSONB || r.Type().Oid != types.OidJSONB {
			return nil, errNoOperator("||", l.Type(), r.Type(), loc)
		}
		return fold(&binExpr{op: "||", l: l, r: r, t: types.JSONB, fn: jsonbConcat, strict: true}), nil
	case lt.Oid == types.OidBytea && (rt.Oid == types.OidBytea || rt.Oid == types.OidUnknown) ||
		rt.Oid == types.OidBytea && lt.Oid == types.OidUnknown:
		if l, r, err = b.resolveUntyped(l, r, loc); err != nil {
			return nil, err
		}
		return fold(&binExpr{op: "||", l: l, r: r, t: types.Bytea, strict: true, fn: func(a, b types.Datum) (types.Datum, error) {
			x, y := a.([]byte), b.([]byte)
			out := make([]byte, 0, len(x)+len(y))
			return append(append(out, x...), y...), nil
		}}), nil
	}
	lu, ru := lt.Oid == types.OidUnknown, rt.Oid == types.OidUnknown
	if !(isStringType(lt) || lu || isStringType(rt) || ru) {
		return nil, errNoOperator("||", lt, rt, loc)
	}
	toText := func(e Expr) (Expr, error) {
		t := e.Type()
		switch {
		case t.Oid == types.OidUnknown || isStringType(t):
			return b.coerceCmp(e, types.Text, loc)
		}
		return newCast(e, types.Text, explicitCastFn(t, types.Text)), nil
	}
	if l, err = toText(l); err != nil {
		return nil, err
	}
	if r, err = toText(r); err != nil {
		return nil, err
	}
	return fold(&binExpr{op: "||", l: l, r: r, t: types.Text, strict: true, fn: func(a, b types.Datum) (types.Datum, error) {
		return a.(string) + b.(string), nil
	}}), nil
}

// arrayConcat is array || array, array || element and element || array
// (array_cat, array_append, array_prepend; not strict).
func (b *Builder) arrayConcat(l, r Expr, loc int32) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	la, ra := lt.Family() == types.ArrayFamily, rt.Family() == types.ArrayFamily
	var err error
	switch {
	case la && isUntyped(r):
		r, err = b.coerce(r, lt, castImplicit, loc)
		ra = true
	case ra && isUntyped(l):
		l, err = b.coerce(l, rt, castImplicit, loc)
		la = true
	}
	if err != nil {
		return nil, err
	}
	lt, rt = l.Type(), r.Type()
	var at types.T
	switch {
	case la && ra:
		et, err := commonType([]Expr{&Const{T: lt.Elem()}, &Const{T: rt.Elem()}}, "array concatenation", nil)
		if err != nil {
			return nil, errNoOperator("||", lt, rt, loc)
		}
		at = types.ArrayOf(et)
		if l, err = b.coerce(l, at, castImplicit, loc); err != nil {
			return nil, err
		}
		if r, err = b.coerce(r, at, castImplicit, loc); err != nil {
			return nil, err
		}
	case la:
		at = baseType(lt)
		if r, err = b.coerce(r, at.Elem(), castImplicit, loc); err != nil {
			return nil, errNoOperator("||", lt, rt, loc)
		}
	default:
		at = baseType(rt)
		if l, err = b.coerce(l, at.Elem(), castImplicit, loc); err != nil {
			return nil, errNoOperator("||", lt, rt, loc)
		}
	}
	elem := at.Elem()
	fn := func(x, y types.Datum) (types.Datum, error) {
		out := &types.Array{Elem: elem}
		switch {
		case la && ra:
			if x == nil {
				return y, nil
			}
			if y == nil {
				return x, nil
			}
			out.Elems = append(append(out.Elems, x.(*types.Array).Elems...), y.(*types.Array).Elems...)
		case la:
			if x != nil {
				out.Elems = append(out.Elems, x.(*types.Array).Elems...)
			}
			out.Elems = append(out.Elems, y)
		default:
			out.Elems = append(out.Elems, x)
			if y != nil {
				out.Elems = append(out.Elems, y.(*types.Array).Elems...)
			}
		}
		return out, nil
	}
	return fold(&binExpr{op: "||", l: l, r: r, t: at, fn: fn}), nil
}

// arrayContainsOp is @> (contains), <@ (is contained by) and && (overlap).
func (b *Builder) arrayContainsOp(op string, l, r Expr, loc int32) (Expr, error) {
	l, r, err := b.resolveUntyped(l, r, loc)
	if err != nil {
		return nil, err
	}
	t, ok := cmpType(l.Type(), r.Type())
	if !ok || t.Family() != types.ArrayFamily {
		return nil, errNoOperator(op, l.Type(), r.Type(), loc)
	}
	if l, err = b.coerce(l, t, castImplicit, loc); err != nil {
		return nil, err
	}
	if r, err = b.coerce(r, t, castImplicit, loc); err != nil {
		return nil, err
	}
	cmp := comparator(t.Elem())
	contains := func(a, b *types.Array) bool {
		for _, y := range b.Elems {
			found := false
			for _, x := range a.Elems {
				if x != nil && y != nil && cmp(x, y) == 0 {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
	var fn binFn
	switch op {
	case "@>":
		fn = func(a, b types.Datum) (types.Datum, error) { return contains(a.(*types.Array), b.(*types.Array)), nil }
	case "<@":
		fn = func(a, b types.Datum) (types.Datum, error) { return contains(b.(*types.Array), a.(*types.Array)), nil }
	default:
		fn = func(a, b types.Datum) (types.Datum, error) {
			for _, x := range a.(*types.Array).Elems {
				for _, y := range b.(*types.Array).Elems {
					if x != nil && y != nil && cmp(x, y) == 0 {
						return true, nil
					}
				}
			}
			return false, nil
		}
	}
	return fold(&binExpr{op: op, l: l, r: r, t: types.Bool, fn: fn, strict: true}), nil
}

// arrayFuncs are the array functions.
var arrayFuncs = map[string][]overload{
	"array_length": {f2(int4, anyArray, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		n := len(a.(*types.Array).Elems)
		if b.(int64) != 1 || n == 0 {
			return nil, nil
		}
		return int64(n), nil
	})},
	"array_upper": {f2(int4, anyArray, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		n := len(a.(*types.Array).Elems)
		if b.(int64) != 1 || n == 0 {
			return nil, nil
		}
		return int64(n), nil
	})},
	"array_lower": {f2(int4, anyArray, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		if b.(int64) != 1 || len(a.(*types.Array).Elems) == 0 {
			return nil, nil
		}
		return int64(1), nil
	})},
	"array_ndims": {f1(int4, anyArray, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		if len(a.(*types.Array).Elems) == 0 {
			return nil, nil
		}
		return int64(1), nil
	})},
	"cardinality": {f1(int4, anyArray, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		return int64(len(a.(*types.Array).Elems)), nil
	})},
	"array_to_string": {
		f2(text, anyArray, text, nil).bind_(bindArrayToString),
		fN(text, ts(anyArray, text, text), nil).lax_().bind_(bindArrayToString),
	},
	"array_append":   {f2(anyArray, anyArray, anyElement, nil).lax_().ret_(polyArray).bind_(bindArrayAppend)},
	"array_prepend":  {f2(anyArray, anyElement, anyArray, nil).lax_().ret_(polyArray).bind_(bindArrayPrepend)},
	"array_cat":      {f2(anyArray, anyArray, anyArray, nil).lax_().ret_(polyArray).bind_(bindArrayCat)},
	"array_position": {f2(int4, anyArray, anyElement, nil).lax_().bind_(bindArrayPosition)},
	"array_remove":   {f2(anyArray, anyArray, anyElement, nil).lax_().ret_(polyArray).bind_(bindArrayRemove)},
}

// polyArray is the result type of a function returning its anyarray
// argument's type.
func polyArray(args []types.T) types.T {
	for _, a := range args {
		if a.Family() == types.ArrayFamily {
			return a
		}
	}
	return types.ArrayOf(args[0])
}

func bindArrayToString(args []Expr) (impl, error) {
	et := args[0].Type().Elem()
	f := textOf(et)
	return impl{fN: func(_ *Ctx, ds []types.Datum) (types.Datum, error) {
		if ds[0] == nil || ds[1] == nil {
			return nil, nil
		}
		var null types.Datum
		if len(ds) == 3 {
			null = ds[2]
		}
		var sb strings.Builder
		first := true
		for _, d := range ds[0].(*types.Array).Elems {
			var s string
			if d == nil {
				if null == nil {
					continue
				}
				s = null.(string)
			} else {
				s = f(d)
			}
			if !first {
				sb.WriteString(ds[1].(string))
			}
			first = false
			sb.WriteString(s)
		}
		return sb.String(), nil
	}}, nil
}

func bindArrayAppend(args []Expr) (impl, error) {
	elem := args[0].Type().Elem()
	return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		out := &types.Array{Elem: elem}
		if a != nil {
			out.Elems = append(out.Elems, a.(*types.Array).Elems...)
		}
		out.Elems = append(out.Elems, b)
		return out, nil
	}}, nil
}

func bindArrayPrepend(args []Expr) (impl, error) {
	elem := args[1].Type().Elem()
	return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		out := &types.Array{Elem: elem, Elems: []types.Datum{a}}
		if b != nil {
			out.Elems = append(out.Elems, b.(*types.Array).Elems...)
		}
		return out, nil
	}}, nil
}

func bindArrayCat(args []Expr) (impl, error) {
	elem := args[0].Type().Elem()
	return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		if a == nil {
			return b, nil
		}
		if b == nil {
			return a, nil
		}
		out := &types.Array{Elem: elem}
		out.Elems = append(append(out.Elems, a.(*types.Array).Elems...), b.(*types.Array).Elems...)
		return out, nil
	}}, nil
}

func bindArrayPosition(args []Expr) (impl, error) {
	cmp := comparator(args[1].Type())
	return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		if a == nil {
			return nil, nil
		}
		for i, d := range a.(*types.Array).Elems {
			if d == nil && b == nil || d != nil && b != nil && cmp(d, b) == 0 {
				return int64(i + 1), nil
			}
		}
		return nil, nil
	}}, nil
}

func bindArrayRemove(args []Expr) (impl, error) {
	cmp := comparator(args[1].Type())
	elem := args[0].Type().Elem()
	return impl{f2: func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		if a == nil {
			return nil, nil
		}
		out := &types.Array{Elem: elem}
		for _, d := range a.(*types.Array).Elems {
			if d == nil && b == nil || d != nil && b != nil && cmp(d, b) == 0 {
				continue
			}
			out.Elems = append(out.Elems, d)
		}
		return out, nil
	}}, nil
}
