package expr

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Pseudo-types for function signatures.
const (
	oidAnyArray    types.Oid = 2277
	oidAnyElement  types.Oid = 2283
	oidAnyNonArray types.Oid = 2776
)

var (
	anyArray    = types.T{Oid: oidAnyArray, Mod: -1}
	anyElement  = types.T{Oid: oidAnyElement, Mod: -1}
	anyNonArray = types.T{Oid: oidAnyNonArray, Mod: -1}
)

// volatility is pg_proc.provolatile.
type volatility uint8

const (
	immutable volatility = iota // same inputs, same result: folded when constant
	stable                      // fixed within a statement (now(), settings)
	volatile                    // may change on every call (random())
)

type (
	fn0 = func(c *Ctx) (types.Datum, error)
	fn1 = func(c *Ctx, a types.Datum) (types.Datum, error)
	fn2 = func(c *Ctx, a, b types.Datum) (types.Datum, error)
	fnN = func(c *Ctx, args []types.Datum) (types.Datum, error)
)

// impl is a function body; exactly one field is set, matching the arity
// (fN serves any arity).
type impl struct {
	f0 fn0
	f1 fn1
	f2 fn2
	fN fnN
}

// overload is one signature of a function (a pg_proc row).
type overload struct {
	args     []types.T // parameter types; pseudo-types anyelement, anyarray, anynonarray, "any"
	variadic bool      // the last parameter repeats (one or more times)
	ret      types.T   // result type; for polymorphic functions see retFn
	retFn    func(args []types.T) types.T
	vol      volatility
	lax      bool // not strict: called with NULL arguments (strict functions return NULL)
	impl     impl
	// bind, when set, makes the body from the built (coerced) arguments:
	// for bodies that depend on argument types or constant arguments.
	bind func(args []Expr) (impl, error)
}

// funcs is the function catalog by lower-case name.
var funcs = mergeFuncs(stringFuncs, mathFuncs, timeFuncs, jsonFuncs, catalogFuncs, arrayFuncs)

func mergeFuncs(tables ...map[string][]overload) map[string][]overload {
	m := map[string][]overload{}
	for _, t := range tables {
		for name, os := range t {
			m[name] = append(m[name], os...)
		}
	}
	return m
}

// funcName returns a call's function name, lower case as the parser left
// it, without a pg_catalog qualification; ok is false for another schema.
func funcName(names []*pg_query.Node) (string, bool) {
	var parts []string
	for _, n := range names {
		parts = append(parts, n.GetString_().GetSval())
	}
	switch {
	case len(parts) == 1:
		return parts[0], true
	case len(parts) == 2 && (parts[0] == "pg_catalog" || parts[0] == "public"):
		return parts[1], true
	}
	return strings.Join(parts, "."), false
}

func (b *Builder) buildFuncCall(x *pg_query.FuncCall, want types.T) (Expr, error) {
	name, ok := funcName(x.Funcname)
	if x.Over != nil {
		return nil, errAt(pgerror.Unsupported("window functions are not supported"), x.Location)
	}
	if ok && IsAggregate(name) {
		if b.Env == nil {
			return nil, errAt(pgerror.New(pgerror.CodeGroupingError, "aggregate functions are not allowed in this context"), x.Location)
		}
		return b.Env.Aggregate(b, x)
	}
	if x.AggStar || x.AggDistinct || len(x.AggOrder) > 0 || x.AggFilter != nil || x.AggWithinGroup {
		return nil, errAt(pgerror.New(pgerror.CodeWrongObjectType, "%s is not an aggregate function", name), x.Location)
	}
	if x.FuncVariadic {
		return nil, errUnsupported("VARIADIC arguments", x.Location)
	}
	args, locs, err := b.buildList(x.Args, x.Location)
	if err != nil {
		return nil, err
	}
	if ok {
		if s, found := specialFuncs[name]; found {
			if e, err := s(b, x, args, locs); e != nil || err != nil {
				return e, err
			}
		}
	}
	if !ok {
		return nil, errNoFunction(name, argTypes(args), x.Location)
	}
	return b.callFunc(name, args, locs, x.Location)
}

func argTypes(args []Expr) []types.T {
	ts := make([]types.T, len(args))
	for i, a := range args {
		ts[i] = a.Type()
	}
	return ts
}

// paramType is o's declared type for argument i.
func (o *overload) paramType(i int) types.T {
	if i >= len(o.args) {
		return o.args[len(o.args)-1]
	}
	return o.args[i]
}

func (o *overload) arityOK(n int) bool {
	if o.variadic { // at least one variadic argument, as in PostgreSQL
		return n >= len(o.args)
	}
	return n == len(o.args)
}

func isPolymorphic(t types.T) bool {
	switch t.Oid {
	case oidAnyArray, oidAnyElement, oidAnyNonArray:
		return true
	}
	return false
}

