package server_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
)

// The bank: accounts are keys bank/acctNN holding a decimal balance.
const (
	bankAccounts = 20
	bankInitial  = 100
	bankTotal    = bankAccounts * bankInitial
)

var bankStart, bankEnd = []byte("bank/"), []byte("bank0") // '0' follows '/'

func bankKey(i int) []byte { return fmt.Appendf(nil, "bank/acct%02d", i) }

// chaosDuration is SHARD_CHAOS_DURATION if set, else def.
func chaosDuration(def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SHARD_CHAOS_DURATION")); err == nil {
		return d
	}
	return def
}

// newTxnClient returns a kv client of no node whose background work stops
// before the cluster does.
func newTxnClient(t *testing.T, c *testcluster.Cluster) *kv.Client {
	cl := c.NewClient()
	t.Cleanup(cl.Close)
	return cl
}

// bankRead is one snapshot of every balance.
type bankRead struct {
	ts       engine.Timestamp
	how      string
	balances map[string]int
}

func (r bankRead) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %d:", r.how, r.ts)
	for _, k := range slices.Sorted(maps.Keys(r.balances)) {
		fmt.Fprintf(&b, " %s=%d", strings.TrimPrefix(k, "bank/acct"), r.balances[k])
	}
	return b.String()
}

// check returns what is wrong with a read of every account: a missing or
// unreadable account, a negative balance, a total that is not bankTotal.
func (r bankRead) check() string {
	var why []string
	if len(r.balances) != bankAccounts {
		why = append(why, fmt.Sprintf("%d accounts, want %d", len(r.balances), bankAccounts))
	}
	sum := 0
	for k, v := range r.balances {
		sum += v
		if v < 0 {
			why = append(why, fmt.Sprintf("%s is negative", k))
		}
	}
	if sum != bankTotal {
		why = append(why, fmt.Sprintf("total %d, want %d", sum, bankTotal))
	}
	return strings.Join(why, "; ")
}

