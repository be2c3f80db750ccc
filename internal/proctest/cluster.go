package proctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/internal/freeport"
	"github.com/shardingsystem/shard/internal/rpcauth"
)

// Cluster is a set of node slots sharing one temporary directory. Make it
// with NewCluster or StartCluster; its t.Cleanup stops every node and
// removes the directory.
type Cluster struct {
	t        testing.TB
	bin      string
	dir      string
	logLevel string
	// env holds KEY=VALUE pairs added to every node's environment
	// (SetEnv); set before the starts it is meant for.
	env []string
	// secret is the cluster secret every node and CLI run is given
	// (SHARD_CLUSTER_SECRET).
	secret string

	mu struct {
		sync.Mutex
		nodes []*Node
	}
}

// NewCluster makes an empty cluster: no nodes, nothing running. It builds the
// binary if this test binary has not yet.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	dir, err := os.MkdirTemp("", "proctest-"+sanitize(t.Name())+"-")
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir, logLevel: "info", secret: rpcauth.Generate()}
	t.Cleanup(c.cleanup)
	return c
}

// StartCluster starts n nodes: node1 bootstraps a new cluster, each later
// node joins through every node before it. With three or more nodes it
// waits until every range has three replicas and a leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := NewCluster(t)
	var addrs []string
	for range n {
		node := c.AddNode()
		node.SetJoin(addrs...)
		node.Start()
		addrs = append(addrs, node.RPCAddr)
	}
	c.WaitReplicated(min(n, 3), 60*time.Second)
	return c
}

// Secret is the cluster secret: nodes and CLI runs get it in their
// environment; a test's own gRPC clients need DialOptions.
func (c *Cluster) Secret() string { return c.secret }

// DialOptions are what a gRPC client of the cluster's nodes needs.
func (c *Cluster) DialOptions() []grpc.DialOption { return rpcauth.DialOptions(c.secret) }

// environ is the environment of the cluster's processes.
func (c *Cluster) environ() []string {
	return append(append(os.Environ(), rpcauth.EnvSecret+"="+c.secret), c.env...)
}

// Bin is the path of the shard binary.
func (c *Cluster) Bin() string { return c.bin }

// Dir is the cluster's temporary directory.
func (c *Cluster) Dir() string { return c.dir }

// SetLogLevel sets --log-level for later starts (default info).
func (c *Cluster) SetLogLevel(l string) { c.logLevel = l }

// SetEnv sets KEY=VALUE pairs that later starts of every node add to the
// environment they inherit from the test binary (a later pair wins over an
// inherited one), e.g. SHARD_ROOT_PASSWORD for a bootstrapping node. Call
// it before starting nodes, from the test's goroutine.
func (c *Cluster) SetEnv(env ...string) { c.env = append([]string(nil), env...) }

// AddNode adds a node slot with free addresses and a data directory that
// does not exist yet; nothing starts.
func (c *Cluster) AddNode() *Node {
	c.t.Helper()
	c.mu.Lock()
	i := len(c.mu.nodes) + 1
	c.mu.Unlock()
	n := &Node{c: c, Name: "node" + strconv.Itoa(i), dir: filepath.Join(c.dir, "node"+strconv.Itoa(i))}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		c.t.Fatalf("proctest: %v", err)
	}
	n.DataDir = filepath.Join(n.dir, "data")
	if err := c.renew(n); err != nil {
		c.t.Fatalf("proctest: %v", err)
	}
	c.mu.Lock()
	c.mu.nodes = append(c.mu.nodes, n)
	c.mu.Unlock()
	return n
}

// renew gives a node that never started new addresses and an empty data
// directory.
func (c *Cluster) renew(n *Node) error {
	addrs, err := freeport.Addrs("127.0.0.1", 3)
	if err != nil {
		return err
	}
	n.RPCAddr, n.SQLAddr, n.HTTPAddr = addrs[0], addrs[1], addrs[2]
	n.picked = [3]string(addrs)
	return os.RemoveAll(n.DataDir)
}

// Nodes returns the node slots in the order they were added.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.mu.nodes...)
}

// Node returns the i-th slot, 1-based (Node(1) is node1).
func (c *Cluster) Node(i int) *Node {
	c.t.Helper()
	ns := c.Nodes()
	if i < 1 || i > len(ns) {
		c.t.Fatalf("proctest: no node%d (cluster has %d)", i, len(ns))
	}
	return ns[i-1]
}

