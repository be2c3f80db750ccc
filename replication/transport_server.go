package replication

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// raftService is the server side of the transport: it admits and routes
// inbound RPCs to the hub's group transports.
type raftService struct {
	raftpb.UnimplementedRaftTransportServer
	hub *Hub
}

// serveInbound routes one inbound command to its group and waits for raft's
// answer, of type R.
func serveInbound[R any](ctx context.Context, h *Hub, id uint64, from []byte, cmd any, data io.Reader, heartbeat bool) (*R, error) {
	t, err := h.accept(ctx, GroupID(id), from)
	if err != nil {
		return nil, inboundStatus(err)
	}
	out, err := t.dispatch(ctx, cmd, data, heartbeat)
	if err != nil {
		return nil, inboundStatus(err)
	}
	resp, ok := out.(*R)
	if !ok || resp == nil {
		return nil, status.Errorf(codes.Internal, "replication: group %d answered %T, want %T", id, out, resp)
	}
	return resp, nil
}

func (s *raftService) AppendEntries(ctx context.Context, req *raftpb.AppendEntriesRequest) (*raftpb.AppendEntriesResponse, error) {
	cmd := decodeAppendEntriesRequest(req)
	resp, err := serveInbound[raft.AppendEntriesResponse](ctx, s.hub, req.GetGroupId(), senderAddr(cmd.Addr, cmd.Leader), cmd, nil, isHeartbeat(cmd))
	if err != nil {
		return nil, err
	}
	return encodeAppendEntriesResponse(resp), nil
}

func (s *raftService) RequestVote(ctx context.Context, req *raftpb.RequestVoteRequest) (*raftpb.RequestVoteResponse, error) {
	cmd := decodeRequestVoteRequest(req)
	resp, err := serveInbound[raft.RequestVoteResponse](ctx, s.hub, req.GetGroupId(), senderAddr(cmd.Addr, cmd.Candidate), cmd, nil, false)
	if err != nil {
		return nil, err
	}
	return encodeRequestVoteResponse(resp), nil
}

func (s *raftService) RequestPreVote(ctx context.Context, req *raftpb.RequestPreVoteRequest) (*raftpb.RequestPreVoteResponse, error) {
	cmd := decodeRequestPreVoteRequest(req)
	resp, err := serveInbound[raft.RequestPreVoteResponse](ctx, s.hub, req.GetGroupId(), cmd.Addr, cmd, nil, false)
	if err != nil {
		return nil, err
	}
	return encodeRequestPreVoteResponse(resp), nil
}

func (s *raftService) TimeoutNow(ctx context.Context, req *raftpb.TimeoutNowRequest) (*raftpb.TimeoutNowResponse, error) {
	cmd := decodeTimeoutNowRequest(req)
	resp, err := serveInbound[raft.TimeoutNowResponse](ctx, s.hub, req.GetGroupId(), cmd.Addr, cmd, nil, false)
	if err != nil {
		return nil, err
	}
	return encodeTimeoutNowResponse(resp), nil
}

// AppendEntriesPipeline serves one pipeline stream: requests are handed to
// raft one at a time, in order, and answered in order. The stream is bound
// to the group of its first request. Any failure ends the stream; the
// client then fails every request in flight.
func (s *raftService) AppendEntriesPipeline(stream grpc.BidiStreamingServer[raftpb.AppendEntriesRequest, raftpb.AppendEntriesResponse]) error {
	ctx := stream.Context()
	// The opener names the group and itself in the stream's metadata; the
	// group hears when the stream ends, however it ends (see
	// GroupTransport.SetPipelineEndedHandler).
	if id, opener := pipelineOpener(ctx); len(opener) > 0 {
		defer func() {
			if t := s.hub.group(id); t != nil {
				t.pipelineEnded(raft.ServerAddress(opener))
			}
		}()
	}
	var t *GroupTransport
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		cmd := decodeAppendEntriesRequest(req)
		from := senderAddr(cmd.Addr, cmd.Leader)
		if t == nil {
			if t, err = s.hub.accept(stream.Context(), GroupID(req.GetGroupId()), from); err != nil {
				return inboundStatus(err)
			}
		} else {
			if GroupID(req.GetGroupId()) != t.id {
				s.hub.log.Warn("replication: pipeline stream changed group", "group", uint64(t.id), "got", req.GetGroupId(), "peer", string(from))
				return status.Error(codes.InvalidArgument, errPipelineGroupMismatch.Error())
			}
			if err := s.hub.admitted(from); err != nil {
				return inboundStatus(err)
			}
		}
		out, err := t.dispatch(ctx, cmd, nil, isHeartbeat(cmd))
		if err != nil {
			return inboundStatus(err)
		}
		resp, ok := out.(*raft.AppendEntriesResponse)
		if !ok || resp == nil {
			return status.Errorf(codes.Internal, "replication: group %d answered %T to AppendEntries", t.id, out)
		}
		if err := stream.Send(encodeAppendEntriesResponse(resp)); err != nil {
			return err
		}
	}
}

