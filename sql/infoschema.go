package sql

import (
	"fmt"
	"strconv"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// The information_schema views, computed as PostgreSQL 15's definitions
// in information_schema.sql compute them from pg_catalog. Every role sees
// every object (shard has no object privileges).

// infoRelation is a relation information_schema describes: a user table
// of the current database or a catalog relation.
type infoRelation struct {
	schema string
	name   string
	kind   byte
	oid    int64
	cols   []infoColumn
	table  *catalog.Table // nil for catalog relations
}

// infoColumn is a column of an infoRelation.
type infoColumn struct {
	name     string
	typ      types.T
	num      int16
	notNull  bool
	def      string
	identity string
}

// infoRelations returns the catalog relations, then the current
// database's tables.
func (st *catalogState) infoRelations() []infoRelation {
	var out []infoRelation
	for _, r := range pgRelations {
		ir := infoRelation{schema: r.schema, name: r.name, kind: r.kind, oid: r.oid}
		for i, c := range catalogColumns[r.schema+"."+r.name] {
			ir.cols = append(ir.cols, infoColumn{name: c.name, typ: c.typ, num: int16(i + 1), notNull: c.notNull})
		}
		out = append(out, ir)
	}
	for _, t := range st.tables() {
		ir := infoRelation{schema: "public", name: t.Name, kind: 'r', oid: t.OID(), table: t}
		nums := attnums(t)
		for _, c := range t.Columns {
			if c.Hidden {
				continue
			}
			ir.cols = append(ir.cols, infoColumn{name: c.Name, typ: c.Type, num: nums[c.ID], notNull: c.NotNull,
				def: columnDefault(c), identity: c.Identity})
		}
		out = append(out, ir)
	}
	return out
}

func genISCatalogName(st *catalogState, m *rowMaker) []row {
	return []row{m.row("catalog_name", st.dbName())}
}

func genISSchemata(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapName()
	db := st.dbName()
	schema := func(name, owner string) row {
		return m.row("catalog_name", db, "schema_name", name, "schema_owner", owner)
	}
	return []row{
		schema("information_schema", boot),
		schema("pg_catalog", boot),
		schema("pg_toast", boot),
		schema("public", "pg_database_owner"),
	}
}

func genISTables(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, r := range st.infoRelations() {
		out = append(out, m.row("table_catalog", db, "table_schema", r.schema, "table_name", r.name,
			"table_type", relKindName(r.kind), "is_insertable_into", yesNo(r.kind == 'r'), "is_typed", "NO"))
	}
	return out
}

// sqlTypeNames are format_type(oid, NULL) for the types whose SQL name is
// not their typname.
var sqlTypeNames = map[types.Oid]string{
	types.OidBool: "boolean", types.OidChar: `"char"`, types.OidInt8: "bigint", types.OidInt2: "smallint",
	types.OidInt4: "integer", types.OidFloat4: "real", types.OidFloat8: "double precision",
	types.OidBPChar: "character", types.OidVarchar: "character varying", types.OidTime: "time without time zone",
	types.OidTimestamp: "timestamp without time zone", types.OidTimestampTZ: "timestamp with time zone",
	types.OidAny: `"any"`,
}

// dataType is information_schema's data_type: "ARRAY" for arrays, else
// the type's SQL name.
func dataType(t types.T) string {
	tr := typeRow(t)
	if tr.elem != 0 && tr.len == -1 {
		return "ARRAY"
	}
	if n, ok := sqlTypeNames[t.Oid]; ok {
		return n
	}
	return tr.name
}

// typeFacets are the numeric and character facets of a column type, as
// information_schema's _pg_char_max_length, _pg_char_octet_length,
// _pg_numeric_precision, _pg_numeric_precision_radix, _pg_numeric_scale
// and _pg_datetime_precision compute them (nil when they do not apply).
type typeFacets struct {
	charMax, charOctets, numPrecision, numRadix, numScale, dtPrecision any
}

func facetsOf(t types.T) typeFacets {
	var f typeFacets
	mod := int64(t.Mod)
	switch t.Oid {
	case types.OidBPChar, types.OidVarchar, types.OidText:
		f.charOctets = int64(1 << 30)
		if t.Oid != types.OidText && mod >= 4 {
			f.charMax = mod - 4
			f.charOctets = (mod - 4) * 4 // UTF8's longest character
		}
	case types.OidInt2:
		f.numPrecision, f.numRadix, f.numScale = int64(16), int64(2), int64(0)
	case types.OidInt4:
		f.numPrecision, f.numRadix, f.numScale = int64(32), int64(2), int64(0)
	case types.OidInt8:
		f.numPrecision, f.numRadix, f.numScale = int64(64), int64(2), int64(0)
	case types.OidFloat4:
		f.numPrecision, f.numRadix = int64(24), int64(2)
	case types.OidFloat8:
		f.numPrecision, f.numRadix = int64(53), int64(2)
	case types.OidNumeric:
		f.numRadix = int64(10)
		if mod >= 4 {
			f.numPrecision, f.numScale = ((mod-4)>>16)&65535, (mod-4)&65535
		}
	case types.OidDate:
		f.dtPrecision = int64(0)
	case types.OidTime, types.OidTimestamp, types.OidTimestampTZ:
		f.dtPrecision = int64(6)
		if mod >= 0 {
			f.dtPrecision = mod
		}
	case types.OidInterval:
		f.dtPrecision = int64(6)
		if mod >= 0 && mod&65535 != 65535 {
			f.dtPrecision = mod & 65535
		}
	}
	return f
}

func genISColumns(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, r := range st.infoRelations() {
		for _, c := range r.cols {
			f := facetsOf(c.typ)
			var def, gen, start, incr, max, min any
			if c.def != "" {
				def = c.def
			}
			switch c.identity {
			case "a":
				gen = "ALWAYS"
			case "d":
				gen = "BY DEFAULT"
			}
			if gen != nil {
				seq := tableSequence{col: &catalog.Column{Type: c.typ}}
				start, incr, min, max = "1", "1", "1", strconv.FormatInt(seq.maxValue(), 10)
			}
			out = append(out, m.row("table_catalog", db, "table_schema", r.schema, "table_name", r.name,
				"column_name", c.name, "ordinal_position", c.num, "column_default", def,
				"is_nullable", yesNo(!c.notNull), "data_type", dataType(c.typ),
				"character_maximum_length", f.charMax, "character_octet_length", f.charOctets,
				"numeric_precision", f.numPrecision, "numeric_precision_radix", f.numRadix,
				"numeric_scale", f.numScale, "datetime_precision", f.dtPrecision,
				"udt_catalog", db, "udt_schema", "pg_catalog", "udt_name", typeRow(c.typ).name,
				"dtd_identifier", strconv.Itoa(int(c.num)), "is_self_referencing", "NO",
				"is_identity", yesNo(gen != nil), "identity_generation", gen, "identity_start", start,
				"identity_increment", incr, "identity_maximum", max, "identity_minimum", min,
				"identity_cycle", "NO", "is_generated", "NEVER", "is_updatable", yesNo(r.kind == 'r')))
		}
	}
	return out
}

// notNullName is the name PostgreSQL gives a NOT NULL column's check in
// information_schema.
func notNullName(t *catalog.Table, num int16) string {
	return fmt.Sprintf("%d_%d_%d_not_null", namespacePublic, t.OID(), num)
}

func genISTableConstraints(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	con := func(t *catalog.Table, name, kind string, nullsDistinct any) row {
		return m.row("constraint_catalog", db, "constraint_schema", "public", "constraint_name", name,
			"table_catalog", db, "table_schema", "public", "table_name", t.Name, "constraint_type", kind,
			"is_deferrable", "NO", "initially_deferred", "NO", "enforced", "YES", "nulls_distinct", nullsDistinct)
	}
	for _, t := range st.tables() {
		for _, ix := range constraintIndexes(t) {
			if ix.Primary {
				out = append(out, con(t, ix.Name, "PRIMARY KEY", nil))
			} else {
				out = append(out, con(t, ix.Name, "UNIQUE", "YES"))
			}
		}
		nums := attnums(t)
		for _, c := range t.Columns {
			if c.NotNull && !c.Hidden {
				out = append(out, con(t, notNullName(t, nums[c.ID]), "CHECK", nil))
			}
		}
	}
	return out
}

func genISCheckConstraints(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, t := range st.tables() {
		nums := attnums(t)
		for _, c := range t.Columns {
			if c.NotNull && !c.Hidden {
				out = append(out, m.row("constraint_catalog", db, "constraint_schema", "public",
					"constraint_name", notNullName(t, nums[c.ID]), "check_clause", quoteIdent(c.Name)+" IS NOT NULL"))
			}
		}
	}
	return out
}

func genISKeyColumnUsage(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, t := range st.tables() {
		for _, ix := range constraintIndexes(t) {
			for i, id := range ix.Columns {
				out = append(out, m.row("constraint_catalog", db, "constraint_schema", "public",
					"constraint_name", ix.Name, "table_catalog", db, "table_schema", "public",
					"table_name", t.Name, "column_name", t.ColumnByID(id).Name, "ordinal_position", i+1))
			}
		}
	}
	return out
}

func genISConstraintColumnUsage(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, t := range st.tables() {
		for _, ix := range constraintIndexes(t) {
			for _, id := range ix.Columns {
				out = append(out, m.row("table_catalog", db, "table_schema", "public", "table_name", t.Name,
					"column_name", t.ColumnByID(id).Name, "constraint_catalog", db,
					"constraint_schema", "public", "constraint_name", ix.Name))
			}
		}
	}
	return out
}

func genISSequences(st *catalogState, m *rowMaker) []row {
	var out []row
	db := st.dbName()
	for _, t := range st.tables() {
		for _, s := range sequences(t) {
			f := facetsOf(s.col.Type)
			out = append(out, m.row("sequence_catalog", db, "sequence_schema", "public", "sequence_name", s.name,
				"data_type", dataType(s.col.Type), "numeric_precision", f.numPrecision,
				"numeric_precision_radix", f.numRadix, "numeric_scale", f.numScale, "start_value", "1",
				"minimum_value", "1", "maximum_value", strconv.FormatInt(s.maxValue(), 10), "increment", "1",
				"cycle_option", "NO"))
		}
	}
	return out
}

func genISEnabledRoles(st *catalogState, m *rowMaker) []row {
	return []row{m.row("role_name", st.role.Name)}
}

func genISCharacterSets(st *catalogState, m *rowMaker) []row {
	return []row{m.row("character_set_name", "UTF8", "character_repertoire", "UCS", "form_of_use", "UTF8",
		"default_collate_catalog", st.dbName(), "default_collate_schema", "pg_catalog", "default_collate_name", "C")}
}
