package nemesis

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

func TestLookup(t *testing.T) {
	for spec, want := range map[string]int{"all": 16, "kill": 4, "partition,pause": 6, "none": 0, "kill-leader,kill": 4, "churn, clock": 6, "merge,decommission": 2} {
		fs, err := Lookup(spec)
		if err != nil || len(fs) != want {
			t.Errorf("Lookup(%q): %d faults, %v; want %d", spec, len(fs), err, want)
		}
	}
	if _, err := Lookup("kill,flood"); err == nil || !strings.Contains(err.Error(), `"flood"`) {
		t.Errorf("Lookup of an unknown fault: %v", err)
	}
}

func TestToFaults(t *testing.T) {
	s := time.Second
	got := ToFaults([]Event{
		{Time: 1 * s, Kind: "kill-random", Phase: Begin, Fault: 1, Nodes: []string{"n2"}},
		{Time: 2 * s, Kind: "split", Phase: Instant, Fault: 2, Detail: "r3"},
		{Time: 3 * s, Kind: "kill-random", Phase: Heal, Fault: 1, Error: "boom"},
		{Time: 4 * s, Kind: "pause-random", Phase: Begin, Fault: 3},
		{Time: 5 * s, Kind: "whole", Phase: Note, Detail: "waited"},
	})
	want := []string{"kill-random 1s-3s [n2]  heal: boom", "split 2s-2s [] r3 ", "pause-random 4s-0s []  ", "whole 5s-5s [] waited "}
	if len(got) != len(want) {
		t.Fatalf("ToFaults: %+v", got)
	}
	for i, f := range got {
		if f.Note != (f.Kind == "whole") {
			t.Errorf("fault %d (%s): Note = %v", i, f.Kind, f.Note)
		}
		if g := fmt.Sprintf("%s %v-%v %v %s %s", f.Kind, f.Start, f.End, f.Nodes, f.Detail, f.Error); g != want[i] {
			t.Errorf("fault %d: %q, want %q", i, g, want[i])
		}
	}
}

// fixture is a 3-node cluster in network namespaces (loopback when they
// are unavailable) and a nemesis on it, closed when the test ends.
func fixture(t *testing.T, faults string) (*cluster.Cluster, *Nemesis) {
	t.Helper()
	if testing.Short() {
		t.Skip("real processes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Config{Binary: proctest.Binary(t), Dir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.LogTail(40))
		}
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	start := time.Now()
	n, err := New(c, Options{Faults: faults, Seed: 7, Interval: time.Second, Logf: t.Logf,
		Clock: func() time.Duration { return time.Since(start) }})
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

// fault returns the named fault.
func fault(t *testing.T, name string) *Fault {
	t.Helper()
	fs, err := Lookup(name)
	if err != nil || len(fs) != 1 {
		t.Fatalf("Lookup(%s): %v", name, err)
	}
	return fs[0]
}

// write inserts a row through node within timeout.
func write(node *cluster.Node, timeout time.Duration, k int) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, node.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "INSERT INTO t VALUES ($1)", k)
	return err
}

