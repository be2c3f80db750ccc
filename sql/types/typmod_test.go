package types

import (
	"errors"
	"math"
	"testing"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Expected strings below are PostgreSQL 15's format_type(oid, typmod).
func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		t    T
		want string
	}{
		{Bool, "boolean"}, {Bytea, "bytea"}, {Char, `"char"`}, {Name, "name"}, {Int8, "bigint"},
		{Int2, "smallint"}, {Int2Vector, "int2vector"}, {Int4, "integer"}, {Regproc, "regproc"},
		{Text, "text"}, {OidT, "oid"}, {OidVector, "oidvector"}, {JSONType, "json"},
		{Float4, "real"}, {Float8, "double precision"}, {Unknown, "unknown"},
		{T{OidBoolArray, -1}, "boolean[]"}, {Int2Array, "smallint[]"}, {Int4Array, "integer[]"},
		{TextArray, "text[]"}, {T{OidBPCharArray, -1}, "bpchar[]"},
		{T{OidVarcharArr, -1}, "character varying[]"}, {Int8Array, "bigint[]"},
		{BPChar, "bpchar"}, {Varchar, "character varying"}, {Date, "date"},
		{Time, "time without time zone"}, {Timestamp, "timestamp without time zone"},
		{TimestampTZ, "timestamp with time zone"}, {Interval_, "interval"}, {Numeric, "numeric"},
		{Regclass, "regclass"}, {Regtype, "regtype"}, {Regnamespace, "regnamespace"},
		{Regrole, "regrole"}, {Record, "record"}, {Void, "void"}, {Any, `"any"`}, {UUID, "uuid"},
		{JSONB, "jsonb"}, {T{OidNumericArr, -1}, "numeric[]"}, {T{OidJSONArray, -1}, "json[]"},
		{T{OidTimeArray, -1}, "time without time zone[]"}, {T{OidIntervalArr, -1}, "interval[]"},
		{T{OidRegclassArr, -1}, "regclass[]"}, {T{OidRecordArray, -1}, "record[]"},
		{T{OidUUIDArray, -1}, "uuid[]"}, {T{OidJSONBArray, -1}, "jsonb[]"},
		{T{OidByteaArray, -1}, "bytea[]"}, {T{OidTSArray, -1}, "timestamp without time zone[]"},
		{T{OidTSTZArray, -1}, "timestamp with time zone[]"}, {T{OidDateArray, -1}, "date[]"},
		{T{OidFloat4Array, -1}, "real[]"}, {T{OidFloat8Array, -1}, "double precision[]"},
		{OidArray, "oid[]"}, {NameArray, "name[]"}, {CharArray, `"char"[]`},
		{T{OidInt2VecArr, -1}, "int2vector[]"}, {T{OidOidVecArr, -1}, "oidvector[]"},
		{T{OidRegprocArr, -1}, "regproc[]"}, {T{OidRegtypeArr, -1}, "regtype[]"},
		{T{OidRegnspArr, -1}, "regnamespace[]"}, {T{OidRegroleArr, -1}, "regrole[]"},
		{T{OidVarchar, 24}, "character varying(20)"}, {T{OidBPChar, 5}, "character(1)"},
		{T{OidNumeric, (10<<16 | 2) + 4}, "numeric(10,2)"},
		{T{OidNumeric, (10<<16 | (-2 & 0x7ff)) + 4}, "numeric(10,-2)"},
		{T{OidTimestamp, 3}, "timestamp(3) without time zone"},
		{T{OidTimestampTZ, 0}, "timestamp(0) with time zone"},
		{T{OidTime, 3}, "time(3) without time zone"},
		{T{OidInterval, 0x7fff<<16 | 3}, "interval(3)"},
		{T{OidInterval, 4<<16 | 0xffff}, "interval year"},
		{T{OidInterval, 6<<16 | 0xffff}, "interval year to month"},
		{T{OidVarcharArr, 24}, "character varying(20)[]"}, {T{OidBPCharArray, 5}, "character(1)[]"},
		{T{OidNumericArr, (10<<16 | 2) + 4}, "numeric(10,2)[]"},
		{T{123456, -1}, "oid123456"},
	} {
		if got := FormatType(c.t); got != c.want {
			t.Errorf("FormatType(%d, %d) = %q; want %q", c.t.Oid, c.t.Mod, got, c.want)
		}
	}
}

