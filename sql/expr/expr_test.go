package expr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// testColumns is the row every test expression sees; pgref_gen.go's
// testRow has the same columns and values.
var testColumns = []struct {
	name, typ, val string // val "" is NULL
}{
	{"a", "int4", "7"},
	{"b", "text", "hello"},
	{"c", "numeric", "12.50"},
	{"d", "timestamptz", "2024-03-15 10:20:30.5+00"},
	{"e", "float8", "2.5"},
	{"f", "bool", "true"},
	{"g", "int8", "9000000000"},
	{"h", "date", "2024-02-29"},
	{"i", "interval", "1 mon 2 days 03:04:05"},
	{"j", "jsonb", `{"a": 1, "b": [1, 2, {"c": "x"}], "d": null}`},
	{"k", "_int4", "{1,2,NULL,4}"},
	{"v", "varchar(5)", "ab"},
	{"n", "int4", ""},
	{"t", "_text", "{x,y}"},
	{"s", "timestamp", "2024-01-31 12:00:00"},
	{"u", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"js", "json", `{"a": {"b": 1}, "a": 2}`},
	{"z", "text", ""},
	{"w", "bpchar(4)", "ab"},
	{"sm", "int2", "3"},
	{"r", "float4", "1.5"},
	{"tm", "time", "10:20:30"},
}

// testEnv resolves the test columns; it has no aggregates or subqueries.
type testEnv struct {
	cols map[string]*ColRef
}

func (e *testEnv) Column(ref *pg_query.ColumnRef) (Expr, error) {
	name := colName(ref)
	if c, ok := e.cols[name]; ok {
		return c, nil
	}
	return nil, pgerror.New(pgerror.CodeUndefinedColumn, "column \"%s\" does not exist", name)
}

func (e *testEnv) Aggregate(b *Builder, call *pg_query.FuncCall) (Expr, error) {
	return nil, pgerror.Unsupported("aggregates in the test env")
}

func (e *testEnv) Subquery(b *Builder, link *pg_query.SubLink) (Expr, error) {
	return nil, pgerror.Unsupported("subqueries in the test env")
}

func (e *testEnv) Replace(b *Builder, n *pg_query.Node) (Expr, error) { return nil, nil }

func parseColType(t *testing.T, s string) types.T {
	mod := int32(-1)
	var mods []int32
	if i := strings.IndexByte(s, '('); i > 0 {
		n, _ := strconv.Atoi(strings.TrimSuffix(s[i+1:], ")"))
		mods = []int32{int32(n)}
		s = s[:i]
	}
	typ, ok := typeByName(s)
	if !ok {
		typ, ok = types.ByName(s)
	}
	if !ok {
		t.Fatalf("unknown test type %s", s)
	}
	if mods != nil {
		m, err := types.MakeTypmod(typ, mods)
		if err != nil {
			t.Fatal(err)
		}
		mod = m.Mod
	}
	typ.Mod = mod
	return typ
}

// newTestEnv returns the env and the row of testColumns.
func newTestEnv(t *testing.T) (*testEnv, []types.Datum) {
	env := &testEnv{cols: map[string]*ColRef{}}
	row := make([]types.Datum, len(testColumns))
	for i, c := range testColumns {
		typ := parseColType(t, c.typ)
		env.cols[c.name] = &ColRef{Idx: i, T: typ, Name: c.name}
		if c.val != "" {
			d, err := types.ParseText(typ, c.val)
			if err != nil {
				t.Fatalf("column %s: %v", c.name, err)
			}
			row[i] = d
		}
	}
	return env, row
}

// testSession is a Session with fixed answers.
type testSession struct {
	settings map[string]string
}

func newTestSession() *testSession {
	return &testSession{settings: map[string]string{
		"server_version": "15.0", "search_path": `"$user", public`, "timezone": "UTC",
	}}
}

