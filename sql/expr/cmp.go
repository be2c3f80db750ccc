package expr

import (
	"bytes"
	"math"
	"strings"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/google/uuid"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// cmpFunc orders two non-NULL datums: -1, 0 or +1.
type cmpFunc func(a, b types.Datum) int

// comparator returns the ordering of the default btree operator class of t.
// Integers, floats, text (bytewise, the C collation), bools, numerics and
// timestamps are compared here; other types through types.Compare.
func comparator(t types.T) cmpFunc {
	switch t.Family() {
	case types.IntFamily, types.OidFamily:
		return cmpInt
	case types.FloatFamily:
		return cmpFloat
	case types.StringFamily:
		if t.Oid == types.OidBPChar {
			return cmpBPChar
		}
		return cmpString
	case types.BoolFamily:
		return cmpBool
	case types.DecimalFamily:
		return cmpDecimal
	case types.DateFamily, types.TimestampFamily, types.TimestampTZFamily:
		return cmpTime
	case types.BytesFamily:
		return func(a, b types.Datum) int { return bytes.Compare(a.([]byte), b.([]byte)) }
	case types.UUIDFamily:
		return func(a, b types.Datum) int {
			x, y := a.(uuid.UUID), b.(uuid.UUID)
			return bytes.Compare(x[:], y[:])
		}
	case types.TimeFamily:
		return func(a, b types.Datum) int { return cmp3(int64(a.(time.Duration)), int64(b.(time.Duration))) }
	case types.IntervalFamily:
		return cmpInterval
	}
	return func(a, b types.Datum) int { return types.Compare(t, a, b) }
}

func cmp3(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func cmpInt(a, b types.Datum) int { return cmp3(a.(int64), b.(int64)) }

// cmpFloat orders NaN above every other value and equal to itself, as
// PostgreSQL does.
func cmpFloat(a, b types.Datum) int {
	x, y := a.(float64), b.(float64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	xn, yn := math.IsNaN(x), math.IsNaN(y)
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	}
	return -1
}

func cmpString(a, b types.Datum) int { return strings.Compare(a.(string), b.(string)) }

// cmpBPChar ignores trailing spaces, as character(n) comparison does.
func cmpBPChar(a, b types.Datum) int {
	return strings.Compare(strings.TrimRight(a.(string), " "), strings.TrimRight(b.(string), " "))
}

func cmpBool(a, b types.Datum) int {
	x, y := a.(bool), b.(bool)
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

// cmpDecimal orders NaN above everything (and +Infinity), as numeric does.
func cmpDecimal(a, b types.Datum) int {
	x, y := a.(*apd.Decimal), b.(*apd.Decimal)
	xn, yn := x.Form == apd.NaN || x.Form == apd.NaNSignaling, y.Form == apd.NaN || y.Form == apd.NaNSignaling
	switch {
	case xn && yn:
		return 0
	case xn:
		return 1
	case yn:
		return -1
	}
	return x.Cmp(y)
}

func cmpTime(a, b types.Datum) int { return a.(time.Time).Compare(b.(time.Time)) }

// cmpInterval compares intervals as interval_cmp does: months are 30 days
// and days 24 hours. The span is split exactly into whole days and the
// remaining microseconds (0 <= rem < one day).
func cmpInterval(a, b types.Datum) int {
	x, y := a.(types.Interval), b.(types.Interval)
	xd, xr := intervalSpan(x)
	yd, yr := intervalSpan(y)
	if c := cmp3(xd, yd); c != 0 {
		return c
	}
	return cmp3(xr, yr)
}

func intervalSpan(iv types.Interval) (days, rem int64) {
	q := floorDiv64(iv.Micros, usecsPerDay)
	return int64(iv.Months)*30 + int64(iv.Days) + q, iv.Micros - q*usecsPerDay
}

// Cmp is "L Op R" for Op one of = <> < <= > >=, with SQL NULL semantics.
// L and R are of the same type family (integers of different widths and
// string types other than character(n) are not converted to each other).
type Cmp struct {
	Op   string
	L, R Expr
	cmp  cmpFunc
	test func(int) bool
}

// NewCmp builds a comparison of two expressions of one family without
// further type resolution (for the planner's own predicates).
func NewCmp(op string, l, r Expr) *Cmp {
	return &Cmp{Op: op, L: l, R: r, cmp: comparator(l.Type()), test: cmpTest(op)}
}

func (e *Cmp) Type() types.T    { return types.Bool }
func (e *Cmp) children() []Expr { return []Expr{e.L, e.R} }
func (e *Cmp) foldable() bool   { return true }

func (e *Cmp) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.L.Eval(c, row)
	if err != nil {
		return nil, err
	}
	b, err := e.R.Eval(c, row)
	if a == nil || b == nil || err != nil {
		return nil, err
	}
	if e.cmp == nil { // built as a literal, not by NewCmp: slow path
		return cmpTest(e.Op)(comparator(e.L.Type())(a, b)), nil
	}
	return e.test(e.cmp(a, b)), nil
}

func cmpTest(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>", "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	case ">=":
		return func(c int) bool { return c >= 0 }
	}
	return nil
}

// cmpType returns the type two operands of a comparison are compared as,
// following PostgreSQL's operator resolution for the built-in types.
func cmpType(lt, rt types.T) (types.T, bool) {
	if lt.Oid == rt.Oid {
		return types.T{Oid: lt.Oid, Mod: -1}, true
	}
	lf, rf := lt.Family(), rt.Family()
	switch {
	case lf == types.IntFamily && rf == types.IntFamily:
		if intWidth(rt.Oid) > intWidth(lt.Oid) {
			return types.T{Oid: rt.Oid, Mod: -1}, true
		}
		return types.T{Oid: lt.Oid, Mod: -1}, true
	case numRank(lt) > 0 && numRank(rt) > 0:
		a, b := numRank(lt), numRank(rt)
		if a >= 5 || b >= 5 {
			return types.Float8, true
		}
		return types.Numeric, true
	case lf == types.StringFamily && rf == types.StringFamily:
		return types.Text, true
	case lf == types.OidFamily && (rf == types.IntFamily || rf == types.OidFamily):
		return types.T{Oid: lt.Oid, Mod: -1}, true
	case rf == types.OidFamily && lf == types.IntFamily:
		return types.T{Oid: rt.Oid, Mod: -1}, true
	case isDatetime(lt) && isDatetime(rt):
		if lt.Oid == types.OidTimestampTZ || rt.Oid == types.OidTimestampTZ {
			return types.TimestampTZ, true
		}
		return types.Timestamp, true
	case lf == types.ArrayFamily && rf == types.ArrayFamily:
		if et, ok := cmpType(lt.Elem(), rt.Elem()); ok {
			if a := types.ArrayOf(et); a.Oid != types.OidUnknown {
				return a, true
			}
		}
	case lf == types.JSONFamily && rf == types.JSONFamily:
		return types.JSONB, true
	}
	return types.T{}, false
}

func isDatetime(t types.T) bool {
	switch t.Oid {
	case types.OidDate, types.OidTimestamp, types.OidTimestampTZ:
		return true
	}
	return false
}

// coerceCmp converts e to the comparison type t unless its values already
// compare correctly as they are (same family, except character(n)).
func (b *Builder) coerceCmp(e Expr, t types.T, loc int32) (Expr, error) {
	et := e.Type()
	if et.Oid == t.Oid {
		return e, nil
	}
	if et.Oid != types.OidUnknown && et.Family() == t.Family() {
		switch et.Family() {
		case types.IntFamily, types.OidFamily:
			return e, nil
		case types.StringFamily:
			if et.Oid != types.OidBPChar && t.Oid != types.OidBPChar {
				return e, nil
			}
		}
	}
	if et.Family() == types.IntFamily && t.Family() == types.OidFamily {
		return newCast(e, t, nil), nil
	}
	return b.coerce(e, t, castImplicit, loc)
}

// resolveUntyped gives an untyped operand the other operand's type (text
// when both are untyped), as PostgreSQL does for binary operators.
func (b *Builder) resolveUntyped(l, r Expr, loc int32) (Expr, Expr, error) {
	lu, ru := isUntyped(l), isUntyped(r)
	var err error
	switch {
	case lu && ru:
		if l, err = b.coerce(l, types.Text, castImplicit, loc); err != nil {
			return nil, nil, err
		}
		r, err = b.coerce(r, types.Text, castImplicit, loc)
	case lu:
		l, err = b.coerce(l, baseType(r.Type()), castImplicit, loc)
	case ru:
		r, err = b.coerce(r, baseType(l.Type()), castImplicit, loc)
	}
	return l, r, err
}

// baseType drops the typmod: a literal compared with a varchar(3) column is
// not itself checked against the length.
func baseType(t types.T) types.T { return types.T{Oid: t.Oid, Mod: -1} }

// resolveCmp types the operands of a comparison: it returns them converted
// as needed and the type they are compared as.
func (b *Builder) resolveCmp(op string, l, r Expr, loc int32) (Expr, Expr, types.T, error) {
	l, r, err := b.resolveUntyped(l, r, loc)
	if err != nil {
		return nil, nil, types.T{}, err
	}
	t, ok := cmpType(l.Type(), r.Type())
	if !ok || !comparable(t) {
		return nil, nil, types.T{}, errNoOperator(op, l.Type(), r.Type(), loc)
	}
	if l, err = b.coerceCmp(l, t, loc); err != nil {
		return nil, nil, types.T{}, err
	}
	if r, err = b.coerceCmp(r, t, loc); err != nil {
		return nil, nil, types.T{}, err
	}
	return l, r, t, nil
}

// compare builds l op r for a comparison operator.
func (b *Builder) compare(op string, l, r Expr, loc int32) (Expr, error) {
	if op == "!=" {
		op = "<>"
	}
	l, r, t, err := b.resolveCmp(op, l, r, loc)
	if err != nil {
		return nil, err
	}
	return fold(&Cmp{Op: op, L: l, R: r, cmp: comparator(t), test: cmpTest(op)}), nil
}

// comparable reports whether t has btree comparison operators.
func comparable(t types.T) bool {
	switch t.Family() {
	case types.VoidFamily, types.RecordFamily, types.UnknownFamily:
		return false
	case types.JSONFamily:
		return t.Oid == types.OidJSONB
	case types.ArrayFamily:
		return comparable(t.Elem())
	}
	return true
}

// distinctExpr is "l IS [NOT] DISTINCT FROM r": NULLs compare as values.
type distinctExpr struct {
	l, r Expr
	cmp  cmpFunc
	not  bool
}

func (e *distinctExpr) Type() types.T    { return types.Bool }
func (e *distinctExpr) children() []Expr { return []Expr{e.l, e.r} }
func (e *distinctExpr) foldable() bool   { return true }

func (e *distinctExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.Eval(c, row)
	if err != nil {
		return nil, err
	}
	b, err := e.r.Eval(c, row)
	if err != nil {
		return nil, err
	}
	var distinct bool
	switch {
	case a == nil && b == nil:
		distinct = false
	case a == nil || b == nil:
		distinct = true
	default:
		distinct = e.cmp(a, b) != 0
	}
	return distinct != e.not, nil
}

func (b *Builder) buildDistinct(x *pg_query.A_Expr, not bool) (Expr, error) {
	l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
	if err != nil {
		return nil, err
	}
	l, r, t, err := b.resolveCmp("=", l, r, x.Location)
	if err != nil {
		return nil, err
	}
	return fold(&distinctExpr{l: l, r: r, cmp: comparator(t), not: not}), nil
}

// InList is "Arg [NOT] IN (List...)". Arg and the items are of one type
// family. NULL semantics: true if some item equals Arg, else NULL if Arg or
// some item is NULL, else false (NOT IN negates).
type InList struct {
	Arg  Expr
	List []Expr
	Not  bool
	cmp  cmpFunc
	// set holds the items when they are all constants of a type whose Go
	// values compare with == (integers, text): a lookup instead of a scan.
	set     map[types.Datum]struct{}
	setNull bool // some constant item is NULL
}

// inSetMin is the list length from which a constant list becomes a set.
const inSetMin = 8

// makeSet fills e.set when every item is a constant and equality of the
// comparison type is Go equality.
func (e *InList) makeSet(t types.T) {
	if len(e.List) < inSetMin {
		return
	}
	switch t.Family() {
	case types.IntFamily, types.OidFamily:
	case types.StringFamily:
		if t.Oid == types.OidBPChar {
			return
		}
	default:
		return
	}
	set := make(map[types.Datum]struct{}, len(e.List))
	null := false
	for _, it := range e.List {
		k, ok := it.(*Const)
		if !ok {
			return
		}
		if k.D == nil {
			null = true
			continue
		}
		set[k.D] = struct{}{}
	}
	e.set, e.setNull = set, null
}

func (e *InList) Type() types.T { return types.Bool }
func (e *InList) children() []Expr {
	return append([]Expr{e.Arg}, e.List...)
}
func (e *InList) foldable() bool { return true }

func (e *InList) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	x, err := e.Arg.Eval(c, row)
	if x == nil || err != nil {
		return nil, err
	}
	if e.set != nil {
		if _, ok := e.set[x]; ok {
			return !e.Not, nil
		}
		if e.setNull {
			return nil, nil
		}
		return e.Not, nil
	}
	cmp := e.cmp
	if cmp == nil {
		cmp = comparator(e.Arg.Type())
	}
	null := false
	for _, it := range e.List {
		d, err := it.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if d == nil {
			null = true
			continue
		}
		if cmp(x, d) == 0 {
			return !e.Not, nil
		}
	}
	if null {
		return nil, nil
	}
	return e.Not, nil
}

