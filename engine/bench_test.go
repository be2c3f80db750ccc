package engine

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkSyncedBatchCommit commits small synced batches from many
// goroutines to a store on the real disk and reports WAL fsyncs per commit:
// below 1 means concurrent commits share fsyncs (group commit).
func BenchmarkSyncedBatchCommit(b *testing.B) {
	for _, parallelism := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", parallelism), func(b *testing.B) {
			opts := testOptions(vfs.Default, b.TempDir())
			e, err := Open(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			var seq atomic.Uint64
			value := make([]byte, 100)
			before := e.Metrics()
			b.SetParallelism(parallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					batch := e.NewBatch()
					i := seq.Add(1)
					if err := batch.PutMVCC(fmt.Appendf(nil, "key%012d", i), Timestamp(i), value); err != nil {
						b.Error(err)
						return
					}
					if err := batch.Commit(true); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			after := e.Metrics()
			commits := after.SyncedBatchCommits - before.SyncedBatchCommits
			if commits > 0 {
				b.ReportMetric(float64(after.WALSyncs-before.WALSyncs)/float64(commits), "syncs/commit")
			}
		})
	}
}

// BenchmarkScanMVCCManyVersions scans keys that each have many versions at
// an old timestamp: the cost should not grow with the number of versions.
func BenchmarkScanMVCCManyVersions(b *testing.B) {
	for _, versions := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("versions=%d", versions), func(b *testing.B) {
			e := openTestEngine(b)
			batch := e.NewBatch()
			for k := range 100 {
				for v := 1; v <= versions; v++ {
					if err := batch.PutMVCC(fmt.Appendf(nil, "k%03d", k), Timestamp(v), []byte("value")); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := batch.Commit(false); err != nil {
				b.Fatal(err)
			}
			if err := e.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				n := 0
				err := e.ScanMVCC(nil, nil, 1, 0, func([]byte, Timestamp, []byte) error { n++; return nil })
				if err != nil || n != 100 {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkGetKeyRewrittenUnversioned reads a key whose unversioned entry
// was written and cleared many times since the memtable was flushed, as a
// hot row's lock slot is (clearing with a delete makes every read walk the
// key's entries; clearing with an empty value does not, because GetKey
// seeks from an unversioned value to the version), and, for the price of
// that seek, keys of a flushed table with and without an empty
// unversioned value.
func BenchmarkGetKeyRewrittenUnversioned(b *testing.B) {
	for _, rewrites := range []int{1, 10000} {
		for _, clear := range []string{"delete", "empty"} {
			b.Run(fmt.Sprintf("rewrites=%d/clear=%s", rewrites, clear), func(b *testing.B) {
				e := openTestEngine(b)
				key := []byte("hot")
				for i := 1; i <= rewrites; i++ {
					batch := e.NewBatch()
					must(b, batch.Put(key, []byte("lock")))
					must(b, batch.Commit(false))
					batch = e.NewBatch()
					if clear == "delete" {
						must(b, batch.Delete(key))
					} else {
						must(b, batch.Put(key, nil))
					}
					must(b, batch.PutMVCC(key, Timestamp(i), []byte("row")))
					must(b, batch.Commit(false))
				}
				b.ResetTimer()
				for b.Loop() {
					kr, err := e.GetKey(key, MaxTimestamp)
					if err != nil || !kr.Found {
						b.Fatal(kr, err)
					}
				}
			})
		}
	}
	for _, unversioned := range []bool{false, true} {
		b.Run(fmt.Sprintf("flushed/unversioned=%v", unversioned), func(b *testing.B) {
			e := openTestEngine(b)
			const n = 100000
			batch := e.NewBatch()
			for i := range n {
				k := fmt.Appendf(nil, "row%08d", i)
				if unversioned {
					must(b, batch.Put(k, nil))
				}
				must(b, batch.PutMVCC(k, Timestamp(10), []byte("a row's value of some forty bytes.....")))
			}
			must(b, batch.Commit(false))
			must(b, e.Flush())
			i := 0
			b.ResetTimer()
			for b.Loop() {
				i = (i + 7919) % n
				kr, err := e.GetKey(fmt.Appendf(nil, "row%08d", i), MaxTimestamp)
				if err != nil || !kr.Found {
					b.Fatal(kr, err)
				}
			}
		})
	}
}

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWalkVersions walks the 64 versions of a hot row, newest first,
// as a replica looks for a transaction's own version below the commits of
// others (range/replica's findCommit): a GetMVCC seek per version, or one
// Versions walk.
func BenchmarkWalkVersions(b *testing.B) {
	const n = 64
	for _, flushed := range []bool{false, true} {
		e := openTestEngine(b)
		key := []byte("hot")
		batch := e.NewBatch()
		for i := 1; i <= n; i++ {
			must(b, batch.PutMVCC(key, Timestamp(i), []byte("a row's value of some forty bytes.....")))
		}
		must(b, batch.Commit(false))
		if flushed {
			must(b, e.Flush())
		}
		b.Run(fmt.Sprintf("flushed=%v/seeks", flushed), func(b *testing.B) {
			for b.Loop() {
				seen := 0
				for ts := MaxTimestamp; ts > 0; seen++ {
					_, vts, err := e.GetMVCC(key, ts)
					if err != nil {
						b.Fatal(err)
					}
					ts = vts - 1
				}
				if seen != n {
					b.Fatalf("saw %d versions", seen)
				}
			}
		})
		b.Run(fmt.Sprintf("flushed=%v/versions", flushed), func(b *testing.B) {
			for b.Loop() {
				seen := 0
				must(b, e.Versions(key, MaxTimestamp, func(Timestamp, []byte) bool { seen++; return true }))
				if seen != n {
					b.Fatalf("saw %d versions", seen)
				}
			}
		})
	}
}
