// Package catalog holds the SQL schema: databases, tables with their
// columns and indexes, and roles, stored as records in the meta range and
// cached on every node.
//
// # Storage
//
// Every object is one JSON record under keys.CatalogKey: "d"+id for a
// database, "t"+id for a table, "r"+name for a role, and "v" for the
// header holding the schema version and the next object id. A schema change
// is one transaction (Change) that reads the header, rewrites the records
// it changes and writes the header back with version+1; concurrent changes
// therefore conflict on the header and are serialized, and ids handed out
// from the header are never reused.
//
// # Caching
//
// Each node keeps the last catalog it read (Cache). After a change made on
// this node the cache is reloaded before the statement returns; changes made
// elsewhere are noticed by polling the header's version (Cache.Run), so
// another node sees a new table within a poll interval.
//
// # Invariants
//
//   - Object ids are unique for the life of the cluster.
//   - A table's column and index ids are never reused, so stored rows and
//     index entries of a dropped column or index are never misread.
//   - A Catalog value handed out by the cache is immutable: changes build a
//     new one (Clone).
//
// Weakness, written down: there is no schema lease. A node whose cache is a
// poll interval behind can write rows without maintaining an index created
// elsewhere in that interval. CockroachDB solves this with descriptor
// leases and two-version invariants; that is future work.
package catalog
