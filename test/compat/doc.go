// Package compat is shard's PostgreSQL compatibility suite: it runs the
// same SQL, the same client programs and the same benchmark against a real
// PostgreSQL 15 and against a 3-node shard cluster, and fails wherever
// shard answers differently. It has no code of its own outside its tests.
//
// # What it proves
//
// TestCompat starts both sides once and runs, one subtest each:
//
//   - sql/NAME: testdata/NAME.sql through psql on both sides. psql echoes
//     every statement and prints results, command tags (INSERT 0 1,
//     UPDATE 2), notices and errors; errors and notices show only their
//     SQLSTATE (\set VERBOSITY sqlstate), because the wording of messages
//     may differ. PostgreSQL's output must equal the golden
//     testdata/NAME.out, which catches a script that prints something
//     nondeterministic; shard's must equal PostgreSQL's. One topic per
//     script: ddl, types, insert, update_delete, select, joins, functions,
//     transactions, session, errors.
//   - psql-meta/CMD: psql's \dt, \d TABLE and \di after the same DDL in a
//     fresh database must print exactly what PostgreSQL prints; \l, \du and
//     \dn must succeed and name the same database, role and schema (their
//     other columns describe PostgreSQL's storage: see meta_test.go).
//   - clients/NAME: a client program per driver (pgx and lib/pq in Go in
//     this package, node-postgres in clients/node, psycopg2 in
//     clients/python) connects with TLS (sslmode=require) and a password,
//     creates a table with a column of every supported type (int2, int4,
//     int8, float4, float8, numeric, bool, text, varchar, bytea, date,
//     timestamp, timestamptz, uuid, jsonb), inserts and selects every type
//     with parameters and NULLs (pgx in binary and in text), filters on
//     every type with a parameter, rolls back a transaction, and makes
//     errors (23505, 25P02, ...) after which the same connection goes on;
//     pgx also reuses a prepared statement and sends batches. Each prints
//     a transcript (values with their driver-side types, column type
//     OIDs, command tags, SQLSTATEs); shard's must equal PostgreSQL's.
//   - pgbench/SIDE: pgbench, unmodified: -i -I dtpg, the TPC-B-like
//     script with --max-tries=10 (retried serialization failures are fine,
//     failed transactions are not), -S, and -M prepared -S. Every run must
//     exit 0 and report 0 failed transactions; afterwards sum(abalance) =
//     sum(bbalance) = sum(tbalance) = sum(delta) and pgbench_history has a
//     row per committed transaction. TPS figures are logged (-v).
//     pgbench/describe compares psql's \dt and \d pgbench_accounts.
//
// Values that legitimately differ are not printed: the exact
// server_version (only its major version is), OIDs of tables, timings,
// EXPLAIN output, now() and gen_random_uuid() (only their type and shape).
//
// # Running it
//
//	go test ./test/compat                        # PostgreSQL vs a 3-node shard cluster
//	SHARD_COMPAT_TARGET=postgres go test ./test/compat   # PostgreSQL vs PostgreSQL: checks the harness and scripts
//	go test ./test/compat -run 'TestCompat/sql/types' -v  # one script; -v also logs transcripts and TPS
//
// With SHARD_COMPAT_TARGET=postgres the second PostgreSQL is still called
// shard in subtest names and diffs.
//
// The full-size pgbench run of the issue (scale 10, 8 clients, 30 s):
//
//	SHARD_COMPAT_PGBENCH_SCALE=10 SHARD_COMPAT_PGBENCH_CLIENTS=8 SHARD_COMPAT_PGBENCH_TIME=30 \
//		go test ./test/compat -run TestCompat/pgbench -v -timeout 30m
//
// PostgreSQL 15 (the Debian packages postgresql and postgresql-client),
// python3-psycopg2 for /usr/bin/python3, node and npm, and `npm ci` in
// clients/node are what .ci/run installs. Without PostgreSQL the test
// skips, unless CI=true; a missing node or psycopg2 skips that client
// likewise.
//
// Environment:
//
//	SHARD_COMPAT_TARGET           shard (default) or postgres: what the reference is compared with
//	SHARD_COMPAT_ADDR             host:port of a running shard node's SQL address: use it, start no cluster
//	SHARD_ROOT_PASSWORD           root's password on both sides (default compat-root-password);
//	                              the test passes it to the nodes it starts
//	SHARD_COMPAT_PG_BINDIR        PostgreSQL 15's bin directory (default: pg_config --bindir,
//	                              then /usr/lib/postgresql/15/bin)
//	SHARD_COMPAT_PGBENCH_SCALE    pgbench -i -s (default 1)
//	SHARD_COMPAT_PGBENCH_CLIENTS  pgbench -c of the TPC-B-like and -S runs (default 4)
//	SHARD_COMPAT_PGBENCH_TIME     pgbench -T in seconds (default 10; the -M prepared run takes half)
//	CI=true                       a missing prerequisite fails instead of skipping
//	PROCTEST_KEEP, PROCTEST_LOG_LINES   keep a failed run's directories, length of the logs printed
//
// # Moving parts
//
//   - internal/pgtest: the reference server (server_test.go's
//     startPostgres). initdb into a temporary directory (as the postgres
//     user when the test runs as root, since PostgreSQL refuses root) with
//     superuser root, SCRAM passwords, UTF8 and the C locale; a
//     self-signed certificate; postgres on a free loopback port with
//     TimeZone=UTC, DateStyle='ISO, MDY', lc_messages=C and durability
//     off. It is started through internal/spawn, so it dies with the test
//     binary, and stopped (fast shutdown) and removed by t.Cleanup.
//   - shard_test.go: the cluster, through proctest (node1 bootstraps with
//     SHARD_ROOT_PASSWORD in its environment, two nodes join), then a wait
//     until every node accepts root's login. Subtests spread over the
//     nodes (server.at).
//   - server_test.go: how a client reaches a side: URL, and the
//     environment of libpq programs (all PG* variables of the test's own
//     environment removed, since PGTZ or PGOPTIONS would change output).
//   - psql_test.go, scripts_test.go, meta_test.go: psql runs and the
//     comparisons; diff_test.go: the unified diff they print.
//   - transcript_test.go, client_pgx_test.go, client_pq_test.go,
//     clients_test.go, clients/: the client programs.
//   - pgbench_test.go: the benchmark runs and the balance check.
//
// # Adding a script
//
// Write testdata/NAME.sql: start with \set VERBOSITY sqlstate; use table
// names with a prefix of your own and drop them at the end; make every
// result deterministic (ORDER BY with a total order; RETURNING of an
// UPDATE or DELETE only for one row, since the order of several is not
// defined; no OIDs, timings or version strings). Then generate and review
// the golden output:
//
//	SHARD_COMPAT_TARGET=postgres go test ./test/compat -run 'TestCompat/sql/NAME' -rewrite
//
// A script can be run by hand as the test does:
//
//	PGPASSWORD=... psql -X -h HOST -p PORT -U root -d postgres -v ON_ERROR_STOP=0 --echo-all -f test/compat/testdata/NAME.sql
//
// # Debugging
//
// A failing subtest prints a unified diff (--- postgres, +++ shard). A
// client that stops early prints its transcript so far and its error. On
// failure the reference's server log and every node's logs are printed;
// PROCTEST_KEEP=1 keeps the directories. SHARD_COMPAT_ADDR points the suite
// at a node started by hand (say, under a debugger).
package compat
