package sql

import (
	"github.com/shardingsystem/shard/sql/types"
)

// virtualColumn is a column of a catalog view.
type virtualColumn struct {
	name string
	typ  types.T
}

// virtualTable is a pg_catalog or information_schema view computed from
// the catalog.
type virtualTable struct {
	schema  string // "pg_catalog" or "information_schema"
	name    string
	oid     int64
	columns []virtualColumn
	gen     func(e *execCtx) ([]row, error)
}

// virtualTables holds every view, registered by init functions.
var virtualTables = map[string]*virtualTable{}

func registerVirtual(vt *virtualTable) { virtualTables[vt.schema+"."+vt.name] = vt }

// lookupVirtual finds a view; an empty schema searches pg_catalog (which
// is always first on the search path).
func lookupVirtual(schema, name string) *virtualTable {
	if schema == "" {
		schema = "pg_catalog"
	}
	return virtualTables[schema+"."+name]
}

func virtualOID(name string) (int64, bool) {
	if vt := lookupVirtual("", name); vt != nil {
		return vt.oid, true
	}
	return 0, false
}

func virtualName(oid int64) (string, bool) {
	for _, vt := range virtualTables {
		if vt.oid == oid && oid != 0 {
			return vt.name, true
		}
	}
	return "", false
}
