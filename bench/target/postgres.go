package target

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/pgtest"
)

// Postgres is a PostgreSQL 15 for a benchmark, durable as in production.
type Postgres struct {
	srv *pgtest.Server
}

// postgresSettings put back what internal/pgtest turns off for tests'
// speed (fsync, synchronous_commit, full_page_writes), and give the
// server a production-sized buffer cache.
var postgresSettings = map[string]string{
	"fsync":              "on",
	"synchronous_commit": "on",
	"full_page_writes":   "on",
	"shared_buffers":     "1GB",
}

// StartPostgres starts a PostgreSQL 15 from the machine's packages and
// creates database "bench".
func StartPostgres(ctx context.Context, logf func(format string, args ...any)) (*Postgres, error) {
	srv, err := pgtest.Launch(pgtest.Options{Name: "bench-postgres", Settings: postgresSettings, MaxConnections: 300}, logf)
	if err != nil {
		return nil, fmt.Errorf("target: start postgres: %w", err)
	}
	p := &Postgres{srv: srv}
	conn, err := pgx.Connect(ctx, srv.DSN("postgres"))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("target: connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE bench"); err != nil {
		p.Close()
		return nil, fmt.Errorf("target: create database bench: %w", err)
	}
	return p, nil
}

// Name is "postgres".
func (p *Postgres) Name() string { return "postgres" }

// DSN is the connection string of database bench.
func (p *Postgres) DSN() string { return p.srv.DSN("bench") }

// Counters reads WAL syncs (pg_stat_wal) and committed transactions of
// every database (pg_stat_database).
func (p *Postgres) Counters(ctx context.Context) (Counters, error) {
	c := Counters{At: time.Now()}
	conn, err := pgx.Connect(ctx, p.srv.DSN("postgres"))
	if err != nil {
		return c, fmt.Errorf("target: postgres counters: %w", err)
	}
	defer conn.Close(context.Background())
	// Backends publish their statistics at most once a second: the
	// counters lag by up to that much, which a run of many seconds
	// absorbs.
	err = conn.QueryRow(ctx, `SELECT (SELECT wal_sync FROM pg_stat_wal)::float8,
		(SELECT sum(xact_commit) FROM pg_stat_database)::float8`).Scan(&c.Fsyncs, &c.Commits)
	if err != nil {
		return c, fmt.Errorf("target: postgres counters: %w", err)
	}
	return c, nil
}

// Close stops the server and removes its data.
func (p *Postgres) Close() error {
	p.srv.Stop()
	return nil
}
