package checker

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

// Register checks that every key's reads, writes and compare-and-sets
// (F read, write, cas) are linearizable, with porcupine, one key at a time.
//
// Conventions of the history (see the package comment): a read's Value nil
// means no row; a cas OK applied; a cas Fail with Error [history.NoMatch]
// ran and found no row holding Old, which the model checks like a read;
// any other Fail did not happen and is dropped; an Info may have taken
// effect at any time after its invocation (it never returns).
//
// Stats: "keys" checked, "keys-unknown" that ran out of time.
type Register struct {
	// Timeout bounds the search of one key; a key that runs out makes the
	// result Unknown. Default 10 s.
	Timeout time.Duration
	// Parallelism is how many keys are checked at once; default GOMAXPROCS.
	Parallelism int
}

const defaultRegisterTimeout = 10 * time.Second

// regVerdict is one key's outcome.
type regVerdict struct {
	result porcupine.CheckResult
	info   porcupine.LinearizationInfo // only for Illegal
}

// Check implements Checker.
func (c Register) Check(h history.History) Result {
	rs := newResults("register")
	if !rs.validate(h) {
		return rs.done()
	}
	keys, ops, pairs, counts := regOps(h)
	rs.r.Counts = counts
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = defaultRegisterTimeout
	}
	par := c.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}

	// Workers owned by Check: it waits for all of them before it returns.
	verdicts := make([]regVerdict, len(keys))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(par, len(keys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				verdicts[i] = checkKey(ops[keys[i]], timeout)
			}
		}()
	}
	for i := range keys {
		next <- i
	}
	close(next)
	wg.Wait()

	rs.r.Stats["keys"] = len(keys)
	var unknown []string
	for i, k := range keys {
		switch verdicts[i].result {
		case porcupine.Illegal:
			rs.add(explainIllegal(k, ops[k], verdicts[i].info, pairs))
		case porcupine.Unknown:
			rs.r.Stats["keys-unknown"]++
			unknown = append(unknown, fmt.Sprint(k))
		}
	}
	if len(unknown) > 0 {
		if len(unknown) > 10 {
			unknown = append(unknown[:10], "…")
		}
		rs.unknown("linearizability search ran out of time (%v) for %d key(s): %s",
			timeout, rs.r.Stats["keys-unknown"], strings.Join(unknown, ", "))
	}
	return rs.done()
}

// checkKey checks one key. The verbose check waits for porcupine's
// goroutine even when it times out, so none outlives Check; it also keeps
// the partial linearizations that explain an illegal key.
func checkKey(ops []porcupine.Operation, timeout time.Duration) regVerdict {
	res, info := porcupine.CheckOperationsVerbose(registerModel, ops, timeout)
	return regVerdict{result: res, info: info}
}

// explainIllegal describes a key with no linearization: the longest
// linearizable prefix porcupine found and the op that could not follow it
// (of those left out, the first to return).
func explainIllegal(key int64, ops []porcupine.Operation, info porcupine.LinearizationInfo, pairs map[int]history.Pair) Anomaly {
	a := Anomaly{Kind: KindNonlinearizable, Keys: []int64{key}}
	var longest []porcupine.Operation
	for _, part := range info.PartialLinearizationsOperations() {
		for _, lin := range part {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	if len(longest) == 0 && len(info.PartialLinearizations()) == 0 {
		a.Explanation = fmt.Sprintf("key %d: no linearization of its %d ops", key, len(ops))
		for _, op := range ops {
			if len(a.Ops) < 8 {
				a.Ops = append(a.Ops, opsOf(pairs[op.Metadata.(int)])...)
			}
		}
		return a
	}
	in := map[int]bool{}
	state := registerModel.Init()
	for _, op := range longest {
		in[op.Metadata.(int)] = true
		_, state = registerModel.Step(state, op.Input, op.Output)
	}
	var stuck *porcupine.Operation
	for i := range ops {
		op := &ops[i]
		if in[op.Metadata.(int)] || op.Return == math.MaxInt64 {
			continue
		}
		if stuck == nil || op.Return < stuck.Return {
			stuck = op
		}
	}
	// The ops: the last few linearized, then the one that cannot follow.
	tail := longest[max(0, len(longest)-4):]
	var steps []string
	for _, op := range tail {
		idx := op.Metadata.(int)
		a.Ops = append(a.Ops, opsOf(pairs[idx])...)
		steps = append(steps, fmt.Sprintf("op %d %s", idx, registerModel.DescribeOperation(op.Input, op.Output)))
	}
	a.Explanation = fmt.Sprintf("key %d: no linearization; the longest linearizable prefix has %d of %d ops, ending %s, leaving %s",
		key, len(longest), len(ops), strings.Join(steps, ", "), registerModel.DescribeState(state))
	if stuck != nil {
		idx := stuck.Metadata.(int)
		a.Ops = append(a.Ops, opsOf(pairs[idx])...)
		a.Explanation += fmt.Sprintf("; op %d (%s, invoked at op %d) cannot come next",
			idx, registerModel.DescribeOperation(stuck.Input, stuck.Output), stuck.Call)
	}
	return a
}
