package sql

import (
	"sort"
	"strings"

	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/sql/types"
)

// What the views show of a table: its shown indexes, attnums, sequences
// and defaults.

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

// serialSequence is pg_get_serial_sequence for column col of t: the
// qualified name of its sequence, or "" when it has none.
func serialSequence(t *catalog.Table, col string) string {
	for _, s := range sequences(t) {
		if s.col.Name == col {
			return "public." + quoteIdent(s.name)
		}
	}
	return ""
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
