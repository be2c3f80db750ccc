package catalog

import (
	"maps"
	"sort"
	"strings"

	"github.com/shardingsystem/shard/sql/types"
)

// OID bases: pg_catalog views number objects from these, so that table,
// index and database oids never collide with each other or with type oids.
const (
	DatabaseOIDBase = 16384
	TableOIDBase    = 100000
	IndexOIDBase    = 1000000
	// NamespaceOID is the oid of the one schema, public.
	NamespaceOID = 2200
	// CatalogNamespaceOID is pg_catalog's oid.
	CatalogNamespaceOID = 11
)

// Database is a database: a tenant owning the key span of its id.
type Database struct {
	ID   uint32 `json:"id"`
	Name string `json:"name"`
	// ShardKey is the column name that places rows of every table that has
	// it; empty: each table is sharded by its first primary-key column.
	ShardKey string `json:"shard_key,omitempty"`
	Owner    string `json:"owner"`
	// Template, Account and Created are set for databases made through the
	// platform API: the template that sets its shards and quotas, the
	// account (API token owner) it belongs to, and when (Unix seconds).
	Template string `json:"template,omitempty"`
	Account  string `json:"account,omitempty"`
	Created  int64  `json:"created,omitempty"`
}

// OID is the database's pg_database oid.
func (d *Database) OID() int64 { return DatabaseOIDBase + int64(d.ID) }

// Column is a table column.
type Column struct {
	ID      uint32  `json:"id"`
	Name    string  `json:"name"`
	Type    types.T `json:"type"`
	NotNull bool    `json:"not_null,omitempty"`
	// Default is the default expression as SQL text ("" = NULL).
	Default string `json:"default,omitempty"`
	// Hidden columns (the row id of a table without a primary key) are
	// not part of SELECT * and cannot be named by INSERT.
	Hidden bool `json:"hidden,omitempty"`
	// Identity is "a" (ALWAYS), "d" (BY DEFAULT) or "".
	Identity string `json:"identity,omitempty"`
	// Sequence names the counter behind serial and identity columns.
	Sequence string `json:"sequence,omitempty"`
}

// Index is an index of a table; the primary index holds the rows.
type Index struct {
	ID      uint32   `json:"id"`
	Name    string   `json:"name"`
	Columns []uint32 `json:"columns"`
	Desc    []bool   `json:"desc,omitempty"`
	Unique  bool     `json:"unique,omitempty"`
	Primary bool     `json:"primary,omitempty"`
	// Global indexes are placed by the hash of their own first column;
	// local ones live in the row's shard block (their first column is the
	// table's shard column).
	Global bool `json:"global,omitempty"`
	// Constraint is set when the index backs a PRIMARY KEY or UNIQUE
	// constraint (as opposed to CREATE INDEX).
	Constraint bool `json:"constraint,omitempty"`
	// Implicit marks the automatic global unique index on a primary key
	// that lacks the shard column; it is not shown in pg_catalog.
	Implicit bool `json:"implicit,omitempty"`
}