func (b *Builder) buildIn(x *pg_query.A_Expr, not bool) (Expr, error) {
	if x.Lexpr.GetRowExpr() != nil {
		return nil, errUnsupported("row value IN list", x.Location)
	}
	l, err := b.build(x.Lexpr, types.Unknown)
	if err != nil {
		return nil, err
	}
	items := x.Rexpr.GetList().GetItems()
	list := make([]Expr, len(items))
	for i, it := range items {
		if list[i], err = b.build(it, types.Unknown); err != nil {
			return nil, err
		}
	}
	// The comparison type: the common type of the operand and all items.
	t := l.Type()
	for _, it := range list {
		it := it.Type()
		if it.Oid == types.OidUnknown {
			continue
		}
		if t.Oid == types.OidUnknown {
			t = it
			continue
		}
		ct, ok := cmpType(t, it)
		if !ok {
			return nil, errNoOperator("=", l.Type(), it, x.Location)
		}
		t = ct
	}
	if t.Oid == types.OidUnknown {
		t = types.Text
	}
	t = baseType(t)
	if !comparable(t) {
		return nil, errNoOperator("=", l.Type(), t, x.Location)
	}
	if l, err = b.coerceCmp(l, t, x.Location); err != nil {
		return nil, err
	}
	for i, it := range list {
		if list[i], err = b.coerceCmp(it, t, exprLocation(items[i], x.Location)); err != nil {
			return nil, err
		}
	}
	in := &InList{Arg: l, List: list, Not: not, cmp: comparator(t)}
	in.makeSet(t)
	return fold(in), nil
}

