package sql_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardingsystem/shard/kv"
)

// TestPushdownFiltersAtTheRanges checks, with the kv client's counters of
// what scans bring back, that a pushed-down filter, limit and aggregate
// leave the non-matching rows at the ranges: the gateway receives only the
// matching rows (or one partial aggregate per range), while the ranges ran
// the program on every row. With shard.scan_pushdown off, every row of the
// table crosses the network, which is what the same query did before
// pushdown, so the assertions on the counters fail without it.
func TestPushdownFiltersAtTheRanges(t *testing.T) {
	c := startSQLCluster(t)
	addr := c.Server(1).SQLAddr()
	kvc := c.Server(1).KV()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := connect(t, addr, "postgres")
	if _, err := admin.Exec(ctx, "CREATE DATABASE push"); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, addr, "push")
	const rows = 2000
	for _, stmt := range []string{
		"CREATE TABLE acc (id int PRIMARY KEY, grp int, bal int, filler text)",
		"INSERT INTO acc SELECT i, i % 10, CASE WHEN i % 100 = 0 THEN i ELSE 0 END, repeat('x', 80) FROM generate_series(1, 2000) AS x(i)",
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// measure runs query and returns its single integer answer and what
	// the scans of the gateway's kv client brought back meanwhile.
	measure := func(query string) (int64, kv.ScanStats) {
		t.Helper()
		before := kvc.ScanStats()
		var n int64
		if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		after := kvc.ScanStats()
		return n, kv.ScanStats{Responses: after.Responses - before.Responses, Rows: after.Rows - before.Rows,
			Bytes: after.Bytes - before.Bytes, Examined: after.Examined - before.Examined}
	}
	queries := []struct {
		sql     string
		want    int64
		maxRows uint64 // rows the gateway may receive with pushdown
		all     bool   // whether the ranges examine every row
	}{
		{"SELECT count(*) FROM acc WHERE bal <> 0", 20, 0, true},                                   // partial aggregates only
		{"SELECT count(*) FROM (SELECT id FROM acc WHERE bal <> 0) x", 20, 20, true},               // filtered rows
		{"SELECT count(*) FROM (SELECT id FROM acc WHERE grp = 3 LIMIT 10) x", 10, 10 * 4, false},  // at most the limit per range
		{"SELECT sum(s) FROM (SELECT grp, sum(bal) AS s FROM acc GROUP BY grp) x", 21000, 0, true}, // partial groups
	}
	for _, q := range queries {
		n, st := measure(q.sql)
		if n != q.want {
			t.Fatalf("%s = %d, want %d", q.sql, n, q.want)
		}
		if st.Rows > q.maxRows {
			t.Errorf("%s: the gateway received %d rows, want at most %d: the ranges did not filter", q.sql, st.Rows, q.maxRows)
		}
		if q.all && st.Examined < rows {
			t.Errorf("%s: the ranges examined %d rows, want all %d", q.sql, st.Examined, rows)
		}
		if st.Bytes > 4096 {
			t.Errorf("%s: the ranges sent %d bytes, want little", q.sql, st.Bytes)
		}
	}

	// Without pushdown, the same queries move every row to the gateway.
	if _, err := conn.Exec(ctx, "SET shard.scan_pushdown = off"); err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		n, st := measure(q.sql)
		if n != q.want {
			t.Fatalf("without pushdown: %s = %d, want %d", q.sql, n, q.want)
		}
		if st.Rows < rows || st.Examined != 0 {
			t.Errorf("without pushdown: %s: the gateway received %d rows (the ranges examined %d), want all %d", q.sql, st.Rows, st.Examined, rows)
		}
	}
}
