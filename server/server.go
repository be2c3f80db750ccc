package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/internal/rawnet"
	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
	"github.com/shardingsystem/shard/sql"
	"github.com/shardingsystem/shard/sql/catalog"
	"github.com/shardingsystem/shard/wire"
)

// Version is the server's version string.
const Version = "0.1.0-dev"

// Server is one shard node: its engine, its replicas and their raft groups,
// the gRPC server carrying raft traffic, kv and admin calls, and the
// background loops of a node.
type Server struct {
	cfg   Config
	log   *slog.Logger
	eng   *engine.Engine
	hub   *replication.Hub
	grpc  *grpc.Server
	lis   net.Listener
	pool  *kv.Pool
	kv    *kv.Client
	meta  *meta.Meta
	store *store
	tso   *tsoServer
	id    ident
	// ctl hosts the zero-touch controller (active on the meta leader);
	// sizes caches the span scans behind load reports.
	ctl   *controllerHost
	sizes *sizeCache
	// descMu serializes descriptor updates after membership changes.
	descMu sync.Mutex
	// metrics are the node's Prometheus metrics, served over http at
	// httpAddr (see http.go).
	metrics  *metrics
	http     *http.Server
	httpAddr string
	// The SQL layer: catalog cache, SQL server and PostgreSQL listener.
	catalog           *catalog.Cache
	sql               *sql.Server
	wire              *wire.Server
	generatedPassword string
	sqlAddr           string
	// secret is the cluster secret every gRPC call carries ("" with
	// --insecure); generatedSecret is set when this run made it.
	secret, generatedSecret string
	// The platform: the HTTP API's backend (platform.go) and metering
	// (usage.go).
	platform            *platform
	usage               *usageMeter
	generatedAdminToken string

	// ctx is cancelled by Stop; background loops derive from it.
	ctx      context.Context
	cancel   context.CancelFunc
	loops    sync.WaitGroup // background loops
	serve    sync.WaitGroup // the gRPC serving goroutine
	stopOnce sync.Once
}

// New prepares a node: checks and opens the data directory, loads or
// establishes the node's identity (bootstrap or join), and listens. It does
// not serve until Start.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: invalid config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.tso = newTSOServer(s.log, func() *replica.Replica { return s.replica(meta.MetaRangeID) }, s.ctx.Done())
	s.tso.clock = cfg.wallClock()
	s.sizes = newSizeCache(cfg.Controller.RangeMaxBytes)
	s.metrics = newMetrics(s)
	s.ctl = newControllerHost(s, cfg.controllerConfig())
	if err := s.open(ctx); err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// rpcDialOptions dial every outgoing node-to-node connection: with raw
// reads and writes (package rawnet), from RPCSourceAddr when the fault
// harness set one (faults.go).
func (c Config) rpcDialOptions() []grpc.DialOption {
	d := &net.Dialer{KeepAlive: 15 * time.Second}
	if c.RPCSourceAddr != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(c.RPCSourceAddr)}
	}
	return []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return rawnet.Dial(ctx, d, addr)
	})}
}

