package expr

import (
	"context"
	"strings"
	"testing"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// parseTargets parses "SELECT <list>" and returns the target values.
func parseTargets(t *testing.T, list string) []*pg_query.Node {
	t.Helper()
	tree, err := pg_query.Parse("SELECT " + list)
	if err != nil {
		t.Fatalf("parse %q: %v", list, err)
	}
	var out []*pg_query.Node
	for _, rt := range tree.Stmts[0].Stmt.GetSelectStmt().TargetList {
		out = append(out, rt.GetResTarget().Val)
	}
	return out
}

// TestParamInference checks the parameter types PostgreSQL 15 reports in
// pg_prepared_statements.parameter_types for the same expressions.
func TestParamInference(t *testing.T) {
	cases := []struct {
		list string
		want []string
	}{
		{"a = $1 AND b LIKE $2 AND c > $3 AND d < $4", []string{"integer", "text", "numeric", "timestamp with time zone"}},
		{"$1 + 1, $2 || 'x', length($3), a in ($4, $5), coalesce($6, a), $7::int8, a between $8 and $9, " +
			"case when $10 then 1 end, $11 = any(k), upper($12), now() - $13, substr(b, $14)",
			[]string{"integer", "text", "text", "integer", "integer", "integer", "bigint", "integer", "integer",
				"boolean", "integer", "text", "timestamp with time zone", "integer"}},
		{"nullif($1, a), greatest($2, c), array[$3, a], k[$4], $5 = 5.5, $6 = 'x'",
			[]string{"integer", "numeric", "integer", "integer", "numeric", "text"}},
		{"$2 = a", []string{"unknown", "integer"}},
	}
	for _, tc := range cases {
		env, _ := newTestEnv(t)
		b := &Builder{Env: env, Params: &Params{}}
		for _, n := range parseTargets(t, tc.list) {
			if _, err := b.Build(n, types.Unknown); err != nil {
				t.Fatalf("%s: %v", tc.list, err)
			}
		}
		var got []string
		for _, pt := range b.Params.Types {
			got = append(got, types.FormatType(pt))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s\n got: %v\nwant: %v", tc.list, got, tc.want)
		}
	}
}

// TestParamWant checks that want types a parameter (INSERT targets) and
// that a client-given type is kept.
func TestParamWant(t *testing.T) {
	env, row := newTestEnv(t)
	b := &Builder{Env: env, Params: &Params{Types: []types.T{types.Unknown, types.Int8}}}
	ns := parseTargets(t, "$1, $2, a + $2")
	e1, err := b.Build(ns[0], types.T{Oid: types.OidVarchar, Mod: 9})
	if err != nil {
		t.Fatal(err)
	}
	if e1.Type().Oid != types.OidVarchar || b.Params.Types[0].Oid != types.OidVarchar {
		t.Errorf("$1 with want varchar(5): expr %v, param %v", e1.Type(), b.Params.Types[0])
	}
	if _, err := b.Build(ns[1], types.Int4); err != nil {
		t.Fatal(err)
	}
	if b.Params.Types[1] != types.Int8 {
		t.Errorf("client type of $2 changed to %v", b.Params.Types[1])
	}
	e3, err := b.Build(ns[2], types.Unknown)
	if err != nil {
		t.Fatal(err)
	}
	if e3.Type() != types.Int8 {
		t.Errorf("a + $2 (bigint) is %v", e3.Type())
	}
	c := &Ctx{Context: context.Background(), Params: []types.Datum{"x", int64(5)}}
	d, err := e3.Eval(c, row)
	if err != nil || d != int64(12) {
		t.Errorf("a + $2 = %v, %v", d, err)
	}
}

func TestCoerce(t *testing.T) {
	env, row := newTestEnv(t)
	varchar3 := types.T{Oid: types.OidVarchar, Mod: 7}
	numeric52, err := types.MakeTypmod(types.Numeric, []int32{5, 2})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		expr string
		to   types.T
		want string // text output, or "err CODE"
	}{
		{"a", types.Text, "7"},
		{"a", types.Int8, "7"},
		{"a", types.Numeric, "7"},
		{"g", types.Int4, "err 22003"},
		{"c", types.Int4, "13"},
		{"e", types.Int4, "2"},
		{"b", types.Int4, "err 42804"},
		{"b", varchar3, "err 22001"},
		{"'abc   '::text", varchar3, "abc"},
		{"v", types.Text, "ab"},
		{"1.005", numeric52, "1.01"},
		{"1234.5", numeric52, "err 22003"},
		{"f", types.Text, "true"},
		{"f", types.Int4, "err 42804"},
		{"d", types.Date, "2024-03-15"},
		{"h", types.TimestampTZ, "2024-02-29 00:00:00+00"},
		{"'{1,2}'::int4[]", types.Int8Array, "{1,2}"},
		{"j", types.JSONType, `{"a": 1, "b": [1, 2, {"c": "x"}], "d": null}`},
		{"u", types.Text, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"u", types.Int4, "err 42804"},
	}
	for _, tc := range cases {
		b := &Builder{Env: env, Params: &Params{}}
		e, err := b.Build(parseExpr(t, tc.expr), types.Unknown)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		var got string
		ce, err := Coerce(e, tc.to)
		var d types.Datum
		if err == nil {
			d, err = ce.Eval(testCtx(), row)
		}
		if err != nil {
			got = "err " + pgerror.Code(err)
		} else {
			got = string(types.AppendText(nil, tc.to, d))
			if ce.Type() != tc.to {
				t.Errorf("Coerce(%s, %v) has type %v", tc.expr, tc.to, ce.Type())
			}
		}
		if got != tc.want {
			t.Errorf("Coerce(%s, %s) = %s, want %s", tc.expr, types.FormatType(tc.to), got, tc.want)
		}
	}
}

