package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/server"
)

// The transaction benchmark's keyspace: txnBenchRanges ranges, range r
// holding the accounts r<r>/acct-<n> (n < txnBenchAccounts), each of two
// keys, .../a and .../b. The user keyspace is split at r1/, r2/, ..., so
// that the keys of r<r>/ are exactly one range.
const (
	txnBenchRanges   = 4
	txnBenchAccounts = 100_000 // per range: low conflict at 16 writers
)

func txnBenchKey(r, acct int, field string) []byte {
	return fmt.Appendf(nil, "r%d/acct-%d/%s", r, acct, field)
}

// txnBenchSplit is where range r starts (r >= 1).
func txnBenchSplit(r int) []byte { return fmt.Appendf(nil, "r%d/", r) }

// txnBenchKeys picks a transaction's two keys: both fields of one account
// (one range, 1PC) or one field of accounts in two different ranges (2PC).
func txnBenchKeys(twoRanges bool) (k1, k2 []byte) {
	r1 := rand.IntN(txnBenchRanges)
	if !twoRanges {
		acct := rand.IntN(txnBenchAccounts)
		return txnBenchKey(r1, acct, "a"), txnBenchKey(r1, acct, "b")
	}
	r2 := (r1 + 1 + rand.IntN(txnBenchRanges-1)) % txnBenchRanges
	return txnBenchKey(r1, rand.IntN(txnBenchAccounts), "a"), txnBenchKey(r2, rand.IntN(txnBenchAccounts), "b")
}

// txnBenchRMW reads two counters and writes them back, one incremented and
// one decremented (a transfer; a missing key counts as 0). It returns how
// many times fn ran: RunTxn restarts it on write conflicts.
func txnBenchRMW(ctx context.Context, cl *kv.Client, k1, k2 []byte) (attempts int, err error) {
	err = cl.RunTxn(ctx, func(ctx context.Context, t *kv.Txn) error {
		attempts++
		for i, k := range [][]byte{k1, k2} {
			v, _, err := t.Get(ctx, k)
			if err != nil {
				return err
			}
			n, _ := strconv.ParseInt(string(v), 10, 64)
			if err := t.Put(k, strconv.AppendInt(nil, n+1-2*int64(i), 10)); err != nil {
				return err
			}
		}
		return nil
	})
	return attempts, err
}

// BenchmarkTxn measures read-modify-write transactions of two random keys
// on a 3-node in-process cluster with the production raft timing and the
// user keyspace split into 4 ranges (3 replicas each), through RunTxn:
//
//   - 1pc: both keys in one range, committed in one raft command (a
//     OnePC request holding the latches, checking for conflicts and writing
//     the versions);
//   - 2pc: keys in two ranges, committed Percolator style: prewrite of the
//     primary, then of the secondary (a raft command each), a commit
//     timestamp from the oracle, commit of the primary (a raft command),
//     the secondary resolved in the background.
//
// Both read the two keys first (two reads at the leaseholders) and take a
// start timestamp from the oracle. Keys are drawn from 400,000 accounts,
// so conflicts are rare even at 16 writers.
//
// Besides ns/op it reports txns/s, the mean and p99 latency of a RunTxn
// call (restarts included), the share of commits that took one raft
// command (from the client's TxnStats: 1 for 1pc, 0 for 2pc), write
// conflicts per transaction (TxnStats) and restarts per transaction (runs
// of the transaction's function beyond the first, which also counts
// conflicts met by reads).
func BenchmarkTxn(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{
		Timing:            replication.DefaultTiming(),
		ReplicateInterval: server.DefaultConfig().ReplicateInterval,
	})
	c.WaitReplicated()
	for r := 1; r < txnBenchRanges; r++ {
		c.Split(txnBenchSplit(r))
	}
	c.WaitReplicated()
	cl := c.NewClient()
	b.Cleanup(cl.Close) // its background resolves end before the nodes stop

	// Check the layout, and fill the client's range and leader caches.
	ctx := context.Background()
	seen := map[uint64]bool{}
	for r := range txnBenchRanges {
		d, err := cl.LookupRange(ctx, txnBenchKey(r, 0, "a"))
		if err != nil {
			b.Fatal(err)
		}
		if d2, err := cl.LookupRange(ctx, txnBenchKey(r, txnBenchAccounts-1, "b")); err != nil || d2.GetRangeId() != d.GetRangeId() {
			b.Fatalf("keys of r%d/ are not one range: %v, %v (%v)", r, d, d2, err)
		}
		seen[d.GetRangeId()] = true
		if _, err := txnBenchRMW(ctx, cl, txnBenchKey(r, 0, "a"), txnBenchKey(r, 0, "b")); err != nil {
			b.Fatal(err)
		}
	}
	if len(seen) != txnBenchRanges {
		b.Fatalf("%d ranges hold the benchmark's keys, want %d", len(seen), txnBenchRanges)
	}

	for _, mode := range []struct {
		name      string
		twoRanges bool
	}{{"1pc", false}, {"2pc", true}} {
		b.Run(mode.name, func(b *testing.B) {
			for _, writers := range []int{1, 16} {
				b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
					benchTxnWriters(b, cl, writers, mode.twoRanges)
				})
			}
		})
	}
}

// benchTxnWriters runs b.N transactions from writers goroutines and reports
// the metrics BenchmarkTxn describes.
func benchTxnWriters(b *testing.B, cl *kv.Client, writers int, twoRanges bool) {
	// RunParallel runs parallelism*GOMAXPROCS goroutines.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((writers + procs - 1) / procs)
	var (
		mu       sync.Mutex
		lats     []time.Duration // every transaction's, merged per goroutine
		restarts atomic.Uint64
	)
	one := func(lat *[]time.Duration) error {
		k1, k2 := txnBenchKeys(twoRanges)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		t0 := time.Now()
		attempts, err := txnBenchRMW(ctx, cl, k1, k2)
		*lat = append(*lat, time.Since(t0))
		restarts.Add(uint64(max(attempts-1, 0)))
		return err
	}
	before := cl.TxnStats()
	start := time.Now()
	b.ResetTimer()
	if writers == 1 {
		for b.Loop() {
			if err := one(&lats); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lats = append(lats, mine...)
				mu.Unlock()
			}()
			for pb.Next() {
				if err := one(&mine); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	after := cl.TxnStats()
	n := len(lats)
	if n == 0 {
		return
	}
	slices.Sort(lats)
	var sum time.Duration
	for _, l := range lats {
		sum += l
	}
	p99 := lats[(n*99+99)/100-1] // the ceil(0.99n)-th smallest
	onePC, twoPC := after.OnePC-before.OnePC, after.TwoPC-before.TwoPC
	b.ReportMetric(float64(n)/elapsed, "txns/s")
	b.ReportMetric(float64(sum.Microseconds())/float64(n)/1000, "mean-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	if onePC+twoPC > 0 {
		b.ReportMetric(float64(onePC)/float64(onePC+twoPC), "1pc-share")
	}
	b.ReportMetric(float64(after.Conflicts-before.Conflicts)/float64(n), "conflicts/txn")
	b.ReportMetric(float64(restarts.Load())/float64(n), "restarts/txn")
}
