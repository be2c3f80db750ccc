package expr

import (
	"context"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Expr is a typed expression, built once per statement by a Builder and
// evaluated for every row.
//
// Eval must not retain row; it returns nil for SQL NULL and otherwise the Go
// value that Type's family names (see types.Family). Errors are
// *pgerror.Error. An Expr is immutable once built and safe for concurrent
// use by several goroutines, each with its own Ctx.
type Expr interface {
	Type() types.T
	Eval(c *Ctx, row []types.Datum) (types.Datum, error)
}

// Ctx is what evaluation needs; one per statement execution. It is not
// shared between goroutines that evaluate concurrently unless its fields are
// only read (which is all this package does).
type Ctx struct {
	Context context.Context
	Params  []types.Datum // bound $n values (index n-1), already of the param's type
	Now     time.Time     // transaction timestamp: now(), current_timestamp, transaction_timestamp()
	Session Session
}

// Session is what the SQL session exposes to functions. Every method is
// called on the goroutine that evaluates the statement; the session must not
// be used concurrently by another statement meanwhile.
type Session interface {
	// User is the current role name (current_user, session_user, user).
	User() string
	// Database is the current database name (current_database(),
	// current_catalog).
	Database() string
	// Setting returns a run-time parameter's current value as SHOW prints it
	// (current_setting, current_schema from search_path; version() asks for
	// "version" and falls back to "server_version"). An unknown name is
	// 42704 "unrecognized configuration parameter \"name\"".
	Setting(name string) (string, error)
	// SetSetting sets a run-time parameter for the session, or for the
	// current transaction when local is true (set_config), and returns the
	// new value as SHOW would print it.
	SetSetting(name, value string, local bool) (string, error)
	// RelationOid resolves a possibly schema-qualified relation name as
	// 'name'::regclass does; a missing relation is 42P01
	// "relation \"name\" does not exist".
	RelationOid(name string) (int64, error)
	// RelationName returns the name regclass output prints for oid
	// (qualified only when not visible); ok is false when there is none.
	RelationName(oid int64) (name string, ok bool)
	// RoleName returns the name of the role with oid (pg_get_userbyid,
	// regrole output); ok is false when there is none.
	RoleName(oid int64) (name string, ok bool)
	// IndexDef returns CREATE INDEX text for the index with oid
	// (pg_get_indexdef(oid)); ok is false when there is none.
	IndexDef(oid int64) (def string, ok bool)
	// ConstraintDef returns the definition text of the constraint with oid
	// as pg_get_constraintdef prints it ("PRIMARY KEY (id)"); ok is false
	// when there is none.
	ConstraintDef(oid int64) (def string, ok bool)
	// RelationSize returns the size in bytes of the relation with oid, as an
	// estimate (pg_relation_size, pg_table_size, pg_total_relation_size);
	// 0 is acceptable.
	RelationSize(oid int64) int64
	// RelationVisible reports whether the relation with oid is visible on
	// the search path (pg_table_is_visible).
	RelationVisible(oid int64) bool
	// BackendPID is the id pg_backend_pid() returns: the process id the
	// session sent in BackendKeyData.
	BackendPID() int32
}

// Env resolves names while building; implemented by the planner.
type Env interface {
	// Column resolves a column reference to an expression (usually a *ColRef).
	Column(ref *pg_query.ColumnRef) (Expr, error)
	// Aggregate is called for calls of aggregate functions (IsAggregate(name));
	// the planner builds the arguments itself.
	Aggregate(b *Builder, call *pg_query.FuncCall) (Expr, error)
	// Subquery is called for every SubLink (EXISTS, IN/ANY/ALL (SELECT),
	// scalar subquery, ARRAY(SELECT)).
	Subquery(b *Builder, link *pg_query.SubLink) (Expr, error)
	// Replace lets the planner substitute a whole node (e.g. a GROUP BY
	// expression already computed); return nil, nil to let the builder
	// continue.
	Replace(b *Builder, n *pg_query.Node) (Expr, error)
}

// Builder turns parse nodes into Exprs. One Builder (or several sharing
// Params) serves one statement; it is not safe for concurrent use.
type Builder struct {
	Env     Env
	Params  *Params // shared by all builds of one statement; may be nil when the statement has none
	Session Session // may be nil at plan time; used for constant reg* lookups
}

// Params collects the types of $n parameters: given by the client
// (Oid != 0) or inferred from context. Index n-1; types.Unknown (or the zero
// T) when not yet inferred. Params still Unknown after planning are text.
type Params struct{ Types []types.T }

// ColRef reads column Idx of the row.
type ColRef struct {
	Idx  int
	T    types.T
	Name string
}

func (e *ColRef) Type() types.T { return e.T }

func (e *ColRef) Eval(_ *Ctx, row []types.Datum) (types.Datum, error) { return row[e.Idx], nil }

// Const is a constant. D is nil for NULL. A Const of type Unknown holds an
// unresolved string literal; Build never returns one.
type Const struct {
	T types.T
	D types.Datum

	pos int32 // 1-based position of a literal in the statement, 0 if none
}

func (e *Const) Type() types.T { return e.T }

func (e *Const) Eval(*Ctx, []types.Datum) (types.Datum, error) { return e.D, nil }

// Param is the bound value of $N.
type Param struct {
	N int // 1-based
	T types.T

	params *Params // where an inferred type is recorded (Coerce)
}

func (e *Param) Type() types.T { return e.T }

func (e *Param) Eval(c *Ctx, _ []types.Datum) (types.Datum, error) {
	if e.N > len(c.Params) {
		return nil, pgerror.New(pgerror.CodeUndefinedParameter, "there is no parameter $%d", e.N)
	}
	return c.Params[e.N-1], nil
}

// And is the conjunction of Args (at least two, all bool), with SQL's
// three-valued logic: false wins over NULL.
type And struct{ Args []Expr }

func (e *And) Type() types.T { return types.Bool }

func (e *And) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	null := false
	for _, a := range e.Args {
		d, err := a.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if d == nil {
			null = true
		} else if !d.(bool) {
			return false, nil
		}
	}
	if null {
		return nil, nil
	}
	return true, nil
}

