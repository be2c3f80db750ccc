package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestCrashRecovery writes numbered batches, some synced, to a crashable
// in-memory filesystem, then "crashes" by cloning the filesystem with only
// part of the unsynced data, and reopens the clone. It checks that:
//   - every batch up to the last synced one survived;
//   - surviving batches form a prefix of the sequence (the WAL is replayed
//     in order and stops at the first torn record);
//   - each batch is all there or not at all;
//   - the recovered store takes new writes and survives a clean reopen.
func TestCrashRecovery(t *testing.T) {
	const batches, keysPerBatch = 300, 5
	rng := rand.New(rand.NewPCG(11, 12))
	fs := vfs.NewCrashableMem()
	e, err := Open(testOptions(fs, "/data/db"))
	if err != nil {
		t.Fatal(err)
	}
	lastSynced := -1
	type crash struct {
		fs         *vfs.MemFS
		lastSynced int
	}
	var crashes []crash
	for i := range batches {
		sync := rng.IntN(10) == 0
		b := e.NewBatch()
		for j := range keysPerBatch {
			if err := b.PutMVCC(batchKey(i, j), Timestamp(i+1), batchValue(i, j)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(sync); err != nil {
			t.Fatal(err)
		}
		if sync {
			lastSynced = i
		}
		if i == 150 {
			if err := e.Flush(); err != nil { // some data in sstables too
				t.Fatal(err)
			}
		}
		if i%60 == 59 {
			for _, pct := range []int{0, 50, 100} {
				clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(i), uint64(pct)))})
				crashes = append(crashes, crash{clone, lastSynced})
			}
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	for n, c := range crashes {
		t.Run(fmt.Sprintf("crash%d", n), func(t *testing.T) {
			re, err := Open(testOptions(c.fs, "/data/db"))
			if err != nil {
				t.Fatalf("reopen after crash: %v", err)
			}
			survived := checkBatches(t, re, batches, keysPerBatch)
			if survived-1 < c.lastSynced {
				t.Fatalf("batches 0..%d survived, but %d was synced", survived-1, c.lastSynced)
			}
			commit(t, re, true, func(b *Batch) error { return b.Put([]byte("after-crash"), []byte("ok")) })
			if err := re.Close(); err != nil {
				t.Fatal(err)
			}
			re = openTestEngineOn(t, c.fs, "/data/db")
			if v, err := re.Get([]byte("after-crash")); err != nil || string(v) != "ok" {
				t.Fatalf("write after recovery lost: %q, %v", v, err)
			}
			if got := checkBatches(t, re, batches, keysPerBatch); got != survived {
				t.Fatalf("second reopen sees %d batches, first saw %d", got, survived)
			}
		})
	}
}

func batchKey(i, j int) []byte { return fmt.Appendf(nil, "b%04d/%d", i, j) }

// checkBatches verifies atomicity and the prefix property and returns the
// number of batches that survived.
func checkBatches(t *testing.T, e *Engine, batches, keysPerBatch int) int {
	t.Helper()
	firstMissing := -1
	for i := range batches {
		present := 0
		for j := range keysPerBatch {
			v, ts, err := e.GetMVCC(batchKey(i, j), MaxTimestamp)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				t.Fatal(err)
			case ts != Timestamp(i+1) || string(v) != string(batchValue(i, j)):
				t.Fatalf("batch %d key %d corrupt: %q@%d", i, j, v, ts)
			default:
				present++
			}
		}
		switch {
		case present != 0 && present != keysPerBatch:
			t.Fatalf("batch %d partially applied: %d of %d keys", i, present, keysPerBatch)
		case present != 0 && firstMissing >= 0:
			t.Fatalf("batch %d survived but batch %d did not", i, firstMissing)
		case present == 0 && firstMissing < 0:
			firstMissing = i
		}
	}
	survived := batches
	if firstMissing >= 0 {
		survived = firstMissing
	}
	t.Logf("%d of %d batches survived", survived, batches)
	return survived
}

// batchValue is large enough that unsynced batches fill WAL blocks, which
// pebble writes to the file before any sync, so crash clones keep a random
// part of them.
func batchValue(i, j int) []byte {
	return fmt.Appendf(nil, "value-%d-%d-%0300d", i, j, 0)
}
