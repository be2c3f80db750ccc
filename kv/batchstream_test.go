package kv

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// echoNode is a node's Internal service whose Batch answers a Get with its
// key as the value, after a delay the key names ("slow" keys wait until
// released), and fails with the status a key asks for.
type echoNode struct {
	serverpb.UnimplementedInternalServer
	noStream bool // BatchStream unimplemented, as on an older node

	streams, unary, unaryTSO atomic.Int32
	release                  chan struct{}
	deadlines                chan time.Duration // how long the handler had, when asked
}

func (e *echoNode) Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	e.unary.Add(1)
	return e.batch(ctx, ba)
}

func (e *echoNode) batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	out := &kvpb.BatchResponse{}
	for _, r := range ba.Requests {
		k := string(r.GetGet().GetKey())
		switch k {
		case "slow":
			select {
			case <-e.release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case "deadline":
			d, _ := ctx.Deadline()
			e.deadlines <- time.Until(d)
		case "internal":
			return nil, status.Error(codes.Internal, "boom")
		case "unavailable":
			return nil, status.Error(codes.Unavailable, "down")
		case "goroutine":
			k = goroutineID()
		}
		out.Responses = append(out.Responses, &kvpb.Response{Value: &kvpb.Response_Get{Get: &kvpb.GetResponse{Found: true, Value: []byte(k)}}})
	}
	return out, nil
}

// GetTimestamps hands out count timestamps from 1000, or fails with
// Unavailable when asked for 13.
func (e *echoNode) GetTimestamps(ctx context.Context, req *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error) {
	e.unaryTSO.Add(1)
	return e.timestamps(ctx, req)
}

func (e *echoNode) timestamps(_ context.Context, req *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error) {
	if req.Count == 13 {
		return nil, status.Error(codes.Unavailable, "unlucky")
	}
	return &serverpb.GetTimestampsResponse{First: 1000, Count: req.Count}, nil
}

func (e *echoNode) BatchStream(stream serverpb.Internal_BatchStreamServer) error {
	if e.noStream {
		return status.Error(codes.Unimplemented, "method BatchStream not implemented")
	}
	e.streams.Add(1)
	return ServeBatchStream(stream, StreamHandlers{Batch: e.batch, GetTimestamps: e.timestamps})
}

// startEchoNode serves e on loopback and returns a pool whose Internal
// client reaches it.
func startEchoNode(t *testing.T, e *echoNode) (*Pool, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	serverpb.RegisterInternalServer(srv, e)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	p := NewPool()
	t.Cleanup(func() {
		_ = p.Close()
		srv.Stop()
		wg.Wait()
	})
	return p, lis.Addr().String()
}

func getBatch(keys ...string) *kvpb.BatchRequest {
	ba := &kvpb.BatchRequest{RangeId: 7}
	for _, k := range keys {
		ba.Requests = append(ba.Requests, &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: []byte(k)}}})
	}
	return ba
}

func echoed(resp *kvpb.BatchResponse) string {
	if resp == nil || len(resp.Responses) == 0 {
		return ""
	}
	return string(resp.Responses[0].GetGet().GetValue())
}

