package sql

import (
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// Relations and their parts: pg_class, pg_attribute, pg_index,
// pg_constraint, pg_attrdef, pg_sequence, pg_depend and the views over
// them (pg_tables, pg_indexes, pg_views, pg_sequences).

// classRow makes a pg_class row; the columns every relation shares are
// constant.
func classRow(m *rowMaker, oid int64, name string, ns, owner, am int64, kind byte, natts int, hasIndex bool) row {
	filenode, tuples, replident := oid, float64(-1), byte('d')
	switch kind {
	case 'v':
		filenode, tuples, replident = 0, -1, 'n'
	case 'i':
		tuples, replident = 0, 'n'
	case 'S':
		tuples, replident = 1, 'n'
	}
	return m.row("oid", oid, "relname", name, "relnamespace", ns, "reltype", 0, "reloftype", 0,
		"relowner", owner, "relam", am, "relfilenode", filenode, "reltablespace", 0, "relpages", 0,
		"reltuples", tuples, "relallvisible", 0, "reltoastrelid", 0, "relhasindex", hasIndex,
		"relisshared", false, "relpersistence", 'p', "relkind", kind, "relnatts", natts, "relchecks", 0,
		"relhasrules", false, "relhastriggers", false, "relhassubclass", false, "relrowsecurity", false,
		"relforcerowsecurity", false, "relispopulated", true, "relreplident", replident,
		"relispartition", false, "relrewrite", 0, "relfrozenxid", 0, "relminmxid", 0)
}

func genClass(st *catalogState, m *rowMaker) []row {
	var out []row
	boot := st.bootstrapOID()
	for _, r := range pgRelations {
		am := int64(0)
		if r.kind == 'r' {
			am = amHeap
		}
		out = append(out, classRow(m, r.oid, r.name, namespaceOf(r.schema), boot, am, r.kind,
			len(catalogColumns[r.schema+"."+r.name]), false))
	}
	for _, t := range st.tables() {
		owner := st.roleOID(t.Owner)
		ixs := shownIndexes(t)
		out = append(out, classRow(m, t.OID(), t.Name, namespacePublic, owner, amHeap, 'r', len(attnums(t)), len(ixs) > 0))
		for _, ix := range ixs {
			out = append(out, classRow(m, t.IndexOID(ix), ix.Name, namespacePublic, owner, amBtree, 'i', len(ix.Columns), false))
		}
		for _, s := range sequences(t) {
			out = append(out, classRow(m, s.oid, s.name, namespacePublic, owner, 0, 'S', 3, false))
		}
	}
	return out
}

// attRow makes a pg_attribute row.
func attRow(m *rowMaker, relid int64, name string, t types.T, num int16, notNull, hasDef bool, identity string, dims int) row {
	tr := typeRow(t)
	return m.row("attrelid", relid, "attname", name, "atttypid", t.Oid, "attstattarget", -1,
		"attlen", tr.len, "attnum", num, "attndims", dims, "attcacheoff", -1, "atttypmod", t.Mod,
		"attbyval", tr.byval, "attalign", tr.align, "attstorage", tr.storage, "attcompression", byte(0),
		"attnotnull", notNull, "atthasdef", hasDef, "atthasmissing", false, "attidentity", identity,
		"attgenerated", "", "attisdropped", false, "attislocal", true, "attinhcount", 0,
		"attcollation", tr.collation)
}

// arrayDims is attndims: 1 for a column declared as an array.
func arrayDims(t types.T) int {
	if t.Family() == types.ArrayFamily && t.Oid != types.OidInt2Vector && t.Oid != types.OidOidVector {
		return 1
	}
	return 0
}

func genAttribute(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, r := range pgRelations {
		for i, c := range catalogColumns[r.schema+"."+r.name] {
			out = append(out, attRow(m, r.oid, c.name, c.typ, int16(i+1), c.notNull, false, "", 0))
		}
	}
	for _, t := range st.tables() {
		nums := attnums(t)
		for _, c := range t.Columns {
			if c.Hidden {
				continue
			}
			out = append(out, attRow(m, t.OID(), c.Name, c.Type, nums[c.ID], c.NotNull, columnDefault(c) != "", c.Identity, arrayDims(c.Type)))
		}
		for _, ix := range shownIndexes(t) {
			for i, id := range ix.Columns {
				c := t.ColumnByID(id)
				out = append(out, attRow(m, t.IndexOID(ix), c.Name, c.Type, int16(i+1), false, false, "", 0))
			}
		}
		for _, s := range sequences(t) {
			out = append(out,
				attRow(m, s.oid, "last_value", types.Int8, 1, true, false, "", 0),
				attRow(m, s.oid, "log_cnt", types.Int8, 2, true, false, "", 0),
				attRow(m, s.oid, "is_called", types.Bool, 3, true, false, "", 0))
		}
	}
	return out
}

func genIndex(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		for _, ix := range shownIndexes(t) {
			n := len(ix.Columns)
			colls, classes, opts := make([]int64, n), make([]int64, n), make([]int16, n)
			for i, id := range ix.Columns {
				colls[i] = typeRow(t.ColumnByID(id).Type).collation
				if i < len(ix.Desc) && ix.Desc[i] {
					opts[i] = 3 // INDOPTION_DESC | INDOPTION_NULLS_FIRST
				}
			}
			out = append(out, m.row("indexrelid", t.IndexOID(ix), "indrelid", t.OID(), "indnatts", n,
				"indnkeyatts", n, "indisunique", ix.Unique, "indnullsnotdistinct", false,
				"indisprimary", ix.Primary, "indisexclusion", false, "indimmediate", true,
				"indisclustered", false, "indisvalid", true, "indcheckxmin", false, "indisready", true,
				"indislive", true, "indisreplident", false, "indkey", indexKey(t, ix),
				"indcollation", colls, "indclass", classes, "indoption", opts))
		}
	}
	return out
}

