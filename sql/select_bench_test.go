package sql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/server"
)

// BenchmarkPointSelect runs pgbench -S's statement (a prepared SELECT of
// one row by its primary key) through pgx against node 1 of a 3-node
// in-process cluster, 3 replicas of every range, from 8 connections at
// once. The table's 4 ranges have their leaders where the cluster put
// them, so most selects cross from the gateway to another node, as they
// do in `shard bench select`.
//
// Every node and the client share one process, so ns/op is the whole
// system's time per select on this machine's cores, and allocs/op
// everything allocated for one (client, gateway and leaseholder): the
// figures that a change of the select path moves, without the noise of
// three processes fighting for two cores.
//
//	go test ./sql -run '^$' -bench PointSelect -benchmem -count 5
func BenchmarkPointSelect(b *testing.B) {
	const rows = 10_000
	c := testcluster.Start(b, testcluster.Options{Configure: func(i int, cfg *server.Config) {
		if i == 1 {
			cfg.SQLAddr = "127.0.0.1:0"
			cfg.RootPassword = logicPassword
		}
	}})
	c.WaitReplicated()
	ctx := context.Background()
	addr := c.Server(1).SQLAddr()
	// Without TLS, as `shard bench` connects (sslmode=require, which
	// connect in logic_test.go uses, would put TLS in every select).
	dial := func(db string) *pgx.Conn {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://root:%s@%s/%s?sslmode=disable", logicPassword, addr, db))
		if err != nil {
			b.Fatalf("connect: %v", err)
		}
		b.Cleanup(func() { _ = conn.Close(context.Background()) })
		return conn
	}
	if _, err := dial("postgres").Exec(ctx, "CREATE DATABASE sel"); err != nil {
		b.Fatal(err)
	}
	setup := dial("sel")
	for _, stmt := range []string{
		"CREATE TABLE acc (aid int PRIMARY KEY, bid int, abalance int, filler text)",
		fmt.Sprintf("INSERT INTO acc SELECT i, 1, 0, repeat(' ', 84) FROM generate_series(1, %d) AS x(i)", rows),
	} {
		if _, err := setup.Exec(ctx, stmt); err != nil {
			b.Fatalf("%s: %v", stmt, err)
		}
	}
	const workers = 8
	conns := make(chan *pgx.Conn, workers)
	for range workers {
		conns <- dial("sel")
	}
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn := <-conns
		defer func() { conns <- conn }()
		var bal int64
		for pb.Next() {
			aid := 1 + rand.IntN(rows)
			if err := conn.QueryRow(ctx, "SELECT abalance FROM acc WHERE aid = $1", aid).Scan(&bal); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
