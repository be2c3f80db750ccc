// Package sql is shard's SQL layer: it implements wire.Backend, so every
// node is a PostgreSQL gateway to the whole cluster.
//
// # Model
//
// A Server (one per node) hands out Sessions, one per connection. A
// Session holds the connection's settings, its transaction block and its
// prepared statements. Statements are parsed with pg_query (the real
// PostgreSQL grammar), planned against the node's cached catalog
// (package catalog), and run inside a kv.Txn:
//
//	parse (pg_query) → plan (planner: rel tree + typed expr.Exprs) → run (execCtx, kv.Txn) → encode (types codecs)
//
// Data layout is package rowenc's: rows placed by the hash of their shard
// value. The planner picks, per table, a point lookup (every primary-key
// column fixed: one KV read in one range), a shard scan (the shard column
// fixed: one hash block in one range), a global index lookup, or a full
// scan of the database's ranges. EXPLAIN prints which one and the ranges
// and nodes it touches.
//
// # Transactions
//
// Outside a block each statement is its own transaction, restarted on a
// write conflict (so autocommit statements rarely fail with 40001). Inside
// BEGIN ... COMMIT, statements share one kv.Txn; an error rolls the
// statement's writes back (a kv savepoint) and puts the block in the
// failed state (25P02) until ROLLBACK, or ROLLBACK TO SAVEPOINT. A write
// conflict found at COMMIT is 40001. Every isolation level runs as
// snapshot isolation, which is what PostgreSQL calls REPEATABLE READ
// (SHOW transaction_isolation says so).
//
// # Schema changes
//
// DDL runs as its own catalog transaction (catalog.Cache.Change), even
// inside a transaction block: it is not rolled back with the block. Data
// changes a DDL statement needs (index backfill, DROP TABLE's deletion)
// commit with it. TRUNCATE is an ordinary transactional deletion.
//
// # Differences from PostgreSQL, known and deliberate for now
//
//   - A multi-statement simple Query runs in one implicit transaction, as in
//     PostgreSQL, but an extended-protocol pipeline (several Executes before
//     one Sync, e.g. a pgx batch) does not: each statement commits on its
//     own, so that an autocommit statement can be restarted transparently
//     on a write conflict. (CockroachDB gets both by buffering results until
//     Sync; the wire layer does not buffer yet.)
//   - Snapshot isolation for every level: two transactions updating the same
//     row conflict (40001) where PostgreSQL's READ COMMITTED waits.
//   - TimeZone changes how timestamptz values print, but a timestamptz
//     literal without an offset is read as UTC. DateStyle is ISO, MDY only;
//     extra_float_digits below 1 is accepted and ignored.
//   - DDL commits on its own even inside a transaction block.
//   - Operators materialize their results at the gateway; nothing is pushed
//     down into the ranges yet, so a full scan reads the whole database
//     span, and joins run at the gateway (hash join on equalities).
//   - FOREIGN KEY and CHECK constraints, views, CTEs, window functions,
//     LATERAL, set-returning functions other than generate_series in FROM,
//     and COPY TO are answered with 0A000.
package sql
