// Package rowenc maps SQL rows and index entries to KV pairs, following
// DESIGN.md, "Keys":
//
//	't' db:4 | hash:8 | table:4 | index:4 | key columns... [| primary key columns]
//
// db is the database id, so a database owns the span DatabaseSpan(db)
// exactly. hash is the 64-bit xxhash of the shard value's key encoding:
// the row's shard column for rows and local index entries, the index's
// first column for global index entries. All rows sharing a shard value,
// in every table of the database, are therefore adjacent, and a statement
// that fixes the shard value touches one hash block. Key columns use the
// order-preserving encoding of sql/types.
//
// Row values hold the non-key columns as (column id, length, value)
// triples after a format byte; NULLs are omitted, and ids not in the table
// (dropped columns) are skipped, so adding or dropping a column rewrites
// nothing. Unique index entries hold the row's full primary key (the KV key
// of the row, for global indexes) as their value; non-unique entries append
// the primary key columns to the key and hold a marker.
package rowenc
