package workload

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/pgtest"
)

// TestPostgres runs every workload for two seconds (ycsb's six for 1.5)
// at concurrency 2 against PostgreSQL 15, each in its own database, and
// checks that it made operations without errors (retries are fine), and
// what it left in the tables: tpcb's balances must add up, retries
// included, and ycsb's rows be there. It skips when PostgreSQL 15 is not
// installed.
func TestPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.Options{Name: "workload"})
	ctx := context.Background()
	dbs := []string{"kv", "sel", "tpcb"}
	for _, letter := range ycsbLetters {
		dbs = append(dbs, "ycsb_"+letter)
	}
	for _, db := range dbs {
		exec(t, srv.DSN(""), "CREATE DATABASE "+db)
		if db == "tpcb" || strings.HasPrefix(db, "ycsb") {
			// Snapshot isolation, as shard runs every transaction: tpcb's
			// concurrent updates of its one branch fail with 40001 and are
			// retried, and so may ycsb's updates of its hottest keys.
			exec(t, srv.DSN(""), "ALTER DATABASE "+db+" SET default_transaction_isolation = 'repeatable read'")
		}
	}
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
		// The workload's own check agrees, and catches a delta applied
		// to one table only.
		if err := wl.Check(ctx); err != nil {
			t.Errorf("check after the run: %v", err)
		}
		count(t, dsn, "WITH u AS (UPDATE pgbench_tellers SET tbalance = tbalance + 7 WHERE tid = 1 RETURNING 1) SELECT count(*) FROM u")
		if err := wl.Check(ctx); err == nil || !strings.Contains(err.Error(), "the tellers to") {
			t.Errorf("check after a teller's balance alone changed: %v", err)
		}
	})
	for _, letter := range ycsbLetters {
		t.Run("ycsb "+letter, func(t *testing.T) {
			t.Parallel()
			o := opts
			o.Duration = 1500 * time.Millisecond // six of them
			testYCSB(t, ctx, srv.DSN("ycsb_"+letter), letter, o)
		})
	}
}

// ycsbLetters are ycsb's workloads, one database each.
var ycsbLetters = []string{"a", "b", "c", "d", "e", "f"}

// testYCSB runs ycsb workload letter on 1000 rows and checks the table:
// every field of every row 100 bytes, the loaded rows and one per insert
// (an insert cut off by the end of the run may have committed: at most
// one per worker). D runs again without Setup, as a new workload: its
// inserts go on after the first run's.
func testYCSB(t *testing.T, ctx context.Context, dsn, letter string, opts Options) {
	const records = 1000
	wl, err := NewYCSB(YCSBOptions{DSN: dsn, Workload: letter, RecordCount: records})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string][]string{
		"a": {"read", "update"}, "b": {"read", "update"}, "c": {"read"},
		"d": {"insert", "read"}, "e": {"insert", "scan"}, "f": {"read", "rmw"},
	}[letter]
	runs := 1
	if letter == "d" {
		runs = 2
	}
	rows := int64(records)
	for run := range runs {
		if run > 0 {
			opts.SkipSetup, opts.Duration = true, time.Second/2
			if wl, err = NewYCSB(YCSBOptions{DSN: dsn, Workload: letter, RecordCount: records}); err != nil {
				t.Fatal(err)
			}
		}
		res := runPG(t, ctx, opts, wl, ops...)
		if ops[0] == "insert" {
			rows += res.Ops[0].Count
		}
		n := count(t, dsn, "SELECT count(*) FROM usertable")
		if n < rows || n > rows+int64(opts.Concurrency) {
			t.Errorf("run %d: %d rows, want %d and at most %d cut off inserts", run, n, rows, opts.Concurrency)
		}
		rows = n
	}
	var short []string
	for i := range 10 {
		short = append(short, fmt.Sprintf("length(field%d) <> 100", i))
	}
	if n := count(t, dsn, "SELECT count(*) FROM usertable WHERE "+strings.Join(short, " OR ")); n != 0 {
		t.Errorf("%d rows with a field not 100 bytes", n)
	}
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
