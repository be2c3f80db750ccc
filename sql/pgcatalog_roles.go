package sql

import (
	"sort"
	"strconv"
	"strings"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// Cluster-wide objects and the session: pg_database, pg_roles, pg_authid,
// pg_user, pg_shadow, pg_settings, pg_stat_activity.

// errCatalogPermission is what reading a superuser-only view as another
// role returns.
func errCatalogPermission(name string) error {
	return pgerror.New(pgerror.CodeInsufficientPrivilege, "permission denied for table %s", name)
}

func genDatabase(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, d := range st.cat.Databases() {
		out = append(out, m.row("oid", d.OID(), "datname", d.Name, "datdba", st.roleOID(d.Owner),
			"encoding", encodingUTF8, "datlocprovider", 'c', "datistemplate", false, "datallowconn", true,
			"datconnlimit", -1, "datfrozenxid", 0, "datminmxid", 1, "dattablespace", tablespaceDefault,
			"datcollate", "C", "datctype", "C"))
	}
	return out
}

// roleAttrs are the role attributes the role views share. Superusers have
// every attribute, as initdb's user does.
type roleAttrs struct {
	oid                                              int64
	name                                             string
	super, createRole, createDB, login, repl, bypass bool
	verifier                                         string
}

func (st *catalogState) roleList() []roleAttrs {
	var out []roleAttrs
	for _, r := range st.cat.Roles() {
		out = append(out, roleAttrs{oid: r.OID(), name: r.Name, super: r.Superuser, createRole: r.Superuser,
			createDB: r.CreateDB || r.Superuser, login: r.Login, repl: r.Superuser, bypass: r.Superuser, verifier: r.Verifier})
	}
	// The predefined role that owns public in PostgreSQL 15.
	out = append(out, roleAttrs{oid: databaseOwnerRoleOID, name: "pg_database_owner"})
	return out
}

func genRoles(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, r := range st.roleList() {
		out = append(out, m.row("rolname", r.name, "rolsuper", r.super, "rolinherit", true,
			"rolcreaterole", r.createRole, "rolcreatedb", r.createDB, "rolcanlogin", r.login,
			"rolreplication", r.repl, "rolconnlimit", -1, "rolpassword", "********",
			"rolbypassrls", r.bypass, "oid", r.oid))
	}
	return out
}

func genAuthid(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, r := range st.roleList() {
		var pw any
		if r.verifier != "" {
			pw = r.verifier
		}
		out = append(out, m.row("oid", r.oid, "rolname", r.name, "rolsuper", r.super, "rolinherit", true,
			"rolcreaterole", r.createRole, "rolcreatedb", r.createDB, "rolcanlogin", r.login,
			"rolreplication", r.repl, "rolbypassrls", r.bypass, "rolconnlimit", -1, "rolpassword", pw))
	}
	return out
}

func genUser(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, r := range st.roleList() {
		if r.login {
			out = append(out, m.row("usename", r.name, "usesysid", r.oid, "usecreatedb", r.createDB,
				"usesuper", r.super, "userepl", r.repl, "usebypassrls", r.bypass, "passwd", "********"))
		}
	}
	return out
}

func genShadow(st *catalogState, m *rowMaker) []row {
	var out []row
	for _, r := range st.roleList() {
		if r.login {
			var pw any
			if r.verifier != "" {
				pw = r.verifier
			}
			out = append(out, m.row("usename", r.name, "usesysid", r.oid, "usecreatedb", r.createDB,
				"usesuper", r.super, "userepl", r.repl, "usebypassrls", r.bypass, "passwd", pw))
		}
	}
	return out
}

// pgSetting is PostgreSQL's description of a parameter (pgSettingInfo).
type pgSetting struct {
	category, shortDesc, extraDesc, context, vartype, unit, minVal, maxVal, enumVals string
}

// genSettings lists the parameters shard knows that PostgreSQL 15 shows
// in pg_settings, with PostgreSQL's descriptions and the session's values.
func genSettings(st *catalogState, m *rowMaker) []row {
	names := make([]string, 0, len(settings))
	for name := range settings {
		if _, ok := pgSettingInfo[name]; ok {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	var out []row
	for _, name := range names {
		s, info := settings[name], pgSettingInfo[name]
		v, _ := st.setting(name)
		source := "default"
		if v != s.def {
			source = "session"
		}
		opt := func(x string) any {
			if x == "" {
				return nil
			}
			return x
		}
		var enums any
		if info.enumVals != "" {
			enums = strings.Split(info.enumVals, "|")
		}
		def := settingInUnit(s.def, info.unit)
		out = append(out, m.row("name", s.canonical, "setting", settingInUnit(v, info.unit), "unit", opt(info.unit),
			"category", info.category, "short_desc", info.shortDesc, "extra_desc", opt(info.extraDesc),
			"context", info.context, "vartype", info.vartype, "source", source, "min_val", opt(info.minVal),
			"max_val", opt(info.maxVal), "enumvals", enums, "boot_val", def, "reset_val", def,
			"pending_restart", false))
	}
	return out
}

// settingInUnit converts a memory or time value such as "4MB" or "5s" to
// a number of the setting's unit ("kB", "ms", "s"), as pg_settings shows
// it; a value it cannot read is returned as is.
func settingInUnit(v, unit string) string {
	if unit == "" || v == "" {
		return v
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return v
	}
	suffix := strings.TrimSpace(v[i:])
	if suffix == "" {
		return v
	}
	scale := map[string]float64{"B": 1.0 / 1024, "kB": 1, "MB": 1024, "GB": 1024 * 1024, "TB": 1024 * 1024 * 1024,
		"us": 0.001, "ms": 1, "s": 1000, "min": 60000, "h": 3600000, "d": 86400000}
	from, ok := scale[suffix]
	to, ok2 := scale[unit]
	if unit == "s" {
		to, ok2 = 1000, true
	}
	if !ok || !ok2 {
		return v
	}
	return strconv.FormatInt(int64(n*from/to), 10)
}

// genStatActivity has one row, the reading session's: shard keeps no
// registry of the other sessions.
func genStatActivity(st *catalogState, m *rowMaker) []row {
	app, _ := st.setting("application_name")
	return []row{m.row("datid", st.db.OID(), "datname", st.db.Name, "pid", st.pid, "usesysid", st.role.OID(),
		"usename", st.role.Name, "application_name", app, "xact_start", st.now, "query_start", st.now,
		"state_change", st.now, "state", "active", "query", "", "backend_type", "client backend")}
}
