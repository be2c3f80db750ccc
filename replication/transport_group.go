package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// GroupTransport is the raft.Transport of one group on a Hub. It implements
// raft.Transport, raft.WithClose and raft.WithPreVote. All methods are safe
// for concurrent use. Close (raft calls it on Shutdown) removes it from the
// hub.
type GroupTransport struct {
	hub *Hub
	id  GroupID

	// consumeCh carries inbound RPCs to raft; unbuffered.
	consumeCh   chan raft.RPC
	heartbeatFn atomic.Pointer[func(raft.RPC)]
	// pipelineEndedFn is called when an inbound pipeline stream ends
	// (SetPipelineEndedHandler).
	pipelineEndedFn atomic.Pointer[func(from raft.ServerAddress)]

	// leases sees the followers' acknowledgements (lease.go).
	leases leases
	// votesAfter is when this replica starts to answer vote requests
	// (unix nanoseconds; 0: at once): see refuseVotesUntil.
	votesAfter atomic.Int64

	// ctx is canceled by Close and by Hub.Close. Outbound calls derive from
	// it; inbound dispatch gives up when it is done.
	ctx    context.Context
	cancel context.CancelFunc

	mu struct {
		sync.Mutex
		closed    bool
		pipelines map[*appendPipeline]struct{}
	}
}

var (
	_ raft.Transport   = (*GroupTransport)(nil)
	_ raft.WithClose   = (*GroupTransport)(nil)
	_ raft.WithPreVote = (*GroupTransport)(nil)
)

func newGroupTransport(h *Hub, id GroupID) *GroupTransport {
	t := &GroupTransport{hub: h, id: id, consumeCh: make(chan raft.RPC)}
	t.ctx, t.cancel = context.WithCancel(h.ctx)
	t.mu.pipelines = make(map[*appendPipeline]struct{})
	return t
}

// ID returns the group the transport carries.
func (t *GroupTransport) ID() GroupID { return t.id }

// Consumer returns the channel of inbound RPCs (raft.Transport).
func (t *GroupTransport) Consumer() <-chan raft.RPC { return t.consumeCh }

// LocalAddr returns the hub's address (raft.Transport).
func (t *GroupTransport) LocalAddr() raft.ServerAddress { return t.hub.cfg.LocalAddr }

// EncodePeer encodes a peer's address; the id is not needed (raft.Transport).
func (t *GroupTransport) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte {
	return []byte(addr)
}

// DecodePeer decodes what EncodePeer encoded (raft.Transport).
func (t *GroupTransport) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler installs raft's heartbeat fast path: inbound heartbeats
// are handed to cb in the RPC's goroutine instead of the consumer channel.
// nil removes it (raft.Transport).
func (t *GroupTransport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {
	if cb == nil {
		t.heartbeatFn.Store(nil)
		return
	}
	t.heartbeatFn.Store(&cb)
}

// SetPipelineEndedHandler installs fn, called with the opener's address
// when an inbound pipeline stream of this group ends, however it ends: the
// opener closed it (it stopped leading, or fell back to plain calls), its
// process died, or its connection dropped. A stream that ends cleanly and
// one cut by a dying process are not told apart reliably (the server may
// see either as the end of input). Group uses it to replace a dead leader
// sooner.
func (t *GroupTransport) SetPipelineEndedHandler(fn func(from raft.ServerAddress)) {
	t.pipelineEndedFn.Store(&fn)
}

// pipelineEnded reports the end of an inbound pipeline stream from from.
func (t *GroupTransport) pipelineEnded(from raft.ServerAddress) {
	if fn := t.pipelineEndedFn.Load(); fn != nil {
		(*fn)(from)
	}
}

// Close closes the transport: outbound calls and pipelines are canceled,
// inbound RPCs waiting on the group fail with ErrTransportClosed, and the
// group leaves the hub's routing table. It waits for the pipelines'
// goroutines. Idempotent; always returns nil (raft.WithClose).
func (t *GroupTransport) Close() error {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return nil
	}
	t.mu.closed = true
	pipelines := t.mu.pipelines
	t.mu.pipelines = nil
	t.mu.Unlock()

	t.cancel()
	t.hub.removeGroup(t)
	for p := range pipelines {
		_ = p.Close()
	}
	return nil
}

// outCall is one outbound call (or stream) to a peer.
type outCall struct {
	t      *GroupTransport
	method string
	target raft.ServerAddress
	client raftpb.RaftTransportClient
	ctx    context.Context
	cut    context.Context // canceled when target is partitioned off
	cancel context.CancelFunc
}

