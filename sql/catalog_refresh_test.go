package sql_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/server"
)

// TestSchemaVisibleOnOtherNodes: a table created through one node is
// usable through another at once, without waiting for that node's
// catalog poll (it refreshes when a statement names an unknown object).
func TestSchemaVisibleOnOtherNodes(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 2, Configure: func(i int, cfg *server.Config) {
		cfg.SQLAddr = "127.0.0.1:0"
		cfg.RootPassword = logicPassword
		cfg.Replicas = 1
	}})
	ctx := context.Background()
	a := connect(t, c.Server(1).SQLAddr(), "postgres")
	b := connect(t, c.Server(2).SQLAddr(), "postgres")
	for i := range 5 {
		name := fmt.Sprintf("fresh%d", i)
		if _, err := a.Exec(ctx, "CREATE TABLE "+name+" (id int PRIMARY KEY, v text)"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Exec(ctx, "INSERT INTO "+name+" VALUES ($1, 'x')", i); err != nil {
			t.Fatalf("insert through the other node right after CREATE TABLE: %v", err)
		}
		if _, err := a.Exec(ctx, "ALTER TABLE "+name+" ADD COLUMN w int"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := b.QueryRow(ctx, "SELECT count(w) FROM "+name).Scan(&n); err != nil {
			t.Fatalf("select of a new column through the other node: %v", err)
		}
	}
}