// open does New's work. On failure it releases what it took and, for a data
// directory it just made, removes what it wrote: a failed start leaves no
// trace, neither on disk nor (it binds the rpc address before joining) in
// the cluster's node records.
func (s *Server) open(ctx context.Context) (err error) {
	cfg := s.cfg
	if s.lis, err = net.Listen("tcp", cfg.rpcListenAddr()); err != nil {
		return fmt.Errorf("server: listen on rpc address %s: %w", cfg.rpcListenAddr(), err)
	}
	s.lis = rawnet.Listen(s.lis)
	defer func() {
		if err != nil {
			_ = s.lis.Close()
		}
	}()
	fresh, err := prepareDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && fresh.made {
			fresh.undo()
		}
	}()
	eopts := engine.DefaultOptions(filepath.Join(cfg.DataDir, "store"))
	if cfg.CacheSize > 0 {
		eopts.CacheSize = cfg.CacheSize
	}
	if cfg.MemTableSize > 0 {
		eopts.MemTableSize = cfg.MemTableSize
	}
	eopts.Logger = cfg.Logger
	if s.eng, err = engine.Open(eopts); err != nil {
		if errors.Is(err, syscall.EAGAIN) {
			return fmt.Errorf("server: data directory %s is in use by another process: %w", cfg.DataDir, err)
		}
		return err
	}
	if s.secret, err = s.resolveSecret(); err != nil {
		_ = s.eng.Close()
		return err
	}
	s.pool = kv.NewPool(s.dialOptions()...)
	defer func() {
		if err != nil {
			s.closeEngine()
		}
	}()
	if s.id, err = loadIdent(s.eng); err != nil {
		return err
	}
	s.usage = newUsageMeter(s.metrics.reg)
	s.platform = newPlatform(s)
	s.kv = kv.NewClient(kv.Config{Pool: s.pool, Seeds: s.seeds, Logger: cfg.Logger,
		ObserveCommit: s.metrics.observeCommit, ObserveTSO: s.metrics.observeTSO, Meter: s.usage.meter})
	s.meta = meta.New(s.kv)
	if s.id.ClusterID != "" && len(cfg.Join) > 0 {
		if err := s.checkCluster(ctx); err != nil {
			return err
		}
	}
	if s.id.ClusterID == "" && len(cfg.Join) > 0 {
		if err := s.join(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) closeEngine() {
	if s.kv != nil {
		s.kv.Close()
	}
	_ = s.pool.Close()
	_ = s.eng.Close()
}

// seeds is where the kv client looks for the meta range first: this node,
// then the join addresses.
func (s *Server) seeds() []string { return append([]string{s.cfg.RPCAddr}, s.cfg.Join...) }

// checkCluster refuses to start a node whose data belongs to a cluster other
// than the one --join points at. Unreachable join addresses are not an error
// here: a restarting cluster comes up one node at a time.
func (s *Server) checkCluster(ctx context.Context) error {
	for _, addr := range s.cfg.Join {
		if addr == s.cfg.RPCAddr {
			continue
		}
		cl, err := s.pool.Internal(addr)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cl.Identify(cctx, &serverpb.IdentifyRequest{})
		cancel()
		if err != nil || resp.ClusterId == "" {
			continue
		}
		if resp.ClusterId != s.id.ClusterID {
			return fmt.Errorf("%w: %s holds node n%d of cluster %s, but %s belongs to cluster %s",
				ErrClusterMismatch, s.cfg.DataDir, s.id.NodeID, s.id.ClusterID, addr, resp.ClusterId)
		}
	}
	return nil
}

// join asks the nodes in cfg.Join for a node id, trying each until one
// answers or ctx ends.
func (s *Server) join(ctx context.Context) error {
	req := &serverpb.JoinRequest{RpcAddr: s.cfg.RPCAddr, SqlAddr: s.cfg.SQLAddr, HttpAddr: s.cfg.HTTPAddr}
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		for _, addr := range s.cfg.Join {
			cl, err := s.pool.Internal(addr)
			if err != nil {
				lastErr = err
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err := cl.Join(cctx, req)
			cancel()
			if status.Code(err) == codes.Unauthenticated {
				// Retrying will not help: the secret is wrong.
				return fmt.Errorf("server: %s refused to let this node join: %v", addr, status.Convert(err).Message())
			}
			if err != nil {
				lastErr = fmt.Errorf("%s: %w", addr, err)
				continue
			}
			s.id = ident{ClusterID: resp.ClusterId, NodeID: resp.NodeId, Bootstrapped: true}
			if err := storeIdent(s.eng, s.id); err != nil {
				return err
			}
			s.log.Info("joined cluster", "cluster", s.id.ClusterID, "node", s.id.NodeID, "via", addr)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("server: could not join through %v: %w", s.cfg.Join, lastErr)
}

// NodeID returns the node's id.
func (s *Server) NodeID() uint64 { return s.id.NodeID }

// ClusterID returns the cluster's id.
func (s *Server) ClusterID() string { return s.id.ClusterID }

// Addr returns the rpc address.
func (s *Server) Addr() string { return s.cfg.RPCAddr }

// KV returns the node's kv client.
func (s *Server) KV() *kv.Client { return s.kv }

// Engine returns the node's storage engine, for tests and tools that read
// a node's own state (comparing replicas, engine metrics). Stop closes it;
// after Stop its methods return engine.ErrClosed.
func (s *Server) Engine() *engine.Engine { return s.eng }

// Hub returns the node's raft transport hub (nil before Start), for fault
// tests that cut raft traffic between nodes (Hub.SetPartitioned).
func (s *Server) Hub() *replication.Hub { return s.hub }

// Start serves gRPC, opens the replicas, bootstraps a new cluster if this is
// its first node, and starts the background loops.
func (s *Server) Start(ctx context.Context) error {
	hub, err := replication.NewHub(replication.TransportConfig{LocalAddr: raft.ServerAddress(s.cfg.RPCAddr), Logger: s.log,
		DialOptions: s.dialOptions()})
	if err != nil {
		return err
	}
	s.hub = hub
	// The raft transport's options (64 MiB messages, frequent client pings
	// to notice dead peers) suit the kv and admin services too. Stream
	// workers serve calls on goroutines that outlive one call (gRPC spawns
	// more when they are all busy), so a call does not grow a fresh
	// goroutine's stack.
	opts := append(replication.ServerOptions(), rpcauth.ServerOptions(s.secret)...)
	opts = append(opts, grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))))
	s.grpc = grpc.NewServer(opts...)
	hub.Register(s.grpc)
	internal := &internalServer{s: s}
	serverpb.RegisterInternalServer(s.grpc, internal)
	s.pool.SetLocal(s.cfg.RPCAddr, internal)
	serverpb.RegisterAdminServer(s.grpc, &adminServer{s: s})
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		if err := s.grpc.Serve(s.lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("grpc server", "err", err)
		}
	}()
	bootstrap := s.id.ClusterID == ""
	if bootstrap {
		s.id = ident{ClusterID: uuid.NewString(), NodeID: 1}
		if err := storeIdent(s.eng, s.id); err != nil {
			return err
		}
		if err := s.writeInitialReplicas(); err != nil {
			return err
		}
		s.log.Info("bootstrapped new cluster", "cluster", s.id.ClusterID)
	}
	s.store = newStore(s.id.NodeID, s.cfg.RPCAddr, s.eng, s.hub, s.cfg, s.log)
	s.store.tso = s.kv.NowN
	s.store.observeApply = s.metrics.observeApply
	s.hub.SetUnknownGroupHandler(newMissingReplicas(s).handle)
	if err := s.store.start(); err != nil {
		return err
	}
	if !s.id.Bootstrapped {
		if err := s.writeInitialMeta(ctx); err != nil {
			return err
		}
	}
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		s.tso.run(s.ctx)
	}()
	if err := s.startSQL(ctx, bootstrap); err != nil {
		return err
	}
	if err := s.startHTTP(); err != nil {
		return err
	}
	s.runLoop("replicate", s.cfg.ReplicateInterval, s.replicateOnce)
	// At once too: a node that joined through one node knows no other
	// until then, and could not find the meta range if that one died.
	s.runLoopNow("node-refresh", 2*time.Second, s.refreshNodes)
	s.runLoop("gc", s.cfg.GCInterval, s.gcOnce)
	s.runLoop("report-load", s.cfg.Controller.ReportInterval, s.reportLoad)
	s.runLoop("replica-gc", replicaGCInterval, s.replicaGCOnce)
	s.runLoop("controller", s.cfg.Controller.ReportInterval, s.ctl.round)
	s.runLoop("usage", usageFlushInterval, func(ctx context.Context) {
		if err := s.flushUsage(ctx); err != nil {
			s.log.Debug("usage: flush", "err", err)
		}
	})
	s.log.Info("node started", "node", s.id.NodeID, "cluster", s.id.ClusterID, "rpc", s.cfg.RPCAddr)
	return nil
}

