package expr

import (
	"math"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// castCtx is pg_cast.castcontext: in which contexts a cast may be applied
// without being written.
type castCtx uint8

const (
	castNone     castCtx = iota
	castExplicit         // only as x::t or CAST(x AS t)
	castAssign           // also in INSERT/UPDATE targets
	castImplicit         // anywhere
)

// castTable is pg_cast restricted to the types shard knows (PostgreSQL 15).
// Casts not listed are either I/O conversions (see castContext) or absent.
var castTable = func() map[[2]types.Oid]castCtx {
	const (
		e = castExplicit
		a = castAssign
		i = castImplicit
	)
	m := map[[2]types.Oid]castCtx{}
	add := func(from types.Oid, c castCtx, to ...types.Oid) {
		for _, t := range to {
			m[[2]types.Oid{from, t}] = c
		}
	}
	reg := []types.Oid{types.OidRegclass, types.OidRegtype, types.OidRegnamespace, types.OidRegrole}
	add(types.OidBool, e, types.OidInt4)
	add(types.OidBool, a, types.OidText, types.OidBPChar, types.OidVarchar)
	add(types.OidChar, e, types.OidInt4)
	add(types.OidChar, i, types.OidText)
	add(types.OidChar, a, types.OidBPChar, types.OidVarchar)
	add(types.OidName, i, types.OidText)
	add(types.OidName, a, types.OidBPChar, types.OidVarchar)
	add(types.OidInt8, a, types.OidInt2, types.OidInt4)
	add(types.OidInt8, i, types.OidRegproc, types.OidOid, types.OidFloat4, types.OidFloat8, types.OidNumeric)
	add(types.OidInt8, i, reg...)
	add(types.OidInt2, i, types.OidInt8, types.OidInt4, types.OidRegproc, types.OidOid, types.OidFloat4, types.OidFloat8, types.OidNumeric)
	add(types.OidInt2, i, reg...)
	add(types.OidInt4, e, types.OidBool, types.OidChar)
	add(types.OidInt4, i, types.OidInt8, types.OidRegproc, types.OidOid, types.OidFloat4, types.OidFloat8, types.OidNumeric)
	add(types.OidInt4, a, types.OidInt2)
	add(types.OidInt4, i, reg...)
	add(types.OidRegproc, a, types.OidInt8, types.OidInt4)
	add(types.OidRegproc, i, types.OidOid)
	add(types.OidText, a, types.OidChar)
	add(types.OidText, i, types.OidName, types.OidBPChar, types.OidVarchar, types.OidRegclass)
	add(types.OidOid, a, types.OidInt8, types.OidInt4)
	add(types.OidOid, i, types.OidRegproc)
	add(types.OidOid, i, reg...)
	add(types.OidJSON, a, types.OidJSONB)
	add(types.OidFloat4, a, types.OidInt8, types.OidInt2, types.OidInt4, types.OidNumeric)
	add(types.OidFloat4, i, types.OidFloat8)
	add(types.OidFloat8, a, types.OidInt8, types.OidInt2, types.OidInt4, types.OidFloat4, types.OidNumeric)
	add(types.OidBPChar, a, types.OidChar)
	add(types.OidBPChar, i, types.OidName, types.OidText, types.OidVarchar)
	add(types.OidVarchar, a, types.OidChar)
	add(types.OidVarchar, i, types.OidName, types.OidText, types.OidBPChar, types.OidRegclass)
	add(types.OidDate, i, types.OidTimestamp, types.OidTimestampTZ)
	add(types.OidTime, i, types.OidInterval)
	add(types.OidTimestamp, a, types.OidDate, types.OidTime)
	add(types.OidTimestamp, i, types.OidTimestampTZ)
	add(types.OidTimestampTZ, a, types.OidDate, types.OidTime, types.OidTimestamp)
	add(types.OidInterval, a, types.OidTime)
	add(types.OidNumeric, a, types.OidInt8, types.OidInt2, types.OidInt4)
	add(types.OidNumeric, i, types.OidFloat4, types.OidFloat8)
	for _, r := range reg {
		add(r, a, types.OidInt8, types.OidInt4)
		add(r, i, types.OidOid)
	}
	add(types.OidJSONB, e, types.OidBool, types.OidInt8, types.OidInt2, types.OidInt4, types.OidFloat4, types.OidFloat8, types.OidNumeric)
	add(types.OidJSONB, a, types.OidJSON)
	return m
}()

func isStringType(t types.T) bool { return t.Family() == types.StringFamily }

// castContext returns the most permissive context in which from may be cast
// to to, or castNone.
func castContext(from, to types.T) castCtx {
	if from.Oid == to.Oid || from.Oid == types.OidUnknown {
		return castImplicit
	}
	if c, ok := castTable[[2]types.Oid{from.Oid, to.Oid}]; ok {
		return c
	}
	ff, tf := from.Family(), to.Family()
	if ff == types.ArrayFamily && tf == types.ArrayFamily {
		return castContext(from.Elem(), to.Elem())
	}
	// Automatic I/O conversion casts: to a string type they are assignment
	// casts, from a string type explicit ones.
	if isStringType(to) && from.Known() && from.Family() != types.VoidFamily {
		return castAssign
	}
	if isStringType(from) && to.Known() {
		return castExplicit
	}
	return castNone
}

// castFunc converts a non-NULL datum. It may use the session (reg* casts).
type castFunc func(c *Ctx, d types.Datum) (types.Datum, error)

// castExpr converts its argument's value to type to.
type castExpr struct {
	arg Expr
	to  types.T
	fn  castFunc
}

func (e *castExpr) Type() types.T    { return e.to }
func (e *castExpr) children() []Expr { return []Expr{e.arg} }

func (e *castExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	d, err := e.arg.Eval(c, row)
	if d == nil || err != nil {
		return nil, err
	}
	return e.fn(c, d)
}

// retype relabels an expression whose values need no conversion (int4 as
// int8, varchar as text).
type retype struct {
	arg Expr
	to  types.T
}

func (e *retype) Type() types.T    { return e.to }
func (e *retype) children() []Expr { return []Expr{e.arg} }
func (e *retype) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	return e.arg.Eval(c, row)
}

