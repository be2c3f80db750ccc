// Package expr builds and evaluates typed scalar expressions with
// PostgreSQL 15 semantics.
//
// # Model
//
// The planner hands parse nodes (pg_query protobuf ASTs) to a Builder,
// which resolves names through an Env (columns, aggregates, subqueries are
// the planner's), decides every type, operator and function once, and
// returns an Expr tree. Eval then runs per row with no further decisions:
// operators and functions are Go closures chosen at build time, constants
// are pre-parsed, LIKE and regular-expression patterns are pre-compiled.
// Values are types.Datum (nil is NULL; the Go type per family is in package
// types). Errors are *pgerror.Error with PostgreSQL's SQLSTATE and message
// and, where PostgreSQL gives one, the statement position.
//
// Lifecycle: one Builder (or several sharing a *Params) per statement;
// Build for each expression; the resulting Exprs are immutable and may be
// evaluated concurrently, each goroutine with its own *Ctx (parameters,
// transaction timestamp, Session). Aggregates are not Exprs: the planner
// gets a call through Env.Aggregate and runs NewAggregate states itself.
//
// The planner pattern-matches a few exported nodes (ColRef, Const, Param,
// And, Or, Not, Cmp, IsNull, InList); everything else is unexported.
// Walk visits any tree; Volatile and ConstEval answer the planner's usual
// questions.
//
// # How types are resolved
//
// The rules are PostgreSQL's parse-analysis rules for the built-in types,
// written out rather than driven by a catalog:
//
//   - Literals: integers are int4, or int8 when larger, or numeric; other
//     numbers are numeric; a quoted string is "unknown" until its context
//     types it (the want argument of Build, the other operand of an
//     operator, the parameter type of a function, the common type of a
//     CASE/COALESCE/IN/ARRAY list), and text when nothing does. Typing a
//     literal runs the type's input function at build time
//     (types.ParseText), so '2024-13-01'::date fails while planning, at the
//     literal's position, as in PostgreSQL.
//   - Parameters ($n) behave like literals: an untyped one takes its type
//     from the same contexts and the type is recorded in Params.Types; a
//     client-given type is never changed.
//   - Binary operators (ops.go, arith.go, cmp.go): an untyped operand first
//     takes the other operand's type. Arithmetic then uses the wider
//     integer, numeric over integers, float8 as soon as a float is involved
//     (float4 op float4 stays float4); ^ is float8 or numeric; date and time
//     arithmetic is a table (ops_time.go). Comparisons convert both sides to
//     a common type, except that integers of different widths and the
//     string types compare directly (so an int4 column compared with an
//     int8 constant keeps its ColRef for the planner).
//   - CASE, COALESCE, GREATEST/LEAST, ARRAY[] and IN lists use
//     select_common_type (cond.go commonType): same category required, the
//     preferred or implicitly-reachable type wins, unknowns become text.
//   - Functions (funcs.go callFunc): candidates by name and arity, scored
//     like func_select_candidate (exact matches, then preferred types where
//     a conversion is needed, then unknowns taken as strings); polymorphic
//     anyelement/anyarray parameters are unified. A one-argument call of a
//     type name is a cast: text(1), date(ts).
//   - Casts (cast.go): castTable is pg_cast for the known types, plus
//     PostgreSQL's automatic I/O conversions (anything to a string type in
//     assignment, from a string type only explicitly). Explicit casts use
//     types.Cast; Coerce (INSERT/UPDATE targets) allows implicit and
//     assignment casts and applies types.CheckAssign (varchar(n) too long is
//     22001, numeric(p,s) rounds).
//
// Constant folding: a node whose children are all constants is evaluated at
// build time if it is immutable (operators, casts, immutable functions) and
// the evaluation succeeds; an error is left for run time, so CASE WHEN
// false THEN 1/0 END and short-circuit logic behave. Stable functions
// (now(), current_setting, catalog lookups) and volatile ones (random(),
// nextval-like, set_config) are never folded; Volatile reports the latter.
//
// Text compares bytewise (the C collation); COLLATE clauses are ignored.
// The session time zone is UTC for all date/time arithmetic. Arrays are one
// dimensional with lower bound 1. Regular expressions run on Go's RE2 after
// translating the ARE escapes RE2 spells differently (\m \M \y \Y \Z);
// back references are not supported.
//
// # Adding a function
//
// Add an entry to the table of the right file (funcs_string.go,
// funcs_math.go, funcs_time.go, funcs_json.go, funcs_catalog.go, array.go):
//
//	"lower": {f1(text, text, func(_ *Ctx, a types.Datum) (types.Datum, error) {
//		return strings.ToLower(a.(string)), nil
//	})},
//
// f0/f1/f2/fN give the arity (fN for three or more, or variadic); the body
// receives non-NULL arguments already converted to the declared types
// unless the overload is lax_() (not strict). Mark stable_/volatile with
// vol_(stable) or vol_(volatile); immutable is the default and means the
// call is folded when its arguments are constant. Polymorphic signatures use
// anyElement/anyArray with ret_(...) computing the result type; bodies that
// depend on argument types or on constant arguments (a precompiled pattern,
// a resolved date unit) use bind_(func(args []Expr) (impl, error)). Every
// overload of a name is a separate slice element; resolution picks among
// them as described above. Functions that need the parse node (not the
// built arguments) go in specialFuncs.
//
// # Debugging
//
// testdata/exprs.txt lists expressions evaluated against a fixed row (the
// columns are in expr_test.go); testdata/exprs.golden holds what
// PostgreSQL 15 answered for each (type, text output, or SQLSTATE, message
// and position). TestPostgresGolden compares. To add cases, append to
// exprs.txt and regenerate with a PostgreSQL 15 server:
//
//	go run pgref_gen.go -dsn "host=/tmp/pgexpr port=55440 user=postgres"
//
// The tests never need the server.
package expr