// score ranks a candidate as PostgreSQL's func_select_candidate does:
// more exact matches, then more preferred types where a conversion is
// needed, then more unknowns taken as string types.
type score struct{ exact, preferred, stringy int }

func (s score) better(o score) bool {
	if s.exact != o.exact {
		return s.exact > o.exact
	}
	if s.preferred != o.preferred {
		return s.preferred > o.preferred
	}
	return s.stringy > o.stringy
}

// match scores o for the argument types, or reports false.
func (o *overload) match(ts []types.T) (score, bool) {
	var s score
	for i, at := range ts {
		p := o.paramType(i)
		switch {
		case p.Oid == types.OidAny:
		case isPolymorphic(p):
			isArr := at.Family() == types.ArrayFamily
			if at.Oid != types.OidUnknown && (p.Oid == oidAnyArray && !isArr || p.Oid == oidAnyNonArray && isArr) {
				return s, false
			}
		case at.Oid == p.Oid:
			s.exact++
		case at.Oid == types.OidUnknown:
			if category(p) == 'S' {
				s.stringy++
			}
		case castContext(at, p) == castImplicit:
			if preferredType(p) {
				s.preferred++
			}
		default:
			return s, false
		}
	}
	return s, true
}

// resolvePoly works out anyelement/anyarray from the arguments: it returns
// the element type, or Unknown when only untyped arguments are polymorphic.
func resolvePoly(o *overload, ts []types.T, loc int32) (types.T, error) {
	elem := types.Unknown
	for i, at := range ts {
		p := o.paramType(i)
		var et types.T
		switch p.Oid {
		case oidAnyElement, oidAnyNonArray:
			et = at
		case oidAnyArray:
			if at.Oid == types.OidUnknown {
				continue
			}
			et = at.Elem()
		default:
			continue
		}
		if et.Oid == types.OidUnknown {
			continue
		}
		if elem.Oid == types.OidUnknown {
			elem = baseType(et)
			continue
		}
		if et.Oid != elem.Oid {
			ct, err := commonType([]Expr{&Const{T: elem}, &Const{T: et}}, "polymorphic argument", nil)
			if err != nil {
				return types.T{}, errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "arguments declared \"anyelement\" are not all alike").
					WithDetail("%s versus %s", typeName(elem), typeName(et)), loc)
			}
			elem = ct
		}
	}
	return elem, nil
}

// callFunc resolves name for the arguments and builds the call.
func (b *Builder) callFunc(name string, args []Expr, locs []int32, loc int32) (Expr, error) {
	ts := argTypes(args)
	var best *overload
	var bestScore score
	for i := range funcs[name] {
		o := &funcs[name][i]
		if !o.arityOK(len(args)) {
			continue
		}
		s, ok := o.match(ts)
		if !ok {
			continue
		}
		if best == nil || s.better(bestScore) {
			best, bestScore = o, s
		}
	}
	if best == nil {
		// A type name called with one argument is a cast: text(1), date(ts).
		if t, ok := typeByName(name); ok && len(args) == 1 && t.Known() && castContext(ts[0], t) != castNone {
			return b.explicitCast(args[0], t, loc)
		}
		return nil, errNoFunction(name, ts, loc)
	}
	o := best
	elem, err := resolvePoly(o, ts, loc)
	if err != nil {
		return nil, err
	}
	params := make([]types.T, len(args))
	for i := range args {
		p := o.paramType(i)
		switch p.Oid {
		case oidAnyElement, oidAnyNonArray:
			if elem.Oid == types.OidUnknown {
				elem = types.Text
			}
			p = elem
		case oidAnyArray:
			if elem.Oid == types.OidUnknown {
				return nil, pgerror.New(pgerror.CodeDatatypeMismatch, "could not determine polymorphic type because input has type unknown")
			}
			p = types.ArrayOf(elem)
		case types.OidAny:
			// An untyped literal stays unknown (it prints as its text).
			p = ts[i]
		}
		params[i] = p
		ploc := loc
		if i < len(locs) {
			ploc = locs[i]
		}
		if args[i], err = b.coerce(args[i], p, castImplicit, ploc); err != nil {
			return nil, err
		}
	}
	ret := o.ret
	if o.retFn != nil {
		ret = o.retFn(params)
	}
	body := o.impl
	if o.bind != nil {
		if body, err = o.bind(args); err != nil {
			return nil, err
		}
	}
	return makeCall(name, args, ret, o.vol, !o.lax, body), nil
}

// makeCall builds the call node for the arity and folds immutable calls of
// constants.
func makeCall(name string, args []Expr, ret types.T, vol volatility, strict bool, body impl) Expr {
	var e Expr
	h := callHead{name: name, t: ret, vol: vol, strict: strict}
	switch {
	case len(args) == 0 && body.f0 != nil:
		e = &call0{callHead: h, f: body.f0}
	case len(args) == 1 && body.f1 != nil:
		e = &call1{callHead: h, a: args[0], f: body.f1}
	case len(args) == 2 && body.f2 != nil:
		e = &call2{callHead: h, a: args[0], b: args[1], f: body.f2}
	default:
		e = &callN{callHead: h, args: args, f: body.fN}
	}
	if vol == immutable {
		return fold(e)
	}
	return e
}

