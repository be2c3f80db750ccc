package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/proctest"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
)

// e2eDB is the database id of the keys this test writes.
const e2eDB = 9

func e2eKey(hash uint64, suffix string) []byte {
	k := binary.BigEndian.AppendUint32([]byte{'t'}, e2eDB)
	k = binary.BigEndian.AppendUint64(k, hash)
	k = binary.BigEndian.AppendUint32(k, 1)
	k = binary.BigEndian.AppendUint32(k, 1)
	return append(k, suffix...)
}

// e2eRanges lists the ranges through node n (`shard ranges --json`).
func e2eRanges(t *testing.T, n *proctest.Node) []rangeJSON {
	t.Helper()
	r := n.CLI("ranges", "--json")
	if !r.OK() {
		t.Logf("shard ranges: %v", r)
		return nil
	}
	var out []rangeJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("decode ranges: %v\n%s", err, r.Stdout)
	}
	return out
}

// dbRangeCount counts the ranges inside the test database's span.
func dbRangeCount(rs []rangeJSON) int {
	p := binary.BigEndian.AppendUint32([]byte{'t'}, e2eDB)
	n := 0
	for _, r := range rs {
		start, err1 := parsePretty(r.Start)
		end, err2 := parsePretty(r.End)
		if err1 == nil && err2 == nil && bytes.Compare(start, p) >= 0 && bytes.Compare(end, keys.PrefixEnd(p)) <= 0 {
			n++
		}
	}
	return n
}

// parsePretty reads back a key as `shard ranges` prints it.
func parsePretty(s string) ([]byte, error) {
	switch s {
	case "/meta":
		return keys.MetaMin, nil
	case "/user":
		return keys.UserMin, nil
	case "/Max":
		return keys.KeyMax, nil
	}
	return keys.Parse(s)
}

