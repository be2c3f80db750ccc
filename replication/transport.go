// Multi-raft transport.
//
// A node holds one hashicorp/raft group (*raft.Raft) per range replica, and
// may hold thousands. They all talk to their peers through one Hub: one gRPC
// service registered on the node's single gRPC server, and one
// *grpc.ClientConn per peer node, shared by every group. Each group gets a
// GroupTransport from the Hub (Hub.Transport), which implements
// raft.Transport, raft.WithClose and raft.WithPreVote.
//
// # Wire protocol
//
// The service is shard.replication.v1.RaftTransport (replication/raftpb).
// Its messages mirror hashicorp/raft's RPC structs field for field; every
// request carries the group id (the range id), responses do not.
//
//   - AppendEntries, RequestVote, RequestPreVote, TimeoutNow: unary calls
//     with a deadline of TransportConfig.Timeout. Raft's heartbeats are unary
//     AppendEntries.
//   - AppendEntriesPipeline: a bidi stream per (peer, group), opened by raft's
//     pipelined replication. Requests and responses are matched by order. All
//     requests on a stream name the same group.
//   - InstallSnapshot: a client stream. The first message carries the
//     request, the following ones carry the snapshot bytes in chunks of
//     TransportConfig.SnapshotChunkSize. The server hands raft an io.Reader
//     over the chunks (raft.RPC.Reader) and answers once raft has consumed
//     it. Its deadline grows with the snapshot size
//     (Timeout + Size/SnapshotMinRate).
//
// HTTP/2 interleaves the streams of one connection frame by frame, so a
// heartbeat is not stuck behind a large AppendEntries or snapshot chunk of
// another group.
//
// Addresses: a peer is named by its raft.ServerAddress, the host:port of its
// gRPC server (TransportConfig.LocalAddr on that node). All groups on a node
// share it; EncodePeer/DecodePeer are the identity on the address bytes.
//
// # Routing and dispatch (server side)
//
// An inbound request is first admitted (the hub is open, the sender is not
// partitioned off, see SetPartitioned) and then routed by group id through
// the hub's table of open GroupTransports. A group that is not open is offered
// to the unknown-group handler (SetUnknownGroupHandler), which may create it
// on the spot (a replica that missed the split that created it); dispatch is
// then retried once. Otherwise the caller gets codes.NotFound, which the
// client side turns back into ErrUnknownGroup. Before all that, an RPC for
// a group that is not open waits up to groupOpenWait for it to open
// (Hub.accept: the new range of a split opens on each node a little apart).
//
// A routed request becomes a raft.RPC sent on the group's consumer channel
// (unbuffered, like hashicorp's NetworkTransport); the handler then waits for
// raft's answer. Both waits also end when the call's context ends (client
// deadline or cancellation, the connection dropping) or the group transport
// closes (GroupTransport.Close, Hub.Close), so no handler waits forever.
//
// Heartbeats bypass the consumer channel: an AppendEntries that matches
// hashicorp's heartbeat pattern (a term and a leader, no entries, no previous
// entry, no commit index) is handed straight to the handler raft installed
// with SetHeartbeatHandler, in the gRPC handler's goroutine, so a group whose
// main loop is busy writing to disk still answers heartbeats and keeps its
// leader. Before raft installs the handler, heartbeats take the normal path.
//
// # Back-pressure
//
//   - Consumer channel: unbuffered, so a busy group stops taking RPCs; its
//     handlers block, and HTTP/2 per-stream flow control pushes back on the
//     sender of that group only. Other groups on the same connection are not
//     affected (gRPC replenishes the connection window as data arrives).
//   - Pipeline: at most TransportConfig.MaxPipelineInFlight requests are
//     awaiting responses; AppendEntries on the pipeline blocks beyond that,
//     which is the back-pressure raft expects from AppendPipeline. Send also
//     blocks on the stream's flow-control window.
//   - InstallSnapshot: chunks are read from raft's io.Reader only as fast as
//     the receiving raft consumes them.
//
// # Lifecycle
//
// NewHub; Register on the gRPC server before it serves (build that server
// with ServerOptions, or options at least as permissive: 64 MiB messages,
// client pings every 10s allowed); Transport(id) for each group, handed to
// raft.NewRaft. raft.Raft.Shutdown closes its GroupTransport
// (raft.WithClose), which cancels the group's outbound calls and pipelines,
// fails its waiting inbound RPCs with ErrTransportClosed, and removes it
// from the hub so the id can be opened again. Hub.Close closes
// every GroupTransport and every client connection; it does not stop the
// gRPC server, which belongs to the node. Goroutines owned here: one receiver
// per open pipeline (stopped and waited for by pipeline Close, which the
// group's Close calls). Inbound handlers run on gRPC's goroutines and return
// once their group or the hub closes.
//
// # Failure behaviour
//
// Client connections are created lazily on first use and kept for the life
// of the hub; gRPC reconnects them with a short backoff (at most
// maxReconnectBackoff) and keepalives detect dead peers. Calls are not
// wait-for-ready: a call to a peer that is down fails at once, and raft's own
// retry and backoff take over. A pipeline whose oldest request has had no
// response for Timeout is torn down; raft then falls back to unary
// AppendEntries and opens a new pipeline. Errors returned to raft wrap
// ErrTransportClosed (this group transport or the hub closed),
// ErrPartitioned (SetPartitioned), ErrUnknownGroup (the peer does not hold
// the group), or the gRPC status of the failed call.
//
// # Logging
//
// Debug: inbound RPCs refused (unknown group, partitioned sender); outbound
// failures are returned to raft, which logs them. Info: connections created,
// partitions set and healed. Warn: protocol violations by a peer.
//
// # Fault injection
//
// SetPartitioned is a runtime knob, used by the fault tests and usable by an
// operator: traffic to and from one peer address is dropped in both
// directions at this hub (outbound calls fail with ErrPartitioned, inbound
// ones with codes.Unavailable), and the streams to that peer are cut.