// Or is the disjunction of Args (at least two, all bool): true wins over
// NULL.
type Or struct{ Args []Expr }

func (e *Or) Type() types.T { return types.Bool }

func (e *Or) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	null := false
	for _, a := range e.Args {
		d, err := a.Eval(c, row)
		if err != nil {
			return nil, err
		}
		if d == nil {
			null = true
		} else if d.(bool) {
			return true, nil
		}
	}
	if null {
		return nil, nil
	}
	return false, nil
}

// Not negates a bool; NOT NULL is NULL.
type Not struct{ Arg Expr }

func (e *Not) Type() types.T { return types.Bool }

func (e *Not) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	d, err := e.Arg.Eval(c, row)
	if d == nil || err != nil {
		return nil, err
	}
	return !d.(bool), nil
}

// IsNull is "Arg IS NULL" (or IS NOT NULL when Not).
type IsNull struct {
	Arg Expr
	Not bool
}

func (e *IsNull) Type() types.T { return types.Bool }

func (e *IsNull) Eval(c *Ctx, row []types.Datum) (types.Datum, error) {
	d, err := e.Arg.Eval(c, row)
	if err != nil {
		return nil, err
	}
	return (d == nil) != e.Not, nil
}

// ConstEval evaluates e without a row. It fails (XX000) if e reads a
// column (contains a ColRef).
func ConstEval(c *Ctx, e Expr) (types.Datum, error) {
	if k, ok := e.(*Const); ok {
		return k.D, nil
	}
	hasCol := false
	Walk(e, func(x Expr) bool {
		if _, ok := x.(*ColRef); ok {
			hasCol = true
		}
		return !hasCol
	})
	if hasCol {
		return nil, pgerror.New(pgerror.CodeInternalError, "expression refers to a column where a constant is required")
	}
	return e.Eval(c, nil)
}

// parent is implemented by nodes with sub-expressions, for Walk.
type parent interface {
	children() []Expr
}

func (e *And) children() []Expr    { return e.Args }
func (e *Or) children() []Expr     { return e.Args }
func (e *Not) children() []Expr    { return []Expr{e.Arg} }
func (e *IsNull) children() []Expr { return []Expr{e.Arg} }

// Walk calls fn for e and then, while fn returns true for a node, for that
// node's children (pre-order). Returning false from fn skips the children of
// the node it was called for, as ast.Inspect does.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	if p, ok := e.(parent); ok {
		for _, k := range p.children() {
			Walk(k, fn)
		}
	}
}

// volatileNode is implemented by nodes that may give a different result on
// each evaluation with the same inputs.
type volatileNode interface {
	volatile() bool
}

// Volatile reports whether e calls a volatile function (random(),
// gen_random_uuid(), clock_timestamp(), set_config(), ...).
func Volatile(e Expr) bool {
	found := false
	Walk(e, func(x Expr) bool {
		if v, ok := x.(volatileNode); ok && v.volatile() {
			found = true
		}
		return !found
	})
	return found
}

// Immutable reports whether e's value depends on nothing but its row and
// the statement's parameters, so that it can be evaluated anywhere (at the
// ranges of a distributed scan) with the same result: every node is a
// column, constant, parameter, logical or comparison node, operator, cast
// or immutable function. Stable and volatile functions (now(),
// current_user, current_setting, random(), ...), anything typed reg* (their
// values and casts look up the session's catalog), and nodes this package
// does not know (the planner's subqueries and outer references) make it
// false.
func Immutable(e Expr) bool {
	ok := true
	Walk(e, func(x Expr) bool {
		if isRegType(x.Type()) {
			ok = false
			return false
		}
		switch y := x.(type) {
		case *ColRef, *Const, *Param, *And, *Or, *Not, *IsNull, *retype:
		case *castExpr:
			ok = !isRegType(y.arg.Type())
		default:
			f, isF := x.(interface{ foldable() bool })
			ok = isF && f.foldable()
		}
		return ok
	})
	return ok
}

func isRegType(t types.T) bool {
	switch t.Oid {
	case types.OidRegproc, types.OidRegclass, types.OidRegtype, types.OidRegnamespace, types.OidRegrole,
		types.OidRegclassArr, types.OidRegprocArr, types.OidRegtypeArr, types.OidRegnspArr, types.OidRegroleArr:
		return true
	}
	return false
}
