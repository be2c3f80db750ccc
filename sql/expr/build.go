package expr

import (
	"context"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Build builds n. want is the type the context expects (types.Unknown if
// none): it types untyped literals, NULLs and parameters (INSERT targets,
// SET col = $1); it does not convert other expressions (see Coerce).
//
// The result never has type unknown except for a parameter whose type is
// still unknown: an untyped string literal with no context becomes text.
func (b *Builder) Build(n *pg_query.Node, want types.T) (Expr, error) {
	e, err := b.build(n, want)
	if err != nil {
		return nil, err
	}
	if k, ok := e.(*Const); ok && k.T.Oid == types.OidUnknown {
		return &Const{T: types.Text, D: k.D}, nil
	}
	if _, ok := e.(*Param); !ok && e.Type().Oid == types.OidUnknown {
		return &retype{arg: e, to: types.Text}, nil
	}
	return e, nil
}

// BuildBool builds a condition (WHERE, ON, HAVING): the result is bool.
// what names the clause for the error ("WHERE").
func (b *Builder) BuildBool(n *pg_query.Node, what string) (Expr, error) {
	e, err := b.build(n, types.Bool)
	if err != nil {
		return nil, err
	}
	return b.coerceBool(e, what, exprLocation(n, -1))
}

func foldCtx() *Ctx { return &Ctx{Context: context.Background()} }

func (b *Builder) build(n *pg_query.Node, want types.T) (Expr, error) {
	if n == nil {
		return nil, pgerror.New(pgerror.CodeInternalError, "missing expression")
	}
	if b.Env != nil {
		if e, err := b.Env.Replace(b, n); err != nil || e != nil {
			return e, err
		}
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_AConst:
		return b.buildConst(x.AConst, want)
	case *pg_query.Node_ColumnRef:
		if b.Env == nil {
			return nil, errAt(pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", colName(x.ColumnRef)), x.ColumnRef.Location)
		}
		e, err := b.Env.Column(x.ColumnRef)
		return e, withPos(err, x.ColumnRef.Location)
	case *pg_query.Node_ParamRef:
		return b.buildParam(x.ParamRef, want)
	case *pg_query.Node_TypeCast:
		return b.buildTypeCast(x.TypeCast)
	case *pg_query.Node_AExpr:
		return b.buildAExpr(x.AExpr, want)
	case *pg_query.Node_BoolExpr:
		return b.buildBoolExpr(x.BoolExpr)
	case *pg_query.Node_NullTest:
		if x.NullTest.Arg.GetRowExpr() != nil {
			return nil, errUnsupported("IS NULL on a row value", x.NullTest.Location)
		}
		arg, err := b.build(x.NullTest.Arg, types.Unknown)
		if err != nil {
			return nil, err
		}
		not := x.NullTest.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL
		if k, ok := arg.(*Const); ok {
			return &Const{T: types.Bool, D: (k.D == nil) != not}, nil
		}
		return &IsNull{Arg: arg, Not: not}, nil
	case *pg_query.Node_BooleanTest:
		return b.buildBoolTest(x.BooleanTest)
	case *pg_query.Node_CaseExpr:
		return b.buildCase(x.CaseExpr)
	case *pg_query.Node_CoalesceExpr:
		return b.buildCoalesce(x.CoalesceExpr, want)
	case *pg_query.Node_MinMaxExpr:
		return b.buildMinMax(x.MinMaxExpr)
	case *pg_query.Node_NullIfExpr:
		if len(x.NullIfExpr.Args) != 2 {
			return nil, pgerror.New(pgerror.CodeSyntaxError, "NULLIF requires two arguments")
		}
		l, r, err := b.buildPair(x.NullIfExpr.Args[0], x.NullIfExpr.Args[1])
		if err != nil {
			return nil, err
		}
		return b.nullIf(l, r, x.NullIfExpr.Location)
	case *pg_query.Node_AArrayExpr:
		return b.buildArray(x.AArrayExpr, want)
	case *pg_query.Node_AIndirection:
		return b.buildIndirection(x.AIndirection)
	case *pg_query.Node_SqlvalueFunction:
		return b.buildSQLValueFunction(x.SqlvalueFunction)
	case *pg_query.Node_CollateClause:
		// Collations are accepted and ignored: text compares bytewise.
		return b.build(x.CollateClause.Arg, want)
	case *pg_query.Node_SubLink:
		if b.Env == nil {
			return nil, errUnsupported("subquery in this context", x.SubLink.Location)
		}
		return b.Env.Subquery(b, x.SubLink)
	case *pg_query.Node_FuncCall:
		return b.buildFuncCall(x.FuncCall, want)
	case *pg_query.Node_RowExpr:
		return nil, errUnsupported("row constructor", x.RowExpr.Location)
	case *pg_query.Node_GroupingFunc:
		return nil, errUnsupported("GROUPING", x.GroupingFunc.Location)
	case *pg_query.Node_ColumnDef, *pg_query.Node_ResTarget:
		return nil, pgerror.New(pgerror.CodeSyntaxError, "unexpected node in expression")
	case *pg_query.Node_SetToDefault:
		return nil, errAt(pgerror.New(pgerror.CodeSyntaxError, "DEFAULT is not allowed in this context"), x.SetToDefault.Location)
	}
	return nil, pgerror.Unsupported("expression %T is not supported", n.Node)
}

func colName(ref *pg_query.ColumnRef) string {
	var parts []string
	for _, f := range ref.Fields {
		if s := f.GetString_(); s != nil {
			parts = append(parts, s.Sval)
		} else if f.GetAStar() != nil {
			parts = append(parts, "*")
		}
	}
	return strings.Join(parts, ".")
}

func (b *Builder) buildConst(c *pg_query.A_Const, want types.T) (Expr, error) {
	if c.Isnull {
		if want.Oid != types.OidUnknown && want.Oid != 0 {
			return &Const{T: want}, nil
		}
		return &Const{T: types.Unknown}, nil
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return &Const{T: types.Int4, D: int64(v.Ival.Ival)}, nil
	case *pg_query.A_Const_Fval:
		s := v.Fval.Fval
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return &Const{T: types.Int8, D: i}, nil
			}
		}
		d, _, err := apd.NewFromString(s)
		if err != nil {
			return nil, errAt(pgerror.New(pgerror.CodeInvalidTextRepresentation, "invalid input syntax for type numeric: \"%s\"", s), c.Location)
		}
		return &Const{T: types.Numeric, D: fixExp(d)}, nil
	case *pg_query.A_Const_Boolval:
		return &Const{T: types.Bool, D: v.Boolval.Boolval}, nil
	case *pg_query.A_Const_Sval:
		k := &Const{T: types.Unknown, D: v.Sval.Sval, pos: c.Location + 1}
		if want.Oid != types.OidUnknown && want.Oid != 0 {
			return b.literal(k, want, castAssign, c.Location)
		}
		return k, nil
	case *pg_query.A_Const_Bsval:
		return nil, errUnsupported("bit string literal", c.Location)
	}
	return &Const{T: types.Unknown}, nil
}

func (b *Builder) buildParam(p *pg_query.ParamRef, want types.T) (Expr, error) {
	n := int(p.Number)
	if n < 1 || n > 65535 {
		return nil, errAt(pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $%d", n), p.Location)
	}
	t := b.Params.get(n)
	if t.Oid == types.OidUnknown && want.Oid != types.OidUnknown && want.Oid != 0 {
		t = baseType(want)
		b.Params.set(n, t)
	} else if b.Params != nil && n > len(b.Params.Types) {
		b.Params.set(n, types.Unknown)
	}
	return &Param{N: n, T: t, params: b.Params}, nil
}

func (b *Builder) buildTypeCast(x *pg_query.TypeCast) (Expr, error) {
	t, err := TypeFromName(x.TypeName)
	if err != nil {
		return nil, err
	}
	var arg Expr
	if a := x.Arg.GetAArrayExpr(); a != nil && t.Family() == types.ArrayFamily {
		arg, err = b.buildArray(a, t)
	} else {
		arg, err = b.build(x.Arg, types.Unknown)
	}
	if err != nil {
		return nil, err
	}
	loc := x.Location
	if loc < 0 {
		loc = exprLocation(x.Arg, x.TypeName.Location)
	}
	return b.explicitCast(arg, t, loc)
}

func (b *Builder) buildBoolExpr(x *pg_query.BoolExpr) (Expr, error) {
	what := "AND"
	switch x.Boolop {
	case pg_query.BoolExprType_OR_EXPR:
		what = "OR"
	case pg_query.BoolExprType_NOT_EXPR:
		what = "NOT"
	}
	args := make([]Expr, len(x.Args))
	for i, a := range x.Args {
		e, err := b.build(a, types.Bool)
		if err != nil {
			return nil, err
		}
		if args[i], err = b.coerceBool(e, what, exprLocation(a, x.Location)); err != nil {
			return nil, err
		}
	}
	if x.Boolop == pg_query.BoolExprType_NOT_EXPR {
		if k, ok := args[0].(*Const); ok {
			if k.D == nil {
				return k, nil
			}
			return &Const{T: types.Bool, D: !k.D.(bool)}, nil
		}
		return &Not{Arg: args[0]}, nil
	}
	return b.boolOp(x.Boolop == pg_query.BoolExprType_AND_EXPR, args), nil
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
