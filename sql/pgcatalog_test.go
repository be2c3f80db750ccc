package sql

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// fakeCatalog is a hand-built catalogReader.
type fakeCatalog struct {
	dbs    []*catalog.Database
	tables []*catalog.Table
	roles  []*catalog.Role
}

func (f *fakeCatalog) Databases() []*catalog.Database { return f.dbs }
func (f *fakeCatalog) Roles() []*catalog.Role         { return f.roles }

func (f *fakeCatalog) Tables(db uint32) []*catalog.Table {
	var out []*catalog.Table
	for _, t := range f.tables {
		if t.DB == db {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakeCatalog) Role(name string) *catalog.Role {
	for _, r := range f.roles {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// testState is a database "app" owned by root with
//
//	CREATE TABLE t (id int PRIMARY KEY, name varchar(20) UNIQUE,
//	                n numeric(10,2) DEFAULT 0, tags text[], s serial,
//	                g bigint GENERATED ALWAYS AS IDENTITY);
//	CREATE INDEX t_name_n ON t (name, n DESC);
//	CREATE TABLE u (a bigint, b bool);   -- hidden rowid primary key
//
// where t's primary key lacks the shard column's placement (an Implicit
// global index), and a table of another database that must not show.
func testState() *catalogState {
	root := &catalog.Role{Name: "root", Superuser: true, Login: true, CreateDB: true, ID: 1, Verifier: "SCRAM-SHA-256$x"}
	app := &catalog.Database{ID: 2, Name: "app", Owner: "root"}
	other := &catalog.Database{ID: 3, Name: "other", Owner: "bob"}
	bob := &catalog.Role{Name: "bob", Login: true, ID: 4}
	t := &catalog.Table{ID: 5, DB: 2, Name: "t", Owner: "root", Primary: 1, ShardColumn: 1,
		Columns: []*catalog.Column{
			{ID: 1, Name: "id", Type: types.Int4, NotNull: true},
			{ID: 2, Name: "name", Type: types.T{Oid: types.OidVarchar, Mod: 24}},
			{ID: 3, Name: "n", Type: types.T{Oid: types.OidNumeric, Mod: 10<<16 | 2 + 4}, Default: "0"},
			{ID: 4, Name: "tags", Type: types.TextArray},
			{ID: 5, Name: "s", Type: types.Int4, NotNull: true, Sequence: "t_s_seq"},
			{ID: 6, Name: "g", Type: types.Int8, NotNull: true, Identity: "a", Sequence: "t_g_seq"},
		},
		Indexes: []*catalog.Index{
			{ID: 1, Name: "t_pkey", Columns: []uint32{1}, Unique: true, Primary: true, Constraint: true},
			{ID: 2, Name: "t_pkey_global", Columns: []uint32{1}, Unique: true, Global: true, Implicit: true},
			{ID: 3, Name: "t_name_key", Columns: []uint32{2}, Unique: true, Constraint: true},
			{ID: 4, Name: "t_name_n", Columns: []uint32{2, 3}, Desc: []bool{false, true}},
		}}
	u := &catalog.Table{ID: 6, DB: 2, Name: "u", Owner: "bob", Primary: 1, ShardColumn: 3,
		Columns: []*catalog.Column{
			{ID: 1, Name: "a", Type: types.Int8},
			{ID: 2, Name: "b", Type: types.Bool},
			{ID: 3, Name: "rowid", Type: types.Int8, NotNull: true, Hidden: true},
		},
		Indexes: []*catalog.Index{{ID: 1, Name: "u_rowid", Columns: []uint32{3}, Unique: true, Primary: true, Constraint: true}}}
	x := &catalog.Table{ID: 7, DB: 3, Name: "x", Owner: "bob", Columns: []*catalog.Column{{ID: 1, Name: "z", Type: types.Int8}}}
	cat := &fakeCatalog{dbs: []*catalog.Database{app, other}, tables: []*catalog.Table{t, u, x}, roles: []*catalog.Role{bob, root}}
	return &catalogState{cat: cat, db: app, role: root, now: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), pid: 42,
		setting: func(name string) (string, bool) {
			if name == "work_mem" {
				return "8MB", true
			}
			if s, ok := settings[name]; ok {
				return s.def, true
			}
			return "", false
		}}
}

// viewRows runs the generator of view key ("schema.name") on st.
func viewRows(t *testing.T, st *catalogState, key string) (*rowMaker, []row) {
	t.Helper()
	vt := virtualTables[key]
	if vt == nil {
		t.Fatalf("no view %s", key)
	}
	m := newRowMaker(key, vt.columns)
	gen := catalogGens()[key]
	if gen == nil {
		return m, nil
	}
	return m, gen(st, m)
}

// pick returns the named columns of rows whose column where equals val
// (all rows when where is ""), each row printed as "a|b|c", sorted.
func pick(t *testing.T, m *rowMaker, rows []row, where string, val any, cols ...string) []string {
	t.Helper()
	var out []string
	for _, r := range rows {
		if where != "" {
			j, ok := m.idx[where]
			if !ok {
				t.Fatalf("%s has no column %s", m.rel, where)
			}
			if fmt.Sprint(r[j]) != fmt.Sprint(val) {
				continue
			}
		}
		var parts []string
		for _, c := range cols {
			j, ok := m.idx[c]
			if !ok {
				t.Fatalf("%s has no column %s", m.rel, c)
			}
			parts = append(parts, show(m.cols[j].typ, r[j]))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	sort.Strings(out)
	return out
}

// show prints a datum roughly as psql would.
func show(t types.T, d types.Datum) string {
	switch v := d.(type) {
	case nil:
		return "NULL"
	case *types.Array:
		var parts []string
		for _, e := range v.Elems {
			parts = append(parts, show(v.Elem, e))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case bool:
		if v {
			return "t"
		}
		return "f"
	}
	return fmt.Sprint(d)
}

// datumMatches reports whether d has the Go representation of type t.
func datumMatches(t types.T, d types.Datum) error {
	if d == nil {
		return nil
	}
	var want reflect.Type
	switch t.Family() {
	case types.BoolFamily:
		want = reflect.TypeOf(false)
	case types.IntFamily, types.OidFamily:
		want = reflect.TypeOf(int64(0))
	case types.FloatFamily:
		want = reflect.TypeOf(float64(0))
	case types.StringFamily:
		want = reflect.TypeOf("")
		if t.Oid == types.OidChar && len(d.(string)) > 1 {
			return fmt.Errorf("\"char\" value %q longer than one byte", d)
		}
	case types.BytesFamily:
		want = reflect.TypeOf([]byte(nil))
	case types.TimestampTZFamily:
		want = reflect.TypeOf(time.Time{})
	case types.IntervalFamily:
		want = reflect.TypeOf(types.Interval{})
	case types.DecimalFamily:
		want = reflect.TypeOf(&apd.Decimal{})
	case types.ArrayFamily:
		a, ok := d.(*types.Array)
		if !ok {
			return fmt.Errorf("%T for %s", d, t.Name())
		}
		if a.Elem.Oid != t.Elem().Oid {
			return fmt.Errorf("array of %s in a %s column", a.Elem.Name(), t.Name())
		}
		for _, e := range a.Elems {
			if err := datumMatches(a.Elem, e); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unexpected column type %s", t.Name())
	}
	if reflect.TypeOf(d) != want {
		return fmt.Errorf("%T for %s", d, t.Name())
	}
	return nil
}

// TestCatalogViewsWellFormed runs every view's generator and checks that
// each row has one datum per column, of the column's representation.
func TestCatalogViewsWellFormed(t *testing.T) {
	st := testState()
	n := 0
	for _, r := range pgRelations {
		key := r.schema + "." + r.name
		m, rows := viewRows(t, st, key)
		for _, rw := range rows {
			if len(rw) != len(m.cols) {
				t.Fatalf("%s: row of %d datums, %d columns", key, len(rw), len(m.cols))
			}
			for i, d := range rw {
				if err := datumMatches(m.cols[i].typ, d); err != nil {
					t.Errorf("%s.%s: %v", key, m.cols[i].name, err)
				}
			}
		}
		n++
	}
	if n < 200 {
		t.Errorf("only %d catalog relations", n)
	}
	for _, key := range []string{"pg_catalog.pg_class", "pg_catalog.pg_type", "information_schema.columns"} {
		if vt := virtualTables[key]; vt == nil || vt.oid == 0 {
			t.Errorf("%s not registered", key)
		}
	}
}

// knownCategoryDiffs are types whose typcategory package types has wrong:
// _record is 'P' (pseudo-type) in PostgreSQL, 'A' in types.go.
var knownCategoryDiffs = map[types.Oid]bool{types.Oid(2287): true}

// TestPgTypeRowsMatchTypes keeps pgTypeRows in step with package types:
// every type shard knows and its array type has a row that agrees with
// it, and every regproc of pg_type names a pg_proc row.
func TestPgTypeRowsMatchTypes(t *testing.T) {
	for oid := types.Oid(1); oid < 10000; oid++ {
		typ, ok := types.FromOid(oid)
		if !ok {
			continue
		}
		r, ok := pgTypeByOID[oid]
		if !ok {
			t.Errorf("type %s (%d) has no pg_type row", typ.Name(), oid)
			continue
		}
		if r.name != typ.Name() || r.len != typ.Size() || r.category != typ.Category() && !knownCategoryDiffs[oid] {
			t.Errorf("type %d: pg_type says %s/%d/%c, types says %s/%d/%c", oid, r.name, r.len, r.category, typ.Name(), typ.Size(), typ.Category())
		}
		if a := types.ArrayOf(typ); a.Oid != types.OidUnknown {
			if r.array != int64(a.Oid) {
				t.Errorf("type %s: typarray %d, types says %d", typ.Name(), r.array, a.Oid)
			}
			if _, ok := pgTypeByOID[a.Oid]; !ok {
				t.Errorf("array type %d of %s has no pg_type row", a.Oid, typ.Name())
			}
		}
		if e := typ.Elem(); e.Oid != 0 && r.elem != int64(e.Oid) {
			t.Errorf("type %s: typelem %d, types says %d", typ.Name(), r.elem, e.Oid)
		}
	}
	for _, r := range pgTypeRows {
		for _, p := range []int64{r.subscript, r.input, r.output, r.receive, r.send, r.modin, r.modout, r.analyze} {
			if _, ok := procName(p); p != 0 && !ok {
				t.Errorf("type %s: function %d has no pg_proc row", r.name, p)
			}
		}
	}
}

func TestPgClass(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "pg_catalog.pg_class")
	got := pick(t, m, rows, "relnamespace", 2200, "relname", "oid", "relkind", "relam", "relowner", "relnatts", "relhasindex")
	want := []string{
		"t_g_seq|1005506|S|0|11|3|f",
		"t_name_key|1005003|i|403|11|1|f",
		"t_name_n|1005004|i|403|11|2|f",
		"t_pkey|1005001|i|403|11|1|f",
		"t_s_seq|1005505|S|0|11|3|f",
		"t|100005|r|2|11|6|t",
		"u|100006|r|2|14|2|f",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_class in public:\n got %q\nwant %q", got, want)
	}
	if got := pick(t, m, rows, "relname", "pg_class", "oid", "relnamespace", "relkind", "relnatts"); !reflect.DeepEqual(got, []string{"1259|11|r|33"}) {
		t.Errorf("pg_class row of pg_class: %q", got)
	}
	if got := pick(t, m, rows, "relname", "tables", "relnamespace", "relkind"); !reflect.DeepEqual(got, []string{"13207|v"}) {
		t.Errorf("pg_class row of information_schema.tables: %q", got)
	}
}

func TestPgAttribute(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "pg_catalog.pg_attribute")
	cols := []string{"attnum", "attname", "atttypid", "atttypmod", "attnotnull", "atthasdef", "attidentity", "attndims", "attlen", "attcollation"}
	tests := []struct {
		rel  int64
		want []string
	}{
		{100005, []string{
			"1|id|23|-1|t|f||0|4|0",
			"2|name|1043|24|f|f||0|-1|100",
			"3|n|1700|655366|f|t||0|-1|0",
			"4|tags|1009|-1|f|f||1|-1|100",
			"5|s|23|-1|t|t||0|4|0",
			"6|g|20|-1|t|f|a|0|8|0",
		}},
		{100006, []string{"1|a|20|-1|f|f||0|8|0", "2|b|16|-1|f|f||0|1|0"}}, // no rowid
		{1005004, []string{"1|name|1043|24|f|f||0|-1|100", "2|n|1700|655366|f|f||0|-1|0"}},
		{1005505, []string{"1|last_value|20|-1|t|f||0|8|0", "2|log_cnt|20|-1|t|f||0|8|0", "3|is_called|16|-1|t|f||0|1|0"}},
		{1006001, nil}, // the row-id primary index is not shown
	}
	for _, tt := range tests {
		if got := pick(t, m, rows, "attrelid", tt.rel, cols...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("pg_attribute of %d:\n got %q\nwant %q", tt.rel, got, tt.want)
		}
	}
	if got := pick(t, m, rows, "attrelid", 1259, "attname"); len(got) != 33 {
		t.Errorf("pg_attribute of pg_class: %d rows", len(got))
	}
	got := pick(t, m, rows, "attrelid", 2615, "attnum", "attname", "atttypid", "attnotnull")
	if want := []string{"1|oid|26|t", "2|nspname|19|t", "3|nspowner|26|t", "4|nspacl|1009|f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pg_attribute of pg_namespace:\n got %q\nwant %q", got, want)
	}
}

func TestPgIndexAndConstraint(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "pg_catalog.pg_index")
	got := pick(t, m, rows, "", nil, "indexrelid", "indrelid", "indnatts", "indisunique", "indisprimary", "indkey", "indoption", "indcollation")
	want := []string{
		"1005001|100005|1|t|t|{1}|{0}|{0}",
		"1005003|100005|1|t|f|{2}|{0}|{100}",
		"1005004|100005|2|f|f|{2,3}|{0,3}|{100,0}",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_index:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_constraint")
	got = pick(t, m, rows, "", nil, "oid", "conname", "contype", "conrelid", "conindid", "conkey", "connamespace")
	want = []string{"1005001|t_pkey|p|100005|1005001|{1}|2200", "1005003|t_name_key|u|100005|1005003|{2}|2200"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_constraint:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_attrdef")
	got = pick(t, m, rows, "", nil, "adrelid", "adnum", "adbin")
	want = []string{"100005|3|0", "100005|5|nextval('t_s_seq'::regclass)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_attrdef:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_depend")
	got = pick(t, m, rows, "refobjsubid", 5, "classid", "objid", "refobjid", "deptype")
	want = []string{"1259|1005505|100005|a", "2604|1005505|100005|a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_depend on t.s:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_indexes")
	got = pick(t, m, rows, "indexname", "t_name_key", "tablename", "indexdef")
	if want := []string{"t|CREATE UNIQUE INDEX t_name_key ON public.t USING btree (name)"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pg_indexes:\n got %q\nwant %q", got, want)
	}
}

func TestPgRolesAndDatabases(t *testing.T) {
	st := testState()
	m, rows := viewRows(t, st, "pg_catalog.pg_roles")
	got := pick(t, m, rows, "", nil, "rolname", "oid", "rolsuper", "rolcreaterole", "rolcreatedb", "rolcanlogin", "rolpassword")
	want := []string{"bob|14|f|f|f|t|********", "pg_database_owner|6171|f|f|f|f|********", "root|11|t|t|t|t|********"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_roles:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_authid")
	if got := pick(t, m, rows, "rolname", "root", "rolpassword"); !reflect.DeepEqual(got, []string{"SCRAM-SHA-256$x"}) {
		t.Errorf("pg_authid password of root: %q", got)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_database")
	got = pick(t, m, rows, "", nil, "oid", "datname", "datdba", "encoding", "datcollate", "datallowconn", "datistemplate", "datconnlimit")
	want = []string{"16386|app|11|6|C|t|f|-1", "16387|other|14|6|C|t|f|-1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pg_database:\n got %q\nwant %q", got, want)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_settings")
	got = pick(t, m, rows, "name", "work_mem", "setting", "unit", "source", "boot_val", "vartype", "context")
	if want := []string{"8192|kB|session|4096|integer|user"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pg_settings work_mem:\n got %q\nwant %q", got, want)
	}
	if got := pick(t, m, rows, "name", "DateStyle", "setting", "category"); !reflect.DeepEqual(got, []string{"ISO, MDY|Client Connection Defaults / Locale and Formatting"}) {
		t.Errorf("pg_settings DateStyle: %q", got)
	}
	m, rows = viewRows(t, st, "pg_catalog.pg_stat_activity")
	if got := pick(t, m, rows, "", nil, "datname", "pid", "usename", "state"); !reflect.DeepEqual(got, []string{"app|42|root|active"}) {
		t.Errorf("pg_stat_activity: %q", got)
	}
}

func TestSettingInUnit(t *testing.T) {
	tests := []struct{ v, unit, want string }{
		{"4MB", "kB", "4096"},
		{"1GB", "kB", "1048576"},
		{"64", "kB", "64"},
		{"5s", "ms", "5000"},
		{"2min", "ms", "120000"},
		{"0", "ms", "0"},
		{"on", "", "on"},
		{"lots", "kB", "lots"},
	}
	for _, tt := range tests {
		if got := settingInUnit(tt.v, tt.unit); got != tt.want {
			t.Errorf("settingInUnit(%q, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}

func TestRelationVisible(t *testing.T) {
	tests := []struct {
		oid  int64
		want bool
	}{
		{1259, true},    // pg_class
		{12033, true},   // pg_tables
		{13425, false},  // information_schema.tables
		{100005, true},  // a user table
		{1005001, true}, // a user index
	}
	for _, tt := range tests {
		if got := relationVisible(tt.oid); got != tt.want {
			t.Errorf("relationVisible(%d) = %v, want %v", tt.oid, got, tt.want)
		}
	}
	if name, ok := predefinedRoleName(databaseOwnerRoleOID); !ok || name != "pg_database_owner" {
		t.Errorf("predefinedRoleName(6171) = %q, %v", name, ok)
	}
	if name, ok := procName(750); !ok || name != "array_in" {
		t.Errorf("procName(750) = %q, %v", name, ok)
	}
	if oid, ok := procOID("int4in"); !ok || oid != 42 {
		t.Errorf("procOID(int4in) = %d, %v", oid, ok)
	}
	tbl := testState().tables()[0]
	if got := serialSequence(tbl, "s"); got != "public.t_s_seq" {
		t.Errorf("serialSequence(t, s) = %q", got)
	}
	if got := serialSequence(tbl, "id"); got != "" {
		t.Errorf("serialSequence(t, id) = %q", got)
	}
}

func BenchmarkCatalogViews(b *testing.B) {
	st := testState()
	for _, key := range []string{"pg_catalog.pg_class", "pg_catalog.pg_attribute", "information_schema.columns"} {
		b.Run(key, func(b *testing.B) {
			m := newRowMaker(key, virtualTables[key].columns)
			gen := catalogGens()[key]
			for i := 0; i < b.N; i++ {
				gen(st, m)
			}
		})
	}
}
