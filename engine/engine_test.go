package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestOptionsValidate(t *testing.T) {
	if err := DefaultOptions("/x").Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	err := Options{CacheSize: -1, MemTableSize: 1 << 33, MaxConcurrentCompactions: -2}.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"Dir", "CacheSize", "MemTableSize", "MaxConcurrentCompactions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
	if _, err := Open(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Open with invalid options: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	fs := vfs.NewMem()
	e, err := Open(testOptions(fs, "/a/b/db"))
	if err != nil {
		t.Fatal(err)
	}
	commit(t, e, true, func(b *Batch) error { return b.PutMVCC([]byte("k"), 3, []byte("v")) })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	e = openTestEngineOn(t, fs, "/a/b/db")
	if v, ts, err := e.GetMVCC([]byte("k"), 10); err != nil || string(v) != "v" || ts != 3 {
		t.Fatalf("after reopen: %q, %d, %v", v, ts, err)
	}
}

func TestIncompatibleStore(t *testing.T) {
	fs := vfs.NewMem()
	db, err := pebble.Open("/db", &pebble.Options{FS: fs, Logger: pebbleLogger{testLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(testOptions(fs, "/db"))
	if !errors.Is(err, ErrIncompatibleStore) {
		t.Fatalf("Open of a store with another comparer: %v, want ErrIncompatibleStore", err)
	}
	t.Log(err)
}

func TestClosedEngine(t *testing.T) {
	e := openTestEngine(t)
	commit(t, e, false, func(b *Batch) error { return b.Put([]byte("k"), []byte("v")) })
	snap := e.NewSnapshot()
	leaked := e.NewSnapshot()
	if err := snap.Close(); err != nil {
		t.Fatal(err)
	}
	if err := snap.Close(); err != nil {
		t.Fatalf("second snapshot Close: %v", err)
	}
	if _, err := snap.Get([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get on closed snapshot: %v", err)
	}
	pending := e.NewBatch()
	if err := pending.Put([]byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // closes the leaked snapshot
		t.Fatal(err)
	}
	noop := func([]byte, []byte) error { return nil }
	noopMVCC := func([]byte, Timestamp, []byte) error { return nil }
	for _, r := range []Reader{e, leaked} {
		if _, err := r.Get([]byte("k")); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.Get: %v", r, err)
		}
		if err := r.Scan(nil, nil, noop); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.Scan: %v", r, err)
		}
		if _, _, err := r.GetMVCC([]byte("k"), 1); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.GetMVCC: %v", r, err)
		}
		if err := r.ScanMVCC(nil, nil, 1, 0, noopMVCC); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.ScanMVCC: %v", r, err)
		}
		if err := r.ScanMVCCReverse(nil, nil, 1, 0, noopMVCC); !errors.Is(err, ErrClosed) {
			t.Errorf("%T.ScanMVCCReverse: %v", r, err)
		}
	}
	if err := leaked.Close(); err != nil {
		t.Errorf("Close of a snapshot the engine closed: %v", err)
	}
	if err := pending.Commit(true); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if err := e.NewBatch().Commit(false); !errors.Is(err, ErrClosed) {
		t.Errorf("NewBatch().Commit after Close: %v", err)
	}
	if _, err := e.NewSnapshot().Get([]byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("NewSnapshot after Close: %v", err)
	}
	if err := e.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush: %v", err)
	}
	if _, err := e.ApproximateSpanStats([]byte("a"), []byte("b")); !errors.Is(err, ErrClosed) {
		t.Errorf("ApproximateSpanStats: %v", err)
	}
	if err := e.IngestSpan([]byte("a"), []byte("b"), strings.NewReader("")); !errors.Is(err, ErrClosed) {
		t.Errorf("IngestSpan: %v", err)
	}
	if m := e.Metrics(); m.BatchCommits != 1 {
		t.Errorf("Metrics after Close: %+v", m)
	}
}

