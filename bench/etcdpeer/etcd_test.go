package etcdpeer

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/shardingsystem/shard/bench/workload"
	"github.com/shardingsystem/shard/internal/leakcheck"
)

// TestMain checks for leaked goroutines once the tests are done.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestClusterAndWorkload starts a 3-member etcd, runs single-key writes
// and reads through it for two seconds, and checks the figures, a key
// written, the fsync counter and that Stop leaves no member running.
func TestClusterAndWorkload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err) // CI installs etcd-server; a machine without it fails here with how to get it
	}
	defer c.Stop()
	kv, err := NewKV(KVOptions{Endpoints: c.Endpoints(), Keys: 1000, ReadPercent: 20})
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := workload.Run(ctx, workload.Options{Concurrency: 4, Duration: 2 * time.Second, Seed: 1}, kv)
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Count == 0 || res.Total.Errors != 0 || len(res.Ops) != 2 {
		t.Fatalf("run: %+v", res.Total)
	}
	if after.Fsyncs <= before.Fsyncs || after.CPUSeconds <= before.CPUSeconds {
		t.Errorf("counters did not move: %+v then %+v", before, after)
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Get(ctx, keyPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	_ = cl.Close()
	if err != nil || got.Count == 0 {
		t.Fatalf("no key written (%v)", err)
	}
	// A second Setup starts over.
	if err := kv.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	pids := c.PIDs()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("member pid %d still runs after Stop", pid)
		}
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("data directory %s left behind", c.dir)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestKVOptions(t *testing.T) {
	if _, err := NewKV(KVOptions{}); err == nil {
		t.Error("no endpoints: no error")
	}
	if _, err := NewKV(KVOptions{Endpoints: []string{"x"}, ReadPercent: 101}); err == nil {
		t.Error("read percent 101: no error")
	}
	if _, err := NewKV(KVOptions{Endpoints: []string{"x"}}); err != nil {
		t.Error(err)
	}
}