// NodeByID returns the slot whose last start reported node id id, or nil.
func (c *Cluster) NodeByID(id uint64) *Node {
	for _, n := range c.Nodes() {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

// Running returns the slots with a live process.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// RPCAddrs returns the rpc addresses of all slots except those in skip.
func (c *Cluster) RPCAddrs(skip ...*Node) []string {
	var out []string
outer:
	for _, n := range c.Nodes() {
		for _, s := range skip {
			if n == s {
				continue outer
			}
		}
		out = append(out, n.RPCAddr)
	}
	return out
}

// Range is one entry of `shard ranges --json`.
type Range struct {
	ID               uint64   `json:"id"`
	Start            string   `json:"start"`
	End              string   `json:"end"`
	Replicas         []uint64 `json:"replicas"`
	Leader           uint64   `json:"leader"`
	AppliedIndex     uint64   `json:"applied_index"`
	ApproximateBytes uint64   `json:"approximate_bytes"`
	Keys             uint64   `json:"keys"`
	Generation       uint64   `json:"generation"`
	Error            string   `json:"error,omitempty"`
}

// Ranges runs `shard ranges --json` against this node.
func (n *Node) Ranges() ([]Range, error) {
	r := n.CLI("ranges", "--json")
	if !r.OK() {
		return nil, r.Err()
	}
	var out []Range
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		return nil, fmt.Errorf("decode `shard ranges --json`: %v\n%s", err, r.Stdout)
	}
	return out, nil
}

// Ranges asks the running nodes in turn for the range list and returns the
// first answer.
func (c *Cluster) Ranges() ([]Range, error) {
	err := errors.New("no node is running")
	for _, n := range c.Running() {
		var rs []Range
		if rs, err = n.Ranges(); err == nil {
			return rs, nil
		}
	}
	return nil, err
}

// Range returns range id from the range list.
func (c *Cluster) Range(id uint64) (Range, error) {
	rs, err := c.Ranges()
	if err != nil {
		return Range{}, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return Range{}, fmt.Errorf("no range r%d in %+v", id, rs)
}

// LeaderOf returns the running slot that leads range id.
func (c *Cluster) LeaderOf(id uint64) (*Node, error) {
	r, err := c.Range(id)
	if err != nil {
		return nil, err
	}
	if r.Leader == 0 || r.Error != "" {
		return nil, fmt.Errorf("r%d has no known leader: %+v", id, r)
	}
	n := c.NodeByID(r.Leader)
	if n == nil || !n.Running() {
		return nil, fmt.Errorf("r%d's leader n%d is not a running node of this cluster", id, r.Leader)
	}
	return n, nil
}

// CheckReplicated returns nil if every range has exactly replicas replicas,
// a leader and no error.
func CheckReplicated(rs []Range, replicas int) error {
	if len(rs) == 0 {
		return errors.New("no ranges")
	}
	for _, r := range rs {
		if len(r.Replicas) != replicas || r.Leader == 0 || r.Error != "" {
			return fmt.Errorf("r%d [%s, %s): replicas %v (want %d), leader n%d, error %q",
				r.ID, r.Start, r.End, r.Replicas, replicas, r.Leader, r.Error)
		}
	}
	return nil
}

// WaitReplicated waits until every range has replicas replicas and a leader.
func (c *Cluster) WaitReplicated(replicas int, timeout time.Duration) {
	c.t.Helper()
	WaitFor(c.t, timeout, fmt.Sprintf("every range to have %d replicas and a leader", replicas), func() error {
		rs, err := c.Ranges()
		if err != nil {
			return err
		}
		return CheckReplicated(rs, replicas)
	})
}

// cleanup stops every node, prints logs if the test failed, and removes the
// directory.
func (c *Cluster) cleanup() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes() {
		p := n.take()
		if p == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.stop(p, cleanupGrace); err != nil {
				c.t.Logf("proctest: cleanup of %s: %v", n.Name, err)
			}
		}()
	}
	wg.Wait()
	if c.t.Failed() {
		lines := 200
		if v, err := strconv.Atoi(os.Getenv("PROCTEST_LOG_LINES")); err == nil {
			lines = v
		}
		for _, n := range c.Nodes() {
			for _, f := range []string{n.StderrPath(), n.StdoutPath()} {
				if b, err := os.ReadFile(f); err == nil {
					c.t.Logf("---- %s %s ----\n%s", n, filepath.Base(f), tail(string(b), lines))
				}
			}
		}
		if os.Getenv("PROCTEST_KEEP") != "" {
			c.t.Logf("proctest: kept %s", c.dir)
			return
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		c.t.Logf("proctest: remove %s: %v", c.dir, err)
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			b[i] = '_'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}