// Errors below are PostgreSQL 15's for the same modifiers.
func TestMakeTypmod(t *testing.T) {
	for _, c := range []struct {
		t    T
		mods []int32
		want T
		code string
		msg  string
	}{
		{t: Varchar, mods: []int32{20}, want: T{OidVarchar, 24}},
		{t: BPChar, mods: []int32{1}, want: T{OidBPChar, 5}},
		{t: Numeric, mods: []int32{10, 2}, want: T{OidNumeric, (10<<16 | 2) + 4}},
		{t: Numeric, mods: []int32{10}, want: T{OidNumeric, (10 << 16) + 4}},
		{t: Numeric, mods: []int32{5, -1}, want: T{OidNumeric, (5<<16 | 0x7ff) + 4}},
		{t: Timestamp, mods: []int32{3}, want: T{OidTimestamp, 3}},
		{t: TimestampTZ, mods: []int32{7}, want: T{OidTimestampTZ, 6}},
		{t: Time, mods: []int32{0}, want: T{OidTime, 0}},
		{t: Interval_, mods: []int32{3}, want: T{OidInterval, 0x7fff<<16 | 3}},
		{t: Interval_, mods: []int32{7}, want: T{OidInterval, 0x7fff<<16 | 6}},
		{t: T{OidVarcharArr, -1}, mods: []int32{3}, want: T{OidVarcharArr, 7}},
		{t: Text, mods: nil, want: Text},
		{t: Varchar, mods: []int32{0}, code: "22023", msg: "length for type varchar must be at least 1"},
		{t: Varchar, mods: []int32{10485761}, code: "22023", msg: "length for type varchar cannot exceed 10485760"},
		{t: BPChar, mods: []int32{0}, code: "22023", msg: "length for type char must be at least 1"},
		{t: Varchar, mods: []int32{1, 2}, code: "22023", msg: "invalid type modifier"},
		{t: Numeric, mods: []int32{0}, code: "22023", msg: "NUMERIC precision 0 must be between 1 and 1000"},
		{t: Numeric, mods: []int32{1001}, code: "22023", msg: "NUMERIC precision 1001 must be between 1 and 1000"},
		{t: Numeric, mods: []int32{5, 1001}, code: "22023", msg: "NUMERIC scale 1001 must be between -1000 and 1000"},
		{t: Numeric, mods: []int32{5, -1001}, code: "22023", msg: "NUMERIC scale -1001 must be between -1000 and 1000"},
		{t: Numeric, mods: []int32{1, 2, 3}, code: "22023", msg: "invalid NUMERIC type modifier"},
		{t: TimestampTZ, mods: []int32{-1}, code: "22023", msg: "TIMESTAMP(-1) WITH TIME ZONE precision must not be negative"},
		{t: Timestamp, mods: []int32{-1}, code: "22023", msg: "TIMESTAMP(-1) precision must not be negative"},
		{t: Time, mods: []int32{-1}, code: "22023", msg: "TIME(-1) precision must not be negative"},
		{t: Interval_, mods: []int32{-1}, code: "22023", msg: "INTERVAL(-1) precision must not be negative"},
		{t: Text, mods: []int32{3}, code: "42601", msg: `type modifier is not allowed for type "text"`},
		{t: Bool, mods: []int32{1}, code: "42601", msg: `type modifier is not allowed for type "bool"`},
	} {
		got, err := MakeTypmod(c.t, c.mods)
		if c.code != "" {
			var pe *pgerror.Error
			if !errors.As(err, &pe) || pe.Code != c.code || pe.Message != c.msg {
				t.Errorf("MakeTypmod(%s, %v) error %v; want %s %s", FormatType(c.t), c.mods, err, c.code, c.msg)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("MakeTypmod(%s, %v) = %v, %v; want %v", FormatType(c.t), c.mods, got, err, c.want)
		}
	}
}

func TestCheckAssign(t *testing.T) {
	for _, c := range []struct {
		t    T
		d    Datum
		want string // text output, or the SQLSTATE of the error
	}{
		{Int2, int64(32767), "32767"},
		{Int2, int64(32768), "22003"},
		{Int4, int64(math.MinInt32 - 1), "22003"},
		{Int8, int64(math.MinInt64), "-9223372036854775808"},
		{OidT, int64(-1), "22003"},
		{Float4, 0.1, "0.1"},
		{Float4, 1e300, "22003"},
		{Float4, 1e-300, "22003"},
		{Float4, math.Inf(1), "Infinity"},
		{Name, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
			"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc"},
		{Char, "xyz", "x"},
		{mustTypmod(Varchar, 3), "abc  ", "abc"},
		{mustTypmod(Varchar, 3), "abcd", "22001"},
		{mustTypmod(BPChar, 3), "a", "a  "},
		{mustTypmod(Timestamp, 0), mustParse(Timestamp, "2024-01-02 03:04:05.5"), "2024-01-02 03:04:06"},
		{mustTypmod(Time, 1), mustParse(Time, "03:04:05.25"), "03:04:05.3"},
		{mustTypmod(Interval_, 0), mustParse(Interval_, "-1.5 seconds"), "-00:00:02"},
		{T{OidVarcharArr, 6}, mustParse(TextArray, "{ab,\"c  \"}"), `{ab,"c "}`},
		{T{OidVarcharArr, 6}, mustParse(TextArray, "{ab,cde}"), "22001"},
		{T{OidNumericArr, (4<<16 | 1) + 4}, mustParse(T{OidNumericArr, -1}, "{1.25,NULL}"), "{1.3,NULL}"},
		{Date, dateFromDays(endDateDays), "22008"},
		{Int4, "1", "42804"},
		{Text, nil, "NULL"},
	} {
		got, err := CheckAssign(c.t, c.d)
		var s string
		switch {
		case err != nil:
			s = pgerror.Code(err)
		case got == nil:
			s = "NULL"
		default:
			s = string(AppendText(nil, c.t, got))
		}
		if s != c.want {
			t.Errorf("CheckAssign(%s, %v) = %q (%v); want %q", FormatType(c.t), c.d, s, err, c.want)
		}
	}
	// Unchanged values are returned as they are.
	a := mustParse(TextArray, "{a,b}").(*Array)
	if got, _ := CheckAssign(T{OidVarcharArr, 7}, a); got != a {
		t.Errorf("CheckAssign copied an array it did not change")
	}
}