package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// GroupID names a raft group; it is the range id.
type GroupID uint64

var (
	// ErrUnknownGroup is returned for an RPC addressed to a group this node
	// (or the peer) does not hold. On the wire it is codes.NotFound.
	ErrUnknownGroup = errors.New("replication: unknown group")
	// ErrGroupExists is returned by Hub.Transport when the group's transport
	// is already open.
	ErrGroupExists = errors.New("replication: group transport already open")
	// ErrTransportClosed is returned by calls on a closed GroupTransport or
	// Hub, and to inbound RPCs whose group closed while they waited.
	ErrTransportClosed = errors.New("replication: transport closed")
	// ErrPartitioned is returned for traffic to or from a peer cut off with
	// Hub.SetPartitioned.
	ErrPartitioned = errors.New("replication: peer partitioned")
)

const (
	// MaxMessageSize bounds one gRPC message in either direction; a batch of
	// AppendEntries can be large.
	MaxMessageSize = 64 << 20

	defaultTimeout           = 5 * time.Second
	defaultMaxInFlight       = 8
	defaultSnapshotChunkSize = 256 << 10
	defaultSnapshotMinRate   = 1 << 20 // bytes per second

	// maxReconnectBackoff caps gRPC's reconnect backoff (its default is
	// 120s, far longer than a raft election).
	maxReconnectBackoff = 2 * time.Second
	keepaliveTime       = 10 * time.Second
	keepaliveTimeout    = 5 * time.Second
)