func intRange(oid types.Oid) (lo, hi int64) {
	switch oid {
	case types.OidInt2:
		return math.MinInt16, math.MaxInt16
	case types.OidInt4:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func intWidth(oid types.Oid) int {
	switch oid {
	case types.OidInt2:
		return 2
	case types.OidInt4:
		return 4
	}
	return 8
}

// explicitCastFn returns how to convert values of from to to with explicit
// cast semantics, or nil when the values need no change.
func explicitCastFn(from, to types.T) castFunc {
	ff, tf := from.Family(), to.Family()
	if from.Oid == to.Oid && (to.Mod < 0 || to.Mod == from.Mod) {
		return nil
	}
	switch {
	case ff == types.IntFamily && tf == types.IntFamily:
		if intWidth(to.Oid) >= intWidth(from.Oid) {
			return nil
		}
		lo, hi := intRange(to.Oid)
		return func(_ *Ctx, d types.Datum) (types.Datum, error) {
			if i := d.(int64); i < lo || i > hi {
				return nil, errIntOutOfRange(to.Oid)
			}
			return d, nil
		}
	case ff == types.IntFamily && to.Oid == types.OidFloat8:
		return func(_ *Ctx, d types.Datum) (types.Datum, error) { return float64(d.(int64)), nil }
	case ff == types.IntFamily && to.Oid == types.OidFloat4:
		return func(_ *Ctx, d types.Datum) (types.Datum, error) { return float64(float32(d.(int64))), nil }
	case ff == types.IntFamily && to == types.Numeric:
		return func(_ *Ctx, d types.Datum) (types.Datum, error) { return decFromInt(d.(int64)), nil }
	case from.Oid == types.OidFloat4 && to.Oid == types.OidFloat8:
		return nil
	case from.Oid == types.OidNumeric && to.Oid == types.OidFloat8:
		return func(_ *Ctx, d types.Datum) (types.Datum, error) { return decToFloat(d.(*apd.Decimal)) }
	case isStringType(from) && isStringType(to) && to.Mod < 0 && from.Oid != types.OidBPChar && to.Oid != types.OidChar && to.Oid != types.OidName:
		return nil
	case to.Oid == types.OidRegclass || to.Oid == types.OidRegtype || to.Oid == types.OidRegnamespace || to.Oid == types.OidRegrole || to.Oid == types.OidRegproc:
		if isStringType(from) {
			return regIn(to)
		}
	case isStringType(to) && to.Mod < 0 && (from.Oid == types.OidRegclass || from.Oid == types.OidRegtype || from.Oid == types.OidRegnamespace || from.Oid == types.OidRegrole || from.Oid == types.OidRegproc):
		return regOut(from)
	case from.Oid == types.OidBool && isStringType(to) && to.Mod < 0 && to.Oid != types.OidChar:
		// bool to text is "true"/"false", unlike bool output ("t"/"f").
		return func(_ *Ctx, d types.Datum) (types.Datum, error) {
			if d.(bool) {
				return "true", nil
			}
			return "false", nil
		}
	case isStringType(to) && to.Mod < 0 && to.Oid != types.OidChar && to.Oid != types.OidName && from.Family() != types.StringFamily:
		return func(_ *Ctx, d types.Datum) (types.Datum, error) { return datumText(from, d), nil }
	}
	return func(_ *Ctx, d types.Datum) (types.Datum, error) { return types.Cast(d, from, to) }
}

// assignCastFn converts with assignment semantics: the family conversion
// of an explicit cast, then types.CheckAssign for the target's typmod and
// range (a string too long for varchar(n) is 22001, not truncated).
func assignCastFn(from, to types.T) castFunc {
	if !needsAssignCheck(to) {
		return explicitCastFn(from, to)
	}
	first := explicitCastFn(from, baseType(to))
	return func(c *Ctx, d types.Datum) (types.Datum, error) {
		if first != nil {
			var err error
			if d, err = first(c, d); err != nil {
				return nil, err
			}
		}
		return types.CheckAssign(to, d)
	}
}

// needsAssignCheck reports whether values assigned to t need
// types.CheckAssign beyond the family conversion.
func needsAssignCheck(t types.T) bool {
	if t.Mod >= 0 {
		return true
	}
	switch t.Oid {
	case types.OidName, types.OidChar, types.OidFloat4, types.OidOid:
		return true
	}
	return false
}

// datumText is the text output of d (not nil) of type t.
func datumText(t types.T, d types.Datum) string {
	switch v := d.(type) {
	case string:
		return v
	case *apd.Decimal:
		return numText(v)
	case bool:
		if v {
			return "t"
		}
		return "f"
	case int64:
		if t.Family() == types.IntFamily {
			return itoa(v)
		}
	case types.JSON:
		return string(v)
	}
	return string(types.AppendText(nil, t, d))
}

// newCast wraps e in a conversion to t using fn (nil: relabel only). A cast
// of a constant is folded.
func newCast(e Expr, t types.T, fn castFunc) Expr {
	if fn == nil {
		if e.Type() == t {
			return e
		}
		if k, ok := e.(*Const); ok {
			return &Const{T: t, D: k.D}
		}
		if r, ok := e.(*retype); ok {
			e = r.arg
		}
		return &retype{arg: e, to: t}
	}
	x := &castExpr{arg: e, to: t, fn: fn}
	if k, ok := e.(*Const); ok {
		if k.D == nil {
			return &Const{T: t}
		}
		if d, err := fn(foldCtx(), k.D); err == nil {
			return &Const{T: t, D: d}
		}
	}
	return x
}

// literal types an unknown literal (or NULL) as t: the input function of t
// runs now, as PostgreSQL does at parse analysis. A typmod of t is applied
// with the semantics of ctx: explicit casts truncate strings, assignment
// and implicit contexts check them (CheckAssign).
func (b *Builder) literal(k *Const, t types.T, ctx castCtx, loc int32) (Expr, error) {
	if k.pos > 0 {
		loc = k.pos - 1 // errors point at the literal itself
	}
	if k.D == nil {
		return &Const{T: t}, nil
	}
	s := k.D.(string)
	switch t.Oid {
	case types.OidUnknown:
		return k, nil
	case types.OidRegclass, types.OidRegtype, types.OidRegnamespace, types.OidRegrole, types.OidRegproc:
		fn := regIn(t)
		if b.Session == nil && t.Oid == types.OidRegclass && !isDigits(s) {
			return &castExpr{arg: &Const{T: types.Text, D: s}, to: t, fn: fn}, nil
		}
		d, err := fn(&Ctx{Session: b.Session}, s)
		if err != nil {
			return nil, withPos(err, loc)
		}
		return &Const{T: t, D: d}, nil
	}
	base := baseType(t)
	var d types.Datum = s
	if !(isStringType(t) && t.Oid != types.OidChar && t.Oid != types.OidName) {
		var err error
		if d, err = types.ParseText(base, s); err != nil {
			return nil, withPos(err, loc)
		}
	}
	if t.Mod >= 0 || t.Oid == types.OidChar || t.Oid == types.OidName {
		var err error
		if ctx == castExplicit {
			d, err = types.Cast(d, base, t)
		} else {
			d, err = types.CheckAssign(t, d)
		}
		if err != nil {
			return nil, withPos(err, loc)
		}
	}
	return &Const{T: t, D: d}, nil
}

// setParam records that $n has type t and returns a Param of that type.
func (b *Builder) setParam(p *Param, t types.T) Expr {
	if t.Oid == types.OidUnknown {
		return p
	}
	t = baseType(t)
	ps := b.Params
	if ps == nil {
		ps = p.params
	}
	ps.set(p.N, t)
	return &Param{N: p.N, T: t, params: ps}
}

func (p *Params) get(n int) types.T {
	if p == nil || n > len(p.Types) || p.Types[n-1].Oid == 0 {
		return types.Unknown
	}
	return p.Types[n-1]
}

func (p *Params) set(n int, t types.T) {
	if p == nil {
		return
	}
	for len(p.Types) < n {
		p.Types = append(p.Types, types.Unknown)
	}
	p.Types[n-1] = t
}

// isUntyped reports whether e is an unresolved literal or parameter.
func isUntyped(e Expr) bool { return e.Type().Oid == types.OidUnknown }

// coerce converts e to t if a cast of context at least ctx exists; loc
// positions the error. Untyped literals and parameters take t directly.
func (b *Builder) coerce(e Expr, t types.T, ctx castCtx, loc int32) (Expr, error) {
	from := e.Type()
	if from == t || t.Oid == types.OidAny || t.Oid == oidAnyElement && from.Oid != types.OidUnknown {
		return e, nil
	}
	switch x := e.(type) {
	case *Const:
		if from.Oid == types.OidUnknown {
			return b.literal(x, t, ctx, loc)
		}
	case *Param:
		if from.Oid == types.OidUnknown {
			return b.setParam(x, t), nil
		}
	}
	if from.Oid == types.OidUnknown {
		// An untyped expression that is neither (a NULL-only CASE): text.
		e = &retype{arg: e, to: types.Text}
		from = types.Text
		if t.Oid == types.OidText {
			return e, nil
		}
	}
	if from.Oid == t.Oid && t.Mod < 0 {
		return newCast(e, t, nil), nil
	}
	cc := castContext(from, t)
	if cc < ctx {
		return nil, errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "expression is of type %s but type %s is expected", typeName(from), typeName(t)).
			WithHint("You will need to rewrite or cast the expression."), loc)
	}
	if ctx == castAssign {
		return newCast(e, t, assignCastFn(from, t)), nil
	}
	return newCast(e, t, explicitCastFn(from, t)), nil
}