func (s *Server) self() *kvpb.ReplicaDescriptor {
	return &kvpb.ReplicaDescriptor{NodeId: s.id.NodeID, Addr: s.cfg.RPCAddr}
}

// writeInitialReplicas stores the descriptors of the first two ranges on the
// first node; the store bootstraps their groups when it opens them.
func (s *Server) writeInitialReplicas() error {
	for _, d := range meta.InitialDescriptors(s.self()) {
		if err := replica.WriteBootstrapState(s.eng, d); err != nil {
			return err
		}
	}
	return nil
}

// writeInitialMeta writes the records of a new cluster into the meta range
// (idempotent: a crash halfway redoes it on restart), then marks the node
// bootstrapped.
func (s *Server) writeInitialMeta(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.meta.Bootstrap(ctx, meta.InitialDescriptors(s.self()), s.nodeDescriptor()); err != nil {
		return fmt.Errorf("server: bootstrap: %w", err)
	}
	s.id.Bootstrapped = true
	return storeIdent(s.eng, s.id)
}

func (s *Server) nodeDescriptor() *kvpb.NodeDescriptor {
	return &kvpb.NodeDescriptor{NodeId: s.id.NodeID, RpcAddr: s.cfg.RPCAddr, SqlAddr: s.cfg.SQLAddr,
		HttpAddr: s.cfg.HTTPAddr, StartedAtUnixNanos: time.Now().UnixNano()}
}

