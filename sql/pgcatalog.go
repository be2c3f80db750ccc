package sql

import (
	"fmt"
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

// bootstrapName is the name of the owner of built-in objects.
func (st *catalogState) bootstrapName() string {
	if r := st.cat.Role("root"); r != nil {
		return r.Name
	}
	return "root"
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
		"pg_catalog.pg_namespace":        genNamespace,
		"pg_catalog.pg_class":            genClass,
		"pg_catalog.pg_attribute":        genAttribute,
		"pg_catalog.pg_index":            genIndex,
		"pg_catalog.pg_constraint":       genConstraint,
		"pg_catalog.pg_attrdef":          genAttrdef,
		"pg_catalog.pg_sequence":         genSequence,
		"pg_catalog.pg_depend":           genDepend,
		"pg_catalog.pg_tables":           genTables,
		"pg_catalog.pg_indexes":          genIndexes,
		"pg_catalog.pg_views":            genViews,
		"pg_catalog.pg_sequences":        genSequences,
		"pg_catalog.pg_type":             genType,
		"pg_catalog.pg_proc":             genProc,
		"pg_catalog.pg_am":               genAm,
		"pg_catalog.pg_collation":        genCollation,
		"pg_catalog.pg_language":         genLanguage,
		"pg_catalog.pg_extension":        genExtension,
		"pg_catalog.pg_description":      genDescription,
		"pg_catalog.pg_tablespace":       genTablespace,
		"pg_catalog.pg_database":         genDatabase,
		"pg_catalog.pg_roles":            genRoles,
		"pg_catalog.pg_authid":           genAuthid,
		"pg_catalog.pg_user":             genUser,
		"pg_catalog.pg_shadow":           genShadow,
		"pg_catalog.pg_settings":         genSettings,
		"pg_catalog.pg_stat_activity":    genStatActivity,
		"pg_catalog.pg_stat_user_tables": genStatUserTables,

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
		"information_schema.character_sets":                  genISCharacterSets,
	}
}

// superuserOnly lists the views PostgreSQL lets only superusers read.
var superuserOnly = map[string]bool{"pg_catalog.pg_authid": true, "pg_catalog.pg_shadow": true}

// catalogColumn is a column of a catalog relation.
type catalogColumn struct {
	virtualColumn
	notNull bool
}

// catalogColumns are the parsed columns of pgRelations by "schema.name".
var catalogColumns = func() map[string][]catalogColumn {
	m := make(map[string][]catalogColumn, len(pgRelations))
	for _, r := range pgRelations {
		m[r.schema+"."+r.name] = parseColumns(r.cols)
	}
	return m
}()

func init() {
	gens := catalogGens()
	for i := range pgRelations {
		r := &pgRelations[i]
		key := r.schema + "." + r.name
		cols := make([]virtualColumn, 0, len(catalogColumns[key]))
		for _, c := range catalogColumns[key] {
			cols = append(cols, c.virtualColumn)
		}
		m := newRowMaker(key, cols)
		gen := gens[key]
		delete(gens, key)
		guarded := superuserOnly[key]
		registerVirtual(&virtualTable{schema: r.schema, name: r.name, oid: r.oid, columns: cols,
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
func parseColumns(spec string) []catalogColumn {
	var cols []catalogColumn
	for _, c := range strings.Split(spec, ", ") {
		name, typ, _ := strings.Cut(c, " ")
		typ, notNull := strings.CutSuffix(typ, "!")
		t, ok := specTypes[typ]
		if elem, isArray := strings.CutPrefix(typ, "_"); isArray {
			t, ok = specTypes[elem]
			t = types.ArrayOf(t)
			ok = ok && t.Oid != types.OidUnknown
		}
		if !ok {
			panic(fmt.Sprintf("sql: catalog column %s has unknown type %s", name, typ))
		}
		cols = append(cols, catalogColumn{virtualColumn{name: name, typ: t}, notNull})
	}
	return cols
}

// relationVisible is pg_table_is_visible for a relation oid: false for
// the relations of information_schema, which is not on the search path;
// true for everything else (pg_catalog and public are).
func relationVisible(oid int64) bool {
	return !infoSchemaOIDs[oid]
}

// infoSchemaOIDs are the oids of information_schema's relations.
var infoSchemaOIDs = func() map[int64]bool {
	m := map[int64]bool{}
	for _, r := range pgRelations {
		if r.schema == "information_schema" {
			m[r.oid] = true
		}
	}
	return m
}()

// predefinedRoleName names the roles PostgreSQL predefines that the
// views mention but the catalog does not hold (pg_get_userbyid,
// regrole output).
func predefinedRoleName(oid int64) (string, bool) {
	if oid == databaseOwnerRoleOID {
		return "pg_database_owner", true
	}
	return "", false
}
