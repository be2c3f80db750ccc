package expr

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/shardingsystem/shard/sql/types"
)

// sqlTypeNames are the names format_type_be prints in error messages.
var sqlTypeNames = map[types.Oid]string{
	types.OidBool:         "boolean",
	types.OidInt2:         "smallint",
	types.OidInt4:         "integer",
	types.OidInt8:         "bigint",
	types.OidFloat4:       "real",
	types.OidFloat8:       "double precision",
	types.OidNumeric:      "numeric",
	types.OidText:         "text",
	types.OidVarchar:      "character varying",
	types.OidBPChar:       "character",
	types.OidName:         "name",
	types.OidChar:         `"char"`,
	types.OidBytea:        "bytea",
	types.OidDate:         "date",
	types.OidTime:         "time without time zone",
	types.OidTimestamp:    "timestamp without time zone",
	types.OidTimestampTZ:  "timestamp with time zone",
	types.OidInterval:     "interval",
	types.OidUUID:         "uuid",
	types.OidJSON:         "json",
	types.OidJSONB:        "jsonb",
	types.OidOid:          "oid",
	types.OidRegclass:     "regclass",
	types.OidRegproc:      "regproc",
	types.OidRegtype:      "regtype",
	types.OidRegnamespace: "regnamespace",
	types.OidRegrole:      "regrole",
	types.OidUnknown:      "unknown",
	types.OidRecord:       "record",
	types.OidVoid:         "void",
	types.OidAny:          `"any"`,
	types.OidInt2Vector:   "int2vector",
	types.OidOidVector:    "oidvector",
	oidAnyElement:         "anyelement",
	oidAnyArray:           "anyarray",
}

// typeName is the type's SQL name without typmod, as PostgreSQL's
// format_type_be prints it in messages ("integer", "text[]").
func typeName(t types.T) string {
	if n, ok := sqlTypeNames[t.Oid]; ok {
		return n
	}
	if t.Family() == types.ArrayFamily {
		return typeName(t.Elem()) + "[]"
	}
	return t.Name()
}

// TypeFromName converts a *pg_query.TypeName (names, typmods, array bounds)
// to a types.T. %TYPE and SETOF are 0A000; an unknown name is 42704
// `type "x" does not exist`.
func TypeFromName(tn *pg_query.TypeName) (types.T, error) {
	if tn.PctType {
		return types.T{}, errAt(pgerror.Unsupported("%%TYPE references are not supported"), tn.Location)
	}
	if tn.Setof {
		return types.T{}, errAt(pgerror.Unsupported("SETOF types are not supported"), tn.Location)
	}
	names := make([]string, 0, len(tn.Names))
	for _, n := range tn.Names {
		names = append(names, n.GetString_().GetSval())
	}
	full := strings.Join(names, ".")
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	if len(names) != 1 {
		return types.T{}, errAt(pgerror.New(pgerror.CodeUndefinedObject, "type \"%s\" does not exist", full), tn.Location)
	}
	t, ok := typeByName(names[0])
	if !ok {
		return types.T{}, errAt(pgerror.New(pgerror.CodeUndefinedObject, "type \"%s\" does not exist", full), tn.Location)
	}
	if len(tn.Typmods) > 0 {
		mods := make([]int32, 0, len(tn.Typmods))
		for _, m := range tn.Typmods {
			c := m.GetAConst()
			if c == nil || c.GetIval() == nil {
				return types.T{}, errAt(pgerror.New(pgerror.CodeSyntaxError, "type modifiers must be simple constants or identifiers"), tn.Location)
			}
			mods = append(mods, c.GetIval().GetIval())
		}
		mod, err := makeTypmod(t, mods)
		if err != nil {
			return types.T{}, withPos(err, tn.Location)
		}
		t.Mod = mod
	}
	if len(tn.ArrayBounds) > 0 {
		a := types.ArrayOf(t)
		if a.Oid == types.OidUnknown {
			return types.T{}, errAt(pgerror.New(pgerror.CodeUndefinedObject, "type \"%s[]\" does not exist", full), tn.Location)
		}
		a.Mod = t.Mod
		t = a
	}
	return t, nil
}

// typeByName looks up a single type name; the quoted name "char" is the
// one-byte type, not character(1) (which the grammar spells bpchar).
func typeByName(name string) (types.T, bool) {
	switch name {
	case "char":
		return types.Char, true
	case "any":
		return types.Any, true
	case "timestamptz":
		return types.TimestampTZ, true
	}
	return types.ByName(name)
}

// makeTypmod computes the typmod for t with the grammar's modifiers. The
// grammar passes interval modifiers as (field mask[, precision]), which is
// handled here; the rest is types.MakeTypmod.
func makeTypmod(t types.T, mods []int32) (int32, error) {
	if t.Oid == types.OidInterval {
		rng, prec := mods[0], int32(0xFFFF)
		if len(mods) == 2 {
			if mods[1] < 0 {
				return 0, pgerror.New(pgerror.CodeInvalidParameterValue, "INTERVAL(%d) precision must not be negative", mods[1])
			}
			prec = min(mods[1], 6)
		}
		if len(mods) > 2 {
			return 0, pgerror.New(pgerror.CodeInvalidParameterValue, "invalid INTERVAL type modifier")
		}
		return (rng&0x7FFF)<<16 | (prec & 0xFFFF), nil
	}
	r, err := types.MakeTypmod(t, mods)
	if err != nil {
		return 0, err
	}
	return r.Mod, nil
}
