package sql

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// The catalog views (pg_catalog.* and information_schema.*) are computed,
// on every read, from one catalog version as the session sees it: the
// current database's tables, every database and role, and the session's
// settings. Every relation PostgreSQL 15 has in those two schemas exists
// with PostgreSQL's columns and types (pgcatalog_columns.go); the ones
// shard has something to say in have a generator, the others are empty.
//
// What clients see, and the rules the generators keep:
//
//   - Only the current database's tables appear (pg_class, pg_attribute,
//     pg_index, pg_constraint, information_schema.*), as in PostgreSQL.
//   - Hidden columns (the row id of a table without a primary key) appear
//     nowhere, and neither does an index over one (the row-id primary
//     index) or an Implicit index. attnum is a column's 1-based position
//     among the visible columns.
//   - OIDs are the catalog's (catalog.TableOIDBase, IndexOIDBase, ...). A
//     PRIMARY KEY or UNIQUE constraint has its index's oid, which is what
//     pg_get_constraintdef expects. A serial or identity column's sequence
//     and a column default have no catalog oid; they get one derived from
//     the table block (derivedOID).
//   - The catalog relations themselves are listed in pg_class and
//     pg_attribute (namespace pg_catalog or information_schema), so \d
//     pg_class works and 'pg_class'::regclass agrees with pg_class.oid.

// pgRelation is one relation of pg_catalog or information_schema as
// PostgreSQL 15 defines it.
type pgRelation struct {
	schema string
	name   string
	oid    int64
	kind   byte   // pg_class.relkind: 'r' table or 'v' view
	cols   string // "name type, ...", type as pg_type.typname
}

// Namespace oids.
const (
	namespacePgCatalog   = catalog.CatalogNamespaceOID // 11
	namespacePublic      = catalog.NamespaceOID        // 2200
	namespacePgToast     = 99
	namespaceInfoSchema  = 13207 // PostgreSQL 15 initdb's value
	bootstrapRoleOID     = 10    // owner of built-in objects when there is no root role
	databaseOwnerRoleOID = 6171  // pg_database_owner, owner of public in PostgreSQL 15
	collationDefault     = 100
	collationC           = 950
	tablespaceDefault    = 1663
	tablespaceGlobal     = 1664
	amHeap               = 2
	amBtree              = 403
	amHash               = 405
	langInternal         = 12
	encodingUTF8         = 6
	extensionPlpgsql     = 13559
	langPlpgsql          = 13563
)

// Catalog oids used as classid / classoid values.
const (
	classPgClass      = 1259
	classPgAttrdef    = 2604
	classPgConstraint = 2606
	classPgNamespace  = 2615
	classPgExtension  = 3079
)

// catalogReader is the part of *catalog.Catalog the views read.
type catalogReader interface {
	Databases() []*catalog.Database
	Tables(db uint32) []*catalog.Table
	Roles() []*catalog.Role
	Role(name string) *catalog.Role
}

// catalogState is what the views are computed from: one catalog version
// and the session reading it. Generators are pure functions of it.
type catalogState struct {
	cat  catalogReader
	db   *catalog.Database
	role *catalog.Role
	// setting returns a session parameter's current value.
	setting func(name string) (string, bool)
	now     time.Time
	pid     int32
}

func stateOf(e *execCtx) *catalogState {
	st := &catalogState{cat: e.cat, db: e.se.db, role: e.se.role, setting: e.se.setting, now: time.Now()}
	if e.ev != nil && !e.ev.Now.IsZero() {
		st.now = e.ev.Now
	}
	st.pid = sessionInfo{e.se}.BackendPID()
	return st
}

// roleOID returns the oid of the role named name, or 0.
func (st *catalogState) roleOID(name string) int64 {
	if r := st.cat.Role(name); r != nil {
		return r.OID()
	}
	return 0
}

// bootstrapOID is the owner of built-in objects: root, as initdb's user is
// in PostgreSQL.
func (st *catalogState) bootstrapOID() int64 {
	if r := st.cat.Role("root"); r != nil {
		return r.OID()
	}
	return bootstrapRoleOID
}

