package sql

import "github.com/shardingsystem/shard/sql/types"

// Built-in objects: pg_namespace, pg_type, pg_proc, pg_am, pg_collation,
// pg_language, pg_extension, pg_description, pg_tablespace. They do not
// depend on the catalog except for their owner.

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

func genNamespace(st *catalogState, m *rowMaker) []row {
	boot, name := st.bootstrapOID(), st.bootstrapName()
	sys := []string{name + "=UC/" + name, "=U/" + name}
	return []row{
		m.row("oid", namespacePgToast, "nspname", "pg_toast", "nspowner", boot),
		m.row("oid", namespacePgCatalog, "nspname", "pg_catalog", "nspowner", boot, "nspacl", sys),
		m.row("oid", namespacePublic, "nspname", "public", "nspowner", databaseOwnerRoleOID,
			"nspacl", []string{"pg_database_owner=UC/pg_database_owner", "=U/pg_database_owner"}),
		m.row("oid", namespaceInfoSchema, "nspname", "information_schema", "nspowner", boot, "nspacl", sys),
	}
}

func genType(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	out := make([]row, 0, len(pgTypeRows))
	for i := range pgTypeRows {
		t := &pgTypeRows[i]
		out = append(out, m.row("oid", t.oid, "typname", t.name, "typnamespace", namespacePgCatalog,
			"typowner", boot, "typlen", t.len, "typbyval", t.byval, "typtype", t.typtype,
			"typcategory", t.category, "typispreferred", t.preferred, "typisdefined", true,
			"typdelim", ',', "typrelid", 0, "typsubscript", t.subscript, "typelem", t.elem,
			"typarray", t.array, "typinput", t.input, "typoutput", t.output, "typreceive", t.receive,
			"typsend", t.send, "typmodin", t.modin, "typmodout", t.modout, "typanalyze", t.analyze,
			"typalign", t.align, "typstorage", t.storage, "typnotnull", false, "typbasetype", 0,
			"typtypmod", -1, "typndims", 0, "typcollation", t.collation))
	}
	return out
}

func genProc(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	out := make([]row, 0, len(pgProcRows))
	for i := range pgProcRows {
		p := &pgProcRows[i]
		out = append(out, m.row("oid", p.oid, "proname", p.name, "pronamespace", namespacePgCatalog,
			"proowner", boot, "prolang", langInternal, "procost", float64(1), "prorows", float64(0),
			"provariadic", 0, "prosupport", 0, "prokind", 'f', "prosecdef", false, "proleakproof", false,
			"proisstrict", p.strict, "proretset", false, "provolatile", p.volatile, "proparallel", p.parallel,
			"pronargs", len(p.args), "pronargdefaults", 0, "prorettype", p.ret, "proargtypes", p.args,
			"prosrc", p.src))
	}
	return out
}

// procName returns the name of the pg_proc row with oid, for regproc
// output.
func procName(oid int64) (string, bool) {
	for i := range pgProcRows {
		if pgProcRows[i].oid == oid {
			return pgProcRows[i].name, true
		}
	}
	return "", false
}

// procOID returns the oid of the pg_proc row named name, for regproc
// input ('array_in'::regproc).
func procOID(name string) (int64, bool) {
	for i := range pgProcRows {
		if pgProcRows[i].name == name {
			return pgProcRows[i].oid, true
		}
	}
	return 0, false
}

func genAm(_ *catalogState, m *rowMaker) []row {
	return []row{
		m.row("oid", amHeap, "amname", "heap", "amhandler", 3, "amtype", 't'),
		m.row("oid", amBtree, "amname", "btree", "amhandler", 330, "amtype", 'i'),
		m.row("oid", amHash, "amname", "hash", "amhandler", 331, "amtype", 'i'),
	}
}

func genCollation(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	coll := func(oid int64, name string, provider byte, locale any) row {
		return m.row("oid", oid, "collname", name, "collnamespace", namespacePgCatalog, "collowner", boot,
			"collprovider", provider, "collisdeterministic", true, "collencoding", -1,
			"collcollate", locale, "collctype", locale)
	}
	return []row{
		coll(collationDefault, "default", 'd', nil),
		coll(collationC, "C", 'c', "C"),
		coll(951, "POSIX", 'c', "POSIX"),
	}
}

func genLanguage(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	lang := func(oid int64, name string, pl, trusted bool, handler, inline, validator int64) row {
		return m.row("oid", oid, "lanname", name, "lanowner", boot, "lanispl", pl, "lanpltrusted", trusted,
			"lanplcallfoid", handler, "laninline", inline, "lanvalidator", validator)
	}
	return []row{
		lang(langInternal, "internal", false, false, 0, 0, 2246),
		lang(13, "c", false, false, 0, 0, 2247),
		lang(14, "sql", false, true, 0, 0, 2248),
		lang(langPlpgsql, "plpgsql", true, true, 13560, 13561, 13562),
	}
}

// genExtension lists plpgsql, which every PostgreSQL database has.
func genExtension(st *catalogState, m *rowMaker) []row {
	return []row{m.row("oid", extensionPlpgsql, "extname", "plpgsql", "extowner", st.bootstrapOID(),
		"extnamespace", namespacePgCatalog, "extrelocatable", false, "extversion", "1.0")}
}

// genDescription has the comments PostgreSQL gives public and plpgsql;
// shard keeps no comments of its own.
func genDescription(_ *catalogState, m *rowMaker) []row {
	return []row{
		m.row("objoid", namespacePublic, "classoid", classPgNamespace, "objsubid", 0, "description", "standard public schema"),
		m.row("objoid", extensionPlpgsql, "classoid", classPgExtension, "objsubid", 0, "description", "PL/pgSQL procedural language"),
	}
}

func genTablespace(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	return []row{
		m.row("oid", tablespaceDefault, "spcname", "pg_default", "spcowner", boot),
		m.row("oid", tablespaceGlobal, "spcname", "pg_global", "spcowner", boot),
	}
}