// lastEvent returns the nemesis's last event, failing the test if it has
// an error.
func lastEvent(t *testing.T, n *Nemesis) Event {
	t.Helper()
	ev := n.Events()
	if len(ev) == 0 {
		t.Fatal("no events")
	}
	e := ev[len(ev)-1]
	if e.Error != "" {
		t.Fatalf("%s %s: %s", e.Kind, e.Phase, e.Error)
	}
	return e
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := cluster.Poll(ctx, 200*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestFaults runs each kind of fault once against one 3-node cluster and
// checks its effect and its heal, then a short combined schedule.
func TestFaults(t *testing.T) {
	c, n := fixture(t, "all")
	ctx := context.Background()
	if err := write(c.Node(1), 10*time.Second, 0); err == nil {
		t.Fatal("insert into a missing table worked")
	}
	func() {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, c.Node(1).DSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(cctx, "CREATE TABLE t (k INT PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
	}()
	key := 0
	next := func() int { key++; return key }

	t.Run("isolate", func(t *testing.T) {
		x := c.Node(3)
		heal := n.Inject(ctx, &Fault{Name: "partition-isolate", start: func(context.Context, *Nemesis) active {
			return n.partition(Isolate(x.Index, 3))
		}})
		if e := lastEvent(t, n); e.Detail != "n1<-n3 n2<-n3 n3<-n1 n3<-n2" {
			t.Errorf("isolate event: %+v", e)
		}
		// Traffic between the isolated node and the others is dropped both
		// ways; the others still talk; the harness reaches everyone.
		for _, p := range [][2]int{{1, 3}, {3, 1}, {2, 3}, {3, 2}} {
			dctx, cancel := context.WithTimeout(ctx, time.Second)
			err := c.Reachable(dctx, c.Node(p[0]), c.Node(p[1]))
			cancel()
			if err == nil {
				t.Errorf("n%d reaches n%d through the partition", p[0], p[1])
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := c.Reachable(dctx, c.Node(1), c.Node(2)); err != nil {
			t.Errorf("n1 -> n2 outside the partition: %v", err)
		}
		cancel()
		// The isolated node loses contact: the majority takes over every
		// range, and a write through the isolated node cannot commit.
		waitFor(t, "the majority to lead every range", 30*time.Second, func(ctx context.Context) error {
			rs, err := c.Ranges(ctx)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.Leader == 0 || r.Leader == x.ID() {
					return fmt.Errorf("%v", r)
				}
			}
			return nil
		})
		if err := write(c.Node(1), 20*time.Second, next()); err != nil {
			t.Errorf("write through the majority: %v", err)
		}
		if err := write(x, 3*time.Second, next()); err == nil {
			t.Errorf("a write through the isolated %s committed", x.Name)
		}
		heal(ctx)
		lastEvent(t, n)
		waitFor(t, "the isolated node to regain contact", 30*time.Second, func(ctx context.Context) error {
			for _, p := range [][2]int{{1, 3}, {3, 1}, {2, 3}, {3, 2}} {
				if err := c.Reachable(ctx, c.Node(p[0]), c.Node(p[1])); err != nil {
					return err
				}
			}
			return write(x, 5*time.Second, next())
		})
	})

	t.Run("kill-meta-leader", func(t *testing.T) {
		old, err := c.LeaderOf(ctx, cluster.MetaRangeID)
		if err != nil {
			t.Fatal(err)
		}
		heal := n.Inject(ctx, fault(t, "kill-meta-leader"))
		if e := lastEvent(t, n); len(e.Nodes) != 1 || e.Nodes[0] != old.Name {
			t.Fatalf("killed %v, the meta leader was %s", e.Nodes, old.Name)
		}
		if old.Running() {
			t.Fatalf("%s still runs", old.Name)
		}
		other := c.Node(old.Index%3 + 1)
		waitFor(t, "a write without the old meta leader", 30*time.Second, func(context.Context) error {
			return write(other, 5*time.Second, next())
		})
		heal(ctx)
		lastEvent(t, n)
		waitFor(t, "the cluster to be whole", 60*time.Second, c.Whole)
	})

	t.Run("pause-leader", func(t *testing.T) {
		n.opts.RangeID = cluster.MetaRangeID
		defer func() { n.opts.RangeID = 0 }()
		heal := n.Inject(ctx, fault(t, "pause-leader"))
		e := lastEvent(t, n)
		paused := c.Nodes()[0]
		for _, node := range c.Nodes() {
			if node.Name == e.Nodes[0] {
				paused = node
			}
		}
		if !paused.Paused() || !paused.Running() {
			t.Fatalf("%s: paused %v, running %v", paused.Name, paused.Paused(), paused.Running())
		}
		waitFor(t, "a new meta leader", 30*time.Second, func(ctx context.Context) error {
			l, err := c.LeaderOf(ctx, cluster.MetaRangeID)
			if err == nil && l == paused {
				err = fmt.Errorf("still led by the paused %s", paused.Name)
			}
			return err
		})
		heal(ctx)
		lastEvent(t, n)
		if paused.Paused() {
			t.Fatal("still paused after the heal")
		}
		waitFor(t, "the cluster to be whole", 60*time.Second, c.Whole)
	})

	t.Run("transfer-leader", func(t *testing.T) {
		for range 3 {
			if heal := n.Inject(ctx, fault(t, "transfer-leader")); heal != nil {
				t.Fatal("transfer-leader has a heal")
			}
			e := lastEvent(t, n)
			var r uint64
			fmt.Sscanf(e.Detail, "r%d", &r)
			l, err := c.LeaderOf(ctx, r)
			if err != nil || l.Name != e.Nodes[0] {
				t.Fatalf("after %s: leader of r%d is %v (%v)", e.Detail, r, l, err)
			}
		}
	})

	t.Run("split", func(t *testing.T) {
		before, _ := c.Ranges(ctx)
		n.Inject(ctx, fault(t, "split"))
		lastEvent(t, n)
		after, _ := c.Ranges(ctx)
		if len(after) != len(before)+1 {
			t.Fatalf("%d ranges before the split, %d after", len(before), len(after))
		}
		if err := write(c.Node(2), 20*time.Second, next()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("clock-offset", func(t *testing.T) {
		heal := n.Inject(ctx, fault(t, "clock-offset"))
		e := lastEvent(t, n)
		var node *cluster.Node
		for _, x := range c.Nodes() {
			if x.Name == e.Nodes[0] {
				node = x
			}
		}
		off := node.ClockOffset()
		if off == 0 || !strings.Contains(e.Detail, "leads the meta range") {
			t.Fatalf("clock event %+v, offset %v", e, off)
		}
		log, _ := os.ReadFile(node.StdoutPath())
		if !strings.Contains(string(log), "--clock-offset "+off.String()) {
			t.Fatalf("%s was not started with --clock-offset %v", node.Name, off)
		}
		if err := write(c.Node(1), 20*time.Second, next()); err != nil {
			t.Fatal(err)
		}
		heal(ctx)
		lastEvent(t, n)
		if node.ClockOffset() != 0 {
			t.Fatal("offset not reset")
		}
	})

	t.Run("schedule", func(t *testing.T) {
		// Every fault but the clock's (restarts are slow), a second each,
		// with one-second gaps, for eight seconds; then everything healed.
		fs, err := Lookup("kill,pause,partition,churn")
		if err != nil {
			t.Fatal(err)
		}
		n.faults = fs
		before := len(n.Events())
		rctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		defer cancel()
		if err := n.Run(rctx); err != nil {
			t.Fatal(err)
		}
		ev := n.Events()[before:]
		if len(ev) < 3 || ev[len(ev)-1].Kind != "whole" || ev[len(ev)-1].Error != "" {
			t.Fatalf("schedule events: %+v", ev)
		}
		if len(c.Drops()) != 0 {
			t.Fatalf("drops remain: %v", c.Drops())
		}
		if err := write(c.Node(3), 20*time.Second, next()); err != nil {
			t.Fatal(err)
		}
	})
}