// dbName is the current database's name (table_catalog).
func (st *catalogState) dbName() string { return st.db.Name }

// tables returns the current database's tables.
func (st *catalogState) tables() []*catalog.Table { return st.cat.Tables(st.db.ID) }

// catalogGen computes a view's rows.
type catalogGen func(st *catalogState, m *rowMaker) []row

// catalogGens are the generators by "schema.name"; relations without one
// are empty.
func catalogGens() map[string]catalogGen {
	return map[string]catalogGen{
		"pg_catalog.pg_namespace":      genNamespace,
		"pg_catalog.pg_class":          genClass,
		"pg_catalog.pg_attribute":      genAttribute,
		"pg_catalog.pg_index":          genIndex,
		"pg_catalog.pg_constraint":     genConstraint,
		"pg_catalog.pg_attrdef":        genAttrdef,
		"pg_catalog.pg_sequence":       genSequence,
		"pg_catalog.pg_depend":         genDepend,
		"pg_catalog.pg_tables":         genTables,
		"pg_catalog.pg_indexes":        genIndexes,
		"pg_catalog.pg_views":          genViews,
		"pg_catalog.pg_sequences":      genSequences,
		"pg_catalog.pg_type":           genType,
		"pg_catalog.pg_proc":           genProc,
		"pg_catalog.pg_am":             genAm,
		"pg_catalog.pg_collation":      genCollation,
		"pg_catalog.pg_language":       genLanguage,
		"pg_catalog.pg_extension":      genExtension,
		"pg_catalog.pg_description":    genDescription,
		"pg_catalog.pg_tablespace":     genTablespace,
		"pg_catalog.pg_database":       genDatabase,
		"pg_catalog.pg_roles":          genRoles,
		"pg_catalog.pg_authid":         genAuthid,
		"pg_catalog.pg_user":           genUser,
		"pg_catalog.pg_shadow":         genShadow,
		"pg_catalog.pg_settings":       genSettings,
		"pg_catalog.pg_stat_activity":  genStatActivity,
		"pg_catalog.pg_stat_user_tables": genStatUserTables,
		"pg_catalog.pg_stat_all_tables":  genStatUserTables,

		"information_schema.information_schema_catalog_name": genISCatalogName,
		"information_schema.schemata":                        genISSchemata,
		"information_schema.tables":                          genISTables,
		"information_schema.columns":                         genISColumns,
		"information_schema.table_constraints":               genISTableConstraints,
		"information_schema.key_column_usage":                genISKeyColumnUsage,
		"information_schema.constraint_column_usage":         genISConstraintColumnUsage,
		"information_schema.check_constraints":               genISCheckConstraints,
		"information_schema.sequences":                       genISSequences,
		"information_schema.enabled_roles":                   genISEnabledRoles,
		"information_schema.applicable_roles":                genISApplicableRoles,
		"information_schema.character_sets":                  genISCharacterSets,
	}
}

// superuserOnly lists the views PostgreSQL lets only superusers read.
var superuserOnly = map[string]bool{"pg_catalog.pg_authid": true, "pg_catalog.pg_shadow": true}

func init() {
	gens := catalogGens()
	for i := range pgRelations {
		r := &pgRelations[i]
		key := r.schema + "." + r.name
		m := newRowMaker(key, parseColumns(r.cols))
		gen := gens[key]
		delete(gens, key)
		guarded := superuserOnly[key]
		registerVirtual(&virtualTable{schema: r.schema, name: r.name, oid: r.oid, columns: m.cols,
			gen: func(e *execCtx) ([]row, error) {
				if guarded && !e.se.role.Superuser {
					return nil, errCatalogPermission(r.name)
				}
				if gen == nil {
					return nil, nil
				}
				return gen(stateOf(e), m), nil
			}})
	}
	for key := range gens {
		panic("sql: catalog generator for unknown relation " + key)
	}
}

