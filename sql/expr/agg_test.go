package expr

import (
	"testing"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// TestAggregates runs the aggregates over (1), (2), (NULL), (2), (4) and
// over no rows; the expected values are PostgreSQL 15's.
func TestAggregates(t *testing.T) {
	ints := []types.Datum{int64(1), int64(2), nil, int64(2), int64(4)}
	conv := func(f func(int64) types.Datum) []types.Datum {
		out := make([]types.Datum, len(ints))
		for i, d := range ints {
			if d != nil {
				out[i] = f(d.(int64))
			}
		}
		return out
	}
	num := func(s string) types.Datum {
		d, err := types.ParseText(types.Numeric, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	numerics := conv(func(i int64) types.Datum { return num(itoa(i) + ".5") })
	floats := conv(func(i int64) types.Datum { return float64(i) })
	texts := conv(func(i int64) types.Datum { return itoa(i) })
	bools := conv(func(i int64) types.Datum { return i > 1 })
	hours := conv(func(i int64) types.Datum { return types.Interval{Micros: i * 3600e6} })
	comma := []types.Datum{",", ",", ",", ",", ","}
	cases := []struct {
		name     string
		argTypes []types.T
		distinct bool
		star     bool
		input    [][]types.Datum // per argument
		typ      string
		want     string
		empty    string // result over no rows
	}{
		{"count", nil, false, true, nil, "bigint", "5", "0"},
		{"count", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "bigint", "4", "0"},
		{"count", []types.T{types.Int4}, true, false, [][]types.Datum{ints}, "bigint", "3", "0"},
		{"sum", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "bigint", "9", "NULL"},
		{"sum", []types.T{types.Int4}, true, false, [][]types.Datum{ints}, "bigint", "7", "NULL"},
		{"sum", []types.T{types.Int8}, false, false, [][]types.Datum{ints}, "numeric", "9", "NULL"},
		{"avg", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "numeric", "2.2500000000000000", "NULL"},
		{"avg", []types.T{types.Int8}, false, false, [][]types.Datum{ints}, "numeric", "2.2500000000000000", "NULL"},
		{"sum", []types.T{types.Numeric}, false, false, [][]types.Datum{numerics}, "numeric", "11.0", "NULL"},
		{"avg", []types.T{types.Numeric}, false, false, [][]types.Datum{numerics}, "numeric", "2.7500000000000000", "NULL"},
		{"sum", []types.T{types.Float8}, false, false, [][]types.Datum{floats}, "double precision", "9", "NULL"},
		{"avg", []types.T{types.Float8}, false, false, [][]types.Datum{floats}, "double precision", "2.25", "NULL"},
		{"min", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "integer", "1", "NULL"},
		{"max", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "integer", "4", "NULL"},
		{"min", []types.T{types.Text}, false, false, [][]types.Datum{texts}, "text", "1", "NULL"},
		{"max", []types.T{types.Text}, false, false, [][]types.Datum{texts}, "text", "4", "NULL"},
		{"string_agg", []types.T{types.Text, types.Text}, false, false, [][]types.Datum{texts, comma}, "text", "1,2,2,4", "NULL"},
		{"string_agg", []types.T{types.Text, types.Text}, true, false, [][]types.Datum{texts, comma}, "text", "1,2,4", "NULL"},
		{"array_agg", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "integer[]", "{1,2,NULL,2,4}", "NULL"},
		{"array_agg", []types.T{types.Int4}, true, false, [][]types.Datum{ints}, "integer[]", "{1,2,4,NULL}", "NULL"},
		{"bool_and", []types.T{types.Bool}, false, false, [][]types.Datum{bools}, "boolean", "f", "NULL"},
		{"bool_or", []types.T{types.Bool}, false, false, [][]types.Datum{bools}, "boolean", "t", "NULL"},
		{"every", []types.T{types.Bool}, false, false, [][]types.Datum{conv(func(i int64) types.Datum { return i > 0 })}, "boolean", "t", "NULL"},
		{"sum", []types.T{types.Interval_}, false, false, [][]types.Datum{hours}, "interval", "09:00:00", "NULL"},
		{"avg", []types.T{types.Interval_}, false, false, [][]types.Datum{hours}, "interval", "02:15:00", "NULL"},
		{"json_agg", []types.T{types.Int4}, false, false, [][]types.Datum{ints}, "json", "[1, 2, null, 2, 4]", "NULL"},
		{"jsonb_agg", []types.T{types.Text}, false, false, [][]types.Datum{texts}, "jsonb", `["1", "2", null, "2", "4"]`, "NULL"},
	}
	for _, tc := range cases {
		newState, typ, err := NewAggregate(tc.name, tc.argTypes, tc.distinct, tc.star)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := types.FormatType(typ); got != tc.typ {
			t.Errorf("%s(%v) type %s, want %s", tc.name, tc.argTypes, got, tc.typ)
		}
		show := func(d types.Datum, err error) string {
			if err != nil {
				return "err " + pgerror.Code(err)
			}
			if d == nil {
				return "NULL"
			}
			return string(types.AppendText(nil, typ, d))
		}
		st := newState()
		for row := 0; row < 5; row++ {
			var args []types.Datum
			for _, col := range tc.input {
				args = append(args, col[row])
			}
			if err := st.Add(testCtx(), args); err != nil {
				t.Fatalf("%s add: %v", tc.name, err)
			}
		}
		if got := show(st.Result()); got != tc.want {
			t.Errorf("%s(%v distinct=%v) = %s, want %s", tc.name, tc.argTypes, tc.distinct, got, tc.want)
		}
		if got := show(newState().Result()); got != tc.empty {
			t.Errorf("%s over no rows = %s, want %s", tc.name, got, tc.empty)
		}
	}
}

func TestAggregateErrors(t *testing.T) {
	_, _, err := NewAggregate("sum", []types.T{types.Text}, false, false)
	if pgerror.Code(err) != pgerror.CodeUndefinedFunction || err.Error() != "function sum(text) does not exist" {
		t.Errorf("sum(text): %v", err)
	}
	if _, _, err := NewAggregate("max", []types.T{types.JSONType}, false, false); pgerror.Code(err) != pgerror.CodeUndefinedFunction {
		t.Errorf("max(json): %v", err)
	}
	if _, _, err := NewAggregate("sum", nil, false, true); err == nil {
		t.Error("sum(*) accepted")
	}
	for _, name := range []string{"count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg"} {
		if !IsAggregate(name) {
			t.Errorf("IsAggregate(%s) = false", name)
		}
	}
	if IsAggregate("lower") {
		t.Error("IsAggregate(lower)")
	}
}

// TestSumInt8Overflow checks that sum(int8) goes on in numeric past the
// int64 range (PostgreSQL: 9223372036854775808).
func TestSumInt8Overflow(t *testing.T) {
	newState, _, err := NewAggregate("sum", []types.T{types.Int8}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	st := newState()
	for _, v := range []int64{9223372036854775807, 1} {
		if err := st.Add(testCtx(), []types.Datum{v}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := st.Result()
	if err != nil || string(types.AppendText(nil, types.Numeric, d)) != "9223372036854775808" {
		t.Errorf("sum = %v, %v", d, err)
	}
	newState, _, _ = NewAggregate("avg", []types.T{types.Int4}, false, false)
	st = newState()
	for _, v := range []int64{1, 2, 2} {
		st.Add(testCtx(), []types.Datum{v})
	}
	if d, _ := st.Result(); string(types.AppendText(nil, types.Numeric, d)) != "1.6666666666666667" {
		t.Errorf("avg(1,2,2) = %v", d)
	}
}
