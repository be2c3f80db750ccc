package compat

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// metaDB is the database the meta-command test creates on both sides, so
// that \dt and \di list only its own tables.
const metaDB = "compat_meta"

// metaSetup is the DDL whose description is compared: pgbench's accounts
// table and one with a column of most types, a serial key, a UNIQUE
// constraint and secondary indexes.
const metaSetup = `
CREATE TABLE meta_accounts (aid int NOT NULL PRIMARY KEY, bid int, abalance int, filler char(84)) WITH (fillfactor = 100);
CREATE TABLE meta_notes (
    id bigserial PRIMARY KEY,
    author text NOT NULL,
    tag varchar(16) UNIQUE,
    score numeric(6, 2) DEFAULT 0,
    ok bool NOT NULL DEFAULT true,
    created timestamptz,
    day date,
    body jsonb,
    ref uuid,
    raw bytea);
CREATE INDEX meta_accounts_bid ON meta_accounts (bid);
CREATE UNIQUE INDEX meta_notes_author_day ON meta_notes (author, day);
`

// metaCommand is one psql meta-command and how its output is compared.
type metaCommand struct {
	cmd string
	// exact: the target must print exactly what PostgreSQL prints.
	// Otherwise only: psql exits 0, prints no ERROR, and every string of
	// want appears in both outputs.
	exact bool
	want  []string
}

// metaCommands are compared exactly where the output describes only what
// the DDL made (\dt, \d, \di); \l, \du and \dn also show how PostgreSQL
// stores things (collations, locale provider, access privileges, role
// attributes such as Replication and Bypass RLS, the owner of public),
// which shard need not copy, so for them the names must be there.
var metaCommands = []metaCommand{
	{cmd: `\dt`, exact: true},
	{cmd: `\d meta_accounts`, exact: true},
	{cmd: `\d meta_notes`, exact: true},
	{cmd: `\di`, exact: true},
	{cmd: `\l`, want: []string{"List of databases", "Name", "Owner", "Encoding", metaDB, defaultDB, rootUser, "UTF8"}},
	{cmd: `\du`, want: []string{"List of roles", "Role name", rootUser, "Superuser"}},
	{cmd: `\dn`, want: []string{"List of schemas", "Name", "public"}},
}

// testMeta runs psql's describe commands on both sides after the same DDL
// in a fresh database, one subtest per command.
func (s *suite) testMeta(t *testing.T) {
	tgt := s.tgt.at(1)
	for _, srv := range []server{s.ref, tgt} {
		createDatabase(t, srv, metaDB)
		if out, err := s.psql(srv, metaDB, "-c", metaSetup); err != nil || strings.Contains(out, "ERROR") {
			t.Fatalf("%s: set-up DDL failed (%v):\n%s", srv.side, err, out)
		}
	}
	for _, mc := range metaCommands {
		t.Run(strings.TrimPrefix(mc.cmd, `\`), func(t *testing.T) {
			ref, err := s.psql(s.ref, metaDB, "-c", mc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.psql(tgt, metaDB, "-c", mc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if mc.exact {
				if d := unifiedDiff(sideReference, sideTarget, ref, got); d != "" {
					t.Errorf("%s differs from PostgreSQL's:\n%s", mc.cmd, d)
				}
				return
			}
			if strings.Contains(got, "ERROR") || strings.Contains(got, "psql exited") {
				t.Errorf("%s failed on %s:\n%s", mc.cmd, sideTarget, got)
			}
			for _, w := range mc.want {
				if !strings.Contains(ref, w) {
					t.Errorf("%s: PostgreSQL's output lacks %q (the test's expectation is wrong):\n%s", mc.cmd, w, ref)
				}
				if !strings.Contains(got, w) {
					t.Errorf("%s: %s's output lacks %q:\n%s\nPostgreSQL's:\n%s", mc.cmd, sideTarget, w, got, ref)
				}
			}
			if testing.Verbose() {
				t.Logf("PostgreSQL:\n%s\n%s:\n%s", ref, sideTarget, got)
			}
		})
	}
}

// createDatabase makes an empty database on srv (dropping one left over
// by an interrupted run) and drops it when t ends.
func createDatabase(t *testing.T, srv server, name string) {
	t.Helper()
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, srv.url(defaultDB))
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("DROP DATABASE IF EXISTS " + name); err != nil {
		t.Fatalf("%s: drop database %s: %v", srv.side, name, err)
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("%s: create database %s: %v", srv.side, name, err)
	}
	t.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Logf("%s: drop database %s: %v", srv.side, name, err)
		}
	})
}