// buildBetween rewrites BETWEEN as PostgreSQL does: a >= x AND a <= y
// (SYMMETRIC: either order; NOT: a < x OR a > y).
func (b *Builder) buildBetween(x *pg_query.A_Expr) (Expr, error) {
	bounds := x.Rexpr.GetList().GetItems()
	if len(bounds) != 2 {
		return nil, pgerror.New(pgerror.CodeSyntaxError, "BETWEEN needs two bounds")
	}
	build := func(lo, hi *pg_query.Node, not bool) (Expr, error) {
		a, err := b.build(x.Lexpr, types.Unknown)
		if err != nil {
			return nil, err
		}
		a2, err := b.build(x.Lexpr, types.Unknown)
		if err != nil {
			return nil, err
		}
		l, err := b.build(lo, types.Unknown)
		if err != nil {
			return nil, err
		}
		h, err := b.build(hi, types.Unknown)
		if err != nil {
			return nil, err
		}
		op1, op2 := ">=", "<="
		if not {
			op1, op2 = "<", ">"
		}
		c1, err := b.compare(op1, a, l, x.Location)
		if err != nil {
			return nil, err
		}
		c2, err := b.compare(op2, a2, h, x.Location)
		if err != nil {
			return nil, err
		}
		if not {
			return b.boolOp(false, []Expr{c1, c2}), nil
		}
		return b.boolOp(true, []Expr{c1, c2}), nil
	}
	switch x.Kind {
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN:
		return build(bounds[0], bounds[1], false)
	case pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN:
		return build(bounds[0], bounds[1], true)
	}
	not := x.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM
	e1, err := build(bounds[0], bounds[1], not)
	if err != nil {
		return nil, err
	}
	e2, err := build(bounds[1], bounds[0], not)
	if err != nil {
		return nil, err
	}
	return b.boolOp(not, []Expr{e1, e2}), nil
}

