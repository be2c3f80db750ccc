package server

import (
	"errors"
	"fmt"
	"github.com/shardingsystem/shard/api"
	"log/slog"
	"net"
	"time"

	"github.com/shardingsystem/shard/meta/controller"
	"github.com/shardingsystem/shard/replication"
)

// Config is one node's configuration. Flags are parsed into it only in
// cmd/shard; DefaultConfig gives the defaults of DESIGN.md.
type Config struct {
	// DataDir holds the node's store, raft snapshots and identity.
	DataDir string
	// RPCAddr is the node-to-node and admin gRPC address; it is also the
	// address other nodes reach this node at, so it must not be a wildcard
	// when the cluster has more than one node.
	RPCAddr string
	// SQLAddr and HTTPAddr are reserved for the SQL and HTTP listeners.
	SQLAddr  string
	HTTPAddr string
	// Join lists addresses of existing nodes; empty means bootstrap a new
	// cluster when the data directory is new.
	Join []string
	// Replicas is the target replica count of every range.
	Replicas int
	// Timing holds raft timeouts.
	Timing replication.Timing
	// ReplicateInterval is how often leaders check their ranges' replica
	// counts and meta entries.
	ReplicateInterval time.Duration
	// MVCCRetention is how long old versions are kept for AS OF reads
	// (and later point-in-time restore); GCInterval is how often leaders
	// remove what is older.
	MVCCRetention time.Duration
	GCInterval    time.Duration
	// CertsDir holds the SQL listener's TLS certificate (node.crt,
	// node.key); empty means the data directory, where one is generated.
	CertsDir string
	// Insecure lets SQL clients connect without a password and, in a
	// cluster created with it, peers and the CLI call the node's gRPC
	// services without the cluster secret; allowed only when every listen
	// address is a loopback address.
	Insecure bool
	// ClusterSecret is the secret of the cluster a node joins
	// (SHARD_CLUSTER_SECRET); a new cluster makes one. See secret.go.
	ClusterSecret string
	// RootPassword, when set, is the SQL superuser root's password at
	// bootstrap (SHARD_ROOT_PASSWORD); else one is generated.
	RootPassword string
	// AdminToken, when set, is the admin API token at bootstrap
	// (SHARD_ADMIN_TOKEN); else one is generated.
	AdminToken string
	// Templates are the database templates of the platform API (default
	// api.DefaultTemplates).
	Templates []api.Template
	// Controller configures the zero-touch controller (splits, merges,
	// rebalancing, repair); Replicas overrides its Replicas.
	Controller controller.Config
	// ControllerOff keeps the controller from acting (it still gathers
	// reports and explains): for tests that place ranges by hand.
	ControllerOff bool
	// CacheSize and MemTableSize size the Pebble engine (0: engine defaults).
	CacheSize    int64
	MemTableSize uint64
	Logger       *slog.Logger

	// Fault injection, for the Jepsen harness (tools/jepsen); hidden flags
	// of `shard start`. See faults.go.
	//
	// ClockOffset shifts the node's wall clock: every reading of wall time
	// that becomes a timestamp (the timestamp oracle) is time.Now() plus
	// this offset. At most MaxClockOffset either way.
	ClockOffset time.Duration
	// RPCSourceAddr, when set, is the local IP address of every outgoing
	// node-to-node connection (raft transport, kv and admin calls), so that
	// a proxy between nodes can tell them apart.
	RPCSourceAddr string
	// RPCListenAddr, when set, is where the rpc server listens instead of
	// RPCAddr, which stays the address other nodes are told to reach this
	// node at (through a proxy that forwards to RPCListenAddr).
	RPCListenAddr string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:           "./shard-data",
		RPCAddr:           "127.0.0.1:7400",
		SQLAddr:           ":5433",
		HTTPAddr:          ":8080",
		Replicas:          3,
		Timing:            replication.DefaultTiming(),
		ReplicateInterval: time.Second,
		MVCCRetention:     24 * time.Hour,
		GCInterval:        10 * time.Minute,
		Controller:        controller.DefaultConfig(),
	}
}

// controllerConfig is the controller's configuration, with the node's
// replica target.
func (c Config) controllerConfig() controller.Config {
	cc := c.Controller
	cc.Replicas = c.Replicas
	return cc
}

// Validate reports every problem with the config.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if _, _, err := net.SplitHostPort(c.RPCAddr); err != nil {
		errs = append(errs, fmt.Errorf("rpc address %q: %v", c.RPCAddr, err))
	} else if host, port, _ := net.SplitHostPort(c.RPCAddr); host == "" || port == "0" {
		errs = append(errs, fmt.Errorf("rpc address %q must name a host and a fixed port: other nodes reach this node there", c.RPCAddr))
	}
	for _, a := range []struct{ name, addr string }{{"sql", c.SQLAddr}, {"http", c.HTTPAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s address %q: %v", a.name, a.addr, err))
		}
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("join address %q: %v", j, err))
		}
	}
	if c.Replicas < 1 || c.Replicas > 7 {
		errs = append(errs, fmt.Errorf("replicas must be between 1 and 7, not %d", c.Replicas))
	}
	if c.Timing.HeartbeatTimeout <= 0 || c.Timing.ElectionTimeout <= 0 {
		errs = append(errs, errors.New("raft timeouts must be positive"))
	}
	if c.MVCCRetention <= 0 || c.GCInterval <= 0 {
		errs = append(errs, errors.New("MVCC retention and GC interval must be positive"))
	}
	if c.Insecure && !loopbackOnly(c.RPCAddr, c.SQLAddr, c.HTTPAddr) {
		errs = append(errs, errInsecureNotLoopback)
	}
	if c.ClockOffset > MaxClockOffset || c.ClockOffset < -MaxClockOffset {
		errs = append(errs, fmt.Errorf("clock offset %v is beyond ±%v", c.ClockOffset, MaxClockOffset))
	}
	if c.RPCSourceAddr != "" && net.ParseIP(c.RPCSourceAddr) == nil {
		errs = append(errs, fmt.Errorf("rpc source address %q is not an IP address", c.RPCSourceAddr))
	}
	if c.RPCListenAddr != "" {
		if _, _, err := net.SplitHostPort(c.RPCListenAddr); err != nil {
			errs = append(errs, fmt.Errorf("rpc listen address %q: %v", c.RPCListenAddr, err))
		}
	}
	if err := c.controllerConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ReplicateInterval <= 0 {
		errs = append(errs, errors.New("replicate interval must be positive"))
	}
	return errors.Join(errs...)
}