// begin starts an outbound call to target; timeout 0 means no deadline (a
// stream). The caller must call c.cancel.
func (t *GroupTransport) begin(method string, target raft.ServerAddress, timeout time.Duration) (*outCall, error) {
	if t.ctx.Err() != nil {
		return nil, fmt.Errorf("replication: %s group %d to %s: %w", method, t.id, target, ErrTransportClosed)
	}
	client, cut, err := t.hub.peerFor(target)
	if err != nil {
		return nil, fmt.Errorf("replication: %s group %d to %s: %w", method, t.id, target, err)
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(t.ctx, timeout)
	} else {
		ctx, cancel = context.WithCancel(t.ctx)
	}
	stop := context.AfterFunc(cut, cancel)
	return &outCall{
		t: t, method: method, target: target, client: client, ctx: ctx, cut: cut,
		cancel: func() { stop(); cancel() },
	}, nil
}

// fail translates the error of an outbound call into this package's terms.
func (c *outCall) fail(err error) error {
	var cause error
	switch {
	case c.t.ctx.Err() != nil:
		cause = ErrTransportClosed
	case c.cut.Err() != nil:
		cause = ErrPartitioned
	case status.Code(err) == codes.NotFound:
		cause = ErrUnknownGroup
	}
	if cause != nil {
		return fmt.Errorf("replication: %s group %d to %s: %w (%v)", c.method, c.t.id, c.target, cause, err)
	}
	return fmt.Errorf("replication: %s group %d to %s: %w", c.method, c.t.id, c.target, err)
}

// callUnary runs one non-streaming call.
func callUnary[Req, Resp any](t *GroupTransport, method string, target raft.ServerAddress, req *Req,
	rpc func(raftpb.RaftTransportClient, context.Context, *Req, ...grpc.CallOption) (*Resp, error),
) (*Resp, error) {
	c, err := t.begin(method, target, t.hub.cfg.Timeout)
	if err != nil {
		return nil, err
	}
	defer c.cancel()
	resp, err := rpc(c.client, c.ctx, req)
	if err != nil {
		return nil, c.fail(err)
	}
	return resp, nil
}

// AppendEntries sends one AppendEntries (raft.Transport).
func (t *GroupTransport) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	sent := time.Now()
	out, err := callUnary(t, "AppendEntries", target, encodeAppendEntriesRequest(t.id, args), raftpb.RaftTransportClient.AppendEntries)
	if err != nil {
		return err
	}
	decodeAppendEntriesResponse(out, resp)
	t.leases.ack(target, sent, args, resp)
	return nil
}

// RequestVote sends one RequestVote (raft.Transport).
func (t *GroupTransport) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	out, err := callUnary(t, "RequestVote", target, encodeRequestVoteRequest(t.id, args), raftpb.RaftTransportClient.RequestVote)
	if err != nil {
		return err
	}
	decodeRequestVoteResponse(out, resp)
	return nil
}

// RequestPreVote sends one RequestPreVote (raft.WithPreVote).
func (t *GroupTransport) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	out, err := callUnary(t, "RequestPreVote", target, encodeRequestPreVoteRequest(t.id, args), raftpb.RaftTransportClient.RequestPreVote)
	if err != nil {
		return err
	}
	decodeRequestPreVoteResponse(out, resp)
	return nil
}

// TimeoutNow sends one TimeoutNow (raft.Transport).
func (t *GroupTransport) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	out, err := callUnary(t, "TimeoutNow", target, encodeTimeoutNowRequest(t.id, args), raftpb.RaftTransportClient.TimeoutNow)
	if err != nil {
		return err
	}
	decodeTimeoutNowResponse(out, resp)
	return nil
}

