package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/proctest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// startCluster starts a 3-node cluster in mode, closed (and checked to
// leave nothing behind) when the test ends.
func startCluster(t *testing.T, mode Mode) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("real processes; skipped with -short")
	}
	if mode == Namespaces {
		if why := namespacesAvailable(); why != "" {
			t.Skipf("network namespaces unavailable: %s", why)
		}
	}
	bin := proctest.Binary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, Config{Binary: bin, Dir: dir, Mode: mode, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.LogTail(60))
		}
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if left := leftovers(c); left != "" {
			t.Errorf("after Close: %s", left)
		}
	})
	t.Logf("%d nodes on %s up and whole in %v", len(c.Nodes()), c.Mode(), time.Since(start).Round(time.Millisecond))
	return c
}

// leftovers describes what of c's slot still exists ("" if nothing).
func leftovers(c *Cluster) string {
	var out []string
	if c.Mode() == Namespaces {
		if namespaceSlots()[c.slot.n] {
			out = append(out, fmt.Sprintf("network objects of slot %d remain", c.slot.n))
		}
	}
	for _, n := range c.Nodes() {
		if n.Running() {
			out = append(out, n.Name+" still runs")
		}
	}
	return strings.Join(out, "; ")
}

func sqlConn(t *testing.T, n *Node) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, n.DSN("postgres"))
	if err != nil {
		t.Fatalf("connect to %s: %v", n.Name, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// TestNamespacesSQL: three nodes in their own namespaces, at their own
// addresses, accept SQL as root with the password; a row written through
// one node is read through the others.
func TestNamespacesSQL(t *testing.T) {
	c := startCluster(t, Namespaces)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, n := range c.Nodes() {
		if want := fmt.Sprintf("10.199.%d.%d", c.slot.n, i+1); n.IP != want || !strings.HasPrefix(n.SQLAddr, want+":") {
			t.Errorf("%s at %s (sql %s), want %s", n.Name, n.IP, n.SQLAddr, want)
		}
		if n.ID() != uint64(i+1) {
			t.Errorf("%s has node id %d", n.Name, n.ID())
		}
	}
	c1 := sqlConn(t, c.Node(1))
	if _, err := c1.Exec(ctx, "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Exec(ctx, "INSERT INTO kv VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes()[1:] {
		var v string
		if err := sqlConn(t, n).QueryRow(ctx, "SELECT v FROM kv WHERE k = 1").Scan(&v); err != nil || v != "one" {
			t.Errorf("read through %s: %q, %v", n.Name, v, err)
		}
	}
	// A wrong password is refused.
	bad := strings.Replace(c.Node(2).DSN("postgres"), c.Password(), "wrong", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		_ = conn.Close(ctx)
		t.Error("a wrong password was accepted")
	}
}