// constraintType is pg_constraint.contype of a constraint index.
func constraintType(ix *catalog.Index) byte {
	if ix.Primary {
		return 'p'
	}
	return 'u'
}

// constraintIndexes returns t's shown indexes that back a constraint.
func constraintIndexes(t *catalog.Table) []*catalog.Index {
	var out []*catalog.Index
	for _, ix := range shownIndexes(t) {
		if ix.Constraint {
			out = append(out, ix)
		}
	}
	return out
}

func genConstraint(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		for _, ix := range constraintIndexes(t) {
			out = append(out, m.row("oid", t.IndexOID(ix), "conname", ix.Name, "connamespace", namespacePublic,
				"contype", constraintType(ix), "condeferrable", false, "condeferred", false, "convalidated", true,
				"conrelid", t.OID(), "contypid", 0, "conindid", t.IndexOID(ix), "conparentid", 0,
				"confrelid", 0, "confupdtype", ' ', "confdeltype", ' ', "confmatchtype", ' ',
				"conislocal", true, "coninhcount", 0, "connoinherit", true, "conkey", indexKey(t, ix)))
		}
	}
	return out
}

func genAttrdef(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		nums := attnums(t)
		for _, c := range t.Columns {
			if def := columnDefault(c); def != "" && !c.Hidden {
				out = append(out, m.row("oid", derivedOID(t, c), "adrelid", t.OID(), "adnum", nums[c.ID], "adbin", def))
			}
		}
	}
	return out
}

func genSequence(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		for _, s := range sequences(t) {
			out = append(out, m.row("seqrelid", s.oid, "seqtypid", s.col.Type.Oid, "seqstart", int64(1),
				"seqincrement", int64(1), "seqmax", s.maxValue(), "seqmin", int64(1), "seqcache", int64(1),
				"seqcycle", false))
		}
	}
	return out
}

// genDepend lists the dependencies clients follow: a sequence on its
// column (deptype 'a' for serial, 'i' for identity), a default on its
// column, an index on its columns or on its constraint, a constraint on
// its columns.
func genDepend(st *catalogState, m *rowMaker) []row {
	var out []row
	dep := func(classid, objid, refclassid, refobjid int64, refsub int16, deptype byte) {
		out = append(out, m.row("classid", classid, "objid", objid, "objsubid", 0, "refclassid", refclassid,
			"refobjid", refobjid, "refobjsubid", refsub, "deptype", deptype))
	}
	for _, t := range st.tables() {
		nums := attnums(t)
		for _, s := range sequences(t) {
			kind := byte('a')
			if s.col.Identity != "" {
				kind = 'i'
			}
			dep(classPgClass, s.oid, classPgClass, t.OID(), nums[s.col.ID], kind)
		}
		for _, c := range t.Columns {
			if !c.Hidden && columnDefault(c) != "" {
				dep(classPgAttrdef, derivedOID(t, c), classPgClass, t.OID(), nums[c.ID], 'a')
			}
		}
		for _, ix := range shownIndexes(t) {
			if ix.Constraint {
				dep(classPgClass, t.IndexOID(ix), classPgConstraint, t.IndexOID(ix), 0, 'i')
				for _, n := range indexKey(t, ix) {
					dep(classPgConstraint, t.IndexOID(ix), classPgClass, t.OID(), n, 'a')
				}
				continue
			}
			for _, n := range indexKey(t, ix) {
				dep(classPgClass, t.IndexOID(ix), classPgClass, t.OID(), n, 'a')
			}
		}
	}
	return out
}

func genTables(st *catalogState, m *rowMaker) []row {
	var out []row
	boot := st.bootstrapName()
	for _, r := range pgRelations {
		if r.kind == 'r' {
			out = append(out, m.row("schemaname", r.schema, "tablename", r.name, "tableowner", boot,
				"hasindexes", false, "hasrules", false, "hastriggers", false, "rowsecurity", false))
		}
	}
	for _, t := range st.tables() {
		out = append(out, m.row("schemaname", "public", "tablename", t.Name, "tableowner", t.Owner,
			"hasindexes", len(shownIndexes(t)) > 0, "hasrules", false, "hastriggers", false, "rowsecurity", false))
	}
	return out
}

func genIndexes(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		for _, ix := range shownIndexes(t) {
			out = append(out, m.row("schemaname", "public", "tablename", t.Name, "indexname", ix.Name, "indexdef", indexDef(t, ix)))
		}
	}
	return out
}

// genViews lists the catalog views; their definitions are not kept.
func genViews(st *catalogState, m *rowMaker) []row {
	var out []row
	boot := st.bootstrapName()
	for _, r := range pgRelations {
		if r.kind == 'v' {
			out = append(out, m.row("schemaname", r.schema, "viewname", r.name, "viewowner", boot))
		}
	}
	return out
}

func genSequences(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		for _, s := range sequences(t) {
			out = append(out, m.row("schemaname", "public", "sequencename", s.name, "sequenceowner", t.Owner,
				"data_type", s.col.Type.Oid, "start_value", int64(1), "min_value", int64(1), "max_value", s.maxValue(),
				"increment_by", int64(1), "cycle", false, "cache_size", int64(1)))
		}
	}
	return out
}

func genStatUserTables(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, t := range st.tables() {
		r := m.row("relid", t.OID(), "schemaname", "public", "relname", t.Name)
		for i, c := range m.cols {
			if r[i] == nil && c.typ.Oid == types.OidInt8 {
				r[i] = int64(0)
			}
		}
		out = append(out, r)
	}
	return out
}
