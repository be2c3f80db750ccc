package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/api"
	"github.com/shardingsystem/shard/client"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/server"
)

// BenchmarkCreateDatabaseToFirstQuery measures what a user waits for: from
// POST /v1/databases to the first successful query on the returned
// connection string (connect, CREATE TABLE, INSERT, SELECT), on a 3-node
// in-process cluster with the production raft timing. It reports the POST
// alone as post-ms and the whole as first-query-ms.
//
//	go test ./server -run '^$' -bench CreateDatabaseToFirstQuery -benchtime 10x
func BenchmarkCreateDatabaseToFirstQuery(b *testing.B) {
	const token = "shard_bench_admin"
	c := testcluster.Start(b, testcluster.Options{Nodes: 3, Timing: replication.DefaultTiming(), Configure: func(i int, cfg *server.Config) {
		cfg.SQLAddr, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.AdminToken = token
	}})
	c.WaitReplicated()
	cl := client.New("http://"+c.Server(2).HTTPAddr(), token)
	ctx := context.Background()
	var post, total time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		db, err := cl.CreateDatabase(ctx, api.CreateDatabaseRequest{Name: fmt.Sprintf("bench%d", i), ShardKey: "tenant_id", Template: "growth"})
		if err != nil {
			b.Fatal(err)
		}
		post += time.Since(start)
		conn, err := pgx.Connect(ctx, db.ConnectionString)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (tenant_id int, id int, v text, PRIMARY KEY (tenant_id, id))"); err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (1, 1, 'x')"); err != nil {
			b.Fatal(err)
		}
		var v string
		if err := conn.QueryRow(ctx, "SELECT v FROM t WHERE tenant_id = 1 AND id = 1").Scan(&v); err != nil || v != "x" {
			b.Fatalf("read back %q: %v", v, err)
		}
		total += time.Since(start)
		conn.Close(ctx)
	}
	b.ReportMetric(float64(post.Milliseconds())/float64(b.N), "post-ms")
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "first-query-ms")
}
