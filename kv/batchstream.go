package kv

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/internal/lazyctx"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// Batch and GetTimestamps calls to another node travel on one long-lived
// Internal.BatchStream stream per node, many at once, each request with an
// id that its response carries back (server/internal.go). A unary gRPC
// call costs an HTTP/2 stream of its own: headers both ways, a server
// goroutine whose stack grows from scratch, per-call credentials and
// interceptors; on the stream a call is one message each way.
//
// A call behaves as the unary one would:
//   - the caller's deadline travels with the request (timeout_us) and
//     bounds the server's handler; the caller stops waiting when its
//     context ends;
//   - a failed call comes back as the same gRPC status;
//   - a broken stream fails the calls in flight with codes.Unavailable (as
//     a broken connection fails unary calls: their outcome is unknown),
//     and the next call opens a new stream.
//
// Batches with a scan go unary: a response of megabytes would hold up
// every other response on the stream. So does everything when the node
// does not serve BatchStream.

// streamInternal is the Internal client of a remote node with Batch and
// GetTimestamps on its stream.
type streamInternal struct {
	serverpb.InternalClient
	s *batchStream
}

var _ serverpb.InternalClient = streamInternal{}

func (c streamInternal) Batch(ctx context.Context, in *kvpb.BatchRequest, opts ...grpc.CallOption) (*kvpb.BatchResponse, error) {
	unary := func() (*kvpb.BatchResponse, error) { return c.InternalClient.Batch(ctx, in, opts...) }
	if !streamable(in) {
		return unary()
	}
	return onStream(ctx, c, &serverpb.BatchStreamRequest{Batch: in}, (*serverpb.BatchStreamResponse).GetBatch, unary)
}

func (c streamInternal) GetTimestamps(ctx context.Context, in *serverpb.GetTimestampsRequest, opts ...grpc.CallOption) (*serverpb.GetTimestampsResponse, error) {
	unary := func() (*serverpb.GetTimestampsResponse, error) {
		return c.InternalClient.GetTimestamps(ctx, in, opts...)
	}
	return onStream(ctx, c, &serverpb.BatchStreamRequest{Timestamps: in}, (*serverpb.BatchStreamResponse).GetTimestamps, unary)
}

// onStream makes the call req on c's stream and returns the response get
// picks from its answer; or makes it unary when the node does not serve
// BatchStream.
func onStream[Resp any](ctx context.Context, c streamInternal, req *serverpb.BatchStreamRequest,
	get func(*serverpb.BatchStreamResponse) Resp, unary func() (Resp, error)) (Resp, error) {
	if c.s.unsupported.Load() {
		return unary()
	}
	resp, err := c.s.call(ctx, c.InternalClient, req)
	if status.Code(err) == codes.Unimplemented {
		c.s.unsupported.Store(true)
		return unary()
	}
	return get(resp), err
}

// streamable reports a batch whose response is small: no scans.
func streamable(ba *kvpb.BatchRequest) bool {
	for _, r := range ba.Requests {
		if r.GetScan() != nil {
			return false
		}
	}
	return true
}

// batchStream is the stream to one node: the open one, if any. Safe for
// concurrent use. It owns the goroutines that open streams and receive on
// them; close stops them.
type batchStream struct {
	// unsupported is set once the node answered BatchStream with
	// Unimplemented: every call goes unary.
	unsupported atomic.Bool
	wg          sync.WaitGroup // the opener and receiver goroutines
	mu          struct {
		sync.Mutex
		cur     *streamConn
		opening *streamOpen // the open in progress, if any
		closed  bool
	}
}

// streamOpen is one attempt to open the stream, in the background: gRPC
// waits for the connection to be ready (up to its connect timeout when the
// node does not answer), and callers must be able to give up sooner.
type streamOpen struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the attempt ended; then sc or err is set
	sc     *streamConn
	err    error
}

// close breaks the open stream, stops an open in progress, refuses new
// ones and waits for their goroutines.
func (s *batchStream) close() {
	s.mu.Lock()
	cur, op := s.mu.cur, s.mu.opening
	s.mu.cur, s.mu.closed = nil, true
	s.mu.Unlock()
	if op != nil {
		op.cancel()
	}
	if cur != nil {
		cur.fail(errors.New("kv: connection pool closed"))
	}
	s.wg.Wait()
}

