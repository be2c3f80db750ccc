package expr

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// binExpr applies a binary operator resolved at build time.
type binExpr struct {
	op     string
	l, r   Expr
	t      types.T
	fn     binFn
	strict bool // NULL in, NULL out (false: fn sees nil operands)
}

func (e *binExpr) Type() types.T    { return e.t }
func (e *binExpr) children() []Expr { return []Expr{e.l, e.r} }
func (e *binExpr) foldable() bool   { return true }

func (e *binExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.l.Eval(c, row)
	if err != nil {
		return nil, err
	}
	b, err := e.r.Eval(c, row)
	if err != nil {
		return nil, err
	}
	if e.strict && (a == nil || b == nil) {
		return nil, nil
	}
	return e.fn(a, b)
}

// unaryExpr applies a prefix operator (strict).
type unaryExpr struct {
	op  string
	arg Expr
	t   types.T
	fn  unaryFn
}

func (e *unaryExpr) Type() types.T    { return e.t }
func (e *unaryExpr) children() []Expr { return []Expr{e.arg} }
func (e *unaryExpr) foldable() bool   { return true }

func (e *unaryExpr) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	a, err := e.arg.Eval(c, row)
	if a == nil || err != nil {
		return nil, err
	}
	return e.fn(a)
}

// opName returns the operator of an A_Expr, without a pg_catalog
// qualification (OPERATOR(pg_catalog.~)).
func opName(names []*pg_query.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (b *Builder) buildAExpr(x *pg_query.A_Expr, want types.T) (Expr, error) {
	op := opName(x.Name)
	switch x.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		if x.Lexpr == nil {
			arg, err := b.build(x.Rexpr, types.Unknown)
			if err != nil {
				return nil, err
			}
			return b.unaryOp(op, arg, x.Location)
		}
		l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
		if err != nil {
			return nil, err
		}
		return b.binaryOp(op, l, r, x.Location)
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
		if err != nil {
			return nil, err
		}
		return b.binaryOp(op, l, r, x.Location)
	case pg_query.A_Expr_Kind_AEXPR_SIMILAR:
		// The pattern arrives wrapped in similar_to_escape(), which turns
		// it into a POSIX regular expression for ~ or !~.
		l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
		if err != nil {
			return nil, err
		}
		return b.regexMatch(op, l, r, x.Location)
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		return b.buildAnyAll(x, op, x.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ALL)
	case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		return b.buildDistinct(x, x.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT)
	case pg_query.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := b.buildPair(x.Lexpr, x.Rexpr)
		if err != nil {
			return nil, err
		}
		return b.nullIf(l, r, x.Location)
	case pg_query.A_Expr_Kind_AEXPR_IN:
		return b.buildIn(x, op == "<>")
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		return b.buildBetween(x)
	}
	return nil, errUnsupported("expression kind "+x.Kind.String(), x.Location)
}

// buildPair builds the two operands of a binary operator, neither with a
// type hint: an untyped one is resolved against the other by the operator.
func (b *Builder) buildPair(ln, rn *pg_query.Node) (Expr, Expr, error) {
	l, err := b.build(ln, types.Unknown)
	if err != nil {
		return nil, nil, err
	}
	r, err := b.build(rn, types.Unknown)
	if err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

func (b *Builder) unaryOp(op string, arg Expr, loc int32) (Expr, error) {
	t := arg.Type()
	if t.Oid == types.OidUnknown {
		if op == "-" || op == "+" || op == "@" {
			return nil, errOperatorNotUnique(op, types.T{}, t, loc)
		}
		var err error
		if arg, err = b.coerce(arg, types.Text, castImplicit, loc); err != nil {
			return nil, err
		}
		t = types.Text
	}
	var fn unaryFn
	switch op {
	case "+":
		if numRank(t) > 0 || t.Oid == types.OidInterval {
			return arg, nil
		}
	case "-":
		fn = negateFn(t)
	case "@":
		fn = absFn(t)
	case "~":
		if t.Family() == types.IntFamily {
			fn = func(a types.Datum) (types.Datum, error) { return ^a.(int64), nil }
		}
	case "|/", "||/":
		if numRank(t) > 0 {
			var err error
			if arg, err = b.coerce(arg, types.Float8, castImplicit, loc); err != nil {
				return nil, err
			}
			t = types.Float8
			if op == "|/" {
				fn = floatSqrt
			} else {
				fn = floatCbrt
			}
		}
	}
	if fn == nil {
		return nil, errNoOperator(op, types.T{}, t, loc)
	}
	return fold(&unaryExpr{op: op, arg: arg, t: t, fn: fn}), nil
}

// binaryOp resolves and builds l op r.
func (b *Builder) binaryOp(op string, l, r Expr, loc int32) (Expr, error) {
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		return b.compare(op, l, r, loc)
	case "~~", "!~~", "~~*", "!~~*":
		return b.like(op, l, r, loc)
	case "~", "!~", "~*", "!~*":
		return b.regexMatch(op, l, r, loc)
	case "||":
		return b.concatOp(l, r, loc)
	case "->", "->>", "#>", "#>>", "?", "?|", "?&", "#-":
		return b.jsonOp(op, l, r, loc)
	case "@>", "<@", "&&":
		if l.Type().Family() == types.ArrayFamily || r.Type().Family() == types.ArrayFamily {
			return b.arrayContainsOp(op, l, r, loc)
		}
		return b.jsonOp(op, l, r, loc)
	case "+", "-", "*", "/", "%", "^", "&", "|", "#", "<<", ">>":
		return b.arith(op, l, r, loc)
	}
	return nil, errNoOperator(op, l.Type(), r.Type(), loc)
}

