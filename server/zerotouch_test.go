package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/serverpb"
)

// The zero-touch controller on in-process clusters, with test-sized
// thresholds and windows: load and size splits, hot keys, merges, repair
// and rebalancing, each under a concurrent bank workload whose total must
// hold and whose errors must all be retryable.

// zeroTouchDB is the database id the tests' keys live under.
const zeroTouchDB = 42

// sqlKey is a key laid out as SQL rows are ('t' db hash table index
// suffix), so the controller snaps splits to its hash block.
func sqlKey(hash uint64, suffix string) []byte {
	k := binary.BigEndian.AppendUint32([]byte{'t'}, zeroTouchDB)
	k = binary.BigEndian.AppendUint64(k, hash)
	k = binary.BigEndian.AppendUint32(k, 1)
	k = binary.BigEndian.AppendUint32(k, 1)
	return append(k, suffix...)
}

// dbSpan is the span of the test database.
func dbSpan() (start, end []byte) {
	p := binary.BigEndian.AppendUint32([]byte{'t'}, zeroTouchDB)
	return p, keys.PrefixEnd(p)
}

// testControllerConfig is the controller with test-sized thresholds.
func testControllerConfig() *controller.Config {
	c := controller.DefaultConfig()
	c.ReportInterval = 250 * time.Millisecond
	c.SplitQPS = 400
	c.SplitWindow = 2 * time.Second
	c.MergeAfter = 4 * time.Second
	c.MergeCooldown = 4 * time.Second
	c.DeadAfter = 4 * time.Second
	c.RangeMaxBytes = 64 << 20
	return &c
}

// startZeroTouch starts a cluster with the controller on and gives the
// test database its own range (its span's ends are sticky boundaries).
func startZeroTouch(t *testing.T, nodes, start int, cfg *controller.Config) *testcluster.Cluster {
	c := testcluster.Start(t, testcluster.Options{Nodes: nodes, Start: start, Controller: cfg})
	lo, hi := dbSpan()
	c.Split(lo)
	c.Split(hi)
	return c
}

// dbRanges returns the descriptors of the test database's ranges.
func dbRanges(t *testing.T, c *testcluster.Cluster) []*kvpb.RangeDescriptor {
	lo, hi := dbSpan()
	var out []*kvpb.RangeDescriptor
	for _, d := range c.Descriptors() {
		if bytes.Compare(d.StartKey, lo) >= 0 && bytes.Compare(d.EndKey, hi) <= 0 {
			out = append(out, d)
		}
	}
	return out
}

// events reads the controller's events.
func events(t *testing.T, cl *kv.Client) []*kvpb.Event {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	evs, err := meta.New(cl).Events(ctx, 0, 0)
	if err != nil {
		t.Logf("events: %v", err)
	}
	return evs
}

func hasEvent(evs []*kvpb.Event, kind string) *kvpb.Event {
	for _, e := range evs {
		if e.Kind == kind {
			return e
		}
	}
	return nil
}

// bank moves money between accounts, each in its own hash block, in
// transactions, until stopped; check verifies the total and that every
// error was retryable. Each worker makes at most 20 transfers a second, a
// load well under the tests' split threshold, so that it never keeps a
// range from merging.
type bank struct {
	cl       *kv.Client
	accounts int
	stop     chan struct{}
	wg       sync.WaitGroup
	done     atomic.Int64
	retried  atomic.Int64
	mu       sync.Mutex
	failures []error
}

const zeroTouchBankInitial = 100

func bankAccount(i int) []byte { return sqlKey(uint64(i)*(^uint64(0)/64)+7, "acct") }