// conn returns the open stream, opening one on cl if there is none and
// waiting for it at most until ctx ends. The stream it returns may have
// broken since: its calls then fail with the reason.
func (s *batchStream) conn(ctx context.Context, cl serverpb.InternalClient) (*streamConn, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, status.Error(codes.Unavailable, "kv: connection pool closed")
	}
	if sc := s.mu.cur; sc != nil {
		s.mu.Unlock()
		return sc, nil
	}
	op := s.mu.opening
	if op == nil {
		op = s.openLocked(cl)
	}
	s.mu.Unlock()
	select {
	case <-op.done:
		return op.sc, op.err
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// openLocked starts opening a stream on cl.
func (s *batchStream) openLocked(cl serverpb.InternalClient) *streamOpen {
	ctx, cancel := context.WithCancel(context.Background())
	op := &streamOpen{cancel: cancel, done: make(chan struct{})}
	s.mu.opening = op
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(op.done)
		stream, err := cl.BatchStream(ctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.mu.opening = nil
		if err == nil && s.mu.closed {
			err = status.Error(codes.Unavailable, "kv: connection pool closed")
		}
		if err != nil {
			cancel()
			op.err = err
			return
		}
		sc := &streamConn{stream: stream, cancel: cancel, pending: map[uint64]chan *serverpb.BatchStreamResponse{}, done: make(chan struct{})}
		s.mu.cur, op.sc = sc, sc
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer close(sc.done)
			sc.receive()
			s.mu.Lock()
			if s.mu.cur == sc {
				s.mu.cur = nil
			}
			s.mu.Unlock()
		}()
	}()
	return op
}

// call runs one call (req without its id and timeout) on the stream and
// returns its response, whose code is OK.
func (s *batchStream) call(ctx context.Context, cl serverpb.InternalClient, req *serverpb.BatchStreamRequest) (*serverpb.BatchStreamResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, unsentError{status.FromContextError(err).Err()}
	}
	sc, err := s.conn(ctx, cl)
	if err != nil {
		return nil, unsentError{err}
	}
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return nil, unsentError{status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())}
		}
		req.TimeoutUs = max(1, left.Microseconds())
	}
	ch, err := sc.register(req)
	if err != nil {
		return nil, unsentError{err}
	}
	sc.sendMu.Lock()
	err = sc.stream.Send(req)
	sc.sendMu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) {
		sc.fail(err)
	}
	// On io.EOF the stream is gone and Send says no more: the receiver
	// gets the reason and reports it to everyone waiting, this call too.
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, sc.failure()
		}
		if r.Code != uint32(codes.OK) {
			return nil, status.Error(codes.Code(r.Code), r.Message)
		}
		return r, nil
	case <-ctx.Done():
		sc.forget(req.Id)
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// streamConn is one open BatchStream.
type streamConn struct {
	stream grpc.BidiStreamingClient[serverpb.BatchStreamRequest, serverpb.BatchStreamResponse]
	cancel context.CancelFunc
	// sendMu serializes Send, which gRPC does not allow concurrently.
	sendMu sync.Mutex
	done   chan struct{} // closed when the receiver has ended

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan *serverpb.BatchStreamResponse // by request id
	err     error                                         // why it broke; nil while open
}

// register gives req an id and a channel for its response.
func (sc *streamConn) register(req *serverpb.BatchStreamRequest) (chan *serverpb.BatchStreamResponse, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.err != nil {
		return nil, sc.failureLocked()
	}
	sc.next++
	req.Id = sc.next
	ch := make(chan *serverpb.BatchStreamResponse, 1)
	sc.pending[req.Id] = ch
	return ch, nil
}

func (sc *streamConn) forget(id uint64) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	delete(sc.pending, id)
}