// Table is a table.
type Table struct {
	ID      uint32    `json:"id"`
	DB      uint32    `json:"db"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Columns []*Column `json:"columns"`
	Indexes []*Index  `json:"indexes"`
	// Primary is the id of the primary index (its columns are the primary
	// key, possibly the hidden row id).
	Primary uint32 `json:"primary"`
	// ShardColumn is the id of the column whose hash places the rows.
	ShardColumn  uint32 `json:"shard_column"`
	NextColumnID uint32 `json:"next_column_id"`
	NextIndexID  uint32 `json:"next_index_id"`
}

// OID is the table's pg_class oid.
func (t *Table) OID() int64 { return TableOIDBase + int64(t.ID) }

// IndexOID is the pg_class oid of one of its indexes.
func (t *Table) IndexOID(ix *Index) int64 {
	return IndexOIDBase + int64(t.ID)*1000 + int64(ix.ID)
}

// Column returns the column named name (case-sensitive, already folded).
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ColumnByID returns the column with id, or nil.
func (t *Table) ColumnByID(id uint32) *Column {
	for _, c := range t.Columns {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// ColumnIndex returns the position of column id in Columns, or -1.
func (t *Table) ColumnIndex(id uint32) int {
	for i, c := range t.Columns {
		if c.ID == id {
			return i
		}
	}
	return -1
}

// PrimaryIndex returns the primary index.
func (t *Table) PrimaryIndex() *Index { return t.IndexByID(t.Primary) }

// IndexByID returns the index with id, or nil.
func (t *Table) IndexByID(id uint32) *Index {
	for _, ix := range t.Indexes {
		if ix.ID == id {
			return ix
		}
	}
	return nil
}

// VisibleColumns returns the columns SELECT * shows, in order.
func (t *Table) VisibleColumns() []*Column {
	out := make([]*Column, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// Role is a login role.
type Role struct {
	Name string `json:"name"`
	// Verifier is the SCRAM-SHA-256 verifier (pg_authid.rolpassword).
	Verifier  string `json:"verifier,omitempty"`
	Superuser bool   `json:"superuser,omitempty"`
	Login     bool   `json:"login,omitempty"`
	CreateDB  bool   `json:"createdb,omitempty"`
	ID        uint32 `json:"id"`
	// Database, when set, is the only database the role may connect to:
	// the owner role the platform API makes with a database.
	Database string `json:"database,omitempty"`
}

// OID is the role's pg_authid oid.
func (r *Role) OID() int64 { return 10 + int64(r.ID) }

// Catalog is one immutable version of the schema.
type Catalog struct {
	Version uint64
	NextID  uint32
	dbs     map[string]*Database
	tables  map[uint32]*Table
	roles   map[string]*Role
	// dropped are the ids of dropped databases.
	dropped map[uint32]bool
}

func newCatalog() *Catalog {
	return &Catalog{dbs: map[string]*Database{}, tables: map[uint32]*Table{}, roles: map[string]*Role{}, dropped: map[uint32]bool{}}
}

// Dropped reports whether id is the id of a dropped database.
func (c *Catalog) Dropped(id uint32) bool { return c.dropped[id] }

// DroppedDatabases returns the ids of the dropped databases.
func (c *Catalog) DroppedDatabases() map[uint32]bool { return maps.Clone(c.dropped) }

// Database returns the database named name, or nil.
func (c *Catalog) Database(name string) *Database { return c.dbs[name] }

// DatabaseByID returns the database with id, or nil.
func (c *Catalog) DatabaseByID(id uint32) *Database {
	for _, d := range c.dbs {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// Databases returns every database, by name.
func (c *Catalog) Databases() []*Database {
	out := make([]*Database, 0, len(c.dbs))
	for _, d := range c.dbs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Table returns the table name of database db, or nil.
func (c *Catalog) Table(db uint32, name string) *Table {
	for _, t := range c.tables {
		if t.DB == db && t.Name == name {
			return t
		}
	}
	return nil
}

// TableByID returns the table with id, or nil.
func (c *Catalog) TableByID(id uint32) *Table { return c.tables[id] }

// Tables returns the tables of database db, by name.
func (c *Catalog) Tables(db uint32) []*Table {
	var out []*Table
	for _, t := range c.tables {
		if t.DB == db {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Role returns the role named name, or nil.
func (c *Catalog) Role(name string) *Role { return c.roles[name] }

// Roles returns every role, by name.
func (c *Catalog) Roles() []*Role {
	out := make([]*Role, 0, len(c.roles))
	for _, r := range c.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RoleByOID returns the role with oid, or nil.
func (c *Catalog) RoleByOID(oid int64) *Role {
	for _, r := range c.roles {
		if r.OID() == oid {
			return r
		}
	}
	return nil
}

// TableByOID returns the table whose pg_class oid is oid, or nil.
func (c *Catalog) TableByOID(oid int64) *Table {
	if oid <= TableOIDBase || oid >= IndexOIDBase {
		return nil
	}
	return c.tables[uint32(oid-TableOIDBase)]
}

// IndexByOID returns the index whose pg_class oid is oid and its table.
func (c *Catalog) IndexByOID(oid int64) (*Table, *Index) {
	if oid <= IndexOIDBase {
		return nil, nil
	}
	t := c.tables[uint32((oid-IndexOIDBase)/1000)]
	if t == nil {
		return nil, nil
	}
	return t, t.IndexByID(uint32((oid - IndexOIDBase) % 1000))
}

// FoldName lower-cases an unquoted identifier as PostgreSQL does.
func FoldName(s string) string { return strings.ToLower(s) }

// New builds a catalog from objects (tests and tools; the cluster's
// catalog comes from Load).
func New(version uint64, dbs []*Database, tables []*Table, roles []*Role) *Catalog {
	c := newCatalog()
	c.Version = version
	for _, d := range dbs {
		c.dbs[d.Name] = d
	}
	for _, t := range tables {
		c.tables[t.ID] = t
	}
	for _, r := range roles {
		c.roles[r.Name] = r
	}
	return c
}