// TransportConfig configures a Hub. The zero value of every field but
// LocalAddr means "use the default".
type TransportConfig struct {
	// LocalAddr is this node's advertised rpc address (host:port); peers
	// address each other by it, and raft uses it as the node's
	// raft.ServerAddress in every group.
	LocalAddr raft.ServerAddress
	// DialOptions are appended to the hub's own dial options (insecure
	// transport credentials, message size limits, keepalive, reconnect
	// backoff), so they override them; pass grpc.WithTransportCredentials
	// for TLS. nil means insecure credentials and the defaults.
	DialOptions []grpc.DialOption
	// Timeout is the deadline of every non-streaming RPC, and the time a
	// pipeline waits for the response to its oldest request. Default 5s.
	// InstallSnapshot gets Timeout + Size/SnapshotMinRate.
	Timeout time.Duration
	// MaxPipelineInFlight bounds the AppendEntries requests a pipeline has
	// sent and not yet seen answered. Default 8.
	MaxPipelineInFlight int
	// SnapshotChunkSize is the size of InstallSnapshot data messages.
	// Default 256 KiB.
	SnapshotChunkSize int
	// SnapshotMinRate is the slowest snapshot transfer (bytes per second)
	// tolerated before InstallSnapshot times out. Default 1 MiB/s.
	SnapshotMinRate int64
	// Logger receives the hub's logs; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration.
func (c *TransportConfig) Validate() error {
	var errs []error
	if c.LocalAddr == "" {
		errs = append(errs, errors.New("replication: TransportConfig.LocalAddr is empty"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("replication: TransportConfig.Timeout %s is negative", c.Timeout))
	}
	if c.MaxPipelineInFlight < 0 {
		errs = append(errs, fmt.Errorf("replication: TransportConfig.MaxPipelineInFlight %d is negative", c.MaxPipelineInFlight))
	}
	if c.SnapshotChunkSize < 0 || c.SnapshotChunkSize > MaxMessageSize/2 {
		errs = append(errs, fmt.Errorf("replication: TransportConfig.SnapshotChunkSize %d is out of range [0, %d]", c.SnapshotChunkSize, MaxMessageSize/2))
	}
	if c.SnapshotMinRate < 0 {
		errs = append(errs, fmt.Errorf("replication: TransportConfig.SnapshotMinRate %d is negative", c.SnapshotMinRate))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c TransportConfig) withDefaults() TransportConfig {
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	if c.MaxPipelineInFlight == 0 {
		c.MaxPipelineInFlight = defaultMaxInFlight
	}
	if c.SnapshotChunkSize == 0 {
		c.SnapshotChunkSize = defaultSnapshotChunkSize
	}
	if c.SnapshotMinRate == 0 {
		c.SnapshotMinRate = defaultSnapshotMinRate
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// ServerOptions returns the grpc.ServerOptions the node's gRPC server needs
// for this transport: message size limits matching MaxMessageSize, and a
// keepalive enforcement policy that accepts the hub's client keepalives
// (without it the server answers them with GOAWAY "too_many_pings").
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             keepaliveTime / 2,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    keepaliveTime,
			Timeout: keepaliveTimeout,
		}),
	}
}

// Hub owns the gRPC client connections (one per peer address, dialed lazily,
// reused by every group) and the server-side routing table GroupID -> group
// transport. All methods are safe for concurrent use.
type Hub struct {
	cfg      TransportConfig // defaults applied; read-only after NewHub
	log      *slog.Logger
	dialOpts []grpc.DialOption

	// ctx is canceled by Close; it is the parent of every group's context
	// and every peer's cut context.
	ctx    context.Context
	cancel context.CancelFunc

	unknownGroup atomic.Pointer[func(GroupID) bool]

	mu struct {
		sync.RWMutex
		closed bool
		groups map[GroupID]*GroupTransport
		// opened is closed (and replaced) whenever a group's transport
		// opens: an RPC waiting for its group (accept) looks again.
		opened      chan struct{}
		peers       map[raft.ServerAddress]*peerConn
		partitioned map[raft.ServerAddress]bool
	}
}

// peerConn is the client side of one peer node.
type peerConn struct {
	conn   *grpc.ClientConn
	client raftpb.RaftTransportClient
	// cut is canceled when the peer is partitioned off (and when the hub
	// closes); every outbound call and stream to the peer ends with it.
	// Replaced by a fresh context on each partition. Guarded by Hub.mu.
	cut       context.Context
	cutCancel context.CancelFunc
}

// NewHub returns an open hub. It dials nothing: connections are made on
// first use.
func NewHub(cfg TransportConfig) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &Hub{cfg: cfg, log: cfg.Logger.With("local", string(cfg.LocalAddr))}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.mu.groups = make(map[GroupID]*GroupTransport)
	h.mu.opened = make(chan struct{})
	h.mu.peers = make(map[raft.ServerAddress]*peerConn)
	h.mu.partitioned = make(map[raft.ServerAddress]bool)

	h.dialOpts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                keepaliveTime,
			Timeout:             keepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  50 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   maxReconnectBackoff,
			},
			MinConnectTimeout: cfg.Timeout,
		}),
	}, cfg.DialOptions...)
	return h, nil
}

