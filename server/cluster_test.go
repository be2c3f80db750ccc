package server_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/range/replica"
)

func put(t *testing.T, c *kv.Client, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Put(ctx, []byte(key), []byte(value)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(t *testing.T, c *kv.Client, key string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	v, found, err := c.Get(ctx, []byte(key))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(v), found
}

// spanKeys lists the visible keys of [start, end) in one node's engine.
func spanKeys(t *testing.T, eng *engine.Engine, start, end []byte) []string {
	t.Helper()
	var out []string
	err := replica.Scan(eng, start, end, engine.MaxTimestamp, func(k []byte, _ engine.Timestamp, _ []byte) bool {
		out = append(out, string(k))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSplitServesBothHalves splits the user range under a 3-node cluster
// and checks that both halves take reads and writes, from every node's
// client (including ones that cached the range before the split), that
// each half's replicas hold only its own keys, and that the replicas of
// each half hold the same bytes on all three nodes.
func TestSplitServesBothHalves(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()

	const n = 100
	key := func(i int) string { return fmt.Sprintf("k%03d", i) }
	for i := range n {
		put(t, c.Client(1+i%3), key(i), "before-"+strconv.Itoa(i))
	}
	// Every node's client now caches the single user range.
	for i := 1; i <= 3; i++ {
		if v, ok := get(t, c.Client(i), key(n-1)); !ok || v != "before-99" {
			t.Fatalf("n%d reads %s = %q (found %v) before the split", i, key(n-1), v, ok)
		}
	}

	splitKey := []byte(key(n / 2))
	left, right := c.Split(splitKey)
	if !bytes.Equal(left.EndKey, splitKey) || !bytes.Equal(right.StartKey, splitKey) || left.RangeId == right.RangeId {
		t.Fatalf("split at %s returned r%d [%q, %q) and r%d [%q, %q)", splitKey,
			left.RangeId, left.StartKey, left.EndKey, right.RangeId, right.StartKey, right.EndKey)
	}
	c.WaitReplicated()
	if got := len(c.Descriptors()); got != 3 {
		t.Fatalf("meta holds %d ranges after one split, want 3 (meta, left, right)", got)
	}

	// Writes and reads on both sides through every node's client; the
	// clients' cached descriptor is stale and must be refreshed.
	for i := range n {
		put(t, c.Client(1+(i+1)%3), key(i), "after-"+strconv.Itoa(i))
	}
	for node := 1; node <= 3; node++ {
		cl := c.Client(node)
		for i := range n {
			if v, ok := get(t, cl, key(i)); !ok || v != "after-"+strconv.Itoa(i) {
				t.Fatalf("n%d reads %s = %q (found %v), want after-%d", node, key(i), v, ok, i)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		rows, err := cl.Scan(ctx, []byte(key(0)), []byte(key(n)), 0)
		cancel()
		if err != nil {
			t.Fatalf("n%d scan across the split: %v", node, err)
		}
		if len(rows) != n {
			t.Fatalf("n%d scan across the split returned %d rows, want %d", node, len(rows), n)
		}
		for i, r := range rows {
			if string(r.Key) != key(i) {
				t.Fatalf("n%d scan row %d is %s, want %s", node, i, r.Key, key(i))
			}
		}
	}
	if l, r := c.LeaderOf(left.RangeId), c.LeaderOf(right.RangeId); l == 0 || r == 0 {
		t.Fatalf("leaders: r%d on n%d, r%d on n%d", left.RangeId, l, right.RangeId, r)
	}

	c.WaitReplicasAgree()
	for node := 1; node <= 3; node++ {
		eng := c.Server(node).Engine()
		if got := spanKeys(t, eng, left.StartKey, left.EndKey); len(got) != n/2 || got[0] != key(0) || got[len(got)-1] != key(n/2-1) {
			t.Fatalf("n%d: left span holds %d keys %v", node, len(got), got)
		}
		if got := spanKeys(t, eng, right.StartKey, right.EndKey); len(got) != n/2 || got[0] != key(n/2) || got[len(got)-1] != key(n-1) {
			t.Fatalf("n%d: right span holds %d keys %v", node, len(got), got)
		}
	}
}

// history records the writes of a run, key by key. Each key belongs to
// one writer, so its writes are sequential: attempted lists its values in
// the order they were sent, acked is the index of the last one that
// returned nil (-1: none did).
type history map[string]*keyWrites

type keyWrites struct {
	attempted []string
	acked     int
}

// attempt records that value is about to be written to key; it returns the
// write's index for ack.
func (h history) attempt(key, value string) int {
	kw := h[key]
	if kw == nil {
		kw = &keyWrites{acked: -1}
		h[key] = kw
	}
	kw.attempted = append(kw.attempted, value)
	return len(kw.attempted) - 1
}

// ack records that write i of key returned nil.
func (h history) ack(key string, i int) { h[key].acked = max(h[key].acked, i) }

func (h history) merge(o history) {
	for k, v := range o {
		h[k] = v
	}
}

// checkHistory compares the final state (read) with the history and
// returns every violation:
//   - a key with an acknowledged write must hold the value of its last
//     acknowledged write or of a write attempted after it (an
//     unacknowledged write may still have been applied);
//   - a key without one may be absent or hold any attempted value;
//   - no key holds a value that was never written to it.
func checkHistory(h history, read func(key string) (value string, found bool)) []string {
	var out []string
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		kw := h[k]
		v, found := read(k)
		idx := -1
		for i, a := range kw.attempted {
			if found && a == v {
				idx = i
			}
		}
		switch {
		case !found && kw.acked >= 0:
			out = append(out, fmt.Sprintf("%s: acknowledged write %q is lost: the key is absent", k, kw.attempted[kw.acked]))
		case !found:
		case idx < 0:
			out = append(out, fmt.Sprintf("%s holds %q, which was never written to it", k, v))
		case idx < kw.acked:
			out = append(out, fmt.Sprintf("%s holds %q (write %d), older than acknowledged write %d %q", k, v, idx, kw.acked, kw.attempted[kw.acked]))
		}
	}
	return out
}

func TestCheckHistoryReportsLostWrites(t *testing.T) {
	h := history{}
	for _, w := range []struct {
		key, value string
		acked      bool
	}{
		{"lost", "l1", true},
		{"stale", "s1", true}, {"stale", "s2", true},
		{"reordered", "r1", false}, {"reordered", "r2", true},
		{"later", "a1", true}, {"later", "a2", false},
		{"never-acked", "n1", false},
		{"garbage", "g1", true},
		{"fine", "f1", false}, {"fine", "f2", true},
	} {
		i := h.attempt(w.key, w.value)
		if w.acked {
			h.ack(w.key, i)
		}
	}
	state := map[string]string{
		"stale": "s1", "reordered": "r1", "later": "a2", "garbage": "x", "fine": "f2",
	}
	got := checkHistory(h, func(k string) (string, bool) { v, ok := state[k]; return v, ok })
	want := []string{"garbage", "lost", "reordered", "stale"}
	if len(got) != len(want) {
		t.Fatalf("violations:\n%s\nwant one each for %v", strings.Join(got, "\n"), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w+" ") && !strings.HasPrefix(got[i], w+":") {
			t.Errorf("violation %d is %q, want one about %s", i, got[i], w)
		}
	}
	// A clean history passes.
	state = map[string]string{"lost": "l1", "stale": "s2", "reordered": "r2", "later": "a1", "garbage": "g1", "fine": "f2"}
	if got := checkHistory(h, func(k string) (string, bool) { v, ok := state[k]; return v, ok }); len(got) != 0 {
		t.Fatalf("clean state reported: %v", got)
	}
}

// chaosSeed is SHARD_CHAOS_SEED if set, else the clock.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("SHARD_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SHARD_CHAOS_SEED=%q: %v", s, err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// TestAcknowledgedWritesSurviveNodeKills runs concurrent writers against a
// 3-node cluster while nodes are killed (sometimes two at once, losing
// quorum) and restarted, then restarts every node and checks every
// acknowledged write against the history (checkHistory) and the replicas
// against each other.
func TestAcknowledgedWritesSurviveNodeKills(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: skipped with -short")
	}
	seed := chaosSeed(t)
	t.Logf("seed %d (rerun with SHARD_CHAOS_SEED=%d)", seed, seed)
	chaosFor := 20 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SHARD_CHAOS_DURATION")); err == nil {
		chaosFor = d
	}
	rng := rand.New(rand.NewPCG(seed, 1))

	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	// Two user ranges, so that writers use two raft groups besides meta.
	c.Split([]byte("w2"))
	c.WaitReplicated()

	const writers, keysPerWriter = 4, 16
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	histories := make([]history, writers)
	var ackedPuts, failedPuts atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		histories[w] = history{}
		cl := c.NewClient()
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+2))
		wg.Go(func() {
			h := histories[w]
			for seq := 0; ctx.Err() == nil; seq++ {
				k := fmt.Sprintf("w%d/k%02d", w, wrng.IntN(keysPerWriter))
				v := fmt.Sprintf("w%d-%d", w, seq)
				i := h.attempt(k, v)
				// A short deadline: many writes end ambiguous during elections.
				opCtx, cancel := context.WithTimeout(ctx, time.Second)
				err := cl.Put(opCtx, []byte(k), []byte(v))
				cancel()
				if err == nil {
					h.ack(k, i)
					ackedPuts.Add(1)
				} else {
					failedPuts.Add(1)
				}
			}
		})
	}

	// The chaos schedule: pauses are part of the fault pattern, not a way
	// to wait for a condition.
	pause := func(lo, hi time.Duration) {
		select {
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
		case <-t.Context().Done():
		}
	}
	var events []string
	for end := time.Now().Add(chaosFor); time.Now().Before(end); {
		victim := 1 + rng.IntN(3)
		c.Stop(victim)
		down := []int{victim}
		if rng.IntN(4) == 0 {
			second := 1 + (victim+rng.IntN(2))%3
			c.Stop(second)
			down = append(down, second)
		}
		events = append(events, fmt.Sprintf("kill %v", down))
		pause(200*time.Millisecond, 1500*time.Millisecond)
		for _, i := range down {
			c.Restart(i)
		}
		pause(300*time.Millisecond, 2*time.Second)
	}
	stop()
	wg.Wait()
	t.Logf("chaos: %s", strings.Join(events, ", "))

	// Restart everything: acknowledged writes must be durable, not merely
	// in some process's memory.
	for i := 1; i <= 3; i++ {
		c.Stop(i)
	}
	for i := 1; i <= 3; i++ {
		c.Restart(i)
	}
	c.WaitReplicated()

	all := history{}
	for _, h := range histories {
		all.merge(h)
	}
	attempted, acked := 0, 0
	for _, kw := range all {
		attempted += len(kw.attempted)
		if kw.acked >= 0 {
			acked++
		}
	}
	t.Logf("%d puts returned nil, %d failed", ackedPuts.Load(), failedPuts.Load())
	cl := c.NewClient()
	violations := checkHistory(all, func(k string) (string, bool) { return get(t, cl, k) })
	t.Logf("%d writes attempted on %d keys; %d keys have an acknowledged write", attempted, len(all), acked)
	if acked == 0 {
		t.Fatal("no write was acknowledged: the run tested nothing")
	}
	for _, v := range violations {
		t.Error(v)
	}
	c.WaitReplicasAgree()
}
