package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardingsystem/shard/internal/rpcauth"
)

// Mode is how the nodes are networked.
type Mode int

const (
	// Auto picks Namespaces where they are available (root, with ip and
	// iptables), else Loopback.
	Auto Mode = iota
	// Namespaces puts each node in its own network namespace.
	Namespaces
	// Loopback puts the nodes on 127.199.S.x addresses behind TCP proxies.
	Loopback
	// Direct puts the nodes on 127.199.S.x addresses with nothing between
	// them: no partitions, for benchmarks. Auto never picks it.
	Direct
)

func (m Mode) String() string {
	switch m {
	case Namespaces:
		return "namespaces"
	case Loopback:
		return "loopback"
	case Direct:
		return "direct"
	}
	return "auto"
}

// ErrClosed is returned by calls on a closed cluster.
var ErrClosed = errors.New("cluster: closed")

// Config describes a cluster to start.
type Config struct {
	// Binary is the path of the shard binary. Required.
	Binary string
	// Nodes is the number of nodes, 1 to 9 (default 3).
	Nodes int
	// Dir is the run directory: node i's data and logs go to Dir/ni.
	// Required; made if missing.
	Dir string
	// Password is root's SQL password (SHARD_ROOT_PASSWORD); default a
	// random one.
	Password string
	// Secret is the cluster secret (SHARD_CLUSTER_SECRET) every node and
	// the harness's gRPC clients use; default a random one.
	Secret string
	// Mode picks the network; default Auto.
	Mode Mode
	// LogLevel is every node's --log-level (default info).
	LogLevel string
	// StartTimeout bounds one node's start (default 60 s: a joining node
	// retries for 30 s).
	StartTimeout time.Duration
	// ReadyTimeout bounds Start's and WaitReady's wait for the cluster to
	// be whole (default 90 s).
	ReadyTimeout time.Duration
	// Logf gets progress lines; nil discards them.
	Logf func(format string, args ...any)
	// ExtraArgs are added to every node's `shard start` (for example
	// test-sized thresholds of the controller: --split-qps 50).
	ExtraArgs []string
	// Env is added to every node's environment (NAME=value).
	Env []string
}