// boolOp builds a flattened AND (and=true) or OR of bool expressions,
// folding constants the way three-valued logic allows.
func (b *Builder) boolOp(and bool, args []Expr) Expr {
	var flat []Expr
	for _, a := range args {
		switch x := a.(type) {
		case *And:
			if and {
				flat = append(flat, x.Args...)
				continue
			}
		case *Or:
			if !and {
				flat = append(flat, x.Args...)
				continue
			}
		}
		flat = append(flat, a)
	}
	var e Expr
	if and {
		e = &And{Args: flat}
	} else {
		e = &Or{Args: flat}
	}
	allConst := true
	for _, a := range flat {
		if k, ok := a.(*Const); ok {
			// false decides AND, true decides OR, whatever the others are.
			if k.D != nil && k.D.(bool) != and {
				return &Const{T: types.Bool, D: !and}
			}
		} else {
			allConst = false
		}
	}
	if allConst {
		d, _ := e.Eval(foldCtx(), nil)
		return &Const{T: types.Bool, D: d}
	}
	return e
}

// exprLocation returns a node's parse location, or def.
func exprLocation(n *pg_query.Node, def int32) int32 {
	switch {
	case n.GetAConst() != nil:
		return n.GetAConst().Location
	case n.GetColumnRef() != nil:
		return n.GetColumnRef().Location
	case n.GetParamRef() != nil:
		return n.GetParamRef().Location
	case n.GetFuncCall() != nil:
		return n.GetFuncCall().Location
	case n.GetTypeCast() != nil:
		return n.GetTypeCast().Location
	case n.GetAExpr() != nil:
		return n.GetAExpr().Location
	}
	return def
}