// LocalAddr returns the address this hub advertises.
func (h *Hub) LocalAddr() raft.ServerAddress { return h.cfg.LocalAddr }

// Register registers the raft transport service on the node's gRPC server.
// Call it once, before s serves. The server should be built with
// ServerOptions.
func (h *Hub) Register(s *grpc.Server) {
	raftpb.RegisterRaftTransportServer(s, &raftService{hub: h})
}

// Transport opens the transport of group id; hand it to raft.NewRaft. It
// returns ErrGroupExists if the group's transport is open and
// ErrTransportClosed if the hub is closed. Closing the returned transport
// (raft does on Shutdown) frees the id.
func (h *Hub) Transport(id GroupID) (*GroupTransport, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.closed {
		return nil, ErrTransportClosed
	}
	if _, ok := h.mu.groups[id]; ok {
		return nil, fmt.Errorf("%w: group %d", ErrGroupExists, id)
	}
	t := newGroupTransport(h, id)
	h.mu.groups[id] = t
	close(h.mu.opened)
	h.mu.opened = make(chan struct{})
	return t, nil
}

// SetUnknownGroupHandler sets fn to be called when an RPC arrives for a group
// that is not open. If fn returns true it has just opened the group's
// transport (and started its raft), and dispatch is retried once; otherwise
// the caller gets ErrUnknownGroup (codes.NotFound). fn runs in the inbound
// RPC's goroutine, may be called concurrently (also for the same id), and
// must not call Hub.Close. nil removes the handler.
func (h *Hub) SetUnknownGroupHandler(fn func(id GroupID) bool) {
	if fn == nil {
		h.unknownGroup.Store(nil)
		return
	}
	h.unknownGroup.Store(&fn)
}

// SetPartitioned drops (partitioned=true) or restores traffic between this
// hub and peer, in both directions: outbound calls to peer fail with
// ErrPartitioned, open streams to it are cut, and inbound RPCs from it are
// refused with codes.Unavailable. This is a runtime fault-injection knob for
// fault tests and operators; it does not touch the connection itself.
func (h *Hub) SetPartitioned(peer raft.ServerAddress, partitioned bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.partitioned[peer] == partitioned {
		return
	}
	if !partitioned {
		delete(h.mu.partitioned, peer)
		h.log.Info("replication: partition healed", "peer", string(peer))
		return
	}
	h.mu.partitioned[peer] = true
	if p := h.mu.peers[peer]; p != nil {
		p.cutCancel()
		p.cut, p.cutCancel = context.WithCancel(h.ctx)
	}
	h.log.Info("replication: peer partitioned", "peer", string(peer))
}

// Close closes every group transport and every client connection. Inbound
// RPCs still arriving are refused with ErrTransportClosed. It does not stop
// the gRPC server. Close is idempotent.
func (h *Hub) Close() error {
	// Shutdown order:
	//  1. mark closed, so no group opens and no connection is dialed;
	//  2. cancel the hub context: every outbound call and stream ends,
	//     every waiting inbound handler returns;
	//  3. close each group transport (waits for its pipeline receivers);
	//  4. close the client connections.
	h.mu.Lock()
	if h.mu.closed {
		h.mu.Unlock()
		return nil
	}
	h.mu.closed = true
	groups := make([]*GroupTransport, 0, len(h.mu.groups))
	for _, t := range h.mu.groups {
		groups = append(groups, t)
	}
	peers := h.mu.peers
	h.mu.peers = nil
	h.mu.Unlock()

	h.cancel()
	var errs []error
	for _, t := range groups {
		errs = append(errs, t.Close())
	}
	for addr, p := range peers {
		p.cutCancel()
		if err := p.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("replication: closing connection to %s: %w", addr, err))
		}
	}
	return errors.Join(errs...)
}