func (s *testSession) User() string     { return "alice" }
func (s *testSession) Database() string { return "shop" }
func (s *testSession) Setting(name string) (string, error) {
	if v, ok := s.settings[strings.ToLower(name)]; ok {
		return v, nil
	}
	return "", pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", name)
}
func (s *testSession) SetSetting(name, value string, local bool) (string, error) {
	s.settings[strings.ToLower(name)] = value
	return value, nil
}
func (s *testSession) RelationOid(name string) (int64, error) {
	if name == "orders" || name == "public.orders" {
		return 16384, nil
	}
	return 0, pgerror.New(pgerror.CodeUndefinedTable, "relation \"%s\" does not exist", name)
}
func (s *testSession) RelationName(oid int64) (string, bool) {
	if oid == 16384 {
		return "orders", true
	}
	return "", false
}
func (s *testSession) RoleName(oid int64) (string, bool) {
	if oid == 10 {
		return "alice", true
	}
	return "", false
}
func (s *testSession) IndexDef(oid int64) (string, bool) {
	if oid == 16390 {
		return "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)", true
	}
	return "", false
}
func (s *testSession) ConstraintDef(oid int64) (string, bool) {
	if oid == 16391 {
		return "PRIMARY KEY (id)", true
	}
	return "", false
}
func (s *testSession) RelationSize(oid int64) int64   { return 8192 }
func (s *testSession) RelationVisible(oid int64) bool { return true }
func (s *testSession) BackendPID() int32              { return 4242 }

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// parseExpr parses "SELECT <sql>" and returns the first target's value.
func parseExpr(t *testing.T, sql string) *pg_query.Node {
	t.Helper()
	tree, err := pg_query.Parse("SELECT " + sql)
	if err != nil {
		t.Fatalf("parse %q: %v", sql, err)
	}
	sel := tree.Stmts[0].Stmt.GetSelectStmt()
	return sel.TargetList[0].GetResTarget().Val
}

// evalSQL builds sql against the test env and evaluates it on the test row.
func evalSQL(t *testing.T, sql string) (types.T, types.Datum, error) {
	t.Helper()
	env, row := newTestEnv(t)
	b := &Builder{Env: env, Params: &Params{}, Session: newTestSession()}
	e, err := b.Build(parseExpr(t, sql), types.Unknown)
	if err != nil {
		return types.T{}, nil, err
	}
	d, err := e.Eval(testCtx(), row)
	return e.Type(), d, err
}

func testCtx() *Ctx {
	return &Ctx{Context: context.Background(), Now: testNow, Session: newTestSession()}
}

// render is what the golden file holds for a result.
func render(t types.T, d types.Datum, err error) string {
	if err != nil {
		var pe *pgerror.Error
		if !errors.As(err, &pe) {
			return "go error " + strconv.Quote(err.Error())
		}
		if pe.Position > 0 {
			return fmt.Sprintf("err %s %s @%d", pe.Code, strconv.Quote(pe.Message), pe.Position)
		}
		return fmt.Sprintf("err %s %s", pe.Code, strconv.Quote(pe.Message))
	}
	typ := strconv.Quote(types.FormatType(t))
	if d == nil {
		return "null " + typ
	}
	if s, ok := RegOutput(testCtx(), t, d); ok {
		return "ok " + typ + " " + strconv.Quote(s)
	}
	return "ok " + typ + " " + strconv.Quote(string(types.AppendText(nil, t, d)))
}

// TestPostgresGolden evaluates every expression of testdata/exprs.golden
// and compares type, text output or SQLSTATE and message with what
// PostgreSQL 15 answered.
func TestPostgresGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/exprs.golden")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	failed := 0
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "=> ") {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "=> ") {
			t.Fatalf("line %d: %q has no result line", i+1, line)
		}
		want := strings.TrimPrefix(lines[i+1], "=> ")
		got := func() (s string) {
			defer func() {
				if r := recover(); r != nil {
					s = fmt.Sprintf("panic: %v", r)
				}
			}()
			return render(evalSQL(t, line))
		}()
		if got != want {
			failed++
			t.Errorf("%s\n got: %s\nwant: %s", line, got, want)
		}
	}
	if failed > 0 {
		t.Logf("%d expressions differ from PostgreSQL", failed)
	}
}