// TestBatchStreamMultiplexes: concurrent calls share one stream, each gets
// its own answer although they come back out of order, a handler's status
// comes back as it is, and the caller's deadline bounds the handler.
func TestBatchStreamMultiplexes(t *testing.T) {
	e := &echoNode{release: make(chan struct{}), deadlines: make(chan time.Duration, 1)}
	p, addr := startEchoNode(t, e)
	cl, err := p.Internal(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	slow := make(chan error, 1)
	go func() {
		resp, err := cl.Batch(ctx, getBatch("slow"))
		if err == nil && echoed(resp) != "slow" {
			err = fmt.Errorf("slow call answered %q", echoed(resp))
		}
		slow <- err
	}()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			k := fmt.Sprint("key", i)
			resp, err := cl.Batch(ctx, getBatch(k))
			if err != nil || echoed(resp) != k {
				t.Errorf("call %s: %q, %v", k, echoed(resp), err)
			}
		})
	}
	wg.Wait() // while "slow" still waits: answers overtake it
	close(e.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Batch(ctx, getBatch("internal")); status.Code(err) != codes.Internal || status.Convert(err).Message() != "boom" {
		t.Fatalf("a failing handler: %v, want Internal: boom", err)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := cl.Batch(dctx, getBatch("deadline")); err != nil {
		t.Fatal(err)
	}
	if d := <-e.deadlines; d <= 0 || d > time.Minute {
		t.Fatalf("the handler had %s of a minute's deadline", d)
	}
	if s, u := e.streams.Load(), e.unary.Load(); s != 1 || u != 0 {
		t.Fatalf("%d streams and %d unary calls, want 1 and 0", s, u)
	}
	// A scan goes unary.
	scan := &kvpb.BatchRequest{Requests: []*kvpb.Request{{Value: &kvpb.Request_Scan{Scan: &kvpb.ScanRequest{StartKey: []byte("a"), EndKey: []byte("b")}}}}}
	if _, err := cl.Batch(ctx, scan); err != nil {
		t.Fatal(err)
	}
	if u := e.unary.Load(); u != 1 {
		t.Fatalf("a scan made %d unary calls, want 1", u)
	}
}

// goroutineID is the id of the calling goroutine, from its stack's header
// ("goroutine 17 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}

// TestBatchStreamReusesWorkers: calls one after the other on a stream are
// served by the same goroutine, which is waiting for work when the next
// one comes, rather than each by a new goroutine whose stack grows anew.
func TestBatchStreamReusesWorkers(t *testing.T) {
	p, addr := startEchoNode(t, &echoNode{})
	cl, err := p.Internal(addr)
	if err != nil {
		t.Fatal(err)
	}
	const calls = 20
	seen := map[string]bool{}
	for range calls {
		resp, err := cl.Batch(context.Background(), getBatch("goroutine"))
		if err != nil {
			t.Fatal(err)
		}
		seen[echoed(resp)] = true
	}
	// A goroutine per call makes 20 distinct ids. Reuse makes one, or a
	// few if a call arrives before its predecessor's worker is back to
	// waiting.
	if len(seen) > calls/2 {
		t.Fatalf("%d calls were served by %d goroutines", calls, len(seen))
	}
}

// TestBatchStreamBreaks: a broken stream fails the calls in flight with
// Unavailable, and the next call opens a new one; a caller whose context
// ends stops waiting.
func TestBatchStreamBreaks(t *testing.T) {
	e := &echoNode{release: make(chan struct{})}
	p, addr := startEchoNode(t, e)
	cl, err := p.Internal(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	gone := make(chan error, 1)
	go func() {
		_, err := cl.Batch(cctx, getBatch("slow"))
		gone <- err
	}()
	for e.streams.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gone; status.Code(err) != codes.Canceled {
		t.Fatalf("a canceled call: %v, want Canceled", err)
	}

	// A handler's Unavailable comes back as the call's status; the stream
	// stays up, as a unary call's failure leaves the connection up.
	if _, err := cl.Batch(ctx, getBatch("unavailable")); status.Code(err) != codes.Unavailable {
		t.Fatalf("call on a failing handler: %v, want Unavailable", err)
	}

	// Break the stream itself: close the pool's stream from under it.
	st := p.mu.remotes[addr].s
	st.mu.Lock()
	sc := st.mu.cur
	st.mu.Unlock()
	held := make(chan error, 1)
	go func() {
		_, err := cl.Batch(ctx, getBatch("slow"))
		held <- err
	}()
	for {
		sc.mu.Lock()
		n := len(sc.pending)
		sc.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sc.fail(fmt.Errorf("connection reset"))
	if err := <-held; status.Code(err) != codes.Unavailable {
		t.Fatalf("a call in flight on a broken stream: %v, want Unavailable", err)
	}
	<-sc.done
	if resp, err := cl.Batch(ctx, getBatch("after")); err != nil || echoed(resp) != "after" {
		t.Fatalf("after the break: %q, %v", echoed(resp), err)
	}
	if s := e.streams.Load(); s != 2 {
		t.Fatalf("%d streams opened, want 2", s)
	}
	close(e.release)
}

// TestBatchStreamCarriesTimestamps: GetTimestamps calls share the stream
// with batches, a handler's status comes back as it is, and a node without
// BatchStream is asked unary.
func TestBatchStreamCarriesTimestamps(t *testing.T) {
	for _, noStream := range []bool{false, true} {
		e := &echoNode{noStream: noStream}
		p, addr := startEchoNode(t, e)
		cl, err := p.Internal(addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := range 3 {
			resp, err := cl.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: uint64(i + 1)})
			if err != nil || resp.First != 1000 || resp.Count != uint64(i+1) {
				t.Fatalf("no stream %v, call %d: %v, %v", noStream, i, resp, err)
			}
		}
		if resp, err := cl.Batch(ctx, getBatch("k")); err != nil || echoed(resp) != "k" {
			t.Fatalf("no stream %v: a batch after the timestamps: %q, %v", noStream, echoed(resp), err)
		}
		if _, err := cl.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: 13}); status.Code(err) != codes.Unavailable {
			t.Fatalf("no stream %v: failing handler: %v, want Unavailable", noStream, err)
		}
		wantUnary := int32(0)
		if noStream {
			wantUnary = 4
		}
		if u := e.unaryTSO.Load(); u != wantUnary {
			t.Fatalf("no stream %v: %d unary GetTimestamps calls, want %d", noStream, u, wantUnary)
		}
	}
}

// TestBatchStreamFallsBackToUnary: a node without BatchStream is called
// unary, the first call included.
func TestBatchStreamFallsBackToUnary(t *testing.T) {
	e := &echoNode{noStream: true}
	p, addr := startEchoNode(t, e)
	cl, err := p.Internal(addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		k := fmt.Sprint("k", i)
		if resp, err := cl.Batch(context.Background(), getBatch(k)); err != nil || echoed(resp) != k {
			t.Fatalf("call %d: %q, %v", i, echoed(resp), err)
		}
	}
	if u := e.unary.Load(); u != 3 {
		t.Fatalf("%d unary calls, want 3", u)
	}
}

// TestBatchStreamOpenHonorsDeadline: while the node does not answer (its
// TCP port accepts, nothing speaks), a call gives up when its own context
// ends, not when gRPC's connect timeout does; closing the pool stops the
// open still in progress.
func TestBatchStreamOpenHonorsDeadline(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	p := NewPool()
	cl, err := p.Internal(lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := cl.Batch(ctx, getBatch("k")); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a call to a silent node: %v, want DeadlineExceeded (its own deadline)", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