func startBank(t *testing.T, cl *kv.Client, accounts, workers int) *bank {
	b := &bank{cl: cl, accounts: accounts, stop: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cl.RunTxn(ctx, func(_ context.Context, tx *kv.Txn) error {
		for i := range accounts {
			if err := tx.Put(bankAccount(i), binary.BigEndian.AppendUint64(nil, zeroTouchBankInitial)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bank setup: %v", err)
	}
	for w := range workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for {
				select {
				case <-b.stop:
					return
				default:
				}
				from, to := rng.IntN(accounts), rng.IntN(accounts)
				if from == to {
					continue
				}
				time.Sleep(50 * time.Millisecond)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := b.transfer(ctx, from, to, uint64(rng.IntN(5)+1))
				cancel()
				switch {
				case err == nil:
					b.done.Add(1)
				case errors.Is(err, kv.ErrWriteConflict), errors.Is(err, kv.ErrTxnAborted), errors.Is(err, kv.ErrUnavailable):
					b.retried.Add(1)
				default:
					b.mu.Lock()
					b.failures = append(b.failures, err)
					b.mu.Unlock()
				}
			}
		}()
	}
	return b
}

func (b *bank) transfer(ctx context.Context, from, to int, amount uint64) error {
	tx, err := b.cl.Begin(ctx)
	if err != nil {
		return err
	}
	read := func(i int) (uint64, error) {
		v, found, err := tx.Get(ctx, bankAccount(i))
		if err != nil {
			return 0, err
		}
		if !found || len(v) != 8 {
			return 0, fmt.Errorf("account %d missing or malformed", i)
		}
		return binary.BigEndian.Uint64(v), nil
	}
	a, err := read(from)
	if err != nil {
		tx.Rollback(ctx)
		return err
	}
	c, err := read(to)
	if err != nil {
		tx.Rollback(ctx)
		return err
	}
	if a < amount {
		tx.Rollback(ctx)
		return nil
	}
	if err := tx.Put(bankAccount(from), binary.BigEndian.AppendUint64(nil, a-amount)); err != nil {
		return err
	}
	if err := tx.Put(bankAccount(to), binary.BigEndian.AppendUint64(nil, c+amount)); err != nil {
		return err
	}
	_, err = tx.Commit(ctx)
	return err
}

// check stops the workload and verifies the total.
func (b *bank) check(t *testing.T) {
	t.Helper()
	close(b.stop)
	b.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var total uint64
	err := b.cl.RunTxn(ctx, func(ctx context.Context, tx *kv.Txn) error {
		total = 0
		for i := range b.accounts {
			v, found, err := tx.Get(ctx, bankAccount(i))
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("account %d is gone", i)
			}
			total += binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("bank: final read: %v", err)
	}
	t.Logf("bank: %d transfers committed, %d retryable errors", b.done.Load(), b.retried.Load())
	if want := uint64(b.accounts * zeroTouchBankInitial); total != want {
		t.Errorf("bank: total %d, want %d: money was lost or made", total, want)
	}
	if len(b.failures) > 0 {
		t.Errorf("bank: %d requests failed with errors that are not retryable, first: %v", len(b.failures), b.failures[0])
	}
	if b.done.Load() == 0 {
		t.Errorf("bank: no transfer committed")
	}
}

// writer writes keys of nblocks hash blocks (one block: a hot key) as fast
// as it can, counting writes per second.
type writer struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	writes  atomic.Int64
	errs    atomic.Int64
	lastErr atomic.Value
}

func startWriter(cl *kv.Client, workers int, key func(rng *rand.Rand) []byte) *writer {
	w := &writer{stop: make(chan struct{})}
	for i := range workers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			for {
				select {
				case <-w.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := cl.Put(ctx, key(rng), []byte("value-of-some-length"))
				cancel()
				if err != nil {
					w.errs.Add(1)
					w.lastErr.Store(err.Error())
					continue
				}
				w.writes.Add(1)
			}
		}()
	}
	return w
}

func (w *writer) halt() {
	close(w.stop)
	w.wg.Wait()
}

// TestLoadSplitThenMerge: a uniform write load over one range above the
// threshold splits it within 15 s of the load starting (throughput before
// and after is logged); once the load stops, the ranges merge back and the
// data is intact; a bank workload runs throughout.
func TestLoadSplitThenMerge(t *testing.T) {
	c := startZeroTouch(t, 3, 0, testControllerConfig())
	c.WaitReplicated()
	cl := c.NewClient()
	bk := startBank(t, cl, 8, 2)
	before := len(dbRanges(t, c))
	w := startWriter(cl, 8, func(rng *rand.Rand) []byte { return sqlKey(rng.Uint64(), fmt.Sprint(rng.IntN(1000))) })
	start := time.Now()
	var perSec []int64
	var splitAt time.Duration
	last := int64(0)
	for time.Since(start) < 25*time.Second {
		time.Sleep(time.Second)
		n := w.writes.Load()
		perSec = append(perSec, n-last)
		last = n
		if splitAt == 0 && len(dbRanges(t, c)) > before {
			splitAt = time.Since(start)
		}
		if splitAt != 0 && time.Since(start) > splitAt+8*time.Second {
			break
		}
	}
	w.halt()
	t.Logf("writes per second: %v (errors %d, last %v)", perSec, w.errs.Load(), w.lastErr.Load())
	if splitAt == 0 {
		t.Fatalf("no load split within 25 s; ranges %v; events %v", dbRanges(t, c), events(t, cl))
	}
	if splitAt > 15*time.Second {
		t.Errorf("the load split came %v after the load started, want within 15 s", splitAt)
	}
	cut := int(splitAt / time.Second)
	t.Logf("load split %v after the load started; throughput %.0f writes/s before, %.0f after", splitAt.Round(100*time.Millisecond),
		mean(perSec[:max(cut, 1)]), mean(perSec[min(cut+1, len(perSec)-1):]))
	if e := hasEvent(events(t, cl), "split"); e == nil {
		t.Errorf("no split event recorded")
	} else {
		t.Logf("event: %s", e.Message)
	}
	// Load stops: the ranges merge back into one.
	testcluster.WaitFor(t, 60*time.Second, "the database's ranges to merge back", func() (bool, string) {
		rs := dbRanges(t, c)
		return len(rs) == 1, fmt.Sprintf("%d ranges", len(rs))
	})
	if e := hasEvent(events(t, cl), "merge"); e == nil {
		t.Errorf("no merge event recorded")
	} else {
		t.Logf("event: %s", e.Message)
	}
	bk.check(t)
}

func mean(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s int64
	for _, x := range xs {
		s += x
	}
	return float64(s) / float64(len(xs))
}

// TestHotKeyIsReported: a load on a single shard value is reported as a
// hot key, not split.
func TestHotKeyIsReported(t *testing.T) {
	c := startZeroTouch(t, 3, 0, testControllerConfig())
	c.WaitReplicated()
	cl := c.NewClient()
	before := dbRanges(t, c)
	w := startWriter(cl, 8, func(rng *rand.Rand) []byte { return sqlKey(12345, fmt.Sprint(rng.IntN(1000))) })
	defer func() {
		select {
		case <-w.stop:
		default:
			w.halt()
		}
	}()
	testcluster.WaitFor(t, 30*time.Second, "a hot-key event", func() (bool, string) {
		e := hasEvent(events(t, cl), "hot-key")
		return e != nil, fmt.Sprintf("%d writes so far", w.writes.Load())
	})
	w.halt()
	t.Logf("event: %s", hasEvent(events(t, cl), "hot-key").Message)
	if after := dbRanges(t, c); len(after) != len(before) {
		t.Errorf("a single hot shard value split its range: %d ranges before, %d after", len(before), len(after))
	}
}

// TestSizeSplit: loading data past the maximum size splits the range, and
// no range ever grows past twice the maximum.
func TestSizeSplit(t *testing.T) {
	cfg := testControllerConfig()
	cfg.RangeMaxBytes = 1 << 20
	cfg.SplitQPS = 1e9 // size only
	cfg.MergeAfter = time.Hour
	c := startZeroTouch(t, 3, 0, cfg)
	c.WaitReplicated()
	cl := c.NewClient()
	bk := startBank(t, cl, 8, 1)
	value := bytes.Repeat([]byte("x"), 1000)
	var biggest atomic.Uint64
	stop := make(chan struct{})
	var mon sync.WaitGroup
	mon.Add(1)
	go func() {
		defer mon.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			for _, st := range rangeSizes(c) {
				if st > biggest.Load() {
					biggest.Store(st)
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(3, 3))
	const rows = 8000
	for i := range rows {
		if err := cl.Put(ctx, sqlKey(rng.Uint64(), fmt.Sprint(i)), value); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	testcluster.WaitFor(t, 30*time.Second, "ranges under the maximum size", func() (bool, string) {
		sizes := rangeSizes(c)
		for _, s := range sizes {
			if s > cfg.RangeMaxBytes*3/2 {
				return false, fmt.Sprintf("sizes %v", sizes)
			}
		}
		return true, ""
	})
	close(stop)
	mon.Wait()
	n := len(dbRanges(t, c))
	t.Logf("%d rows of 1 KB: %d ranges; the biggest seen was %d KiB (max %d KiB)", rows, n, biggest.Load()>>10, cfg.RangeMaxBytes>>10)
	if n < 4 {
		t.Errorf("only %d ranges after loading %d KiB with a %d KiB maximum", n, rows, cfg.RangeMaxBytes>>10)
	}
	if biggest.Load() > 2*cfg.RangeMaxBytes {
		t.Errorf("a range reached %d KiB, more than twice the maximum", biggest.Load()>>10)
	}
	if e := hasEvent(events(t, cl), "split"); e != nil {
		t.Logf("event: %s", e.Message)
	}
	rows2, err := cl.Scan(ctx, sqlKey(0, ""), keys.PrefixEnd(sqlKey(^uint64(0), "")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows2) < rows {
		t.Errorf("%d rows after the splits, want at least %d", len(rows2), rows)
	}
	bk.check(t)
}

// rangeSizes returns the size each range's leader measures of the test
// database's ranges.
func rangeSizes(c *testcluster.Cluster) []uint64 {
	conn, err := testclusterAdmin(c)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := conn.Ranges(ctx, &serverpb.RangesRequest{})
	if err != nil {
		return nil
	}
	lo, hi := dbSpan()
	var out []uint64
	for _, r := range resp.Ranges {
		if bytes.Compare(r.Desc.StartKey, lo) >= 0 && bytes.Compare(r.Desc.EndKey, hi) <= 0 {
			out = append(out, r.ApproximateBytes)
		}
	}
	return out
}

// testclusterAdmin returns an admin client of the first running node.
func testclusterAdmin(c *testcluster.Cluster) (serverpb.AdminClient, error) {
	for i := 1; i <= c.N(); i++ {
		if c.Running(i) {
			return c.Admin(i)
		}
	}
	return nil, errors.New("no node runs")
}

// TestRepairDeadNode: in a 4-node cluster with 3 replicas, a node is
// killed; after --dead-after every range has 3 live replicas again, no
// acknowledged write is lost, and when the node comes back it drops the
// replicas that were replaced.
func TestRepairDeadNode(t *testing.T) {
	c := startZeroTouch(t, 4, 0, testControllerConfig())
	lo, _ := dbSpan()
	for i := 1; i < 4; i++ {
		c.Split(sqlKey(uint64(i)<<62, ""))
	}
	_ = lo
	waitVoters(t, c, 3, nil)
	cl := c.NewClient()
	bk := startBank(t, cl, 8, 2)
	// The victim: the node with the most replicas, not node 1 (the
	// cluster's client seeds go through every node anyway).
	victim := 2
	c.Stop(victim)
	killed := time.Now()
	waitVoters(t, c, 3, map[uint64]bool{uint64(victim): true})
	t.Logf("every range has 3 live replicas %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	if e := hasEvent(events(t, cl), "relocate"); e != nil {
		t.Logf("event: %s", e.Message)
	}
	bk.check(t)
	// The node comes back and collects the replicas that were replaced
	// (those whose meta descriptor is newer than its own and lacks it; the
	// rebalancer may meanwhile give it new ones).
	c.Restart(victim)
	testcluster.WaitFor(t, 60*time.Second, fmt.Sprintf("n%d to drop its replaced replicas", victim), func() (bool, string) {
		for _, d := range c.Descriptors() {
			if d.HasReplica(uint64(victim)) {
				continue
			}
			if st, err := c.ReplicaState(victim, d.RangeId); err == nil && st.Desc.GetGeneration() < d.Generation {
				return false, fmt.Sprintf("n%d still holds r%d at generation %d (meta: %d)", victim, d.RangeId, st.Desc.GetGeneration(), d.Generation)
			}
		}
		return true, ""
	})
}

// waitVoters waits until every range has want voters, none on the nodes in
// avoid, each with a leader.
func waitVoters(t *testing.T, c *testcluster.Cluster, want int, avoid map[uint64]bool) {
	t.Helper()
	testcluster.WaitFor(t, 90*time.Second, fmt.Sprintf("every range to have %d voters off %v", want, avoid), func() (bool, string) {
		var bad []string
		for _, d := range c.Descriptors() {
			voters := 0
			for _, r := range d.Replicas {
				if r.Type == kvpb.ReplicaType_VOTER && !avoid[r.NodeId] {
					voters++
				}
				if avoid[r.NodeId] {
					voters = -100
				}
			}
			if voters != want || len(d.Replicas) != want {
				bad = append(bad, fmt.Sprintf("r%d %v", d.RangeId, replicaNodes(d)))
			}
		}
		return len(bad) == 0, strings.Join(bad, ", ")
	})
}

func replicaNodes(d *kvpb.RangeDescriptor) []uint64 {
	var out []uint64
	for _, r := range d.Replicas {
		out = append(out, r.NodeId)
	}
	return out
}

// TestRebalanceNewNodes: starting 2 more nodes spreads replicas and
// leaders to within one of the mean.
func TestRebalanceNewNodes(t *testing.T) {
	c := startZeroTouch(t, 5, 3, testControllerConfig())
	for i := 1; i < 8; i++ {
		c.Split(sqlKey(uint64(i)<<61, ""))
	}
	waitVoters(t, c, 3, nil)
	cl := c.NewClient()
	bk := startBank(t, cl, 8, 2)
	c.Restart(4)
	c.Restart(5)
	added := time.Now()
	var spread string
	testcluster.WaitFor(t, 120*time.Second, "replicas and leaders within one of the mean", func() (bool, string) {
		descs := c.Descriptors()
		reps := map[uint64]int{}
		leaders := map[uint64]int{}
		total := 0
		for _, d := range descs {
			for _, r := range d.Replicas {
				reps[r.NodeId]++
				total++
			}
			if l := c.LeaderOf(d.RangeId); l != 0 {
				leaders[uint64(l)]++
			}
		}
		meanR, meanL := float64(total)/5, float64(len(descs))/5
		for n := uint64(1); n <= 5; n++ {
			if float64(reps[n]) > meanR+1 || float64(reps[n]) < meanR-1 ||
				float64(leaders[n]) > meanL+1 || float64(leaders[n]) < meanL-1 {
				return false, fmt.Sprintf("replicas %v (mean %.1f), leaders %v (mean %.1f)", reps, meanR, leaders, meanL)
			}
		}
		spread = fmt.Sprintf("replicas %v (mean %.1f), leaders %v (mean %.1f)", reps, meanR, leaders, meanL)
		return true, ""
	})
	t.Logf("balanced %v after n4 and n5 joined: %s", time.Since(added).Round(100*time.Millisecond), spread)
	bk.check(t)
}