// specTypes maps the type names of pgRelations column specs.
var specTypes = map[string]types.T{
	"bool": types.Bool, "bytea": types.Bytea, "char": types.Char, "float4": types.Float4,
	"float8": types.Float8, "int2": types.Int2, "int2vector": types.Int2Vector, "int4": types.Int4,
	"int8": types.Int8, "interval": types.Interval_, "name": types.Name, "numeric": types.Numeric,
	"oid": types.OidT, "oidvector": types.OidVector, "regproc": types.Regproc, "regtype": types.Regtype,
	"text": types.Text, "timestamptz": types.TimestampTZ, "varchar": types.Varchar,
}

// parseColumns parses a pgRelation column spec; an unknown type is a bug
// in the generated table.
func parseColumns(spec string) []virtualColumn {
	var cols []virtualColumn
	for _, c := range strings.Split(spec, ", ") {
		name, typ, _ := strings.Cut(c, " ")
		t, ok := specTypes[typ]
		if elem, isArray := strings.CutPrefix(typ, "_"); isArray {
			t, ok = specTypes[elem]
			t = types.ArrayOf(t)
			ok = ok && t.Oid != types.OidUnknown
		}
		if !ok {
			panic(fmt.Sprintf("sql: catalog column %s has unknown type %s", name, typ))
		}
		cols = append(cols, virtualColumn{name: name, typ: t})
	}
	return cols
}

// pgTypeRow is a pg_type row (pgTypeRows); the regproc columns hold
// pg_proc oids.
type pgTypeRow struct {
	oid                                     int64
	name                                    string
	len                                     int16
	byval                                   bool
	typtype, category                       byte
	preferred                               bool
	elem, array                             int64
	subscript, input, output, receive, send int64
	modin, modout, analyze                  int64
	align, storage                          byte
	collation                               int64
}

// pgProcRow is a pg_proc row (pgProcRows).
type pgProcRow struct {
	oid      int64
	name     string
	ret      int64
	args     []int64
	volatile byte
	strict   bool
	parallel byte
	src      string
}

// rowMaker builds the rows of one view by column name.
type rowMaker struct {
	rel  string
	cols []virtualColumn
	idx  map[string]int
}

func newRowMaker(rel string, cols []virtualColumn) *rowMaker {
	m := &rowMaker{rel: rel, cols: cols, idx: make(map[string]int, len(cols))}
	for i, c := range cols {
		m.idx[c.name] = i
	}
	return m
}

// row makes a row from name, value pairs; columns not named are NULL.
// Values are converted to the Datum representation of their column:
// Go integers to int64, float32 to float64, a byte to a one-character
// string, []int16 / []int64 / []string to arrays. Naming a column the
// view does not have is a bug and panics.
func (m *rowMaker) row(pairs ...any) row {
	r := make(row, len(m.cols))
	for i := 0; i+1 < len(pairs); i += 2 {
		name := pairs[i].(string)
		j, ok := m.idx[name]
		if !ok {
			panic(fmt.Sprintf("sql: %s has no column %s", m.rel, name))
		}
		r[j] = datumFor(m.cols[j].typ, pairs[i+1])
	}
	return r
}

func datumFor(t types.T, v any) types.Datum {
	if v == nil {
		return nil
	}
	switch t.Family() {
	case types.IntFamily, types.OidFamily:
		switch x := v.(type) {
		case int:
			return int64(x)
		case int16:
			return int64(x)
		case int32:
			return int64(x)
		case uint32:
			return int64(x)
		}
	case types.FloatFamily:
		switch x := v.(type) {
		case int:
			return float64(x)
		case float32:
			return float64(x)
		}
	case types.StringFamily:
		switch x := v.(type) {
		case rune:
			return charString(byte(x))
		case byte:
			return charString(x)
		}
	case types.ArrayFamily:
		a := &types.Array{Elem: t.Elem()}
		switch x := v.(type) {
		case []int16:
			for _, e := range x {
				a.Elems = append(a.Elems, int64(e))
			}
			return a
		case []int64:
			for _, e := range x {
				a.Elems = append(a.Elems, e)
			}
			return a
		case []string:
			for _, e := range x {
				a.Elems = append(a.Elems, e)
			}
			return a
		}
	}
	return v
}

// charString is a "char" value: 0 is the empty string.
func charString(c byte) string {
	if c == 0 {
		return ""
	}
	return string(rune(c))
}

// yesNo is information_schema's yes_or_no.
func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// ---- what the views show of a table ----