// runLoop runs fn every interval until Stop; the goroutine is owned by
// s.loops.
func (s *Server) runLoop(name string, every time.Duration, fn func(context.Context)) {
	s.startLoop(every, fn, false)
}

// runLoopNow is runLoop with a first run at once.
func (s *Server) runLoopNow(name string, every time.Duration, fn func(context.Context)) {
	s.startLoop(every, fn, true)
}

func (s *Server) startLoop(every time.Duration, fn func(context.Context), now bool) {
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for first := now; ; first = false {
			if !first {
				select {
				case <-s.ctx.Done():
					return
				case <-t.C:
				}
			}
			ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
			fn(ctx)
			cancel()
		}
	}()
}

// Stop shuts the node down, in this order:
//  0. hand off the leadership of the ranges this node leads, so
//     clients do not wait for an election timeout;
//  1. stop the background loops (they use the kv client and replicas) and
//     the timestamp oracle's loop (it uses the meta replica; its waiting
//     requests are answered Unavailable);
//  2. stop every raft group (no more applies; raft goroutines exit);
//  3. close the transport hub (raft traffic) and then the gRPC server;
//  4. close the client connections;
//  5. close the engine last: everything above writes into it.
func (s *Server) Stop() { s.stop(true) }

// Kill stops the node the way a crash looks to its peers: the steps of
// Stop without step 0, so the ranges it leads wait for an election. Fault
// tests use it; the node's data stays consistent, as after Stop.
func (s *Server) Kill() { s.stop(false) }

func (s *Server) stop(handoff bool) {
	s.stopOnce.Do(func() {
		if s.store != nil && handoff {
			s.store.transferLeaderships()
		}
		// The SQL listener first: no new statements while the node goes.
		if s.wire != nil {
			s.wire.Close()
		}
		s.stopHTTP()
		s.cancel()
		s.loops.Wait()
		s.ctl.exec.Wait()
		// The kv client's background lock resolution needs the replicas.
		s.kv.Close()
		if s.store != nil {
			s.store.close()
		}
		if s.hub != nil {
			_ = s.hub.Close()
		}
		if s.grpc != nil {
			stopped := make(chan struct{})
			go func() { s.grpc.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(2 * time.Second):
				s.grpc.Stop()
			}
		} else if s.lis != nil {
			_ = s.lis.Close()
		}
		s.serve.Wait()
		_ = s.pool.Close()
		if err := s.eng.Close(); err != nil {
			s.log.Warn("close engine", "err", err)
		}
		s.log.Info("node stopped", "node", s.id.NodeID)
	})
}