// TestCoerceParam checks that coercing an untyped parameter records its
// type in the Params of the builder that built it.
func TestCoerceParam(t *testing.T) {
	b := &Builder{Params: &Params{}}
	e, err := b.Build(parseExpr(t, "$1"), types.Unknown)
	if err != nil {
		t.Fatal(err)
	}
	if e.Type().Oid != types.OidUnknown {
		t.Fatalf("$1 without context has type %v", e.Type())
	}
	ce, err := Coerce(e, types.Int8)
	if err != nil {
		t.Fatal(err)
	}
	if ce.Type() != types.Int8 || b.Params.Types[0] != types.Int8 {
		t.Errorf("coerced $1: expr %v, params %v", ce.Type(), b.Params.Types)
	}
}

// TestUnknownLiteralWant checks that want types literals and NULL.
func TestUnknownLiteralWant(t *testing.T) {
	b := &Builder{}
	cases := []struct {
		expr string
		want types.T
		out  string
	}{
		{"'42'", types.Int4, "42"},
		{"'2024-01-02'", types.Date, "2024-01-02"},
		{"'x'", types.Unknown, "x"},
		{"NULL", types.Int8, "NULL"},
		{"'abcdef'", types.T{Oid: types.OidVarchar, Mod: 7}, "err 22001"},
		{"'x'", types.Int4, "err 22P02"},
	}
	for _, tc := range cases {
		e, err := b.Build(parseExpr(t, tc.expr), tc.want)
		var got string
		switch {
		case err != nil:
			got = "err " + pgerror.Code(err)
		default:
			d, _ := e.Eval(testCtx(), nil)
			if d == nil {
				got = "NULL"
			} else {
				got = string(types.AppendText(nil, e.Type(), d))
			}
			wt := tc.want
			if wt.Oid == types.OidUnknown {
				wt = types.Text
			}
			if e.Type() != wt {
				t.Errorf("%s with want %v has type %v", tc.expr, tc.want, e.Type())
			}
		}
		if got != tc.out {
			t.Errorf("%s with want %v = %s, want %s", tc.expr, tc.want, got, tc.out)
		}
	}
}