// TestCloseDuringReads closes the engine under concurrent readers, writers
// and snapshot users: each call either succeeds or returns ErrClosed, and
// nothing panics or leaks.
func TestCloseDuringReads(t *testing.T) {
	e := openTestEngine(t)
	commit(t, e, false, func(b *Batch) error {
		for i := range 1000 {
			if err := b.PutMVCC(fmt.Appendf(nil, "k%04d", i), 5, []byte("v")); err != nil {
				return err
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	started := make(chan struct{}, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				var err error
				switch g % 4 {
				case 0:
					err = e.ScanMVCC(nil, nil, 10, 0, func(k []byte, _ Timestamp, _ []byte) error {
						// A nested read during Close must not deadlock.
						_, _, err := e.GetMVCC(k, 10)
						if errors.Is(err, ErrClosed) {
							return nil
						}
						return err
					})
				case 1:
					b := e.NewBatch()
					_ = b.PutMVCC([]byte("w"), Timestamp(i+1), []byte("x"))
					err = b.Commit(i%2 == 0)
				case 2:
					s := e.NewSnapshot()
					_, _, err = s.GetMVCC([]byte("k0001"), 10)
					if cerr := s.Close(); err == nil {
						err = cerr
					}
				case 3:
					_, err = e.Get([]byte("k"))
					if errors.Is(err, ErrNotFound) {
						err = nil
					}
				}
				if i == 3 {
					started <- struct{}{}
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	for range 8 {
		<-started
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestMetricsCountSyncs(t *testing.T) {
	e := openTestEngine(t)
	before := e.Metrics()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				b := e.NewBatch()
				if err := b.Put(fmt.Appendf(nil, "g%d-%d", g, i), []byte("v")); err != nil {
					t.Error(err)
				}
				if err := b.Commit(true); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	commit(t, e, false, func(b *Batch) error { return b.Put([]byte("unsynced"), nil) })
	m := e.Metrics()
	commits, syncs := m.SyncedBatchCommits-before.SyncedBatchCommits, m.WALSyncs-before.WALSyncs
	if commits != 400 || m.BatchCommits-before.BatchCommits != 401 {
		t.Fatalf("commits: %+v", m)
	}
	if syncs == 0 || syncs > commits {
		t.Fatalf("%d WAL syncs for %d synced commits", syncs, commits)
	}
	if m.WALBytesWritten == 0 || m.MemTableSizeBytes == 0 {
		t.Fatalf("pebble metrics missing: %+v", m)
	}
	// Nothing was flushed yet: the WAL's bytes are not sstable bytes.
	if m.TableBytesWritten != 0 {
		t.Fatalf("%d sstable bytes written before any flush", m.TableBytesWritten)
	}
	t.Logf("%d WAL syncs for %d synced commits; metrics %+v", syncs, commits, m)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if after := e.Metrics(); after.TableBytesWritten <= m.TableBytesWritten || after.Flushes <= m.Flushes {
		t.Fatalf("a flush wrote %d sstable bytes (%d flushes)", after.TableBytesWritten-m.TableBytesWritten, after.Flushes-m.Flushes)
	}
}

func TestCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e := openTestEngineOn(t, fs, "/db")
	commit(t, e, false, func(b *Batch) error { return b.PutMVCC([]byte("k"), 1, []byte("v")) })
	if err := e.Checkpoint("/backup/ck1"); err != nil {
		t.Fatal(err)
	}
	commit(t, e, false, func(b *Batch) error { return b.PutMVCC([]byte("k"), 2, []byte("later")) })
	ck := openTestEngineOn(t, fs, "/backup/ck1")
	if v, ts, err := ck.GetMVCC([]byte("k"), MaxTimestamp); err != nil || string(v) != "v" || ts != 1 {
		t.Fatalf("checkpoint read: %q, %d, %v", v, ts, err)
	}
	if err := e.Checkpoint("/backup/ck1"); err == nil {
		t.Fatal("Checkpoint into an existing directory succeeded")
	}
}