type eventJSON struct {
	Range   uint64 `json:"range"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

func e2eEvents(t *testing.T, n *proctest.Node) []eventJSON {
	t.Helper()
	r := n.CLI("events", "--json", "--limit", "1000")
	if !r.OK() {
		t.Fatalf("shard events: %v", r)
	}
	var out []eventJSON
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("decode events: %v\n%s", err, r.Stdout)
	}
	return out
}

func findEvent(evs []eventJSON, kind, contains string) *eventJSON {
	for i := range evs {
		if evs[i].Kind == kind && strings.Contains(evs[i].Message, contains) {
			return &evs[i]
		}
	}
	return nil
}

// TestE2EZeroTouch runs the controller in a 4-node cluster of real
// processes with test-sized thresholds: a write load splits the database's
// range (events and explain say why), the ranges merge back once it stops,
// a node killed with SIGKILL has its replicas re-created elsewhere, a
// drained node leads nothing, and no acknowledged write is lost.
func TestE2EZeroTouch(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	proctest.Binary(t)
	c := proctest.NewCluster(t)
	var addrs []string
	for range 4 {
		n := c.AddNode()
		n.SetJoin(addrs...)
		n.SetExtraArgs("--split-qps", "300", "--split-window", "3s", "--merge-after", "6s", "--merge-cooldown", "6s", "--dead-after", "6s")
		n.Start()
		addrs = append(addrs, n.RPCAddr)
	}
	c.WaitReplicated(3, settle)
	n1 := c.Node(1)
	defer func() {
		if t.Failed() {
			if r := n1.CLI("events", "--limit", "60"); r.OK() {
				t.Logf("the controller's last events:\n%s", r.Stdout)
			}
		}
	}()
	p := binary.BigEndian.AppendUint32([]byte{'t'}, e2eDB)
	for _, k := range [][]byte{p, keys.PrefixEnd(p)} {
		if r := n1.CLI("ranges", "split", keys.Escape(k)); !r.OK() {
			t.Fatalf("split: %v", r)
		}
	}
	pool := kv.NewPool(c.DialOptions()...)
	defer pool.Close()
	cl := kv.NewClient(kv.Config{Pool: pool, Seeds: func() []string { return addrs }})
	defer cl.Close()

	// A uniform write load: the database's range splits by load.
	var mu sync.Mutex
	acked := map[string]bool{}
	var writes atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := e2eKey(rng.Uint64(), fmt.Sprintf("w%d-%d", w, i))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := cl.Put(ctx, k, []byte("v"))
				cancel()
				if err == nil {
					writes.Add(1)
					mu.Lock()
					acked[string(k)] = true
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	proctest.WaitFor(t, 30*time.Second, "a load split of the database's range", func() error {
		if n := dbRangeCount(e2eRanges(t, n1)); n < 2 {
			return fmt.Errorf("%d ranges, %d writes", n, writes.Load())
		}
		return nil
	})
	t.Logf("load split %v after the load started (%d writes so far)", time.Since(start).Round(100*time.Millisecond), writes.Load())
	close(stop)
	wg.Wait()
	split := findEvent(e2eEvents(t, c.Node(2)), "split", "writes/s >")
	if split == nil {
		t.Fatalf("`shard events` lists no load split: %v", e2eEvents(t, n1))
	}
	t.Logf("event: r%d %s: %s", split.Range, split.Kind, split.Message)
	r := c.Node(3).CLI("ranges", "explain", fmt.Sprint(split.Range))
	if !r.OK() || !strings.Contains(r.Stdout, "load:") || !strings.Contains(r.Stdout, "decision:") {
		t.Fatalf("shard ranges explain: %v", r)
	}
	t.Logf("shard ranges explain %d:\n%s", split.Range, r.Stdout)
	if r := n1.CLI("ranges", "hot", "--limit", "3"); !r.OK() || !strings.Contains(r.Stdout, "WRITES/S") {
		t.Fatalf("shard ranges hot: %v", r)
	}

	// The load stopped: the ranges merge back.
	proctest.WaitFor(t, 60*time.Second, "the database's ranges to merge back", func() error {
		if n := dbRangeCount(e2eRanges(t, n1)); n != 1 {
			return fmt.Errorf("%d ranges", n)
		}
		return nil
	})
	if m := findEvent(e2eEvents(t, n1), "merge", "cold"); m == nil {
		t.Errorf("`shard events` lists no merge")
	} else {
		t.Logf("event: r%d %s: %s", m.Range, m.Kind, m.Message)
	}

	// kill -9 a node: after --dead-after, every range has 3 replicas on
	// live nodes again. The victim leads the range just merged, the
	// hardest case: its followers applied the merge moments ago.
	victim := c.Node(1)
	for _, rg := range e2eRanges(t, n1) {
		if dbRangeCount([]rangeJSON{rg}) == 1 {
			for _, n := range c.Nodes() {
				if n.ID() == rg.Leader {
					victim = n
				}
			}
		}
	}
	vid := victim.ID()
	// Ask, and drain, through nodes that stay up.
	var live []*proctest.Node
	for _, n := range c.Nodes() {
		if n != victim {
			live = append(live, n)
		}
	}
	n1 = live[0]
	victim.Kill9()
	killed := time.Now()
	proctest.WaitFor(t, 90*time.Second, "every range to have 3 replicas off the dead node", func() error {
		for _, rg := range e2eRanges(t, n1) {
			if len(rg.Replicas) != 3 || slices.Contains(rg.Replicas, vid) {
				return fmt.Errorf("r%d replicas %v", rg.ID, rg.Replicas)
			}
		}
		return nil
	})
	t.Logf("repaired %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	if e := findEvent(e2eEvents(t, n1), "relocate", "dead"); e == nil {
		t.Errorf("`shard events` lists no repair")
	}

	// Drain another live node: it leads nothing.
	d := live[1]
	if r := n1.CLI("node", "drain", fmt.Sprint(d.ID())); !r.OK() || !strings.Contains(r.Stdout, "draining") {
		t.Fatalf("shard node drain: %v", r)
	}
	proctest.WaitFor(t, 60*time.Second, "the drained node to lead nothing", func() error {
		for _, rg := range e2eRanges(t, n1) {
			if rg.Leader == d.ID() {
				return fmt.Errorf("n%d still leads r%d", d.ID(), rg.ID)
			}
		}
		return nil
	})
	if r := n1.CLI("nodes"); !r.OK() || !strings.Contains(r.Stdout, "draining") {
		t.Errorf("shard nodes does not show the drain: %v", r)
	}
	if r := n1.CLI("node", "activate", fmt.Sprint(d.ID())); !r.OK() {
		t.Errorf("shard node activate: %v", r)
	}
	if r := n1.CLI("node", "decommission", "99"); r.OK() || !strings.Contains(r.Stderr, "no node n99") {
		t.Errorf("decommission of an unknown node: %v", r)
	}

	// Every acknowledged write is there.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := cl.Scan(ctx, p, keys.PrefixEnd(p), 0)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, row := range rows {
		have[string(row.Key)] = true
	}
	lost := 0
	for k := range acked {
		if !have[k] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes are gone", lost, len(acked))
	}
	t.Logf("%d acknowledged writes, all present", len(acked))
}