// InstallSnapshot streams a snapshot read from data to target
// (raft.Transport). Its deadline is Timeout + args.Size/SnapshotMinRate.
func (t *GroupTransport) InstallSnapshot(_ raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	cfg := &t.hub.cfg
	timeout := cfg.Timeout
	if args.Size > 0 {
		timeout += time.Duration(float64(args.Size) / float64(cfg.SnapshotMinRate) * float64(time.Second))
	}
	c, err := t.begin("InstallSnapshot", target, timeout)
	if err != nil {
		return err
	}
	defer c.cancel()
	stream, err := c.client.InstallSnapshot(c.ctx)
	if err != nil {
		return c.fail(err)
	}
	if err := stream.Send(&raftpb.InstallSnapshotChunk{Request: encodeInstallSnapshotRequest(t.id, args)}); err != nil {
		return c.snapshotSendFailed(stream, err)
	}
	buf := make([]byte, cfg.SnapshotChunkSize)
	for {
		n, rerr := io.ReadFull(data, buf)
		if n > 0 {
			// SendMsg has serialized the message when it returns, so buf
			// can be reused.
			if err := stream.Send(&raftpb.InstallSnapshotChunk{Data: buf[:n]}); err != nil {
				return c.snapshotSendFailed(stream, err)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("replication: InstallSnapshot group %d to %s: reading snapshot: %w", t.id, target, rerr)
		}
	}
	out, err := stream.CloseAndRecv()
	if err != nil {
		return c.fail(err)
	}
	decodeInstallSnapshotResponse(out, resp)
	return nil
}

// snapshotSendFailed reports a failed Send on an InstallSnapshot stream. A
// Send that fails with io.EOF means the server ended the call; its status is
// what CloseAndRecv returns.
func (c *outCall) snapshotSendFailed(stream grpc.ClientStreamingClient[raftpb.InstallSnapshotChunk, raftpb.InstallSnapshotResponse], err error) error {
	if errors.Is(err, io.EOF) {
		if _, rerr := stream.CloseAndRecv(); rerr != nil {
			err = rerr
		}
	}
	return c.fail(err)
}

// AppendEntriesPipeline opens a pipeline stream to target (raft.Transport).
func (t *GroupTransport) AppendEntriesPipeline(_ raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	c, err := t.begin("AppendEntriesPipeline", target, 0)
	if err != nil {
		return nil, err
	}
	ctx := metadata.AppendToOutgoingContext(c.ctx,
		pipelineGroupKey, strconv.FormatUint(uint64(t.id), 10), pipelineFromKey, string(t.hub.cfg.LocalAddr))
	stream, err := c.client.AppendEntriesPipeline(ctx)
	if err != nil {
		c.cancel()
		return nil, c.fail(err)
	}
	p := newAppendPipeline(c, stream, t.hub.cfg.MaxPipelineInFlight, t.hub.cfg.Timeout)

	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		_ = p.Close()
		return nil, fmt.Errorf("replication: AppendEntriesPipeline group %d to %s: %w", t.id, target, ErrTransportClosed)
	}
	t.mu.pipelines[p] = struct{}{}
	t.mu.Unlock()
	return p, nil
}

func (t *GroupTransport) removePipeline(p *appendPipeline) {
	t.mu.Lock()
	delete(t.mu.pipelines, p)
	t.mu.Unlock()
}

// dispatch hands an inbound command to raft and waits for its answer, the
// end of ctx, or the close of the transport. Heartbeats go to raft's
// heartbeat handler, when it has installed one, instead of the consumer
// channel.
func (t *GroupTransport) dispatch(ctx context.Context, cmd any, data io.Reader, heartbeat bool) (any, error) {
	respCh := make(chan raft.RPCResponse, 1) // raft's send never blocks, even if we left
	rpc := raft.RPC{Command: cmd, Reader: data, RespChan: respCh}

	if t.ctx.Err() != nil {
		return nil, ErrTransportClosed
	}
	if err := t.holdVote(cmd); err != nil {
		return nil, err
	}
	handled := false
	if heartbeat {
		if fn := t.heartbeatFn.Load(); fn != nil {
			(*fn)(rpc)
			handled = true
		}
	}
	if !handled {
		select {
		case t.consumeCh <- rpc:
		case <-t.ctx.Done():
			return nil, ErrTransportClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case resp := <-respCh:
		if resp.Error != nil {
			return nil, resp.Error
		}
		return resp.Response, nil
	case <-t.ctx.Done():
		return nil, ErrTransportClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refuseVotesUntil makes the replica refuse vote and pre-vote requests
// until until. A replica that restarts on existing state calls it with its
// start plus the longest a lease can last (lease.go): before it crashed,
// it may have acknowledged a leader whose lease still runs, and raft,
// which forgot that leader, would vote for anyone at once. Refusing votes
// keeps the promise its acknowledgement made (no new leader before the
// lease ends). A leadership transfer's vote is not held: the leader ends
// its lease before starting one.
func (t *GroupTransport) refuseVotesUntil(until time.Time) {
	t.votesAfter.Store(until.UnixNano())
}

// holdVote refuses cmd if it asks for a vote while votes are held.
func (t *GroupTransport) holdVote(cmd any) error {
	after := t.votesAfter.Load()
	if after == 0 {
		return nil
	}
	switch v := cmd.(type) {
	case *raft.RequestVoteRequest:
		if v.LeadershipTransfer {
			return nil
		}
	case *raft.RequestPreVoteRequest:
	default:
		return nil
	}
	if left := time.Until(time.Unix(0, after)); left > 0 {
		return fmt.Errorf("%w: votes are held for %v after a restart", ErrVotesHeld, left.Round(time.Millisecond))
	}
	t.votesAfter.Store(0)
	return nil
}