func (c *Config) defaults() error {
	if c.Binary == "" || c.Dir == "" {
		return errors.New("cluster: Config.Binary and Config.Dir are required")
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Nodes < 1 || c.Nodes > 9 {
		return fmt.Errorf("cluster: %d nodes; want 1 to 9", c.Nodes)
	}
	if c.Password == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		c.Password = hex.EncodeToString(b)
	}
	if c.Secret == "" {
		c.Secret = rpcauth.Generate()
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 60 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 90 * time.Second
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// network is what a Mode provides (netns.go, loopback.go).
type network interface {
	mode() Mode
	ip(i int) string
	// hostIP is the harness's own address on the nodes' network.
	hostIP() string
	// addrs are node i's rpc, SQL and HTTP addresses.
	addrs(i int) (rpc, sql, http string, err error)
	// listenAddr and sourceIP are node i's --rpc-listen-addr and
	// --rpc-source-addr ("": none).
	listenAddr(i int) string
	sourceIP(i int) string
	// command is the command that runs bin args as node i.
	command(i int, bin string, args []string) *exec.Cmd
	// drop makes node to drop every packet from node from; heal removes
	// every drop.
	drop(to, from int) error
	heal() error
	// dialer dials from node i's place in the network.
	dialer(i int) func(ctx context.Context, addr string) (net.Conn, error)
	close() error
}

// Cluster is a running set of nodes and their network. Safe for
// concurrent use.
type Cluster struct {
	cfg   Config
	slot  *slotLock
	net   network
	nodes []*Node

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu struct {
		sync.Mutex
		procs map[*process]*Node // every live process, for Close
		admin map[string]*adminConn
		drops map[[2]int]bool
	}
}

// Start sets up the network, starts cfg.Nodes nodes (node 1 bootstraps,
// each later one joins through those before it) and waits until the
// cluster is whole (WaitReady). On failure it closes whatever it made.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg}
	c.mu.procs = map[*process]*Node{}
	c.mu.admin = map[string]*adminConn{}
	c.mu.drops = map[[2]int]bool{}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	mode := cfg.Mode
	if mode == Auto {
		mode = Namespaces
		if why := namespacesAvailable(); why != "" {
			cfg.Logf("cluster: no network namespaces (%s); nodes on loopback behind proxies", why)
			mode = Loopback
		}
	} else if mode == Namespaces {
		if why := namespacesAvailable(); why != "" {
			return nil, fmt.Errorf("cluster: network namespaces unavailable: %s", why)
		}
	}
	if err := c.takeSlot(mode); err != nil {
		return nil, err
	}
	switch mode {
	case Namespaces:
		c.net = &nsNet{slot: c.slot.n, nodes: cfg.Nodes}
	case Direct:
		c.net = &directNet{slot: c.slot.n}
	default:
		c.net = &loopNet{slot: c.slot.n, nodes: cfg.Nodes}
	}
	if err := c.setupNet(); err != nil {
		return nil, err
	}
	for i := 1; i <= cfg.Nodes; i++ {
		n := &Node{c: c, Index: i, Name: fmt.Sprintf("n%d", i), IP: c.net.ip(i), Dir: filepath.Join(cfg.Dir, fmt.Sprintf("n%d", i))}
		n.DataDir = filepath.Join(n.Dir, "data")
		if n.RPCAddr, n.SQLAddr, n.HTTPAddr, err = c.net.addrs(i); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	cfg.Logf("cluster: %d nodes on %s network, slot %d, run directory %s", cfg.Nodes, mode, c.slot.n, cfg.Dir)
	for _, n := range c.nodes {
		if err := n.Start(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// takeSlot locks the first free slot whose subnet nobody uses, and removes
// the leftovers of dead runs on every slot it can lock.
func (c *Cluster) takeSlot(mode Mode) error {
	if mode == Namespaces {
		removeLeftovers(c.cfg.Logf)
	}
	for s := 1; s <= maxSlot; s++ {
		prefix := fmt.Sprintf("10.199.%d.", s)
		if mode == Loopback || mode == Direct {
			prefix = fmt.Sprintf("127.199.%d.", s)
		}
		if mode == Namespaces && !subnetFree(prefix) {
			continue
		}
		l, err := tryLockSlot(s)
		if err != nil {
			return err
		}
		if l != nil {
			c.slot = l
			return nil
		}
	}
	return errors.New("cluster: every slot is taken")
}

// removeLeftovers removes the network objects of every slot that no live
// run holds: a dead run's.
func removeLeftovers(logf func(string, ...any)) {
	for s := range namespaceSlots() {
		l, err := tryLockSlot(s)
		if err != nil || l == nil {
			continue
		}
		logf("cluster: removing the leftovers of a dead run in slot %d", s)
		if err := cleanNamespaceSlot(s); err != nil {
			logf("cluster: %v", err)
		}
		l.unlock()
	}
}

func (c *Cluster) setupNet() error {
	switch n := c.net.(type) {
	case *nsNet:
		return n.setup()
	case *loopNet:
		return n.setup()
	}
	return nil
}

// Close kills every node (SIGKILL), then removes the network: namespaces,
// veths, the bridge, iptables rules, proxies. It is idempotent, safe from
// any goroutine (a signal handler's) and concurrent with everything else;
// later calls return the first call's error.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		var errs []error
		c.mu.Lock()
		procs := make(map[*process]*Node, len(c.mu.procs))
		for p, n := range c.mu.procs {
			procs[p] = n
		}
		admins := c.mu.admin
		c.mu.admin = map[string]*adminConn{}
		c.mu.Unlock()
		for p, n := range procs {
			n.take()
			errs = append(errs, n.kill(p))
		}
		for _, a := range admins {
			_ = a.conn.Close()
		}
		if c.net != nil {
			errs = append(errs, c.net.close())
		}
		c.slot.unlock()
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// track registers a node's new process for Close; a process started while
// Close runs is killed at once.
func (c *Cluster) track(p *process, n *Node) {
	c.mu.Lock()
	c.mu.procs[p] = n
	c.mu.Unlock()
	if c.closed.Load() {
		n.take()
		_ = n.kill(p)
	}
}

func (c *Cluster) untrack(p *process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.procs, p)
}

// Mode is the network the cluster runs on.
func (c *Cluster) Mode() Mode { return c.net.mode() }

// Dir is the run directory.
func (c *Cluster) Dir() string { return c.cfg.Dir }

// Password is root's SQL password.
func (c *Cluster) Password() string { return c.cfg.Password }

// HostIP is the harness's own address on the nodes' network (the bridge's
// in namespaces).
func (c *Cluster) HostIP() string { return c.net.hostIP() }

// Nodes returns the node slots in order.
func (c *Cluster) Nodes() []*Node { return append([]*Node(nil), c.nodes...) }

// Node returns slot i, from 1; nil if there is none.
func (c *Cluster) Node(i int) *Node {
	if i < 1 || i > len(c.nodes) {
		return nil
	}
	return c.nodes[i-1]
}

// NodeByID returns the slot whose last start reported node id id, or nil.
func (c *Cluster) NodeByID(id uint64) *Node {
	for _, n := range c.nodes {
		if n.ID() == id {
			return n
		}
	}
	return nil
}

// DSNs are every node's connection string for database db.
func (c *Cluster) DSNs(db string) []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.DSN(db))
	}
	return out
}
