package sql

// Built-in objects: pg_namespace, pg_type, pg_proc, pg_am, pg_collation,
// pg_language, pg_extension, pg_description, pg_tablespace. They do not
// depend on the catalog except for their owner.

func genNamespace(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	return []row{
		m.row("oid", namespacePgToast, "nspname", "pg_toast", "nspowner", boot),
		m.row("oid", namespacePgCatalog, "nspname", "pg_catalog", "nspowner", boot),
		m.row("oid", namespacePublic, "nspname", "public", "nspowner", databaseOwnerRoleOID),
		m.row("oid", namespaceInfoSchema, "nspname", "information_schema", "nspowner", boot),
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

// genDescription has only the plpgsql extension's comment: shard keeps no
// comments.
func genDescription(_ *catalogState, m *rowMaker) []row {
	return []row{m.row("objoid", extensionPlpgsql, "classoid", classPgExtension, "objsubid", 0,
		"description", "PL/pgSQL procedural language")}
}

func genTablespace(st *catalogState, m *rowMaker) []row {
	boot := st.bootstrapOID()
	return []row{
		m.row("oid", tablespaceDefault, "spcname", "pg_default", "spcowner", boot),
		m.row("oid", tablespaceGlobal, "spcname", "pg_global", "spcowner", boot),
	}
}