// callHead is what every call node has.
type callHead struct {
	name   string
	t      types.T
	vol    volatility
	strict bool
}

func (h *callHead) Type() types.T  { return h.t }
func (h *callHead) volatile() bool { return h.vol == volatile }
func (h *callHead) foldable() bool { return h.vol == immutable }

type call0 struct {
	callHead
	f fn0
}

func (e *call0) Eval(c *Ctx, _ []types.Datum) (types.Datum, error) { return e.f(c) }

type call1 struct {
	callHead
	a Expr
	f fn1
}

func (e *call1) children() []Expr { return []Expr{e.a} }

func (e *call1) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.a.Eval(c, row)
	if err != nil || a == nil && e.strict {
		return nil, err
	}
	return e.f(c, a)
}

type call2 struct {
	callHead
	a, b Expr
	f    fn2
}

func (e *call2) children() []Expr { return []Expr{e.a, e.b} }

func (e *call2) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.a.Eval(c, row)
	if err != nil {
		return nil, err
	}
	b, err := e.b.Eval(c, row)
	if err != nil {
		return nil, err
	}
	if e.strict && (a == nil || b == nil) {
		return nil, nil
	}
	return e.f(c, a, b)
}

type callN struct {
	callHead
	args []Expr
	f    fnN
}

func (e *callN) children() []Expr { return e.args }

func (e *callN) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	var buf [4]types.Datum
	ds := buf[:0]
	if len(e.args) > len(buf) {
		ds = make([]types.Datum, 0, len(e.args))
	}
	for _, a := range e.args {
		d, err := a.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if d == nil && e.strict {
			return nil, nil
		}
		ds = append(ds, d)
	}
	return e.f(c, ds)
}

// specialFuncs are built from the parse node rather than by signature
// (they return nil, nil to fall back to the catalog).
var specialFuncs = map[string]func(b *Builder, x *pg_query.FuncCall, args []Expr, locs []int32) (Expr, error){
	"unnest": func(_ *Builder, x *pg_query.FuncCall, _ []Expr, _ []int32) (Expr, error) {
		return nil, errAt(pgerror.Unsupported("set-returning function unnest() is not supported"), x.Location)
	},
	"generate_series": func(_ *Builder, x *pg_query.FuncCall, _ []Expr, _ []int32) (Expr, error) {
		return nil, errAt(pgerror.Unsupported("set-returning function generate_series() is not supported"), x.Location)
	},
	"to_char": func(_ *Builder, x *pg_query.FuncCall, _ []Expr, _ []int32) (Expr, error) {
		return nil, errAt(pgerror.Unsupported("to_char() is not supported"), x.Location)
	},
	"to_date": func(_ *Builder, x *pg_query.FuncCall, _ []Expr, _ []int32) (Expr, error) {
		return nil, errAt(pgerror.Unsupported("to_date() is not supported"), x.Location)
	},
	"to_number": func(_ *Builder, x *pg_query.FuncCall, _ []Expr, _ []int32) (Expr, error) {
		return nil, errAt(pgerror.Unsupported("to_number() is not supported"), x.Location)
	},
	"to_timestamp": func(_ *Builder, x *pg_query.FuncCall, args []Expr, _ []int32) (Expr, error) {
		if len(args) == 2 {
			return nil, errAt(pgerror.Unsupported("to_timestamp(text, text) is not supported"), x.Location)
		}
		return nil, nil
	},
}

// Helpers to write the catalog tables compactly.

func f0(ret types.T, f fn0) overload { return overload{ret: ret, impl: impl{f0: f}} }

func f1(ret, a types.T, f fn1) overload {
	return overload{args: []types.T{a}, ret: ret, impl: impl{f1: f}}
}

func f2(ret, a, b types.T, f fn2) overload {
	return overload{args: []types.T{a, b}, ret: ret, impl: impl{f2: f}}
}

func fN(ret types.T, args []types.T, f fnN) overload {
	return overload{args: args, ret: ret, impl: impl{fN: f}}
}

func (o overload) lax_() overload             { o.lax = true; return o }
func (o overload) variadic_() overload        { o.variadic = true; return o }
func (o overload) vol_(v volatility) overload { o.vol = v; return o }
func (o overload) ret_(f func([]types.T) types.T) overload {
	o.retFn = f
	return o
}
func (o overload) bind_(f func(args []Expr) (impl, error)) overload {
	o.bind = f
	return o
}

// ts is shorthand for a parameter list.
func ts(t ...types.T) []types.T { return t }
