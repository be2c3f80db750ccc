package server_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/server"
)

// BenchmarkReplicatedPut measures acknowledged single-key puts on a 3-node
// in-process cluster with the production raft timing, at several numbers
// of concurrent writers. Each put is a raft command on the one user range,
// committed by a quorum and applied on the leader before it returns.
//
// Besides ns/op it reports writes/s and WAL fsyncs/s summed over the three
// nodes' engines: fsyncs/write well below 3 (one log append per node per
// write without batching) shows raft batching and the engine's group
// commit at work. The cluster is shared by the sub-benchmarks; background
// work (replica checks, meta reads) adds a few syncs of its own.
func BenchmarkReplicatedPut(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{
		Timing:            replication.DefaultTiming(),
		ReplicateInterval: server.DefaultConfig().ReplicateInterval,
	})
	c.WaitReplicated()
	cl := c.NewClient()
	value := make([]byte, 100)
	var seq atomic.Uint64
	put := func(ctx context.Context) error {
		return cl.Put(ctx, fmt.Appendf(nil, "bench/%016d", seq.Add(1)), value)
	}
	if err := put(context.Background()); err != nil { // fills the client's caches
		b.Fatal(err)
	}
	syncs := func() uint64 {
		var n uint64
		for i := 1; i <= c.N(); i++ {
			n += c.Server(i).Engine().Metrics().WALSyncs
		}
		return n
	}
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			// RunParallel runs parallelism*GOMAXPROCS goroutines.
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((writers + procs - 1) / procs)
			ctx := context.Background()
			before := syncs()
			start := time.Now()
			b.ResetTimer()
			if writers == 1 {
				for b.Loop() {
					if err := put(ctx); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := put(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			elapsed := time.Since(start).Seconds()
			n := syncs() - before
			b.ReportMetric(float64(b.N)/elapsed, "writes/s")
			b.ReportMetric(float64(n)/elapsed, "fsyncs/s")
			b.ReportMetric(float64(n)/float64(b.N), "fsyncs/write")
		})
	}
}