// readBank reads every balance in t, by one scan or by one get per account.
func readBank(ctx context.Context, t *kv.Txn, byScan bool) (bankRead, error) {
	r := bankRead{ts: t.StartTS(), how: "get", balances: map[string]int{}}
	parse := func(k, v []byte) error {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("account %s holds %q: %w", k, v, err)
		}
		r.balances[string(k)] = n
		return nil
	}
	if byScan {
		r.how = "scan"
		rows, err := t.Scan(ctx, bankStart, bankEnd, 0)
		if err != nil {
			return r, err
		}
		for _, row := range rows {
			if err := parse(row.Key, row.Value); err != nil {
				return r, err
			}
		}
		return r, nil
	}
	for i := range bankAccounts {
		v, found, err := t.Get(ctx, bankKey(i))
		if err != nil {
			return r, err
		}
		if found {
			if err := parse(bankKey(i), v); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// bankOutcome counts what the transfer workers did.
type bankOutcome struct {
	transfers, skipped, restarts, failed, ambiguous atomic.Int64
}

// transfer moves a random amount between two random accounts if the source
// has it, in one transaction (restarted on conflicts).
func transfer(ctx context.Context, cl *kv.Client, rng *rand.Rand, out *bankOutcome) error {
	from := rng.IntN(bankAccounts)
	to := (from + 1 + rng.IntN(bankAccounts-1)) % bankAccounts
	amount := 1 + rng.IntN(30)
	moved, attempts := false, 0
	err := cl.RunTxn(ctx, func(ctx context.Context, t *kv.Txn) error {
		attempts++
		moved = false
		balance := func(i int) (int, error) {
			v, found, err := t.Get(ctx, bankKey(i))
			if err != nil {
				return 0, err
			}
			if !found {
				return 0, fmt.Errorf("account %d is missing at %d", i, t.StartTS())
			}
			return strconv.Atoi(string(v))
		}
		a, err := balance(from)
		if err != nil {
			return err
		}
		b, err := balance(to)
		if err != nil {
			return err
		}
		if a < amount {
			return nil
		}
		moved = true
		if err := t.Put(bankKey(from), []byte(strconv.Itoa(a-amount))); err != nil {
			return err
		}
		return t.Put(bankKey(to), []byte(strconv.Itoa(b+amount)))
	})
	out.restarts.Add(int64(max(attempts-1, 0)))
	switch {
	case err == nil && moved:
		out.transfers.Add(1)
	case err == nil:
		out.skipped.Add(1)
	case strings.Contains(err.Error(), "unknown outcome") || errors.Is(err, kv.ErrUnavailable):
		out.ambiguous.Add(1)
	default:
		out.failed.Add(1)
	}
	return err
}

// TestBankTransfersUnderChaos is the bank test: concurrent transfers
// between accounts spread over several ranges, concurrent snapshot reads of
// every balance, under leader kills, node restarts and splits. Every read
// must see the same total and no negative balance; a snapshot read again
// at its timestamp later must see exactly the same balances; the final
// total is the initial one and every range's replicas agree.
func TestBankTransfersUnderChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: skipped with -short")
	}
	seed := chaosSeed(t)
	t.Logf("seed %d (rerun with SHARD_CHAOS_SEED=%d)", seed, seed)
	chaosFor := chaosDuration(20 * time.Second)
	rng := rand.New(rand.NewPCG(seed, 1))

	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	for _, at := range []int{5, 10, 15} {
		c.Split(bankKey(at))
	}
	c.WaitReplicated()

	setup := newTxnClient(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	err := setup.RunTxn(ctx, func(ctx context.Context, tx *kv.Txn) error {
		for i := range bankAccounts {
			if err := tx.Put(bankKey(i), []byte(strconv.Itoa(bankInitial))); err != nil {
				return err
			}
		}
		return nil
	})
	cancel()
	if err != nil {
		t.Fatalf("open the accounts: %v", err)
	}

	run, stop := context.WithCancel(t.Context())
	defer stop()
	var wg sync.WaitGroup
	workers := 4 + rng.IntN(5)
	var out bankOutcome
	var clients []*kv.Client
	for w := range workers {
		cl := newTxnClient(t, c)
		clients = append(clients, cl)
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+10))
		wg.Go(func() {
			for run.Err() == nil {
				opCtx, cancel := context.WithTimeout(run, 10*time.Second)
				_ = transfer(opCtx, cl, wrng, &out)
				cancel()
			}
		})
	}

	// Readers: a fresh snapshot of every balance, by scan or by gets, and
	// now and then an old snapshot read again, which must not have changed.
	var violations struct {
		sync.Mutex
		list []string
	}
	violation := func(format string, args ...any) {
		violations.Lock()
		defer violations.Unlock()
		if len(violations.list) < 20 {
			violations.list = append(violations.list, fmt.Sprintf(format, args...))
		}
	}
	var reads, rereads, readErrors atomic.Int64
	for r := range 2 {
		cl := newTxnClient(t, c)
		rrng := rand.New(rand.NewPCG(seed, uint64(r)+100))
		wg.Go(func() {
			var past []bankRead
			for run.Err() == nil {
				opCtx, cancel := context.WithTimeout(run, 10*time.Second)
				var tx *kv.Txn
				var prev bankRead
				again := len(past) > 0 && rrng.IntN(4) == 0
				if again {
					prev = past[rrng.IntN(len(past))]
					tx = cl.SnapshotAt(prev.ts)
				} else {
					var err error
					if tx, err = cl.Begin(opCtx); err != nil {
						cancel()
						readErrors.Add(1)
						continue
					}
				}
				got, err := readBank(opCtx, tx, rrng.IntN(2) == 0)
				cancel()
				if err != nil {
					readErrors.Add(1)
					continue
				}
				if why := got.check(); why != "" {
					violation("reader %d: %s: %s", r, why, got)
				}
				if again {
					rereads.Add(1)
					if !maps.Equal(got.balances, prev.balances) {
						violation("reader %d: snapshot changed:\n first %s\n again %s", r, prev, got)
					}
					continue
				}
				reads.Add(1)
				if len(past) < 64 {
					past = append(past, got)
				} else {
					past[rrng.IntN(len(past))] = got
				}
			}
		})
	}

	// The nemesis, on the test's goroutine (the cluster's methods may
	// fail the test). Pauses are part of the fault pattern.
	pause := func(lo, hi time.Duration) {
		select {
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
		case <-t.Context().Done():
		}
	}
	began := time.Now()
	var events []string
	splits := 0
	for time.Since(began) < chaosFor {
		switch rng.IntN(5) {
		case 0, 1: // kill the leader of a random range, meta included
			descs := c.Descriptors()
			d := descs[rng.IntN(len(descs))]
			victim := c.LeaderOf(d.RangeId)
			c.Stop(victim)
			events = append(events, fmt.Sprintf("kill n%d (leader of r%d)", victim, d.RangeId))
			pause(200*time.Millisecond, 1500*time.Millisecond)
			c.Restart(victim)
		case 2: // restart a random node
			victim := 1 + rng.IntN(c.N())
			c.Restart(victim)
			events = append(events, fmt.Sprintf("restart n%d", victim))
		default: // split at a new key among the accounts
			key := fmt.Appendf(bankKey(rng.IntN(bankAccounts)), "/%d", splits)
			if rng.IntN(2) == 0 {
				key = bankKey(1 + rng.IntN(bankAccounts-1))
			}
			if !isRangeStart(c.Descriptors(), key) {
				_, right := c.Split(key)
				splits++
				events = append(events, fmt.Sprintf("split %s (r%d)", key, right.RangeId))
			}
		}
		pause(300*time.Millisecond, 1500*time.Millisecond)
	}
	stop()
	wg.Wait()
	elapsed := time.Since(began)
	t.Logf("chaos: %s", strings.Join(events, ", "))

	var stats kv.TxnStats
	for _, cl := range clients {
		s := cl.TxnStats()
		stats.OnePC += s.OnePC
		stats.TwoPC += s.TwoPC
		stats.Conflicts += s.Conflicts
		stats.Aborted += s.Aborted
	}
	t.Logf("%d workers: %d transfers committed (%.1f/s), %d skipped (insufficient funds), %d restarts, %d failed, %d ambiguous",
		workers, out.transfers.Load(), float64(out.transfers.Load())/elapsed.Seconds(), out.skipped.Load(), out.restarts.Load(), out.failed.Load(), out.ambiguous.Load())
	share := 0.0
	if n := stats.OnePC + stats.TwoPC; n > 0 {
		share = 100 * float64(stats.OnePC) / float64(n)
	}
	t.Logf("commits: %d one-phase, %d two-phase (%.0f%% 1PC), %d write conflicts at commit, %d aborted by others",
		stats.OnePC, stats.TwoPC, share, stats.Conflicts, stats.Aborted)
	t.Logf("reads: %d snapshots (%d errors), %d snapshots read again", reads.Load(), readErrors.Load(), rereads.Load())

	for _, v := range violations.list {
		t.Error(v)
	}
	if out.transfers.Load() == 0 || reads.Load() == 0 {
		t.Fatal("no transfer committed or no read succeeded: the run tested nothing")
	}

	// The end: every node up, one last read through every node's own
	// client, and the replicas agree.
	c.WaitReplicated()
	for i := 1; i <= c.N(); i++ {
		// A transaction whose coordinator was killed holds its locks until
		// their TTL runs out: the final read restarts on the write conflict
		// (as a client would) for a while; a lock that outlives that is a bug.
		var final bankRead
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			var tx *kv.Txn
			if tx, err = c.Client(i).Begin(ctx); err == nil {
				final, err = readBank(ctx, tx, true)
			}
			cancel()
			if err == nil || !errors.Is(err, kv.ErrWriteConflict) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatalf("n%d: final read: %v", i, err)
		}
		if why := final.check(); why != "" {
			t.Errorf("n%d: final read: %s: %s", i, why, final)
		}
	}
	c.WaitReplicasAgree()
}

// isRangeStart reports whether a range of descs starts at key.
func isRangeStart(descs []*kvpb.RangeDescriptor, key []byte) bool {
	for _, d := range descs {
		if string(d.StartKey) == string(key) {
			return true
		}
	}
	return false
}