// Coerce converts e to type t in an assignment context (INSERT/UPDATE
// targets): implicit and assignment casts are allowed, and values too long
// for varchar(n)/char(n) are errors. Otherwise it fails with 42804
// "expression is of type X but type Y is expected"; callers may replace the
// message with their own ("column \"x\" is of type ...").
//
// An untyped parameter takes type t, which is recorded in the Params of the
// Builder that built it.
func Coerce(e Expr, t types.T) (Expr, error) {
	return (&Builder{}).coerce(e, t, castAssign, -1)
}

// explicitCast is x::t.
func (b *Builder) explicitCast(e Expr, t types.T, loc int32) (Expr, error) {
	from := e.Type()
	if k, ok := e.(*Const); ok && from.Oid == types.OidUnknown {
		return b.literal(k, t, castExplicit, loc)
	}
	if p, ok := e.(*Param); ok && from.Oid == types.OidUnknown {
		return b.setParam(p, t), nil
	}
	if from.Oid == types.OidUnknown {
		e, from = &retype{arg: e, to: types.Text}, types.Text
	}
	if castContext(from, t) == castNone {
		return nil, errAt(pgerror.New(pgerror.CodeCannotCoerce, "cannot cast type %s to %s", typeName(from), typeName(t)), loc)
	}
	return newCast(e, t, explicitCastFn(from, t)), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
