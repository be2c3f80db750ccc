package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
)

// TestCrossedPrewritesDoNotDeadlock runs pairs of transactions that write
// the same two keys x and y, in different ranges, with primaries of their
// own: each prewrites its primary, then x and y at once, so one can hold x
// while the other holds y and each waits for the other. Without wait-die
// both wait until their lock waits run out and both fail; with it the
// younger gives up at once, so in every pair at least one commits.
func TestCrossedPrewritesDoNotDeadlock(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	c.Split([]byte("dl/x"))
	c.Split([]byte("dl/y"))
	cl := newTxnClient(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const pairs = 12
	var mu sync.Mutex
	bothFailed := 0
	var wg sync.WaitGroup
	for p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs := make([]error, 2)
			var pw sync.WaitGroup
			for side := range 2 {
				pw.Add(1)
				go func() {
					defer pw.Done()
					tx, err := cl.Begin(ctx)
					if err != nil {
						errs[side] = err
						return
					}
					// The primary is the smallest key: a0/ for one side, a1/
					// for the other, each in the first range.
					for _, k := range []string{fmt.Sprintf("dl/a%d/%d", side, p), fmt.Sprintf("dl/x/%d", p), fmt.Sprintf("dl/y/%d", p)} {
						if err := tx.Put([]byte(k), []byte("v")); err != nil {
							errs[side] = err
							return
						}
					}
					_, errs[side] = tx.Commit(ctx)
				}()
			}
			pw.Wait()
			for _, err := range errs {
				if err != nil && !errors.Is(err, kv.ErrWriteConflict) {
					t.Errorf("pair %d: %v", p, err)
				}
			}
			if errs[0] != nil && errs[1] != nil {
				t.Logf("pair %d: %v | %v", p, errs[0], errs[1])
				mu.Lock()
				bothFailed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if bothFailed > 0 {
		t.Fatalf("%d of %d pairs: both transactions failed (they deadlocked until their lock waits ran out)", bothFailed, pairs)
	}
}
