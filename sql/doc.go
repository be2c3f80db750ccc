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
// # Pushdown (scan programs)
//
// After planning, every full or shard scan gets a scan program
// (pushdown.go, scanprog.go) holding what the ranges can do for it: the
// WHERE conjuncts that evaluate identically there, the columns to return,
// a per-range LIMIT, and partial aggregates (count, sum and avg over
// integers and numerics, min, max; avg travels as sum and count) that the
// gateway merges. Expressions travel as pg_query parse nodes and are built
// at the range by the same expr.Builder against the scan's columns, with the
// statement's parameter types; the gateway pushes an expression only if
// that build succeeds and is expr.Immutable. Each node compiles a program
// once (range/replica.ProgramCache); parameter values travel with each
// scan. EXPLAIN prints a "pushed:" line; SET shard.scan_pushdown = off reads
// whole rows as before (for comparison and debugging), and kv.Client's
// ScanStats counts what scans bring back. A transaction with buffered
// writes in a scan's span reads whole rows (the ranges cannot see them).
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
// (SHOW transaction_isolation says so). In a block, an UPDATE, DELETE or
// SELECT ... FOR UPDATE that finds its rows by key locks each row before
// reading it (kv/pessimistic.go): a second writer of the row waits for the
// first to finish, then reads its version and goes on, moving the
// block's snapshot forward, if nothing else the block read changed
// meanwhile; otherwise it fails with 40001. A commit that may or may not
// have been applied (its answer was lost with a node or a connection
// between nodes) fails with 08007, transaction_resolution_unknown, as a
// PostgreSQL client sees when its connection drops during COMMIT; it is
// never applied twice.
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
//     row conflict (40001) where PostgreSQL's READ COMMITTED waits, unless
//     the row is found by key in a transaction block (see above) and the
//     waiter's other reads are unchanged. Rows found by a scan are not
//     locked, and autocommit statements do not lock (they restart on a
//     conflict instead).
//   - TimeZone changes how timestamptz values print, but a timestamptz
//     literal without an offset is read as UTC. DateStyle is ISO, MDY only;
//     extra_float_digits below 1 is accepted and ignored.
//   - DDL commits on its own even inside a transaction block.
//   - Operators materialize their results at the gateway, and joins run
//     there (hash join on equalities). Filters, projections, LIMIT and
//     mergeable aggregates of a scan are pushed to the ranges (see
//     Pushdown), but a range still reads its whole span (the table's rows
//     are picked out by key; there is no skip-scan of blocks yet), and
//     sorting, DISTINCT, joins, HAVING, float sums and averages (their
//     rounding depends on the order of additions), string_agg, array_agg,
//     json_agg and aggregates with DISTINCT, FILTER or ORDER BY run at the
//     gateway over rows that come back whole or projected.
//   - When only some WHERE conjuncts can be pushed (the others have
//     subqueries, outer references, stable or volatile functions), the
//     gateway evaluates the whole WHERE again on the rows that pass, so the
//     pushed conjuncts are checked first: a non-pushed conjunct's error on
//     a row a pushed one rejects is not raised (PostgreSQL does not promise
//     an order of evaluation either). A pushed LIMIT stops the ranges early,
//     so an error on a row past the limit is not raised, as in PostgreSQL.
//   - FOREIGN KEY and CHECK constraints, views, CTEs, window functions,
//     LATERAL, set-returning functions other than generate_series in FROM,
//     and COPY TO are answered with 0A000.
package sql
