package expr

import (
	"math/rand/v2"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/types"
)

// TestPartialAggregates checks against an oracle that partial states,
// computed over random pieces of the input, encoded as a range sends them
// and merged, give exactly what one state fed every row gives.
func TestPartialAggregates(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := map[types.Oid]func() types.Datum{
		types.OidInt4: func() types.Datum { return rng.Int64N(2000) - 1000 },
		types.OidInt8: func() types.Datum { return rng.Int64() / 2 }, // sums leave int8
		types.OidNumeric: func() types.Datum {
			d, _ := types.ParseText(types.Numeric, itoa(rng.Int64N(100000)-50000)+"."+itoa(rng.Int64N(1000)))
			return d
		},
		types.OidText: func() types.Datum { return itoa(rng.Int64N(1000)) },
	}
	for _, c := range []struct {
		name string
		arg  types.T
		star bool
	}{
		{"count", types.Int4, true}, {"count", types.Text, false},
		{"sum", types.Int4, false}, {"sum", types.Int8, false}, {"sum", types.Numeric, false},
		{"avg", types.Int4, false}, {"avg", types.Int8, false}, {"avg", types.Numeric, false},
		{"min", types.Int8, false}, {"max", types.Numeric, false}, {"min", types.Text, false}, {"max", types.Text, false},
	} {
		var argTypes []types.T
		if !c.star {
			argTypes = []types.T{c.arg}
		}
		st, ok := PartialTypes(c.name, argTypes, c.star)
		if !ok {
			t.Fatalf("%s(%v) is not mergeable", c.name, argTypes)
		}
		newState, rt, err := NewAggregate(c.name, argTypes, false, c.star)
		if err != nil {
			t.Fatal(err)
		}
		for trial := 0; trial < 50; trial++ {
			n := rng.IntN(40)
			rows := make([][]types.Datum, n)
			for i := range rows {
				var d types.Datum
				if rng.IntN(5) > 0 {
					d = gen[c.arg.Oid]()
				}
				if !c.star {
					rows[i] = []types.Datum{d}
				}
			}
			whole := newState()
			for _, r := range rows {
				if err := whole.Add(nil, r); err != nil {
					t.Fatal(err)
				}
			}
			merged := newState().(Partial)
			for i := 0; i < n || i == 0; {
				piece := newState().(Partial)
				end := min(n, i+1+rng.IntN(8))
				for ; i < end; i++ {
					if err := piece.Add(nil, rows[i]); err != nil {
						t.Fatal(err)
					}
				}
				// Through the encoding the ranges use.
				var b []byte
				for j, d := range piece.State() {
					b = types.AppendValue(b, st[j], d)
				}
				state := make([]types.Datum, len(st))
				for j, typ := range st {
					if state[j], b, err = types.DecodeValue(b, typ); err != nil {
						t.Fatal(err)
					}
				}
				if err := merged.Merge(state); err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			want, werr := whole.Result()
			got, gerr := merged.Result()
			text := func(d types.Datum, err error) string {
				if err != nil {
					return "error: " + err.Error()
				}
				if d == nil {
					return "NULL"
				}
				return string(types.AppendText(nil, rt, d))
			}
			if w, g := text(want, werr), text(got, gerr); w != g {
				t.Fatalf("%s(%v) over %v: merged %s, whole %s", c.name, c.arg, rows, g, w)
			}
		}
	}
}

// mustBuild builds a condition over the test columns.
func mustBuild(t *testing.T, sql string) Expr {
	t.Helper()
	res, err := pg_query.Parse("SELECT " + sql)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := newTestEnv(t)
	n := res.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
	x, err := (&Builder{Env: env, Session: newTestSession()}).Build(n, types.Unknown)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return x
}

func TestImmutable(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want bool
	}{
		{"a + 1 > 2", true},
		{"lower(b) LIKE 'x%' AND a IS NOT NULL", true},
		{"coalesce(a, 0)::text = '1'", true},
		{"now() > '2000-01-01'", false},
		{"random() < 0.5", false},
		{"current_user = 'x'", false},
		{"current_setting('timezone') = 'UTC'", false},
		{"a::regclass::text = 'orders'", false},
	} {
		x := mustBuild(t, c.sql)
		if got := Immutable(x); got != c.want {
			t.Errorf("Immutable(%s) = %v, want %v", c.sql, got, c.want)
		}
	}
}