// peerFor returns the client for target and the context that is canceled
// when target gets partitioned off, dialing lazily.
func (h *Hub) peerFor(target raft.ServerAddress) (raftpb.RaftTransportClient, context.Context, error) {
	h.mu.RLock()
	client, cut, err, ok := h.peerLocked(target)
	h.mu.RUnlock()
	if ok {
		return client, cut, err
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if client, cut, err, ok := h.peerLocked(target); ok {
		return client, cut, err
	}
	// grpc.NewClient does no I/O: the connection is made by the first RPC.
	conn, err := grpc.NewClient(string(target), h.dialOpts...)
	if err != nil {
		return nil, nil, fmt.Errorf("replication: client for %s: %w", target, err)
	}
	p := &peerConn{conn: conn, client: raftpb.NewRaftTransportClient(conn)}
	p.cut, p.cutCancel = context.WithCancel(h.ctx)
	h.mu.peers[target] = p
	h.log.Info("replication: new peer connection", "peer", string(target))
	return p.client, p.cut, nil
}

// peerLocked answers peerFor from the current state; ok is false when the
// connection must be created. h.mu must be held (read or write).
func (h *Hub) peerLocked(target raft.ServerAddress) (raftpb.RaftTransportClient, context.Context, error, bool) {
	if h.mu.closed {
		return nil, nil, ErrTransportClosed, true
	}
	if h.mu.partitioned[target] {
		return nil, nil, fmt.Errorf("%w: %s", ErrPartitioned, target), true
	}
	if p := h.mu.peers[target]; p != nil {
		return p.client, p.cut, nil, true
	}
	return nil, nil, nil, false
}

// groupOpenWait is how long an RPC for a group that is not open waits for
// it to open (see accept).
const groupOpenWait = 250 * time.Millisecond

// accept admits an inbound RPC from the peer at from for group id and
// returns the group's transport. An RPC for a group that is not open first
// waits up to groupOpenWait for it to open, or until ctx ends: each node
// opens the new range of a split when it applies the split, and the node
// that led the split campaigns at once (Group.CampaignNow), so its votes,
// and then its appends, often reach a replica a few milliseconds before it
// has applied the split. Refused, a vote would cost the candidate a whole
// election timeout, and an append would have the replica made from
// nothing (the unknown-group handler), brought up by a snapshot.
func (h *Hub) accept(ctx context.Context, id GroupID, from []byte) (*GroupTransport, error) {
	var waited <-chan time.Time
	var t *GroupTransport
	for {
		h.mu.RLock()
		closed, cut := h.mu.closed, len(from) > 0 && h.mu.partitioned[raft.ServerAddress(from)]
		var opened chan struct{}
		t, opened = h.mu.groups[id], h.mu.opened
		h.mu.RUnlock()
		switch {
		case closed:
			return nil, ErrTransportClosed
		case cut:
			h.log.Debug("replication: refused rpc from partitioned peer", "peer", string(from), "group", uint64(id))
			return nil, fmt.Errorf("%w: refusing traffic from %s", ErrPartitioned, from)
		case t != nil:
			return t, nil
		}
		if waited == nil {
			timer := time.NewTimer(groupOpenWait)
			defer timer.Stop()
			waited = timer.C
		}
		select {
		case <-opened:
			continue
		case <-waited:
		case <-ctx.Done():
		case <-h.ctx.Done():
		}
		break
	}
	if fn := h.unknownGroup.Load(); fn != nil && (*fn)(id) {
		h.mu.RLock()
		t = h.mu.groups[id]
		h.mu.RUnlock()
		if t != nil {
			return t, nil
		}
	}
	h.log.Debug("replication: refused rpc for unknown group", "peer", string(from), "group", uint64(id))
	return nil, fmt.Errorf("%w %d", ErrUnknownGroup, id)
}

// group returns the open transport of group id, nil if none.
func (h *Hub) group(id GroupID) *GroupTransport {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.mu.groups[id]
}

// admitted reports whether traffic from the peer at from is still allowed;
// long-lived streams check it on every message.
func (h *Hub) admitted(from []byte) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.mu.closed {
		return ErrTransportClosed
	}
	if len(from) > 0 && h.mu.partitioned[raft.ServerAddress(from)] {
		return fmt.Errorf("%w: refusing traffic from %s", ErrPartitioned, from)
	}
	return nil
}

// removeGroup drops t from the routing table if it is still the open
// transport of its group.
func (h *Hub) removeGroup(t *GroupTransport) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.groups[t.id] == t {
		delete(h.mu.groups, t.id)
	}
}
