package jepsen

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/tools/jepsen/history"
	"github.com/shardingsystem/shard/tools/jepsen/workload"
)

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// TestWorkloadsNoFaults runs every workload briefly against a 3-node
// cluster of real processes on loopback, with no faults, and checks the
// histories are well formed and made progress.
func TestWorkloadsNoFaults(t *testing.T) {
	const pw = "jepsen-test"
	c := proctest.NewCluster(t)
	c.SetEnv("SHARD_ROOT_PASSWORD=" + pw)
	var rpc []string
	for range 3 {
		n := c.AddNode()
		n.SetJoin(rpc...)
		n.Start()
		rpc = append(rpc, n.RPCAddr)
	}
	c.WaitReplicated(3, 60*time.Second)
	dsn := func(addr, db string) string {
		return fmt.Sprintf("postgresql://root:%s@%s/%s?sslmode=disable", pw, addr, db)
	}
	ctx := context.Background()
	for _, name := range workload.Names() {
		t.Run(name, func(t *testing.T) {
			w, err := workload.New(name)
			if err != nil {
				t.Fatal(err)
			}
			db := "jepsen_" + map[string]string{"list-append": "la"}[name] + name[:3]
			if err := CreateDatabase(ctx, dsn(c.Node(1).SQLAddr, "postgres"), db); err != nil {
				t.Fatal(err)
			}
			var target Target
			for _, n := range c.Nodes() {
				target.DSNs = append(target.DSNs, dsn(n.SQLAddr, db))
			}
			if err := Setup(ctx, target, w); err != nil {
				t.Fatal(err)
			}
			h, err := Generate(ctx, target, Load{Workload: w, Time: 5 * time.Second, Seed: 1, Logf: t.Logf}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Validate(); err != nil {
				t.Fatal(err)
			}
			counts := map[history.Type]int{}
			errs := map[string]int{}
			for _, op := range h {
				counts[op.Type]++
				if op.Error != "" {
					errs[op.Error]++
				}
			}
			t.Logf("%s: %v; errors: %v", name, counts, errs)
			if counts[history.OK] == 0 {
				t.Fatalf("no op succeeded")
			}
		})
	}
}
