package workload

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/pgtest"
)

// TestPostgres runs every workload for two seconds at concurrency 2
// against PostgreSQL 15, each in its own database, and checks that it
// made operations without errors (retries are fine), and what it left in
// the tables: tpcb's balances must add up, retries included. It skips when PostgreSQL 15 is not installed.
func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{Name: "workload"})
	ctx := context.Background()
	for _, db := range []string{"kv", "sel", "tpcb"} {
		exec(t, srv.DSN(""), "CREATE DATABASE "+db)
	}
	// Snapshot isolation, as shard runs every transaction: tpcb's
	// concurrent updates of its one branch fail with 40001 and are retried.
	exec(t, srv.DSN(""), "ALTER DATABASE tpcb SET default_transaction_isolation = 'repeatable read'")
	opts := Options{Concurrency: 2, Duration: 2 * time.Second, Seed: 1}

	t.Run("kv", func(t *testing.T) {
		t.Parallel()
		dsn := srv.DSN("kv")
		wl, err := NewKV(KVOptions{DSN: dsn, ReadPercent: 50, Keys: 1000, ValueSize: 16,
			Distribution: Zipfian, Batch: 4, Preload: true})
		if err != nil {
			t.Fatal(err)
		}
		empty, err := NewKV(KVOptions{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		runPG(t, ctx, opts, wl, "read", "write")
		if n := count(t, dsn, "SELECT count(*) FROM kv"); n != 1000 {
			t.Errorf("%d rows after preloading 1000 keys", n)
		}
		if n := count(t, dsn, "SELECT count(*) FROM kv WHERE length(v) <> 16"); n != 0 {
			t.Errorf("%d values are not 16 bytes", n)
		}
		// A second Setup starts over.
		if err := empty.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(t, dsn, "SELECT count(*) FROM kv"); n != 0 {
			t.Errorf("%d rows after a second Setup without preloading", n)
		}
	})
	t.Run("select", func(t *testing.T) {
		t.Parallel()
		dsn := srv.DSN("sel")
		wl, err := NewSelect(PgbenchOptions{DSN: dsn, Scale: 2, Accounts: 1000})
		if err != nil {
			t.Fatal(err)
		}
		runPG(t, ctx, opts, wl, "select")
		if n := count(t, dsn, "SELECT count(*) FROM pgbench_accounts WHERE bid = 2 AND length(filler) = 0"); n != 1000 {
			t.Errorf("branch 2 has %d accounts, want 1000", n)
		}
	})
	t.Run("tpcb", func(t *testing.T) {
		t.Parallel()
		dsn := srv.DSN("tpcb")
		wl, err := NewTPCB(PgbenchOptions{DSN: dsn, Scale: 1, Accounts: 1000})
		if err != nil {
			t.Fatal(err)
		}
		res := runPG(t, ctx, opts, wl, "tpcb")
		if res.Total.Retries == 0 {
			t.Errorf("no retries of %d transactions on one branch under repeatable read", res.Total.Count)
		}
		// Every committed transaction moved its delta everywhere once. A
		// transaction cut off by the end of the run may have committed
		// without being counted: at most one per worker.
		history := count(t, dsn, "SELECT count(*) FROM pgbench_history")
		if history < res.Total.Count || history > res.Total.Count+int64(opts.Concurrency) {
			t.Errorf("%d history rows, %d transactions", history, res.Total.Count)
		}
		sum := count(t, dsn, "SELECT coalesce(sum(delta), 0) FROM pgbench_history")
		for _, table := range []string{"pgbench_accounts a", "pgbench_tellers t", "pgbench_branches b"} {
			col := map[byte]string{'a': "abalance", 't': "tbalance", 'b': "bbalance"}[table[len(table)-1]]
			if got := count(t, dsn, "SELECT sum("+col+") FROM "+table); got != sum {
				t.Errorf("sum of %s = %d, history's deltas %d", col, got, sum)
			}
		}
	})
}

// runPG runs wl with opts and checks the result: only the operations ops,
// each made, none failed; the progress lines and the JSON file.
func runPG(t *testing.T, ctx context.Context, opts Options, wl Workload, ops ...string) *Result {
	t.Helper()
	var progress, out bytes.Buffer
	opts.Progress, opts.Out = &progress, &out
	res, err := Run(ctx, opts, wl)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s%s", wl.Name(), progress.String(), out.String())
	if len(res.Ops) != len(ops) {
		t.Fatalf("operations %+v, want %v", res.Ops, ops)
	}
	for i, op := range res.Ops {
		if op.Name != ops[i] || op.Count == 0 || op.Errors != 0 {
			t.Errorf("%+v", op)
		}
	}
	path := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Total.Count != res.Total.Count || back.Workload != wl.Name() {
		t.Errorf("JSON: %+v", back)
	}
	return res
}

func exec(t *testing.T, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(conn)
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, dsn, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn(conn)
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
