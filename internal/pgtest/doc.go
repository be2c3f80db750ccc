// Package pgtest starts a real PostgreSQL 15 server for a test: the
// reference the compatibility suite compares shard with, and the database
// the Jepsen checkers are validated against.
//
// The model: [Start] makes a fresh cluster in a temporary directory
// (initdb: one superuser with a SCRAM password, UTF8, the C locale),
// starts postgres on a free loopback port and waits until the superuser
// can log in; the test reaches it through [Server.DSN]. [Server.Stop]
// (fast shutdown, SIGKILL after a grace period) runs from t.Cleanup, or
// earlier when called. Settings make output deterministic (TimeZone=UTC,
// DateStyle='ISO, MDY', lc_messages=C) and durability is off: it is a
// reference, not a store. [Launch] starts the same server for a program
// (the benchmark harness's peer, which turns durability back on through
// Options.Settings); the program calls Stop.
//
// PostgreSQL refuses to run as root: a test running as root runs initdb
// and postgres as the postgres user (which must exist, as the Debian
// packages make it) and gives it the directory.
//
// Finding the programs: [Find] looks in Options.BinDir, else in
// `pg_config --bindir`, then /usr/lib/postgresql/15/bin, for a postgres
// that says it is 15.x, with initdb and any other program the test names
// (psql, pgbench). [Start] and [Require] skip the test when PostgreSQL 15
// is not installed, unless CI=true, where they fail it: CI must not pass
// by skipping.
//
// Lifecycle and guarantees: the postmaster is started through
// internal/spawn, so on Linux it dies with the test binary (a panic, a
// -timeout) even when no cleanup runs. A package using pgtest calls
// spawn.Stop (proctest.Cleanup does) from TestMain after m.Run, before
// checking for leaked goroutines. The one goroutine a Server owns waits
// for the postmaster; Stop waits for it.
//
// Debugging: when the test has failed, Stop prints the end of the server
// log; PROCTEST_KEEP=1 keeps the directory (data/, postgres.log) and
// prints its path. [Server.LogTail] reads the log at any time.
package pgtest
