package testcluster

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/internal/freeport"
	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/server"
)

// Options configures a Cluster. The zero value means three nodes with fast
// raft timing.
type Options struct {
	// Nodes is the number of nodes (default 3).
	Nodes int
	// Start is how many of them Start starts (default all); the others
	// are started later, in slot order, with Restart.
	Start int
	// Timing holds every node's raft timeouts; the zero value means
	// FastTiming().
	Timing replication.Timing
	// ReplicateInterval is how often leaders check their ranges' replicas
	// (default 200 ms).
	ReplicateInterval time.Duration
	// Configure, if not nil, adjusts node i's configuration before its
	// first start; the same configuration is used on every restart.
	Configure func(i int, cfg *server.Config)
	// Controller, if not nil, turns the zero-touch controller on with this
	// configuration; by default it is off (server.Config.ControllerOff) so
	// that ranges stay where a test puts them.
	Controller *controller.Config
}

// FastTiming is raft timing for tests: a dead leader is replaced in well
// under a second.
func FastTiming() replication.Timing {
	t := replication.DefaultTiming()
	t.HeartbeatTimeout = 300 * time.Millisecond
	t.ElectionTimeout = 300 * time.Millisecond
	t.LeaderLeaseTimeout = 150 * time.Millisecond
	t.CommitTimeout = 10 * time.Millisecond
	return t
}

// startTimeout bounds one node's New and Start (a joining node waits for
// the first node's meta range).
const startTimeout = 60 * time.Second

// Cluster is N in-process nodes. Its methods call tb.Fatalf on failure, so
// call them from the test's goroutine; the clients it returns are safe for
// concurrent use.
type Cluster struct {
	tb   testing.TB
	logs *logBuffer
	// pool carries the cluster's own calls to nodes (LeaderOf, Split,
	// checks); client is a kv client of no node, over pool.
	pool   *kv.Pool
	client *kv.Client
	// secret is the cluster secret every node is given.
	secret string

	mu struct {
		sync.Mutex
		nodes   []*node // nodes[i-1] is slot i
		clients []*kv.Pool
	}
}

// node is one slot: fixed configuration, at most one running server.
type node struct {
	cfg server.Config
	srv *server.Server // nil while stopped
}

// Start starts opts.Nodes nodes and returns once each has started (node 1
// bootstrapped, the others joined). Ranges are not yet replicated: call
// WaitReplicated.
func Start(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Timing == (replication.Timing{}) {
		opts.Timing = FastTiming()
	}
	if opts.ReplicateInterval == 0 {
		opts.ReplicateInterval = 200 * time.Millisecond
	}
	addrs, err := freeport.Addrs("127.0.0.1", opts.Nodes)
	if err != nil {
		tb.Fatal(err)
	}
	secret := rpcauth.Generate()
	c := &Cluster{tb: tb, logs: newLogBuffer(), secret: secret, pool: kv.NewPool(rpcauth.DialOptions(secret)...)}
	c.client = kv.NewClient(kv.Config{Pool: c.pool, Seeds: func() []string { return addrs }, Logger: c.logs.logger(0)})
	for i := 1; i <= opts.Nodes; i++ {
		cfg := server.DefaultConfig()
		// TempDir before the Cleanup below: cleanups run last-in first-out,
		// so the nodes stop before their directories are removed.
		cfg.DataDir = tb.TempDir()
		cfg.RPCAddr = addrs[i-1]
		cfg.ClusterSecret = secret
		cfg.SQLAddr, cfg.HTTPAddr = "", ""
		cfg.Timing = opts.Timing
		cfg.ReplicateInterval = opts.ReplicateInterval
		cfg.CacheSize, cfg.MemTableSize = 16<<20, 4<<20
		// Tests place ranges by hand unless they ask for the controller.
		if opts.Controller != nil {
			cfg.Controller = *opts.Controller
		} else {
			cfg.ControllerOff = true
		}
		cfg.Logger = c.logs.logger(i)
		if i > 1 {
			cfg.Join = []string{addrs[0]}
		}
		if opts.Configure != nil {
			opts.Configure(i, &cfg)
		}
		c.mu.nodes = append(c.mu.nodes, &node{cfg: cfg})
	}
	tb.Cleanup(c.close)
	if opts.Start == 0 {
		opts.Start = opts.Nodes
	}
	for i := 1; i <= opts.Nodes; i++ {
		if i <= opts.Start {
			c.start(i)
		}
		// Restarts may come up in any order: let them look for the meta
		// range through every other node.
		var join []string
		for j, a := range addrs {
			if j != i-1 {
				join = append(join, a)
			}
		}
		n := c.node(i)
		c.mu.Lock()
		n.cfg.Join = join
		c.mu.Unlock()
	}
	return c
}

