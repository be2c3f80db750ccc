package replication

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// appendPipeline is a raft.AppendPipeline over one AppendEntriesPipeline stream.
//
// AppendEntries sends a request and queues its future on inflight (bounded:
// the back-pressure raft expects); the receiver goroutine takes futures in
// order, matches each with the next response on the stream, and hands them
// to raft on done. A stream error fails the waiting future and every later
// one. If the oldest request waits longer than timeout for its response the
// stream is canceled.
//
// Close half-closes the stream rather than cancel it, so that the requests
// already sent still reach raft on the other side (see Close).
//
// The receiver is owned by the pipeline: Close stops it and waits for it;
// GroupTransport.Close closes every pipeline of the group.
type appendPipeline struct {
	call    *outCall
	stream  grpc.BidiStreamingClient[raftpb.AppendEntriesRequest, raftpb.AppendEntriesResponse]
	timeout time.Duration

	// sendMu serializes Send and CloseSend, which gRPC does not allow to
	// run concurrently (AppendEntries and Close may).
	sendMu sync.Mutex

	inflight chan *appendFuture
	done     chan raft.AppendFuture
	shutdown chan struct{} // closed by Close

	timedOut  atomic.Bool
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ raft.AppendPipeline = (*appendPipeline)(nil)

func newAppendPipeline(c *outCall, stream grpc.BidiStreamingClient[raftpb.AppendEntriesRequest, raftpb.AppendEntriesResponse], maxInFlight int, timeout time.Duration) *appendPipeline {
	p := &appendPipeline{
		call:     c,
		stream:   stream,
		timeout:  timeout,
		inflight: make(chan *appendFuture, maxInFlight),
		done:     make(chan raft.AppendFuture, maxInFlight),
		shutdown: make(chan struct{}),
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.receive()
	}()
	return p
}

// AppendEntries sends a request down the pipeline. It blocks while
// MaxPipelineInFlight requests await their responses, or while the stream's
// flow-control window is full.
func (p *appendPipeline) AppendEntries(args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) (raft.AppendFuture, error) {
	select {
	case <-p.shutdown:
		return nil, raft.ErrPipelineShutdown
	default:
	}
	f := &appendFuture{start: time.Now(), req: args, resp: resp, done: make(chan struct{})}
	p.sendMu.Lock()
	select {
	case <-p.shutdown: // Close has half-closed the stream
		p.sendMu.Unlock()
		return nil, raft.ErrPipelineShutdown
	default:
	}
	err := p.stream.Send(encodeAppendEntriesRequest(p.call.t.id, args))
	p.sendMu.Unlock()
	if err != nil {
		return nil, p.fail(err)
	}
	select {
	case p.inflight <- f:
		return f, nil
	case <-p.shutdown:
		return nil, raft.ErrPipelineShutdown
	}
}

// Consumer returns the channel of answered futures, in request order.
func (p *appendPipeline) Consumer() <-chan raft.AppendFuture { return p.done }

// pipelineCloseGrace bounds how long Close lets the other side take the
// requests already sent (less if the pipeline's timeout is shorter).
const pipelineCloseGrace = time.Second

// Close ends the pipeline and waits for the receiver goroutine. Idempotent.
//
// The requests already sent are still delivered: Close half-closes the
// stream, and the server hands every request it has read to raft before it
// ends the stream. raft relies on this when it removes a follower: it sends
// the follower the entry that removes it, as a best effort, and closes the
// pipeline right away; a canceled stream would lose that entry, and the
// removed follower would never learn of its removal. The stream is canceled
// once the server has ended it, after pipelineCloseGrace at most, or at
// once when the transport is closing (its context is canceled).
func (p *appendPipeline) Close() error {
	p.closeOnce.Do(func() {
		grace := pipelineCloseGrace
		if p.timeout > 0 {
			grace = min(grace, p.timeout)
		}
		// Armed before anything that can block: a Send waiting on flow
		// control holds sendMu until the stream is canceled.
		timer := time.AfterFunc(grace, p.call.cancel)
		close(p.shutdown)
		p.sendMu.Lock()
		_ = p.stream.CloseSend()
		p.sendMu.Unlock()
		// The receiver ends after the Recv it may be in; then read what is
		// left until the server ends the stream (or the stream is canceled).
		p.wg.Wait()
		for {
			if _, err := p.stream.Recv(); err != nil {
				break
			}
		}
		timer.Stop()
		p.call.cancel()
		p.call.t.removePipeline(p)
	})
	return nil
}

func (p *appendPipeline) receive() {
	for {
		var f *appendFuture
		select {
		case f = <-p.inflight:
		case <-p.shutdown:
			return
		}
		var watchdog *time.Timer
		if p.timeout > 0 {
			watchdog = time.AfterFunc(p.timeout, func() {
				p.timedOut.Store(true)
				p.call.cancel()
			})
		}
		msg, err := p.stream.Recv()
		if watchdog != nil {
			watchdog.Stop()
		}
		if err != nil {
			// raft reads Response() without calling Error(): the zero
			// response (Success false) makes it abandon the pipeline.
			f.err = p.fail(err)
		} else {
			decodeAppendEntriesResponse(msg, f.resp)
			p.call.t.leases.ack(p.call.target, f.start, f.req, f.resp)
		}
		close(f.done)
		select {
		case p.done <- f:
		case <-p.shutdown:
			return
		}
	}
}

func (p *appendPipeline) fail(err error) error {
	if p.timedOut.Load() {
		err = fmt.Errorf("no response within %s: %w", p.timeout, err)
	}
	return p.call.fail(err)
}

// appendFuture is a raft.AppendFuture answered by a pipeline's receiver.
// resp is raft's; it is written before done is closed and the future is
// handed to raft.
type appendFuture struct {
	start time.Time
	req   *raft.AppendEntriesRequest
	resp  *raft.AppendEntriesResponse
	err   error
	done  chan struct{}
}

var _ raft.AppendFuture = (*appendFuture)(nil)

func (f *appendFuture) Error() error {
	<-f.done
	return f.err
}

func (f *appendFuture) Start() time.Time                      { return f.start }
func (f *appendFuture) Request() *raft.AppendEntriesRequest   { return f.req }
func (f *appendFuture) Response() *raft.AppendEntriesResponse { return f.resp }

// errPipelineGroupMismatch is the server's answer to a pipeline stream whose
// requests name more than one group.
var errPipelineGroupMismatch = errors.New("replication: pipeline stream carries more than one group")
