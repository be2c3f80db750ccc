package sql

import (
	"reflect"
	"testing"

	"github.com/shardingsystem/shard/sql/types"
)

// The expectations below are PostgreSQL 15's output for the same DDL
// (see testState).

func TestInfoSchemaColumns(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "information_schema.columns")
	got := pick(t, m, rows, "table_name", "t", "ordinal_position", "column_name", "data_type", "is_nullable",
		"column_default", "character_maximum_length", "character_octet_length", "numeric_precision",
		"numeric_precision_radix", "numeric_scale", "udt_name", "is_identity", "identity_generation", "identity_maximum")
	want := []string{
		"1|id|integer|NO|NULL|NULL|NULL|32|2|0|int4|NO|NULL|NULL",
		"2|name|character varying|YES|NULL|20|80|NULL|NULL|NULL|varchar|NO|NULL|NULL",
		"3|n|numeric|YES|0|NULL|NULL|10|10|2|numeric|NO|NULL|NULL",
		"4|tags|ARRAY|YES|NULL|NULL|NULL|NULL|NULL|NULL|_text|NO|NULL|NULL",
		"5|s|integer|NO|nextval('t_s_seq'::regclass)|NULL|NULL|32|2|0|int4|NO|NULL|NULL",
		"6|g|bigint|NO|NULL|NULL|NULL|64|2|0|int8|YES|ALWAYS|9223372036854775807",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns of t:\n got %q\nwant %q", got, want)
	}
	if got := pick(t, m, rows, "table_name", "u", "column_name"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("columns of u: %q", got)
	}
	if got := pick(t, m, rows, "table_name", "x", "column_name"); got != nil {
		t.Errorf("a table of another database shows: %q", got)
	}
}

func TestInfoSchemaFacets(t *testing.T) {
	tests := []struct {
		typ      types.T
		dataType string
		want     typeFacets
	}{
		{types.Text, "text", typeFacets{charOctets: int64(1 << 30)}},
		{types.T{Oid: types.OidBPChar, Mod: 7}, "character", typeFacets{charMax: int64(3), charOctets: int64(12)}},
		{types.Float4, "real", typeFacets{numPrecision: int64(24), numRadix: int64(2)}},
		{types.Numeric, "numeric", typeFacets{numRadix: int64(10)}},
		{types.Date, "date", typeFacets{dtPrecision: int64(0)}},
		{types.Time, "time without time zone", typeFacets{dtPrecision: int64(6)}},
		{types.T{Oid: types.OidTimestampTZ, Mod: 3}, "timestamp with time zone", typeFacets{dtPrecision: int64(3)}},
		{types.Interval_, "interval", typeFacets{dtPrecision: int64(6)}},
		{types.JSONB, "jsonb", typeFacets{}},
		{types.Name, "name", typeFacets{}},
		{types.Char, `"char"`, typeFacets{}},
		{types.Int2Vector, "ARRAY", typeFacets{}},
	}
	for _, tt := range tests {
		if got := dataType(tt.typ); got != tt.dataType {
			t.Errorf("dataType(%s) = %q, want %q", tt.typ.Name(), got, tt.dataType)
		}
		if got := facetsOf(tt.typ); got != tt.want {
			t.Errorf("facetsOf(%s) = %+v, want %+v", tt.typ.Name(), got, tt.want)
		}
	}
}

func TestInfoSchemaConstraints(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "information_schema.table_constraints")
	got := pick(t, m, rows, "", nil, "constraint_name", "table_name", "constraint_type", "nulls_distinct")
	want := []string{
		"2200_100005_1_not_null|t|CHECK|NULL",
		"2200_100005_5_not_null|t|CHECK|NULL",
		"2200_100005_6_not_null|t|CHECK|NULL",
		"t_name_key|t|UNIQUE|YES",
		"t_pkey|t|PRIMARY KEY|NULL",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("table_constraints:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "information_schema.key_column_usage")
	got = pick(t, m, rows, "", nil, "constraint_name", "table_name", "column_name", "ordinal_position")
	if want := []string{"t_name_key|t|name|1", "t_pkey|t|id|1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("key_column_usage:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "information_schema.check_constraints")
	got = pick(t, m, rows, "constraint_name", "2200_100005_5_not_null", "check_clause")
	if want := []string{"s IS NOT NULL"}; !reflect.DeepEqual(got, want) {
		t.Errorf("check_constraints: %q", got)
	}
	m, rows = viewRows(t, st, "information_schema.sequences")
	got = pick(t, m, rows, "", nil, "sequence_name", "data_type", "numeric_precision", "maximum_value")
	if want := []string{"t_g_seq|bigint|64|9223372036854775807", "t_s_seq|integer|32|2147483647"}; !reflect.DeepEqual(got, want) {
		t.Errorf("sequences:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "information_schema.tables")
	got = pick(t, m, rows, "table_schema", "public", "table_name", "table_type", "is_insertable_into")
	if want := []string{"t|BASE TABLE|YES", "u|BASE TABLE|YES"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tables:\n got %q\nwant %q", got, want)
	}
}
