package types

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/shardingsystem/shard/sql/pgerror"
)

// Expected outputs here were checked on PostgreSQL 15.

func TestRecordText(t *testing.T) {
	rec := []Datum{int64(1), "a b", nil, "", `x"y`, `x\y`, mustParse(Numeric, "1.50"), true,
		mustParse(TimestampTZ, "2024-01-02 03:04:05+00"), []Datum{int64(2), "z"}}
	want := `(1,"a b",,"","x""y","x\\y",1.50,t,"2024-01-02 03:04:05+00","(2,z)")`
	if got := string(AppendText(nil, Record, rec)); got != want {
		t.Errorf("record text %s; want %s", got, want)
	}
	if _, err := ParseText(Record, "(1,2)"); err == nil {
		t.Errorf("record input should fail")
	}
}

// TestFloatShortest checks that float output reads back exactly, for
// random bit patterns of both widths.
func TestFloatShortest(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 41))
	for i := 0; i < 100000; i++ {
		f := math.Float64frombits(r.Uint64())
		if f != f {
			continue
		}
		s := string(appendFloat(nil, f, 64))
		back, err := parseFloat(Float8, s)
		if err != nil || math.Float64bits(back) != math.Float64bits(f) {
			t.Fatalf("float8 %v printed %q read back %v (%v)", f, s, back, err)
		}
		f4 := float64(math.Float32frombits(r.Uint32()))
		if f4 != f4 {
			continue
		}
		s = string(appendFloat(nil, f4, 32))
		back, err = parseFloat(Float4, s)
		if err != nil || back != f4 {
			t.Fatalf("float4 %v printed %q read back %v (%v)", f4, s, back, err)
		}
	}
}

// TestNumericRound checks rounding half away from zero against big
// integer arithmetic on random values.
func TestNumericRound(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 47))
	for i := 0; i < 20000; i++ {
		v := r.Int64N(2000001) - 1000000
		e := int32(r.IntN(8)) - 6
		d := &apd.Decimal{Exponent: e, Negative: v < 0}
		d.Coeff.SetInt64(absI(v))
		scale := int32(r.IntN(8)) - 2
		got := roundNumeric(d, scale)
		var want apd.Decimal
		ctx := apd.BaseContext.WithPrecision(50)
		ctx.Rounding = apd.RoundHalfUp
		if _, err := ctx.Quantize(&want, d, -scale); err != nil {
			t.Fatal(err)
		}
		if got.Cmp(&want) != 0 {
			t.Fatalf("round(%s, %d) = %s; want %s", d, scale, numericString(got), want.String())
		}
		if want := max(scale, 0); -got.Exponent != want {
			t.Fatalf("round(%s, %d) has scale %d", d, scale, -got.Exponent)
		}
	}
}

func TestTextMisc(t *testing.T) {
	for _, c := range []struct {
		t    T
		d    Datum
		want string
	}{
		{Time, 24 * time.Hour, "24:00:00"},
		{Time, 3*time.Hour + 500*time.Millisecond, "03:00:00.5"},
		{Interval_, Interval{Micros: math.MinInt64}, "-2562047788:00:54.775808"},
		{Interval_, Interval{Months: math.MinInt32, Days: math.MinInt32}, "-178956970 years -8 mons -2147483648 days"},
		{Timestamp, InfinityTime, "infinity"},
		{Date, NegInfinityTime, "-infinity"},
		{Numeric, &apd.Decimal{Coeff: *apd.NewBigInt(12), Exponent: 3}, "12000"},
		{Numeric, &apd.Decimal{Exponent: 2}, "0"},
		{Numeric, &apd.Decimal{Coeff: *apd.NewBigInt(5), Exponent: -3, Negative: true}, "-0.005"},
		{Char, "\x01", "\x01"},
		{Char, "\xe9", `\351`},
		{OidT, int64(4294967295), "4294967295"},
		{JSONType, JSON(` {"a" :1} `), ` {"a" :1} `},
		{T{OidVarcharArr, -1}, &Array{Elems: []Datum{"", "null", "a,b", `"`, " "}}, `{"","null","a,b","\""," "}`},
	} {
		if got := string(AppendText(nil, c.t, c.d)); got != c.want {
			t.Errorf("AppendText(%s, %v) = %q; want %q", FormatType(c.t), c.d, got, c.want)
		}
	}
}

func TestParseTextMisc(t *testing.T) {
	for _, c := range []struct {
		t    T
		in   string
		want string // output, or the SQLSTATE of the error
	}{
		{Regclass, "1259", "1259"},
		{Regclass, "pg_class", "0A000"},
		{Void, "", "NULL"},
		{T{99999, -1}, "x", "42704"},
		{Text, "a\x00b", "22021"},
		{Text, "a\xffb", "22021"},
		{JSONB, `{"a": 1e400000}`, "22003"},
		{Date, "now", "22007"},
		{Timestamp, "today", "22007"},
		{Int4Array, "{{1,2},{3,4}}", "0A000"},
		{Int4Array, "[0:1]={1,2}", "0A000"},
		{Unknown, "abc", "abc"},
		{Float8, "0x10", "16"},
		{Float8, "1_0", "22P02"},
		{Float8, "infinityx", "22P02"},
		{Bool, "off", "f"},
		{Bool, "OFF ", "f"},
		{TimestampTZ, "2024-01-02 03:04:05 Europe/Paris", "2024-01-02 02:04:05+00"},
		{TimestampTZ, "2024-01-02 03:04:05 AMERICA/NEW_YORK", "2024-01-02 08:04:05+00"},
		{TimestampTZ, "2024-01-02 03:04:05 america/argentina/buenos_aires", "2024-01-02 06:04:05+00"},
		{TimestampTZ, "2024-01-02 03:04:05 est5edt", "2024-01-02 08:04:05+00"},
		{TimestampTZ, "2024-01-02 03:04:05 Mars/Olympus", "22023"},
	} {
		d, err := ParseText(c.t, c.in)
		var got string
		switch {
		case err != nil:
			got = codeOf(err)
		case d == nil:
			got = "NULL"
		default:
			got = string(AppendText(nil, c.t, d))
		}
		if got != c.want {
			t.Errorf("ParseText(%s, %q) = %q (%v); want %q", FormatType(c.t), c.in, got, err, c.want)
		}
	}
}

func codeOf(err error) string { return pgerror.Code(err) }
