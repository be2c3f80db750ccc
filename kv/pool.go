package kv

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/shardingsystem/shard/serverpb"
)

// Pool keeps one gRPC client connection per node address, shared by every
// user on the node (kv client, admin calls). Safe for concurrent use.
type Pool struct {
	opts []grpc.DialOption
	mu   struct {
		sync.Mutex
		conns map[string]*grpc.ClientConn
		// remotes are the Internal clients of other nodes, made once:
		// Batch on the node's stream (batchstream.go), the rest unary.
		remotes map[string]*streamInternal
		closed  bool
	}
	// local is this node's own server (SetLocal); read on every call.
	local atomic.Pointer[localTarget]
}

// NewPool makes a pool; opts replace the default insecure credentials.
func NewPool(opts ...grpc.DialOption) *Pool {
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	opts = append(opts,
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		// A node that comes back is used again within a second: gRPC's
		// default backoff grows to two minutes while a node is down, and
		// a leader that moves back to it would be unreachable that long.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	)
	p := &Pool{opts: opts}
	p.mu.conns = map[string]*grpc.ClientConn{}
	p.mu.remotes = map[string]*streamInternal{}
	return p
}

// Conn returns the connection to addr, creating it lazily (no I/O here;
// gRPC connects on first use).
func (p *Pool) Conn(addr string) (*grpc.ClientConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connLocked(addr)
}

func (p *Pool) connLocked(addr string) (*grpc.ClientConn, error) {
	if p.mu.closed {
		return nil, fmt.Errorf("kv: connection pool closed")
	}
	if c, ok := p.mu.conns[addr]; ok {
		return c, nil
	}
	c, err := grpc.NewClient(addr, p.opts...)
	if err != nil {
		return nil, fmt.Errorf("kv: dial %s: %w", addr, err)
	}
	p.mu.conns[addr] = c
	return c, nil
}

// Internal returns an Internal service client for addr: in process for
// this node's own address, else with Batch on the node's stream. One
// lookup under the pool's lock: it runs on every call to another node.
func (p *Pool) Internal(addr string) (serverpb.InternalClient, error) {
	l := p.local.Load()
	local := l != nil && addr == l.addr
	p.mu.Lock()
	defer p.mu.Unlock()
	if local && l.client != nil && !p.mu.closed {
		return l.client, nil
	}
	if r, ok := p.mu.remotes[addr]; ok && !local {
		return r, nil
	}
	c, err := p.connLocked(addr)
	if err != nil {
		return nil, err
	}
	cl := serverpb.NewInternalClient(c)
	if local {
		l.client = localInternal{InternalClient: cl, srv: l.srv}
		return l.client, nil
	}
	r := &streamInternal{InternalClient: cl, s: &batchStream{}}
	p.mu.remotes[addr] = r
	return r, nil
}

// SetLocal makes calls to addr (this node's own address) of the hot
// methods run in process on srv (local.go).
func (p *Pool) SetLocal(addr string, srv serverpb.InternalServer) {
	p.local.Store(&localTarget{addr: addr, srv: srv})
}

// localTarget is this node's address and Internal server.
type localTarget struct {
	addr string
	srv  serverpb.InternalServer
	// client is the in-process client, made by the first call of
	// Internal; guarded by the pool's mu.
	client serverpb.InternalClient
}

// Close closes every connection.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns, remotes := p.mu.conns, p.mu.remotes
	p.mu.conns, p.mu.remotes, p.mu.closed = nil, nil, true
	p.mu.Unlock()
	for _, r := range remotes {
		r.s.close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	return nil
}
