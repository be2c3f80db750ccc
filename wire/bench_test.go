package wire

import (
	"context"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkPreparedQuery runs a prepared one-row SELECT (Bind, Describe,
// Execute and Sync in one write, as pgx sends them) from 8 connections at
// once against the fake session: the wire server's own cost per
// statement, client included, without SQL or storage behind it.
//
//	go test ./wire -run '^$' -bench PreparedQuery -benchmem -count 5
func BenchmarkPreparedQuery(b *testing.B) {
	ts := startServer(b, nil)
	const workers = 8
	conns := make(chan *pgconn.PgConn, workers)
	ctx := context.Background()
	for range workers {
		c := ts.connect(b, "")
		if _, err := c.Prepare(ctx, "s1", "SELECT $1", nil); err != nil {
			b.Fatal(err)
		}
		conns <- c
	}
	param := [][]byte{[]byte("v")}
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-conns
		defer func() { conns <- c }()
		for pb.Next() {
			res := c.ExecPrepared(ctx, "s1", param, nil, nil).Read()
			if res.Err != nil || len(res.Rows) != 1 {
				b.Errorf("ExecPrepared: %+v", res)
				return
			}
		}
	})
}