// arith resolves arithmetic and bitwise operators.
func (b *Builder) arith(op string, l, r Expr, loc int32) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	lu, ru := lt.Oid == types.OidUnknown, rt.Oid == types.OidUnknown
	if lu && ru {
		return nil, errOperatorNotUnique(op, lt, rt, loc)
	}
	// PostgreSQL first assumes an untyped operand has the other's type;
	// failing an operator for that pair it looks at the other candidates.
	if lu || ru {
		known := lt
		if lu {
			known = rt
		}
		try := known
		if _, ok := arithType(op, known, known); !ok {
			if !timeOpExists(op, known) {
				try = types.Unknown
			}
		}
		if try.Oid == types.OidUnknown {
			t, err := untypedOperandType(op, known, lu, lt, rt, loc)
			if err != nil {
				return nil, err
			}
			try = t
		}
		var err error
		if lu {
			l, err = b.coerce(l, try, castImplicit, loc)
		} else {
			r, err = b.coerce(r, try, castImplicit, loc)
		}
		if err != nil {
			return nil, err
		}
		lt, rt = l.Type(), r.Type()
	}
	if isBitOp(op) {
		if lt.Family() != types.IntFamily || rt.Family() != types.IntFamily {
			return nil, errNoOperator(op, lt, rt, loc)
		}
		t := lt
		if op != "<<" && op != ">>" && intWidth(rt.Oid) > intWidth(lt.Oid) {
			t = rt
		}
		t.Mod = -1
		if op == "<<" || op == ">>" {
			var err error
			if r, err = b.coerce(r, types.Int4, castImplicit, loc); err != nil {
				return nil, err
			}
		}
		return fold(&binExpr{op: op, l: l, r: r, t: t, fn: intArith(op, t.Oid), strict: true}), nil
	}
	if t, ok := arithType(op, lt, rt); ok {
		var err error
		if l, err = b.coerceArith(l, t, loc); err != nil {
			return nil, err
		}
		if r, err = b.coerceArith(r, t, loc); err != nil {
			return nil, err
		}
		return fold(&binExpr{op: op, l: l, r: r, t: t, fn: arithFn(op, t), strict: true}), nil
	}
	if o, ok := findTimeOp(op, lt, rt); ok {
		var err error
		if l, err = b.coerce(l, types.T{Oid: o.l, Mod: -1}, castImplicit, loc); err != nil {
			return nil, err
		}
		if r, err = b.coerce(r, types.T{Oid: o.r, Mod: -1}, castImplicit, loc); err != nil {
			return nil, err
		}
		return fold(&binExpr{op: op, l: l, r: r, t: o.result, fn: o.fn, strict: true}), nil
	}
	return nil, errNoOperator(op, lt, rt, loc)
}

// coerceArith converts an operand to the arithmetic type t; integers of
// any width stay as they are when t is an integer type.
func (b *Builder) coerceArith(e Expr, t types.T, loc int32) (Expr, error) {
	if e.Type().Family() == types.IntFamily && t.Family() == types.IntFamily {
		return e, nil
	}
	return b.coerce(e, t, castImplicit, loc)
}

func isBitOp(op string) bool {
	switch op {
	case "&", "|", "#", "<<", ">>":
		return true
	}
	return false
}

// timeOpExists reports whether op exists with both operands of type known
// (the untyped operand taking known's type).
func timeOpExists(op string, known types.T) bool {
	for _, o := range timeOps {
		if o.op == op && o.l == known.Oid && o.r == known.Oid {
			return true
		}
	}
	return false
}

// untypedOperandType picks the type of the untyped operand of op when the
// other operand's type does not work for it, from the operators that take
// known on that side: exactly one candidate is needed.
func untypedOperandType(op string, known types.T, leftUnknown bool, lt, rt types.T, loc int32) (types.T, error) {
	var found []types.Oid
	for _, o := range timeOps {
		if o.op != op {
			continue
		}
		if leftUnknown && o.r == known.Oid {
			found = append(found, o.l)
		}
		if !leftUnknown && o.l == known.Oid {
			found = append(found, o.r)
		}
	}
	switch len(found) {
	case 0:
		return types.T{}, errNoOperator(op, lt, rt, loc)
	case 1:
		return types.T{Oid: found[0], Mod: -1}, nil
	}
	return types.T{}, errOperatorNotUnique(op, lt, rt, loc)
}

// fold evaluates e now if it is a foldable node whose children are all
// constants and the evaluation succeeds (an error is left for run time, so
// that CASE and short-circuit logic still decide whether it happens).
func fold(e Expr) Expr {
	f, ok := e.(interface{ foldable() bool })
	if !ok || !f.foldable() {
		return e
	}
	if p, ok := e.(parent); ok {
		for _, k := range p.children() {
			if _, ok := k.(*Const); !ok {
				return e
			}
		}
	}
	d, err := e.Eval(foldCtx(), nil)
	if err != nil {
		return e
	}
	return &Const{T: e.Type(), D: d}
}

// errNotBool is the error for a non-boolean operand of AND/OR/NOT/WHERE.
func errNotBool(what string, t types.T, loc int32) error {
	return errAt(pgerror.New(pgerror.CodeDatatypeMismatch, "argument of %s must be type boolean, not type %s", what, typeName(t)), loc)
}
