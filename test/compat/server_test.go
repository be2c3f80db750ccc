package compat

import (
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/shardingsystem/shard/internal/pgtest"
)

// Names of the two sides in logs, diffs and file names.
const (
	sideReference = "postgres" // the reference PostgreSQL 15
	sideTarget    = "shard"    // the system under test (or a second PostgreSQL)
)

// Both sides have the same superuser, password and database, so that
// everything a client prints can be identical.
const (
	rootUser  = "root"
	defaultDB = "postgres"
)

// server is how a client reaches one side: one or more SQL addresses (a
// shard cluster has one per node; a client uses one of them), and root's
// password.
type server struct {
	side     string   // sideReference or sideTarget
	addrs    []string // host:port, at least one
	password string
}

// startPostgres starts a reference PostgreSQL 15 (internal/pgtest) from
// bin as side: superuser root with password, TLS, 60 connections. Its
// t.Cleanup stops it.
func startPostgres(t testing.TB, side, bin, password string) server {
	t.Helper()
	pg := pgtest.Start(t, pgtest.Options{Name: side, BinDir: bin, User: rootUser, Password: password,
		TLS: true, MaxConnections: 60})
	return server{side: side, addrs: []string{pg.Addr()}, password: password}
}

// at returns s reduced to its i-th address (modulo their number), so that
// successive subtests spread over a cluster's nodes.
func (s server) at(i int) server {
	s.addrs = []string{s.addrs[i%len(s.addrs)]}
	return s
}

// hostPort splits s's first address.
func (s server) hostPort() (host, port string) {
	host, port, err := net.SplitHostPort(s.addrs[0])
	if err != nil {
		panic(fmt.Sprintf("compat: bad address %q: %v", s.addrs[0], err))
	}
	return host, port
}

// url is a libpq connection URL for database db on s's first address:
// password authentication over TLS (sslmode=require: encrypted, not
// verified; both sides use self-signed certificates).
func (s server) url(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(rootUser, s.password),
		Host:     s.addrs[0],
		Path:     "/" + db,
		RawQuery: "sslmode=require&connect_timeout=10",
	}
	return u.String()
}

// env is the environment of a libpq program (psql, pgbench, psycopg2)
// connecting to database db on s's first address: the test binary's
// environment without any PG* variable (PGTZ, PGOPTIONS, PGSERVICE, ...
// would change what is printed), plus the connection settings and a UTF-8
// locale.
func (s server) env(db string) []string {
	host, port := s.hostPort()
	return append(pgtest.Environ(),
		"PGHOST="+host,
		"PGPORT="+port,
		"PGUSER="+rootUser,
		"PGPASSWORD="+s.password,
		"PGDATABASE="+db,
		"PGSSLMODE=require",
		"PGCONNECT_TIMEOUT=10",
		"PGCLIENTENCODING=UTF8",
		"LC_ALL=C.UTF-8",
		"LANG=C.UTF-8",
	)
}