// N returns the number of node slots.
func (c *Cluster) N() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.nodes)
}

func (c *Cluster) node(i int) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i < 1 || i > len(c.mu.nodes) {
		c.tb.Fatalf("testcluster: no node %d (the cluster has %d)", i, len(c.mu.nodes))
	}
	return c.mu.nodes[i-1]
}

// start starts slot i's server; the slot must be stopped.
func (c *Cluster) start(i int) {
	c.tb.Helper()
	n := c.node(i)
	c.mu.Lock()
	running, cfg := n.srv != nil, n.cfg
	c.mu.Unlock()
	if running {
		c.tb.Fatalf("testcluster: node %d is already running", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := server.New(ctx, cfg)
	// While a node is down, its port can serve as the local port of some
	// outgoing connection for a moment; wait for it to be free again.
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, syscall.EADDRINUSE) && time.Now().Before(deadline); {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
		}
		s, err = server.New(ctx, cfg)
	}
	if err != nil {
		c.tb.Fatalf("testcluster: node %d: %v", i, err)
	}
	if err := s.Start(ctx); err != nil {
		s.Stop()
		c.tb.Fatalf("testcluster: start node %d: %v", i, err)
	}
	if s.NodeID() != uint64(i) {
		s.Stop()
		c.tb.Fatalf("testcluster: slot %d got node id %d: nodes must join in slot order", i, s.NodeID())
	}
	c.mu.Lock()
	n.srv = s
	c.mu.Unlock()
}

// Stop stops node i as a crash would look to the others (server.Kill):
// its raft groups end without handing leadership over. Its data stays for
// Restart.
func (c *Cluster) Stop(i int) {
	c.tb.Helper()
	n := c.node(i)
	c.mu.Lock()
	s := n.srv
	n.srv = nil
	c.mu.Unlock()
	if s == nil {
		c.tb.Fatalf("testcluster: node %d is not running", i)
	}
	s.Kill()
}

// Restart starts node i again on the same data directory and address,
// stopping it first if it runs; a slot never started (Options.Start) joins
// the cluster.
func (c *Cluster) Restart(i int) {
	c.tb.Helper()
	if c.Running(i) {
		c.Stop(i)
	}
	c.start(i)
}

// Running reports whether node i runs.
func (c *Cluster) Running(i int) bool {
	n := c.node(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.srv != nil
}

// Server returns node i's server; it fails the test if the node is
// stopped.
func (c *Cluster) Server(i int) *server.Server {
	c.tb.Helper()
	n := c.node(i)
	c.mu.Lock()
	s := n.srv
	c.mu.Unlock()
	if s == nil {
		c.tb.Fatalf("testcluster: node %d is not running", i)
	}
	return s
}

// server returns node i's server, nil if it is stopped.
func (c *Cluster) server(i int) *server.Server {
	n := c.node(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.srv
}

// Addr returns node i's rpc address.
func (c *Cluster) Addr(i int) string {
	n := c.node(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.cfg.RPCAddr
}

// Client returns node i's own kv client, which stops working when the node
// stops.
func (c *Cluster) Client(i int) *kv.Client {
	c.tb.Helper()
	return c.Server(i).KV()
}

// DialOptions are what a gRPC client of the cluster's nodes needs: the
// cluster secret on every call.
func (c *Cluster) DialOptions() []grpc.DialOption { return rpcauth.DialOptions(c.secret) }

// NewClient returns a kv client of no node: it finds the meta range
// through every slot's address, so it outlives any node's stop. It has its
// own connections, closed when the test ends.
func (c *Cluster) NewClient() *kv.Client {
	pool := kv.NewPool(c.DialOptions()...)
	c.mu.Lock()
	addrs := make([]string, 0, len(c.mu.nodes))
	for _, n := range c.mu.nodes {
		addrs = append(addrs, n.cfg.RPCAddr)
	}
	c.mu.clients = append(c.mu.clients, pool)
	c.mu.Unlock()
	return kv.NewClient(kv.Config{Pool: pool, Seeds: func() []string { return addrs }, Logger: c.logs.logger(0)})
}

// close kills every running node in parallel (no leadership handoffs to
// wait for), then closes the clients.
func (c *Cluster) close() {
	c.mu.Lock()
	var running []*server.Server
	for _, n := range c.mu.nodes {
		if n.srv != nil {
			running = append(running, n.srv)
			n.srv = nil
		}
	}
	pools := append(c.mu.clients, c.pool)
	c.mu.clients = nil
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range running {
		wg.Go(s.Kill)
	}
	wg.Wait()
	for _, p := range pools {
		_ = p.Close()
	}
	if c.tb.Failed() {
		c.logs.dump(c.tb)
	}
}