// TestSessionFunctions covers the functions that ask the session.
func TestSessionFunctions(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"version()", "PostgreSQL 15.0 (shard) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"},
		{"current_user", "alice"},
		{"session_user", "alice"},
		{"user", "alice"},
		{"current_role", "alice"},
		{"current_database()", "shop"},
		{"current_catalog", "shop"},
		{"current_schema()", "public"},
		{"current_schema", "public"},
		{"current_schemas(true)", "{pg_catalog,public}"},
		{"current_schemas(false)", "{public}"},
		{"current_setting('TimeZone')", "UTC"},
		{"current_setting('nosuch')", "err 42704"},
		{"current_setting('nosuch', true)", "NULL"},
		{"set_config('app.x', 'v', false)", "v"},
		{"pg_backend_pid()", "4242"},
		{"'orders'::regclass", "orders"},
		{"'orders'::regclass::oid", "16384"},
		{"'nosuch'::regclass", "err 42P01"},
		{"16384::regclass::text", "orders"},
		{"99::regclass", "99"},
		{"pg_get_userbyid(10)", "alice"},
		{"pg_get_userbyid(99)", "unknown (OID=99)"},
		{"pg_get_indexdef(16390)", "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)"},
		{"pg_get_indexdef(16390, 0, true)", "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)"},
		{"pg_get_constraintdef(16391, true)", "PRIMARY KEY (id)"},
		{"pg_get_constraintdef(1)", "NULL"},
		{"pg_relation_size('orders')", "8192"},
		{"pg_total_relation_size('orders'::regclass)", "8192"},
		{"pg_table_is_visible(16384)", "t"},
		{"pg_is_in_recovery()", "f"},
		{"inet_server_addr()", "NULL"},
		{"has_schema_privilege('public', 'USAGE')", "t"},
		{"has_table_privilege(10, 16384, 'SELECT')", "t"},
		{"shobj_description(1, 'pg_database')", "NULL"},
		{"pg_get_expr('nextval(1)', 16384)", "nextval(1)"},
		{"now()", "2024-05-06 07:08:09.123456+00"},
		{"transaction_timestamp()", "2024-05-06 07:08:09.123456+00"},
		{"current_timestamp", "2024-05-06 07:08:09.123456+00"},
		{"current_timestamp(0)", "2024-05-06 07:08:09+00"},
		{"current_timestamp(2)", "2024-05-06 07:08:09.12+00"},
		{"localtimestamp", "2024-05-06 07:08:09.123456"},
		{"localtime", "07:08:09.123456"},
		{"current_date", "2024-05-06"},
		{"now() - interval '1 day'", "2024-05-05 07:08:09.123456+00"},
		{"now() - '2024-05-06'::date", "07:08:09.123456"},
		{"current_time", "err 0A000"},
	}
	for _, tc := range cases {
		typ, d, err := evalSQL(t, tc.expr)
		var got string
		switch {
		case err != nil:
			got = "err " + pgerror.Code(err)
		case d == nil:
			got = "NULL"
		default:
			if s, ok := RegOutput(testCtx(), typ, d); ok {
				got = s
			} else {
				got = string(types.AppendText(nil, typ, d))
			}
		}
		if got != tc.want {
			t.Errorf("%s = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestSetConfigReachesSession(t *testing.T) {
	env, row := newTestEnv(t)
	s := newTestSession()
	b := &Builder{Env: env}
	e, err := b.Build(parseExpr(t, "set_config('search_path', 'pg_catalog', true)"), types.Unknown)
	if err != nil {
		t.Fatal(err)
	}
	if !Volatile(e) {
		t.Error("set_config is not volatile")
	}
	if _, err := e.Eval(&Ctx{Session: s}, row); err != nil {
		t.Fatal(err)
	}
	if s.settings["search_path"] != "pg_catalog" {
		t.Errorf("search_path = %q", s.settings["search_path"])
	}
}

// TestExportedNodes checks the shapes the planner pattern-matches.
func TestExportedNodes(t *testing.T) {
	env, _ := newTestEnv(t)
	b := &Builder{Env: env, Params: &Params{}}
	build := func(s string) Expr {
		e, err := b.Build(parseExpr(t, s), types.Unknown)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return e
	}
	if c, ok := build("a = 1").(*Cmp); !ok || c.Op != "=" {
		t.Errorf("a = 1 is %T", build("a = 1"))
	} else {
		if l, ok := c.L.(*ColRef); !ok || l.Name != "a" {
			t.Errorf("a = 1: L is %T", c.L)
		}
		if r, ok := c.R.(*Const); !ok || r.D != int64(1) {
			t.Errorf("a = 1: R is %#v", c.R)
		}
	}
	// The literal takes the column's type; an int8 constant stays int8.
	if c := build("a = 5000000000").(*Cmp); c.R.Type() != types.Int8 || c.L.Type() != types.Int4 {
		t.Errorf("a = 5000000000: %v = %v", c.L.Type(), c.R.Type())
	}
	if c := build("b = 'x'").(*Cmp); c.R.(*Const).T != types.Text {
		t.Errorf("b = 'x': R type %v", c.R.Type())
	}
	if c := build("'x' < b").(*Cmp); c.Op != "<" {
		t.Errorf("'x' < b: op %s", c.Op)
	}
	if c := build("a != 2").(*Cmp); c.Op != "<>" {
		t.Errorf("a != 2: op %s", c.Op)
	}
	if c := build("$1 = a").(*Cmp); c.L.(*Param).N != 1 || c.L.Type() != types.Int4 {
		t.Errorf("$1 = a: L %#v", c.L)
	}
	if in, ok := build("a IN (1, 2, 3)").(*InList); !ok || len(in.List) != 3 || in.Not {
		t.Errorf("a IN (1, 2, 3) is %T", build("a IN (1, 2, 3)"))
	}
	if in := build("a NOT IN (1, 2)").(*InList); !in.Not {
		t.Error("NOT IN lost its Not")
	}
	if n, ok := build("a IS NULL").(*IsNull); !ok || n.Not {
		t.Errorf("a IS NULL is %T", build("a IS NULL"))
	}
	if n := build("a IS NOT NULL").(*IsNull); !n.Not {
		t.Error("IS NOT NULL lost its Not")
	}
	if a, ok := build("a > 1 AND b = 'x' AND (c < 2 AND f)").(*And); !ok || len(a.Args) != 4 {
		t.Errorf("AND is %#v", build("a > 1 AND b = 'x' AND (c < 2 AND f)"))
	}
	if o, ok := build("a > 1 OR f").(*Or); !ok || len(o.Args) != 2 {
		t.Error("OR")
	}
	if _, ok := build("NOT f").(*Not); !ok {
		t.Error("NOT")
	}
	if a, ok := build("a BETWEEN 1 AND 5").(*And); !ok || a.Args[0].(*Cmp).Op != ">=" || a.Args[1].(*Cmp).Op != "<=" {
		t.Error("BETWEEN is not a >= AND <=")
	}
	if k, ok := build("1 + 2 * 3").(*Const); !ok || k.D != int64(7) {
		t.Errorf("1 + 2 * 3 is not folded: %#v", build("1 + 2 * 3"))
	}
	if _, ok := build("a > 1 AND false").(*Const); !ok {
		t.Error("a > 1 AND false is not folded to false")
	}
	if _, ok := build("1/0").(*Const); ok {
		t.Error("1/0 was folded")
	}
}

func TestWalkVolatileConstEval(t *testing.T) {
	env, _ := newTestEnv(t)
	b := &Builder{Env: env}
	build := func(s string) Expr {
		e, err := b.Build(parseExpr(t, s), types.Unknown)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		return e
	}
	var cols []string
	Walk(build("a + length(b) > coalesce(n, 3) AND c IN (1, g)"), func(e Expr) bool {
		if c, ok := e.(*ColRef); ok {
			cols = append(cols, c.Name)
		}
		return true
	})
	if strings.Join(cols, ",") != "a,b,n,c,g" {
		t.Errorf("Walk found columns %v", cols)
	}
	for s, want := range map[string]bool{
		"random() < 0.5": true, "gen_random_uuid()": true, "clock_timestamp()": true,
		"a + 1": false, "now()": false, "CASE WHEN f THEN random() END": true,
	} {
		if got := Volatile(build(s)); got != want {
			t.Errorf("Volatile(%s) = %v", s, got)
		}
	}
	c := testCtx()
	if d, err := ConstEval(c, build("power(2, 3) + length('abc')")); err != nil || d != 11.0 {
		t.Errorf("ConstEval = %v, %v", d, err)
	}
	if _, err := ConstEval(c, build("a + 1")); err == nil {
		t.Error("ConstEval of a column succeeded")
	}
	if d, err := ConstEval(c, build("now()")); err != nil || !d.(time.Time).Equal(testNow.Truncate(time.Microsecond)) {
		t.Errorf("ConstEval(now()) = %v, %v", d, err)
	}
}

// hookEnv records the hooks the builder calls.
type hookEnv struct {
	testEnv
	aggs, subs []string
}

func (e *hookEnv) Aggregate(b *Builder, call *pg_query.FuncCall) (Expr, error) {
	name, _ := funcName(call.Funcname)
	if call.AggStar {
		name += "(*)"
	}
	e.aggs = append(e.aggs, name)
	return &ColRef{Idx: 0, T: types.Int8, Name: name}, nil
}

func (e *hookEnv) Subquery(b *Builder, link *pg_query.SubLink) (Expr, error) {
	e.subs = append(e.subs, link.SubLinkType.String())
	return &Const{T: types.Bool, D: true}, nil
}

func (e *hookEnv) Replace(b *Builder, n *pg_query.Node) (Expr, error) {
	if c := n.GetColumnRef(); c != nil && colName(c) == "replaced" {
		return &Const{T: types.Int4, D: int64(99)}, nil
	}
	return nil, nil
}

func TestEnvHooks(t *testing.T) {
	base, row := newTestEnv(t)
	env := &hookEnv{testEnv: *base}
	b := &Builder{Env: env}
	e, err := b.Build(parseExpr(t, "count(*) + sum(a) + pg_catalog.max(a) + replaced"), types.Unknown)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(env.aggs, ",") != "count(*),sum,max" {
		t.Errorf("aggregates seen: %v", env.aggs)
	}
	if _, err := e.Eval(testCtx(), row); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(parseExpr(t, "EXISTS (SELECT 1) AND a IN (SELECT 1)"), types.Unknown); err != nil {
		t.Fatal(err)
	}
	if strings.Join(env.subs, ",") != "EXISTS_SUBLINK,ANY_SUBLINK" {
		t.Errorf("sublinks seen: %v", env.subs)
	}
	for _, s := range []string{"row_number() OVER ()", "unnest(k)", "(a, b)", "to_char(d, 'YYYY')"} {
		_, err := b.Build(parseExpr(t, s), types.Unknown)
		if pgerror.Code(err) != pgerror.CodeFeatureNotSupported {
			t.Errorf("%s: %v, want 0A000", s, err)
		}
	}
	// Without an Env, columns do not exist and aggregates are refused.
	nb := &Builder{}
	if _, err := nb.Build(parseExpr(t, "x + 1"), types.Unknown); pgerror.Code(err) != pgerror.CodeUndefinedColumn {
		t.Errorf("column without env: %v", err)
	}
	if _, err := nb.Build(parseExpr(t, "count(*)"), types.Unknown); pgerror.Code(err) != pgerror.CodeGroupingError {
		t.Errorf("aggregate without env: %v", err)
	}
}

func TestBuildBool(t *testing.T) {
	env, _ := newTestEnv(t)
	b := &Builder{Env: env}
	tree, err := pg_query.Parse("SELECT 1 WHERE a + 1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.BuildBool(tree.Stmts[0].Stmt.GetSelectStmt().WhereClause, "WHERE")
	var pe *pgerror.Error
	if !errorsAs(err, &pe) || pe.Code != pgerror.CodeDatatypeMismatch || pe.Message != "argument of WHERE must be type boolean, not type integer" {
		t.Errorf("WHERE a + 1: %v", err)
	}
}

func errorsAs(err error, pe **pgerror.Error) bool {
	if err == nil {
		return false
	}
	*pe = pgerror.Flatten(err)
	return true
}

// TestLiteralNodes checks nodes the planner builds itself, without the
// builder's resolved comparators.
func TestLiteralNodes(t *testing.T) {
	_, row := newTestEnv(t)
	a := &ColRef{Idx: 0, T: types.Int4, Name: "a"}
	c := testCtx()
	for _, tc := range []struct {
		e    Expr
		want types.Datum
	}{
		{&Cmp{Op: "<", L: a, R: &Const{T: types.Int4, D: int64(8)}}, true},
		{NewCmp(">=", a, &Const{T: types.Int8, D: int64(8)}), false},
		{&Cmp{Op: "=", L: a, R: &Const{T: types.Int4}}, nil},
		{&InList{Arg: a, List: []Expr{&Const{T: types.Int4, D: int64(7)}}}, true},
		{&And{Args: []Expr{&IsNull{Arg: a, Not: true}, &Not{Arg: &Const{T: types.Bool, D: false}}}}, true},
		{&Or{Args: []Expr{&Const{T: types.Bool}, &Const{T: types.Bool, D: false}}}, nil},
	} {
		d, err := tc.e.Eval(c, row)
		if err != nil || d != tc.want {
			t.Errorf("%#v = %v, %v; want %v", tc.e, d, err, tc.want)
		}
	}
}