// Metadata keys of a pipeline stream: the group and the opener's address.
const (
	pipelineGroupKey = "shard-raft-group"
	pipelineFromKey  = "shard-raft-from"
)

// pipelineOpener reads a pipeline stream's group and opener from its
// metadata (0, nil when absent).
func pipelineOpener(ctx context.Context) (GroupID, []byte) {
	md, _ := metadata.FromIncomingContext(ctx)
	var id uint64
	if v := md.Get(pipelineGroupKey); len(v) == 1 {
		id, _ = strconv.ParseUint(v[0], 10, 64)
	}
	var from []byte
	if v := md.Get(pipelineFromKey); len(v) == 1 {
		from = []byte(v[0])
	}
	return GroupID(id), from
}

// InstallSnapshot serves one snapshot stream: raft reads the chunks through
// a snapshotReader while this handler waits for its answer.
func (s *raftService) InstallSnapshot(stream grpc.ClientStreamingServer[raftpb.InstallSnapshotChunk, raftpb.InstallSnapshotResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	req := first.GetRequest()
	if req == nil {
		return status.Error(codes.InvalidArgument, "replication: InstallSnapshot stream does not start with its request")
	}
	cmd := decodeInstallSnapshotRequest(req)
	r := &snapshotReader{stream: stream, buf: first.GetData()}
	resp, err := serveInbound[raft.InstallSnapshotResponse](stream.Context(), s.hub, req.GetGroupId(), senderAddr(cmd.Addr, cmd.Leader), cmd, r, false)
	// No Recv on the stream once the handler returns.
	r.finish()
	if err != nil {
		return err
	}
	return stream.SendAndClose(encodeInstallSnapshotResponse(resp))
}

// snapshotReader is the raft.RPC.Reader of an inbound InstallSnapshot: it
// reads the data of the stream's chunks, in order, until the client closes
// its side (io.EOF).
type snapshotReader struct {
	stream grpc.ClientStreamingServer[raftpb.InstallSnapshotChunk, raftpb.InstallSnapshotResponse]

	// mu is held across Recv, so that finish waits for a Recv in progress:
	// gRPC allows no Recv once the handler has returned.
	mu  sync.Mutex
	buf []byte // unread data of the current chunk
	err error  // sticky: set by a failed Recv or by finish
}

func (r *snapshotReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		m, err := r.stream.Recv()
		if err != nil {
			r.err = err // io.EOF: the client sent everything
			return 0, err
		}
		if m.GetRequest() != nil {
			r.err = errors.New("replication: InstallSnapshot request repeated inside the stream")
			return 0, r.err
		}
		r.buf = m.GetData()
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// finish makes every later Read fail, after any Recv in progress returns.
func (r *snapshotReader) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil || r.err == io.EOF {
		r.err = ErrTransportClosed
	}
	r.buf = nil
}

// inboundStatus maps an inbound dispatch error to its gRPC status.
func inboundStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown // an error raft answered with
	switch {
	case errors.Is(err, ErrUnknownGroup):
		code = codes.NotFound
	case errors.Is(err, ErrTransportClosed), errors.Is(err, ErrPartitioned):
		code = codes.Unavailable
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	return status.Error(code, err.Error())
}

// senderAddr returns the address of the peer that sent a request: the header's
// address, or the deprecated leader/candidate field of older senders.
func senderAddr(addr, legacy []byte) []byte {
	if len(addr) > 0 {
		return addr
	}
	return legacy
}

// isHeartbeat reports whether an inbound AppendEntries is one of raft's
// heartbeats, with the pattern hashicorp's NetworkTransport uses for its
// heartbeat fast path.
func isHeartbeat(req *raft.AppendEntriesRequest) bool {
	return req.Term != 0 && len(senderAddr(req.Addr, req.Leader)) > 0 &&
		req.PrevLogEntry == 0 && req.PrevLogTerm == 0 &&
		len(req.Entries) == 0 && req.LeaderCommitIndex == 0
}
