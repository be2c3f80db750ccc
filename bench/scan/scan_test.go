package scan

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
)

const (
	benchDB  = "scanbench"
	password = "scan-bench-password"
)

// queries are the scans compared: a filtered count (the filter keeps
// nothing after pgbench -i), a filtered LIMIT, and a GROUP BY.
var queries = []struct{ name, sql string }{
	{"count-filter", "SELECT count(*) FROM pgbench_accounts WHERE abalance <> 0"},
	{"filter-limit", "SELECT aid FROM pgbench_accounts WHERE bid = 3 LIMIT 10"},
	{"group-by", "SELECT bid, sum(abalance) FROM pgbench_accounts GROUP BY bid"},
}

// side is one database server under test.
type side struct {
	name string
	conn *pgx.Conn
	env  []string // PG* variables for pgbench and psql
}

func BenchmarkScanPushdown(b *testing.B) {
	scale := 1
	if v := os.Getenv("SHARD_BENCH_SCAN_SCALE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SHARD_BENCH_SCAN_SCALE=%q: want a positive number", v)
		}
		scale = n
	}
	ctx := context.Background()
	pg := pgtest.Start(b, pgtest.Options{Name: "scanbench", Programs: []string{"pgbench"}})
	bin := pg.BinDir()

	c := proctest.NewCluster(b)
	c.SetEnv("SHARD_ROOT_PASSWORD=" + password)
	var addrs []string
	for range 3 {
		n := c.AddNode()
		n.SetJoin(addrs...)
		n.Start()
		addrs = append(addrs, n.RPCAddr)
	}
	c.WaitReplicated(3, 2*time.Minute)

	pgHost, pgPort := pg.HostPort()
	// The gateway is node 2; the database's leaders are where the cluster
	// puts them.
	shHost, shPort, _ := net.SplitHostPort(c.Node(2).SQLAddr)
	sides := []*side{
		{name: "postgres", env: pgEnv(pgHost, pgPort, pg.User(), pg.Password(), "disable")},
		{name: "shard", env: pgEnv(shHost, shPort, "root", password, "require")},
	}
	dsn := map[string]string{
		"postgres": pg.DSN(benchDB),
		"shard":    fmt.Sprintf("postgres://root:%s@%s/%s?sslmode=require", password, c.Node(2).SQLAddr, benchDB),
	}
	for _, s := range sides {
		if err := run(bin, "psql", s.env, "-d", "postgres", "-c", "CREATE DATABASE "+benchDB); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		start := time.Now()
		if err := run(bin, "pgbench", s.env, "-d", benchDB, "-i", "-I", "dtpg", "-s", strconv.Itoa(scale)); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		b.Logf("%s: pgbench -i -s %d took %v", s.name, scale, time.Since(start).Round(time.Second))
		conn, err := pgx.Connect(ctx, dsn[s.name])
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		b.Cleanup(func() { _ = conn.Close(context.Background()) })
		s.conn = conn
	}
	shard := sides[1]
	plan, err := rows(ctx, shard.conn, "EXPLAIN "+queries[2].sql)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("shard: EXPLAIN %s\n%s", queries[2].sql, plan)

	for _, q := range queries {
		want, err := rows(ctx, sides[0].conn, q.sql)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"on", "off"} {
			if _, err := shard.conn.Exec(ctx, "SET shard.scan_pushdown = "+mode); err != nil {
				b.Fatal(err)
			}
			got, err := rows(ctx, shard.conn, q.sql)
			if err != nil {
				b.Fatal(err)
			}
			if q.name != "filter-limit" && got != want { // LIMIT without ORDER BY picks any rows
				b.Fatalf("%s with pushdown %s answers\n%s\nwhere PostgreSQL answers\n%s", q.sql, mode, got, want)
			}
		}
	}
	for _, q := range queries {
		b.Run(q.name+"/postgres", func(b *testing.B) { timeQuery(b, sides[0].conn, q.sql) })
		for _, mode := range []string{"on", "off"} {
			b.Run(q.name+"/shard-pushdown-"+mode, func(b *testing.B) {
				if _, err := shard.conn.Exec(ctx, "SET shard.scan_pushdown = "+mode); err != nil {
					b.Fatal(err)
				}
				timeQuery(b, shard.conn, q.sql)
			})
		}
	}
}

func timeQuery(b *testing.B, conn *pgx.Conn, sql string) {
	ctx := context.Background()
	for b.Loop() {
		r, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			b.Fatal(err)
		}
		for r.Next() {
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// rows returns a query's rows as text, sorted, one a line.
func rows(ctx context.Context, conn *pgx.Conn, sql string) (string, error) {
	r, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var lines []string
	for r.Next() {
		var vals []string
		for _, v := range r.RawValues() {
			vals = append(vals, string(v))
		}
		lines = append(lines, strings.Join(vals, " | "))
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	if !strings.HasPrefix(sql, "EXPLAIN") {
		slices.Sort(lines)
	}
	return strings.Join(lines, "\n"), nil
}

func pgEnv(host, port, user, pw, sslmode string) []string {
	return append(pgtest.Environ(), "PGHOST="+host, "PGPORT="+port, "PGUSER="+user, "PGPASSWORD="+pw, "PGSSLMODE="+sslmode, "LC_ALL=C")
}

// run runs one of PostgreSQL's programs.
func run(bin, prog string, env []string, args ...string) error {
	cmd := exec.Command(filepath.Join(bin, prog), args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out.String())
	}
	return nil
}