// receive hands each response to its caller until the stream breaks, then
// fails everyone waiting.
func (sc *streamConn) receive() {
	for {
		r, err := sc.stream.Recv()
		if err != nil {
			sc.fail(err)
			return
		}
		sc.mu.Lock()
		ch, ok := sc.pending[r.Id]
		delete(sc.pending, r.Id)
		sc.mu.Unlock()
		if ok {
			ch <- r // buffered: never blocks
		}
	}
}

// fail breaks the stream with err (the first reason wins) and wakes every
// waiting call.
func (sc *streamConn) fail(err error) {
	sc.mu.Lock()
	if sc.err == nil {
		sc.err = err
		for id, ch := range sc.pending {
			close(ch)
			delete(sc.pending, id)
		}
	}
	sc.mu.Unlock()
	sc.cancel()
}

func (sc *streamConn) failure() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.failureLocked()
}

// failureLocked is the error of a call the broken stream failed: its own
// status when the server refused the stream (Unimplemented,
// Unauthenticated), else Unavailable.
func (sc *streamConn) failureLocked() error {
	st := status.Convert(sc.err)
	switch st.Code() {
	case codes.Unimplemented, codes.Unauthenticated, codes.PermissionDenied:
		return st.Err()
	}
	return status.Errorf(codes.Unavailable, "kv: batch stream broken: %s", st.Message())
}

// streamWorkerIdle is how long a worker of ServeBatchStream waits for the
// next request before it exits.
const streamWorkerIdle = 5 * time.Second

// StreamHandlers are the methods a BatchStream carries.
type StreamHandlers struct {
	Batch         func(context.Context, *kvpb.BatchRequest) (*kvpb.BatchResponse, error)
	GetTimestamps func(context.Context, *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error)
}

// ServeBatchStream serves the calls of one BatchStream with h:
// requests run concurrently, each bounded by its timeout and by the
// stream, and each response goes back as soon as it is ready. It returns
// when the client closes the stream or it breaks, once every request in
// flight has ended (a response computed after the break has no one to go
// to).
//
// A request runs on a worker goroutine that outlives it: it goes to a
// worker waiting for work if there is one, else to a new worker, and a
// worker exits after streamWorkerIdle without work. A goroutine per
// request would grow a fresh stack for each (runtime.newstack was 5 % of
// a leaseholder's CPU serving point selects).
func ServeBatchStream(stream serverpb.Internal_BatchStreamServer, h StreamHandlers) error {
	ctx := stream.Context()
	var sendMu sync.Mutex
	serve := func(req *serverpb.BatchStreamRequest) {
		cctx, cancel := ctx, func() {}
		if us := req.GetTimeoutUs(); us > 0 {
			cctx, cancel = lazyctx.WithDeadline(ctx, time.Now().Add(time.Duration(us)*time.Microsecond))
		}
		out := &serverpb.BatchStreamResponse{Id: req.GetId()}
		var err error
		switch {
		case req.GetBatch() != nil:
			out.Batch, err = h.Batch(cctx, req.GetBatch())
		case req.GetTimestamps() != nil:
			out.Timestamps, err = h.GetTimestamps(cctx, req.GetTimestamps())
		default:
			err = status.Error(codes.InvalidArgument, "kv: a stream request without a call")
		}
		cancel()
		if err != nil {
			st := status.Convert(err)
			out.Batch, out.Timestamps, out.Code, out.Message = nil, nil, uint32(st.Code()), st.Message()
		}
		sendMu.Lock()
		_ = stream.Send(out) // fails only when the stream is gone
		sendMu.Unlock()
	}
	// work hands a request to an idle worker; closing it stops them all.
	work := make(chan *serverpb.BatchStreamRequest)
	var wg sync.WaitGroup
	worker := func(req *serverpb.BatchStreamRequest) {
		defer wg.Done()
		idle := time.NewTimer(streamWorkerIdle)
		defer idle.Stop()
		for {
			serve(req)
			idle.Reset(streamWorkerIdle)
			var ok bool
			select {
			case req, ok = <-work:
				if !ok {
					return
				}
			case <-idle.C:
				return
			}
		}
	}
	defer wg.Wait() // no Send may follow the handler's return
	defer close(work)
	for {
		req, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		select {
		case work <- req:
		default:
			wg.Add(1)
			go worker(req)
		}
	}
}
