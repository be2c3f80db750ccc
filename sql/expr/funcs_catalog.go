package expr

import (
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// Session-backed and catalog helper functions: what psql, pgx, lib/pq,
// node-postgres, psycopg2 and pgbench call. shard has no privileges system
// and no comments, so privilege checks are true and descriptions NULL.

var (
	oidT  = types.OidT
	nameT = types.Name
)

func errNoSession() error {
	return pgerror.New(pgerror.CodeInternalError, "no session for a session function")
}

func currentUser(c *Ctx) (types.Datum, error) {
	if c.Session == nil {
		return nil, errNoSession()
	}
	return c.Session.User(), nil
}

func currentDatabase(c *Ctx) (types.Datum, error) {
	if c.Session == nil {
		return nil, errNoSession()
	}
	return c.Session.Database(), nil
}

// searchPath returns the schemas of search_path that exist ("$user" has no
// schema in shard).
func searchPath(c *Ctx) []string {
	var out []string
	if c.Session != nil {
		if sp, err := c.Session.Setting("search_path"); err == nil {
			for _, s := range strings.Split(sp, ",") {
				s = strings.Trim(strings.TrimSpace(s), `"`)
				if s == "public" || s == "pg_catalog" || s == "information_schema" {
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		out = []string{"public"}
	}
	return out
}

func currentSchema(c *Ctx) (types.Datum, error) {
	for _, s := range searchPath(c) {
		if s != "pg_catalog" {
			return s, nil
		}
	}
	return nil, nil
}

func alwaysTrue(n int) overload {
	args := make([]types.T, n)
	for i := range args {
		args[i] = types.Text
	}
	return fN(bool_, args, func(*Ctx, []types.Datum) (types.Datum, error) { return true, nil }).lax_()
}

func alwaysNull(ret types.T, args ...types.T) overload {
	return fN(ret, args, func(*Ctx, []types.Datum) (types.Datum, error) { return nil, nil }).lax_()
}

// privilege functions take names or oids in several arities; any
// combination is accepted and answers true.
func privilegeFuncs() []overload {
	var os []overload
	for n := 1; n <= 4; n++ {
		os = append(os, alwaysTrue(n))
		o := alwaysTrue(n)
		o.args[0] = oidT
		os = append(os, o)
		if n >= 2 {
			o := alwaysTrue(n)
			o.args[1] = oidT
			os = append(os, o)
			o = alwaysTrue(n)
			o.args[0], o.args[1] = oidT, oidT
			os = append(os, o)
		}
	}
	return os
}

var catalogFuncs = map[string][]overload{
	// version() is Setting("version") when the session has it, else built
	// from server_version.
	"version": {f0(text, func(c *Ctx) (types.Datum, error) {
		v := "15.0"
		if c.Session != nil {
			if s, err := c.Session.Setting("version"); err == nil && s != "" {
				return s, nil
			}
			if s, err := c.Session.Setting("server_version"); err == nil && s != "" {
				v = s
			}
		}
		return "PostgreSQL " + v + " (shard) on x86_64-pc-linux-gnu, compiled by Go, 64-bit", nil
	}).vol_(stable)},
	"current_database": {f0(nameT, currentDatabase).vol_(stable)},
	"current_user":     {f0(nameT, currentUser).vol_(stable)},
	"session_user":     {f0(nameT, currentUser).vol_(stable)},
	"current_schema":   {f0(nameT, currentSchema).vol_(stable)},
	"current_schemas": {f1(types.NameArray, bool_, func(c *Ctx, a types.Datum) (types.Datum, error) {
		arr := &types.Array{Elem: types.Name}
		sp := searchPath(c)
		if a.(bool) {
			arr.Elems = append(arr.Elems, "pg_catalog")
		}
		for _, s := range sp {
			if s != "pg_catalog" {
				arr.Elems = append(arr.Elems, s)
			}
		}
		return arr, nil
	}).vol_(stable)},
	"current_setting": {
		f1(text, text, func(c *Ctx, a types.Datum) (types.Datum, error) { return currentSetting(c, a.(string), false) }).vol_(stable),
		f2(text, text, bool_, func(c *Ctx, a, b types.Datum) (types.Datum, error) {
			return currentSetting(c, a.(string), b.(bool))
		}).vol_(stable),
	},
	"set_config": {fN(text, ts(text, text, bool_), func(c *Ctx, a []types.Datum) (types.Datum, error) {
		if c.Session == nil {
			return nil, errNoSession()
		}
		if a[0] == nil || a[2] == nil {
			return nil, pgerror.New(pgerror.CodeNullValueNotAllowed, "SET requires parameter name")
		}
		v := ""
		if a[1] != nil {
			v = a[1].(string)
		}
		s, err := c.Session.SetSetting(a[0].(string), v, a[2].(bool))
		if err != nil {
			return nil, err
		}
		return s, nil
	}).lax_().vol_(volatile)},
	"pg_backend_pid": {f0(int4, func(c *Ctx) (types.Datum, error) {
		if c.Session == nil {
			return nil, errNoSession()
		}
		return int64(c.Session.BackendPID()), nil
	}).vol_(stable)},
	"gen_random_uuid": {f0(types.UUID, func(*Ctx) (types.Datum, error) { return uuid.New(), nil }).vol_(volatile)},
	"pg_typeof": {f1(types.Regtype, types.Any, nil).lax_().bind_(func(args []Expr) (impl, error) {
		oid := int64(args[0].Type().Oid)
		if args[0].Type().Oid == types.OidUnknown {
			oid = int64(types.OidUnknown)
		}
		return impl{f1: func(*Ctx, types.Datum) (types.Datum, error) { return oid, nil }}, nil
	})},
	"pg_table_is_visible": {f1(bool_, oidT, func(c *Ctx, a types.Datum) (types.Datum, error) {
		if c.Session == nil {
			return true, nil
		}
		return c.Session.RelationVisible(a.(int64)), nil
	}).vol_(stable)},
	"pg_type_is_visible":     {f1(bool_, oidT, func(*Ctx, types.Datum) (types.Datum, error) { return true, nil }).vol_(stable)},
	"pg_function_is_visible": {f1(bool_, oidT, func(*Ctx, types.Datum) (types.Datum, error) { return true, nil }).vol_(stable)},
	"format_type": {f2(text, oidT, int4, func(_ *Ctx, a, b types.Datum) (types.Datum, error) {
		if a == nil {
			return nil, nil
		}
		t := types.T{Oid: types.Oid(a.(int64)), Mod: -1}
		if !t.Known() {
			return "???", nil
		}
		if b == nil { // no typmod given: format_type_be
			return typeName(t), nil
		}
		t.Mod = int32(b.(int64))
		return types.FormatType(t), nil
	}).lax_().vol_(stable)},
	"pg_get_userbyid": {f1(nameT, oidT, func(c *Ctx, a types.Datum) (types.Datum, error) {
		if c.Session != nil {
			if n, ok := c.Session.RoleName(a.(int64)); ok {
				return n, nil
			}
		}
		return "unknown (OID=" + itoa(a.(int64)) + ")", nil
	}).vol_(stable)},
	"pg_encoding_to_char": {f1(nameT, int4, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		switch a.(int64) {
		case 6:
			return "UTF8", nil
		case 0:
			return "SQL_ASCII", nil
		}
		return "", nil
	})},
	"pg_char_to_encoding": {f1(int4, nameT, func(_ *Ctx, a types.Datum) (types.Datum, error) {
		switch strings.ToUpper(a.(string)) {
		case "UTF8", "UTF-8", "UNICODE":
			return int64(6), nil
		case "SQL_ASCII":
			return int64(0), nil
		}
		return int64(-1), nil
	})},
	// pg_get_expr's first argument is pg_node_tree; shard stores expression
	// text there, which is returned as is.
	"pg_get_expr": {
		f2(text, text, oidT, func(_ *Ctx, a, _ types.Datum) (types.Datum, error) { return a, nil }),
		fN(text, ts(text, oidT, bool_), func(_ *Ctx, a []types.Datum) (types.Datum, error) { return a[0], nil }),
	},
	"obj_description":        {alwaysNull(text, oidT), alwaysNull(text, oidT, nameT)},
	"col_description":        {alwaysNull(text, oidT, int4)},
	"shobj_description":      {alwaysNull(text, oidT, nameT)},
	"pg_get_viewdef":         {alwaysNull(text, oidT), alwaysNull(text, oidT, bool_)},
	"pg_get_serial_sequence": {alwaysNull(text, text, text)},
	"pg_get_indexdef": {
		f1(text, oidT, indexDef).vol_(stable),
		fN(text, ts(oidT, int4, bool_), func(c *Ctx, a []types.Datum) (types.Datum, error) {
			if a[1].(int64) != 0 {
				return nil, nil // one column's definition: not kept
			}
			return indexDef(c, a[0])
		}).vol_(stable),
	},
	"pg_get_constraintdef": {
		f1(text, oidT, constraintDef).vol_(stable),
		f2(text, oidT, bool_, func(c *Ctx, a, _ types.Datum) (types.Datum, error) { return constraintDef(c, a) }).vol_(stable),
	},
	"pg_relation_size": {f1(int8, types.Regclass, relationSize).vol_(volatile),
		f2(int8, types.Regclass, text, func(c *Ctx, a, _ types.Datum) (types.Datum, error) { return relationSize(c, a) }).vol_(volatile)},
	"pg_total_relation_size": {f1(int8, types.Regclass, relationSize).vol_(volatile)},
	"pg_table_size":          {f1(int8, types.Regclass, relationSize).vol_(volatile)},
	"pg_indexes_size":        {f1(int8, types.Regclass, func(*Ctx, types.Datum) (types.Datum, error) { return int64(0), nil }).vol_(volatile)},
	// Database sizes are not tracked.
	"pg_database_size": {
		f1(int8, nameT, func(*Ctx, types.Datum) (types.Datum, error) { return int64(0), nil }).vol_(volatile),
		f1(int8, oidT, func(*Ctx, types.Datum) (types.Datum, error) { return int64(0), nil }).vol_(volatile),
	},
	"pg_size_pretty":    {f1(text, int8, func(_ *Ctx, a types.Datum) (types.Datum, error) { return sizePretty(a.(int64)), nil })},
	"pg_is_in_recovery": {f0(bool_, func(*Ctx) (types.Datum, error) { return false, nil }).vol_(volatile)},
	// psql's \d asks for extended statistics and publications; shard has
	// neither.
	"pg_get_statisticsobjdef_columns": {alwaysNull(text, oidT).vol_(stable)},
	"pg_relation_is_publishable":      {f1(bool_, oidT, func(*Ctx, types.Datum) (types.Datum, error) { return true, nil }).vol_(stable)},
	"pg_tablespace_location":          {alwaysNull(text, oidT).vol_(stable)},
	"inet_server_addr":                {alwaysNull(text).vol_(stable)},
	"inet_server_port":                {alwaysNull(int4).vol_(stable)},
	"inet_client_addr":                {alwaysNull(text).vol_(stable)},
	"has_table_privilege":             privilegeFuncs(),
	"has_schema_privilege":            privilegeFuncs(),
	"has_database_privilege":          privilegeFuncs(),
	"has_column_privilege":            privilegeFuncs(),
	"has_function_privilege":          privilegeFuncs(),
	"has_sequence_privilege":          privilegeFuncs(),
	"has_any_column_privilege":        privilegeFuncs(),
	"pg_has_role":                     privilegeFuncs(),
}

func currentSetting(c *Ctx, name string, missingOK bool) (types.Datum, error) {
	if c.Session == nil {
		return nil, errNoSession()
	}
	v, err := c.Session.Setting(name)
	if err != nil {
		if missingOK && pgerror.Code(err) == pgerror.CodeUndefinedObject {
			return nil, nil
		}
		return nil, err
	}
	return v, nil
}

func indexDef(c *Ctx, a types.Datum) (types.Datum, error) {
	if c.Session != nil {
		if d, ok := c.Session.IndexDef(a.(int64)); ok {
			return d, nil
		}
	}
	return nil, nil
}

func constraintDef(c *Ctx, a types.Datum) (types.Datum, error) {
	if c.Session != nil {
		if d, ok := c.Session.ConstraintDef(a.(int64)); ok {
			return d, nil
		}
	}
	return nil, nil
}

func relationSize(c *Ctx, a types.Datum) (types.Datum, error) {
	if c.Session == nil {
		return int64(0), nil
	}
	return c.Session.RelationSize(a.(int64)), nil
}

// sizePretty is pg_size_pretty(bigint) of PostgreSQL 15.
func sizePretty(size int64) string {
	units := []struct {
		name  string
		limit int64
		round bool
		bits  uint
	}{
		{"bytes", 10 * 1024, false, 0},
		{"kB", 20*1024 - 1, true, 10},
		{"MB", 20*1024 - 1, true, 20},
		{"GB", 20*1024 - 1, true, 30},
		{"TB", 20*1024 - 1, true, 40},
		{"PB", 20*1024 - 1, true, 50},
	}
	halfRounded := func(x int64) int64 {
		if x < 0 {
			return (x - 1) / 2
		}
		return (x + 1) / 2
	}
	for i, u := range units {
		abs := size
		if abs < 0 {
			abs = -abs
		}
		if i == len(units)-1 || abs < u.limit {
			if u.round {
				size = halfRounded(size)
			}
			return strconv.FormatInt(size, 10) + " " + u.name
		}
		next := units[i+1]
		bits := next.bits - u.bits
		if next.round {
			bits--
		}
		if u.round {
			bits++
		}
		size /= int64(1) << bits
	}
	return ""
}

// namespaces are the schemas shard has, with PostgreSQL's fixed oids for
// the system ones.
var namespaces = map[string]int64{"pg_catalog": 11, "public": 2200, "information_schema": 13000, "pg_toast": 99}

// regIn is text to a reg* type: a number is taken as the oid, a name is
// looked up (relations through the session).
func regIn(to types.T) castFunc {
	return func(c *Ctx, d types.Datum) (types.Datum, error) {
		s := strings.TrimSpace(d.(string))
		if isDigits(s) {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n > 1<<32-1 {
				return nil, pgerror.New(pgerror.CodeNumericValueOutOfRange, "value \"%s\" is out of range for type oid", s)
			}
			return n, nil
		}
		switch to.Oid {
		case types.OidRegclass:
			if c == nil || c.Session == nil {
				return nil, errNoSession()
			}
			return c.Session.RelationOid(s)
		case types.OidRegtype:
			name := strings.ToLower(s)
			arr := strings.HasSuffix(name, "[]")
			name = strings.TrimSuffix(strings.TrimPrefix(name, "pg_catalog."), "[]")
			t, ok := typeByName(name)
			if ok && arr {
				t = types.ArrayOf(t)
				ok = t.Oid != types.OidUnknown
			}
			if !ok {
				return nil, pgerror.New(pgerror.CodeUndefinedObject, "type \"%s\" does not exist", s)
			}
			return int64(t.Oid), nil
		case types.OidRegnamespace:
			if n, ok := namespaces[strings.Trim(s, `"`)]; ok {
				return n, nil
			}
			return nil, pgerror.New(pgerror.CodeUndefinedSchema, "schema \"%s\" does not exist", s)
		case types.OidRegrole:
			return nil, pgerror.New(pgerror.CodeUndefinedObject, "role \"%s\" does not exist", s)
		}
		return nil, pgerror.New(pgerror.CodeUndefinedFunction, "function \"%s\" does not exist", s)
	}
}

// regOut is a reg* type to text: the object's name, or the number.
func regOut(from types.T) castFunc {
	return func(c *Ctx, d types.Datum) (types.Datum, error) {
		oid := d.(int64)
		switch from.Oid {
		case types.OidRegclass, types.OidRegrole:
			if c == nil || c.Session == nil {
				// Not at build time: the name is the session's to give.
				return nil, errNoSession()
			}
		}
		switch from.Oid {
		case types.OidRegclass:
			if n, ok := c.Session.RelationName(oid); ok {
				return n, nil
			}
		case types.OidRegtype:
			if t, ok := types.FromOid(types.Oid(oid)); ok {
				return typeName(t), nil
			}
		case types.OidRegrole:
			if n, ok := c.Session.RoleName(oid); ok {
				return n, nil
			}
		case types.OidRegnamespace:
			for n, o := range namespaces {
				if o == oid {
					return n, nil
				}
			}
		}
		if oid == 0 {
			return "-", nil
		}
		return itoa(oid), nil
	}
}

// RegOutput returns what PostgreSQL prints for d (not nil) of a reg* type
// (regclass, regtype, regrole, regnamespace, regproc): the object's name,
// looked up through c.Session where needed, or the number. ok is false for
// other types. types.AppendText, having no catalog, prints only numbers, so
// result rows of these types should be formatted with this.
func RegOutput(c *Ctx, t types.T, d types.Datum) (string, bool) {
	switch t.Oid {
	case types.OidRegclass, types.OidRegtype, types.OidRegrole, types.OidRegnamespace, types.OidRegproc:
		s, err := regOut(t)(c, d)
		if err != nil {
			return itoa(d.(int64)), true
		}
		return s.(string), true
	}
	return "", false
}