// shownIndexes returns the indexes of t that the views show: not Implicit
// and over visible columns only.
func shownIndexes(t *catalog.Table) []*catalog.Index {
	var out []*catalog.Index
	for _, ix := range t.Indexes {
		if ix.Implicit {
			continue
		}
		ok := true
		for _, id := range ix.Columns {
			if c := t.ColumnByID(id); c == nil || c.Hidden {
				ok = false
			}
		}
		if ok {
			out = append(out, ix)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// attnums maps t's visible columns to their attnum.
func attnums(t *catalog.Table) map[uint32]int16 {
	m := make(map[uint32]int16, len(t.Columns))
	n := int16(0)
	for _, c := range t.Columns {
		if !c.Hidden {
			n++
			m[c.ID] = n
		}
	}
	return m
}

// indexKey returns the attnums of ix's columns.
func indexKey(t *catalog.Table, ix *catalog.Index) []int16 {
	nums := attnums(t)
	out := make([]int16, len(ix.Columns))
	for i, id := range ix.Columns {
		out[i] = nums[id]
	}
	return out
}

// derivedOID numbers an object the catalog has no oid for, inside the
// table's block of index oids: IndexOIDBase + table*1000 + 500 + column
// id. Index ids stay below 500 in practice; a catalog-assigned oid would
// be better (see the report of this change).
func derivedOID(t *catalog.Table, c *catalog.Column) int64 {
	return catalog.IndexOIDBase + int64(t.ID)*1000 + 500 + int64(c.ID)
}

// tableSequence is the sequence behind a serial or identity column.
type tableSequence struct {
	table *catalog.Table
	col   *catalog.Column
	name  string
	oid   int64
}

// sequences returns the sequences of t's visible columns.
func sequences(t *catalog.Table) []tableSequence {
	var out []tableSequence
	for _, c := range t.Columns {
		if c.Hidden || c.Sequence == "" {
			continue
		}
		out = append(out, tableSequence{table: t, col: c, name: c.Sequence, oid: derivedOID(t, c)})
	}
	return out
}

// maxValue is the largest value of an integer type.
func (s tableSequence) maxValue() int64 {
	switch s.col.Type.Oid {
	case types.OidInt2:
		return 1<<15 - 1
	case types.OidInt4:
		return 1<<31 - 1
	}
	return 1<<63 - 1
}

// columnDefault is the default's SQL text as pg_get_expr prints it: the
// default expression, nextval of a serial column's sequence, or "" (none;
// identity columns have none either).
func columnDefault(c *catalog.Column) string {
	if c.Default != "" {
		return c.Default
	}
	if c.Sequence != "" && c.Identity == "" {
		return "nextval('" + strings.ReplaceAll(quoteIdent(c.Sequence), "'", "''") + "'::regclass)"
	}
	return ""
}

// pgTypeByOID indexes pgTypeRows.
var pgTypeByOID = func() map[types.Oid]*pgTypeRow {
	m := make(map[types.Oid]*pgTypeRow, len(pgTypeRows))
	for i := range pgTypeRows {
		m[types.Oid(pgTypeRows[i].oid)] = &pgTypeRows[i]
	}
	return m
}()

// typeRow returns t's pg_type row; a type missing from pgTypeRows (a
// test keeps that from happening) gets one derived from package types.
func typeRow(t types.T) *pgTypeRow {
	if r, ok := pgTypeByOID[t.Oid]; ok {
		return r
	}
	return &pgTypeRow{oid: int64(t.Oid), name: t.Name(), len: t.Size(), typtype: 'b', category: t.Category(),
		align: 'i', storage: 'x', elem: int64(t.Elem().Oid), array: int64(types.ArrayOf(t).Oid)}
}

// relKindName is the table_type of information_schema.tables.
func relKindName(kind byte) string {
	if kind == 'v' {
		return "VIEW"
	}
	return "BASE TABLE"
}

func namespaceOf(schema string) int64 {
	switch schema {
	case "pg_catalog":
		return namespacePgCatalog
	case "information_schema":
		return namespaceInfoSchema
	}
	return namespacePublic
}
