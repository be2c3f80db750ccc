package server_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
)

// The register test: a few keys, each a register, read, written and
// compare-and-set by concurrent clients through transactions, under faults;
// porcupine checks that the history is linearizable.

// regOp is an operation's input.
type regOp struct {
	key      string
	kind     string // "read", "write", "cas"
	old, new string // cas: old -> new; write: new ("" is the absent key)
	// lazy: a read in a kv.BeginLazy transaction (the key's newest
	// version, without a timestamp), a write or cas in a kv.BeginDeferred
	// one (a blind write to one range takes its timestamps at the
	// leaseholder); else a transaction from Begin.
	lazy bool
}

// regResult is an operation's output. unknown: the operation failed in a
// way that leaves open whether it took effect (its Return is infinite).
type regResult struct {
	value   string // read
	ok      bool   // cas
	unknown bool
}

// regModel is a register per key, initially absent ("").
var regModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range history {
			k := op.Input.(regOp).key
			if _, ok := byKey[k]; !ok {
				order = append(order, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, k := range order {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(string), input.(regOp), output.(regResult)
		switch in.kind {
		case "read":
			return out.value == st, st
		case "write":
			return true, in.new
		case "cas":
			switch {
			case out.unknown && st == in.old:
				return true, in.new // it took effect here
			case out.unknown:
				return true, st // it cannot have taken effect here
			case out.ok:
				return st == in.old, in.new
			default:
				return st != in.old, st
			}
		}
		return false, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regOp), output.(regResult)
		s := ""
		switch in.kind {
		case "read":
			s = fmt.Sprintf("read %s -> %q", in.key, out.value)
		case "write":
			s = fmt.Sprintf("write %s %q", in.key, in.new)
		case "cas":
			s = fmt.Sprintf("cas %s %q -> %q: %v", in.key, in.old, in.new, out.ok)
		}
		if out.unknown {
			s += " (unknown)"
		}
		return s
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// errCASMismatch ends a compare-and-set whose key holds another value.
var errCASMismatch = errors.New("cas: value differs")

// regHistory collects operations from concurrent clients.
type regHistory struct {
	base time.Time
	mu   sync.Mutex
	ops  []porcupine.Operation
	// counts by outcome, for the log
	ok, failed, unknown, dropped int
}

func (h *regHistory) now() int64 { return time.Since(h.base).Nanoseconds() }

// record adds an operation that returned at ret (math.MaxInt64: unknown).
func (h *regHistory) record(client int, in regOp, call int64, out regResult, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if out.unknown {
		ret = math.MaxInt64
		h.unknown++
	} else {
		h.ok++
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

// regKeys are the registers; each has pads in other ranges, before and
// after it, that a transaction may write too so that it commits in two
// phases with the register as primary or as secondary.
func regKey(i int) string { return fmt.Sprintf("reg/%d", i) }

func padKey(reg string, before bool) []byte {
	if before {
		return []byte("pad0/" + reg)
	}
	return []byte("zpad/" + reg)
}

// regClient runs random operations on the registers until ctx ends.
func regClient(ctx context.Context, id int, cl *kv.Client, rng *rand.Rand, keys int, h *regHistory) {
	for seq := 0; ctx.Err() == nil; seq++ {
		in := regOp{key: regKey(rng.IntN(keys))}
		value := fmt.Sprintf("c%d-%d", id, seq)
		pad := rng.IntN(3) // 0: none, 1: before, 2: after
		switch r := rng.IntN(10); {
		case r < 4:
			in.kind, in.lazy = "read", rng.IntN(2) == 0
		case r < 7:
			in.kind, in.new, in.lazy = "write", value, rng.IntN(2) == 0
		default:
			in.kind, in.new, in.lazy = "cas", value, rng.IntN(2) == 0
			// Compare with a value the key may hold: the last read or
			// written by this client, or absent.
			h.mu.Lock()
			for i := len(h.ops) - 1; i >= 0 && i >= len(h.ops)-20; i-- {
				op := h.ops[i]
				if o := op.Input.(regOp); o.key == in.key {
					if o.kind == "read" {
						in.old = op.Output.(regResult).value
					} else {
						in.old = o.new
					}
					break
				}
			}
			h.mu.Unlock()
		}
		opCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		call := h.now()
		out, err := regDo(opCtx, cl, in, pad)
		ret := h.now()
		cancel()
		switch {
		case err == nil:
		case in.kind == "read":
			// A failed read has no effect: leave it out.
			h.mu.Lock()
			h.dropped++
			h.mu.Unlock()
			continue
		case errors.Is(err, kv.ErrTxnAborted) || errors.Is(err, kv.ErrWriteConflict):
			// Definitely not committed: an operation without effect.
			h.mu.Lock()
			h.failed++
			h.mu.Unlock()
			continue
		default:
			out.unknown = true
		}
		h.record(id, in, call, out, ret)
	}
}

// regDo runs one operation in a transaction.
func regDo(ctx context.Context, cl *kv.Client, in regOp, pad int) (regResult, error) {
	key := []byte(in.key)
	switch in.kind {
	case "read":
		tx := cl.BeginLazy()
		if !in.lazy {
			var err error
			if tx, err = cl.Begin(ctx); err != nil {
				return regResult{}, err
			}
		}
		v, _, err := tx.Get(ctx, key)
		return regResult{value: string(v)}, err
	case "write":
		err := regTxn(ctx, cl, in.lazy, func(ctx context.Context, tx *kv.Txn) error {
			if pad > 0 {
				if err := tx.Put(padKey(in.key, pad == 1), []byte(in.new)); err != nil {
					return err
				}
			}
			return tx.Put(key, []byte(in.new))
		})
		return regResult{}, err
	}
	err := regTxn(ctx, cl, in.lazy, func(ctx context.Context, tx *kv.Txn) error {
		v, _, err := tx.Get(ctx, key)
		if err != nil {
			return err
		}
		if string(v) != in.old {
			return errCASMismatch
		}
		if pad > 0 {
			if err := tx.Put(padKey(in.key, pad == 1), []byte(in.new)); err != nil {
				return err
			}
		}
		return tx.Put(key, []byte(in.new))
	})
	if errors.Is(err, errCASMismatch) {
		return regResult{ok: false}, nil
	}
	return regResult{ok: err == nil}, err
}

// checkRegHistory checks the history with porcupine; a violation or a
// timeout fails the test, with a visualization written next to the test
// output when SHARD_PORCUPINE_DIR is set.
func checkRegHistory(t *testing.T, ops []porcupine.Operation, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	res, info := porcupine.CheckOperationsVerbose(regModel, ops, timeout)
	t.Logf("porcupine: %s for %d operations in %s", res, len(ops), time.Since(start).Round(time.Millisecond))
	if res == porcupine.Ok {
		return
	}
	if dir := os.Getenv("SHARD_PORCUPINE_DIR"); dir != "" {
		path := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".html")
		if err := porcupine.VisualizePath(regModel, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
	}
	switch res {
	case porcupine.Unknown:
		t.Errorf("porcupine timed out after %s: the history is not known to be linearizable", timeout)
	default:
		t.Errorf("the history is not linearizable (set SHARD_PORCUPINE_DIR for a visualization)")
	}
}

// TestRegisterModelRejectsBadHistories shows that the model and checker
// can fail: hand-made histories that are not linearizable are rejected,
// and ones with operations of unknown outcome are accepted where they
// could have happened.
func TestRegisterModelRejectsBadHistories(t *testing.T) {
	op := func(client int, in regOp, call int64, out regResult, ret int64) porcupine.Operation {
		if out.unknown {
			ret = math.MaxInt64
		}
		return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
	}
	w := func(k, v string) regOp { return regOp{key: k, kind: "write", new: v} }
	r := func(k string) regOp { return regOp{key: k, kind: "read"} }
	cas := func(k, old, new string) regOp { return regOp{key: k, kind: "cas", old: old, new: new} }
	for _, c := range []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"stale read", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{}, 10),
			op(1, r("a"), 20, regResult{value: ""}, 30), // after the write returned
		}, porcupine.Illegal},
		{"stale read on one key among others", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{}, 10),
			op(1, w("b", "1"), 0, regResult{}, 10),
			op(0, r("b"), 20, regResult{value: "1"}, 30),
			op(1, w("a", "2"), 40, regResult{}, 50),
			op(2, r("a"), 60, regResult{value: "1"}, 70),
		}, porcupine.Illegal},
		{"concurrent read may see either", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{}, 10),
			op(1, w("a", "2"), 20, regResult{}, 50),
			op(2, r("a"), 30, regResult{value: "1"}, 40),
			op(3, r("a"), 30, regResult{value: "2"}, 40),
		}, porcupine.Ok},
		{"reads go back in time", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{}, 10),
			op(1, w("a", "2"), 20, regResult{}, 100),
			op(2, r("a"), 30, regResult{value: "2"}, 40),
			op(3, r("a"), 50, regResult{value: "1"}, 60),
		}, porcupine.Illegal},
		{"cas reported failed but took effect", []porcupine.Operation{
			op(0, cas("a", "", "x"), 0, regResult{ok: false}, 10),
			op(1, r("a"), 20, regResult{value: "x"}, 30),
		}, porcupine.Illegal},
		{"two cas from the same value both succeed", []porcupine.Operation{
			op(0, cas("a", "", "x"), 0, regResult{ok: true}, 10),
			op(1, cas("a", "", "y"), 0, regResult{ok: true}, 10),
		}, porcupine.Illegal},
		{"unknown write seen later", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{unknown: true}, 0),
			op(1, r("a"), 20, regResult{value: ""}, 30),
			op(1, r("a"), 40, regResult{value: "1"}, 50),
		}, porcupine.Ok},
		{"unknown write never seen", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{unknown: true}, 0),
			op(1, r("a"), 20, regResult{value: ""}, 30),
		}, porcupine.Ok},
		{"unknown write seen before it was sent", []porcupine.Operation{
			op(1, r("a"), 0, regResult{value: "1"}, 10),
			op(0, w("a", "1"), 20, regResult{unknown: true}, 0),
		}, porcupine.Illegal},
		{"unknown cas whose condition never held", []porcupine.Operation{
			op(0, w("a", "1"), 0, regResult{}, 10),
			op(1, cas("a", "", "x"), 20, regResult{unknown: true}, 0),
			op(2, r("a"), 30, regResult{value: "x"}, 40),
		}, porcupine.Illegal},
	} {
		if got := porcupine.CheckOperationsTimeout(regModel, c.ops, 10*time.Second); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestRegisterLinearizableUnderLeaderKills and
// TestRegisterLinearizableUnderPartitions run the register clients under
// one kind of fault each.
func TestRegisterLinearizableUnderLeaderKills(t *testing.T) {
	runRegisterTest(t, func(c *testcluster.Cluster, rng *rand.Rand, pause func(lo, hi time.Duration)) string {
		descs := c.Descriptors()
		d := descs[rng.IntN(len(descs))]
		victim := c.LeaderOf(d.RangeId)
		c.Stop(victim)
		pause(200*time.Millisecond, 1500*time.Millisecond)
		c.Restart(victim)
		return fmt.Sprintf("kill n%d (leader of r%d)", victim, d.RangeId)
	})
}

func TestRegisterLinearizableUnderPartitions(t *testing.T) {
	runRegisterTest(t, func(c *testcluster.Cluster, rng *rand.Rand, pause func(lo, hi time.Duration)) string {
		descs := c.Descriptors()
		d := descs[rng.IntN(len(descs))]
		victim := c.LeaderOf(d.RangeId)
		if rng.IntN(3) == 0 {
			// One link only: the victim keeps a majority with the third
			// node, and the node cut from it may call elections.
			other := 1 + (victim+rng.IntN(c.N()-1))%c.N()
			c.Partition(victim, other, true)
			pause(300*time.Millisecond, 2*time.Second)
			c.Partition(victim, other, false)
			return fmt.Sprintf("cut n%d-n%d (n%d led r%d)", victim, other, victim, d.RangeId)
		}
		c.Isolate(victim, true)
		pause(300*time.Millisecond, 2*time.Second)
		c.Isolate(victim, false)
		return fmt.Sprintf("isolate n%d (leader of r%d)", victim, d.RangeId)
	})
}

func runRegisterTest(t *testing.T, fault func(c *testcluster.Cluster, rng *rand.Rand, pause func(lo, hi time.Duration)) string) {
	if testing.Short() {
		t.Skip("chaos test: skipped with -short")
	}
	seed := chaosSeed(t)
	t.Logf("seed %d (rerun with SHARD_CHAOS_SEED=%d)", seed, seed)
	chaosFor := chaosDuration(12 * time.Second)
	rng := rand.New(rand.NewPCG(seed, 1))

	const keys, clients = 3, 5
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	// The registers on two ranges, the pads on two others.
	for _, k := range []string{"pad0/", "reg/", regKey(1), "zpad/"} {
		c.Split([]byte(k))
	}
	c.WaitReplicated()

	h := &regHistory{base: time.Now()}
	run, stop := context.WithCancel(t.Context())
	defer stop()
	var wg sync.WaitGroup
	var kvs []*kv.Client
	for i := range clients {
		cl := newTxnClient(t, c)
		kvs = append(kvs, cl)
		crng := rand.New(rand.NewPCG(seed, uint64(i)+10))
		wg.Go(func() { regClient(run, i, cl, crng, keys, h) })
	}
	pause := func(lo, hi time.Duration) {
		select {
		case <-time.After(lo + time.Duration(rng.Int64N(int64(hi-lo)))):
		case <-t.Context().Done():
		}
	}
	var events []string
	for end := time.Now().Add(chaosFor); time.Now().Before(end); {
		events = append(events, fault(c, rng, pause))
		pause(300*time.Millisecond, 1500*time.Millisecond)
	}
	stop()
	wg.Wait()
	t.Logf("faults: %s", strings.Join(events, ", "))
	var onePC, twoPC uint64
	for _, cl := range kvs {
		s := cl.TxnStats()
		onePC, twoPC = onePC+s.OnePC, twoPC+s.TwoPC
	}
	t.Logf("history: %d operations (%d completed, %d of unknown outcome), %d failed without effect, %d failed reads left out; commits: %d 1PC, %d 2PC",
		len(h.ops), h.ok, h.unknown, h.failed, h.dropped, onePC, twoPC)
	if h.ok < 50 {
		t.Fatalf("only %d operations completed: the run tested little", h.ok)
	}
	checkRegHistory(t, h.ops, 60*time.Second)
	c.WaitReplicated()
	c.WaitReplicasAgree()
}

// regTxn is kv.Client.RunTxn, or RunDeferredTxn when deferred is set.
func regTxn(ctx context.Context, cl *kv.Client, deferred bool, fn func(ctx context.Context, tx *kv.Txn) error) error {
	if deferred {
		return cl.RunDeferredTxn(ctx, fn)
	}
	return cl.RunTxn(ctx, fn)
}
