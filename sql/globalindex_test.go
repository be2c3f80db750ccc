package sql_test

import (
	"context"
	"testing"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/server"
)

// TestPointSelectThroughGlobalIndexTakesNoTimestamp: an autocommit SELECT
// by id of a table whose primary key lacks the database's shard key reads
// the global index's entry and then the row, both at their newest
// versions, with no timestamp from the oracle; it finds the row, and
// nothing for an id no row has.
func TestPointSelectThroughGlobalIndexTakesNoTimestamp(t *testing.T) {
	c, addr := startShardedDB(t)
	ctx := context.Background()
	conn := connect(t, addr, "sk")
	mustExec(t, conn, "CREATE TABLE acct (id int PRIMARY KEY, grp int NOT NULL, n int)")
	mustExec(t, conn, "INSERT INTO acct SELECT g, g % 3, g * 10 FROM generate_series(1, 40) g")

	const selects = 40
	before := c.Server(1).TSOMetrics().Requests
	for id := 1; id <= selects; id++ {
		var n int
		if err := conn.QueryRow(ctx, "SELECT n FROM acct WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
		if n != id*10 {
			t.Fatalf("id %d: n = %d, want %d", id, n, id*10)
		}
	}
	// Other work of the node (the controller, GC) may take a few.
	if got := c.Server(1).TSOMetrics().Requests - before; got >= selects/2 {
		t.Errorf("%d selects took %d timestamps from the oracle", selects, got)
	}
	var count int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM acct WHERE id = 99").Scan(&count); err != nil || count != 0 {
		t.Fatalf("id 99: %d rows, err %v", count, err)
	}
}

// startShardedDB starts one node with database sk, sharded by column grp,
// and returns the cluster and the node's SQL address.
func startShardedDB(t *testing.T) (*testcluster.Cluster, string) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Nodes: 1, Configure: func(i int, cfg *server.Config) {
		cfg.SQLAddr = "127.0.0.1:0"
		cfg.RootPassword = logicPassword
	}})
	addr := c.Server(1).SQLAddr()
	mustExec(t, connect(t, addr, "postgres"), "CREATE DATABASE sk WITH shard_key = 'grp'")
	return c, addr
}
