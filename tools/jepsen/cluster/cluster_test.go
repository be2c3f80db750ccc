package cluster

import (
	"context"
	"fmt"
	"net"
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

// TestLoopbackPartition: without namespaces, the nodes sit on their own
// loopback addresses behind the harness's proxies; a drop between two
// nodes stalls their traffic both ways and a heal restores it, while the
// harness and SQL clients still reach every node.
func TestLoopbackPartition(t *testing.T) {
	c := startCluster(t, Loopback)
	ctx := context.Background()
	for i, n := range c.Nodes() {
		if want := fmt.Sprintf("127.199.%d.%d", c.slot.n, i+1); n.IP != want || !strings.HasPrefix(n.RPCAddr, want+":") {
			t.Errorf("%s at %s (rpc %s), want %s", n.Name, n.IP, n.RPCAddr, want)
		}
	}
	n1, n2, n3 := c.Node(1), c.Node(2), c.Node(3)
	reach := func(from, to *Node, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return c.Reachable(ctx, from, to)
	}
	if err := reach(n1, n3, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// One way: n3 drops n1's packets, which over TCP stalls both
	// directions between them.
	if err := c.Drop(n3, n1); err != nil {
		t.Fatal(err)
	}
	if got := c.Drops(); len(got) != 1 || got[0] != [2]*Node{n3, n1} {
		t.Errorf("Drops() = %v", got)
	}
	for _, p := range [][2]*Node{{n1, n3}, {n3, n1}} {
		if err := reach(p[0], p[1], time.Second); err == nil {
			t.Errorf("%s reaches %s through the partition", p[0].Name, p[1].Name)
		}
	}
	if err := reach(n1, n2, 5*time.Second); err != nil {
		t.Errorf("n1 -> n2: %v", err)
	}
	// The harness still reaches the partitioned node.
	if conn, err := net.DialTimeout("tcp", n3.SQLAddr, 5*time.Second); err != nil {
		t.Errorf("dial n3's SQL address: %v", err)
	} else {
		_ = conn.Close()
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := reach(n1, n3, 5*time.Second); err != nil {
		t.Errorf("after the heal: %v", err)
	}
	if err := reach(n3, n1, 5*time.Second); err != nil {
		t.Errorf("after the heal: %v", err)
	}
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLeftoversRemoved: network objects named for a slot that no live run
// holds (a killed run's) are removed; those of a slot a live run holds are
// not.
func TestLeftoversRemoved(t *testing.T) {
	if why := namespacesAvailable(); why != "" {
		t.Skipf("network namespaces unavailable: %s", why)
	}
	const dead, live = 241, 242
	held, err := tryLockSlot(live)
	if err != nil || held == nil {
		t.Fatalf("lock slot %d: %v", live, err)
	}
	t.Cleanup(func() {
		_ = cleanNamespaceSlot(live)
		_ = cleanNamespaceSlot(dead)
		held.unlock()
	})
	for _, s := range []int{dead, live} {
		n := &nsNet{slot: s, nodes: 2}
		if err := n.setup(); err != nil {
			t.Fatal(err)
		}
	}
	if slots := namespaceSlots(); !slots[dead] || !slots[live] {
		t.Fatalf("slots with objects: %v", slots)
	}
	removeLeftovers(t.Logf)
	slots := namespaceSlots()
	if slots[dead] {
		t.Errorf("the leftovers of slot %d remain", dead)
	}
	if !slots[live] {
		t.Errorf("the objects of slot %d, held by a live run, were removed", live)
	}
	if err := cleanNamespaceSlot(live); err != nil {
		t.Fatal(err)
	}
	if namespaceSlots()[live] {
		t.Errorf("slot %d not cleaned", live)
	}
}
