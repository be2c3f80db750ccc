package replication

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/replication/raftpb"
)

// trNode is one node of a transport test: a hub on a real gRPC server
// listening on 127.0.0.1.
type trNode struct {
	addr   raft.ServerAddress
	hub    *Hub
	srv    *grpc.Server
	served chan struct{}
	once   sync.Once
}

// trStartNode starts a node; stop runs at cleanup (or earlier, by hand).
func trStartNode(t *testing.T, mutate ...func(*TransportConfig)) *trNode {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := TransportConfig{LocalAddr: raft.ServerAddress(lis.Addr().String()), Timeout: 2 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	hub, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &trNode{addr: cfg.LocalAddr, hub: hub, srv: grpc.NewServer(ServerOptions()...), served: make(chan struct{})}
	hub.Register(n.srv)
	go func() {
		defer close(n.served)
		_ = n.srv.Serve(lis)
	}()
	t.Cleanup(n.stop)
	return n
}

// stop closes the hub (unblocking every handler) and then the server.
func (n *trNode) stop() {
	n.once.Do(func() {
		_ = n.hub.Close()
		n.srv.Stop()
		<-n.served
	})
}

// trServe answers the RPCs that reach t's consumer with fn until the test
// ends or the returned stop is called.
func trServe(tb testing.TB, t *GroupTransport, fn func(raft.RPC)) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case rpc := <-t.Consumer():
				fn(rpc)
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(quit); <-done }) }
	tb.Cleanup(stop)
	return stop
}

// trWaitFor polls cond until it holds or timeout passes.
func trWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func trHeader(addr raft.ServerAddress) raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("client"), Addr: []byte(addr)}
}

func TestTransportConvertRoundTrip(t *testing.T) {
	hdr := raft.RPCHeader{ProtocolVersion: 3, ID: []byte("n1"), Addr: []byte("10.0.0.1:7400")}
	at := time.Unix(1_700_000_000, 123_456_789)
	ae := &raft.AppendEntriesRequest{
		RPCHeader: hdr, Term: 7, Leader: []byte("10.0.0.1:7400"), PrevLogEntry: 41, PrevLogTerm: 6,
		Entries: []*raft.Log{
			{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte("put k v"), Extensions: []byte("ext"), AppendedAt: at},
			{Index: 43, Term: 7, Type: raft.LogConfiguration, Data: []byte("conf")},
			{Index: 44, Term: 7, Type: raft.LogBarrier},
			{Index: 45, Term: 7, Type: raft.LogNoop},
		},
		LeaderCommitIndex: 40,
	}
	roundTrip := func(in, out proto.Message) {
		b, err := proto.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, want, got any) {
		t.Helper()
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: round trip\n got %#v\nwant %#v", name, got, want)
		}
	}

	var aepb raftpb.AppendEntriesRequest
	roundTrip(encodeAppendEntriesRequest(9, ae), &aepb)
	if aepb.GroupId != 9 {
		t.Errorf("group id %d, want 9", aepb.GroupId)
	}
	check("AppendEntriesRequest", ae, decodeAppendEntriesRequest(&aepb))

	aer := &raft.AppendEntriesResponse{RPCHeader: hdr, Term: 7, LastLog: 45, Success: true, NoRetryBackoff: true}
	var aerpb raftpb.AppendEntriesResponse
	roundTrip(encodeAppendEntriesResponse(aer), &aerpb)
	var aer2 raft.AppendEntriesResponse
	decodeAppendEntriesResponse(&aerpb, &aer2)
	check("AppendEntriesResponse", aer, &aer2)

	rv := &raft.RequestVoteRequest{RPCHeader: hdr, Term: 8, Candidate: []byte("c"), LastLogIndex: 45, LastLogTerm: 7, LeadershipTransfer: true}
	var rvpb raftpb.RequestVoteRequest
	roundTrip(encodeRequestVoteRequest(9, rv), &rvpb)
	check("RequestVoteRequest", rv, decodeRequestVoteRequest(&rvpb))

	rvr := &raft.RequestVoteResponse{RPCHeader: hdr, Term: 8, Peers: []byte("p"), Granted: true}
	var rvrpb raftpb.RequestVoteResponse
	roundTrip(encodeRequestVoteResponse(rvr), &rvrpb)
	var rvr2 raft.RequestVoteResponse
	decodeRequestVoteResponse(&rvrpb, &rvr2)
	check("RequestVoteResponse", rvr, &rvr2)

	pv := &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 8, LastLogIndex: 45, LastLogTerm: 7}
	var pvpb raftpb.RequestPreVoteRequest
	roundTrip(encodeRequestPreVoteRequest(9, pv), &pvpb)
	check("RequestPreVoteRequest", pv, decodeRequestPreVoteRequest(&pvpb))

	pvr := &raft.RequestPreVoteResponse{RPCHeader: hdr, Term: 8, Granted: true}
	var pvrpb raftpb.RequestPreVoteResponse
	roundTrip(encodeRequestPreVoteResponse(pvr), &pvrpb)
	var pvr2 raft.RequestPreVoteResponse
	decodeRequestPreVoteResponse(&pvrpb, &pvr2)
	check("RequestPreVoteResponse", pvr, &pvr2)

	tn := &raft.TimeoutNowRequest{RPCHeader: hdr}
	var tnpb raftpb.TimeoutNowRequest
	roundTrip(encodeTimeoutNowRequest(9, tn), &tnpb)
	check("TimeoutNowRequest", tn, decodeTimeoutNowRequest(&tnpb))

	is := &raft.InstallSnapshotRequest{
		RPCHeader: hdr, SnapshotVersion: 1, Term: 8, Leader: []byte("l"), LastLogIndex: 100, LastLogTerm: 8,
		Peers: []byte("p"), Configuration: []byte("conf"), ConfigurationIndex: 90, Size: 1 << 22,
	}
	var ispb raftpb.InstallSnapshotRequest
	roundTrip(encodeInstallSnapshotRequest(9, is), &ispb)
	check("InstallSnapshotRequest", is, decodeInstallSnapshotRequest(&ispb))

	isr := &raft.InstallSnapshotResponse{RPCHeader: hdr, Term: 8, Success: true}
	var isrpb raftpb.InstallSnapshotResponse
	roundTrip(encodeInstallSnapshotResponse(isr), &isrpb)
	var isr2 raft.InstallSnapshotResponse
	decodeInstallSnapshotResponse(&isrpb, &isr2)
	check("InstallSnapshotResponse", isr, &isr2)

	if !isHeartbeat(&raft.AppendEntriesRequest{RPCHeader: hdr, Term: 3}) {
		t.Error("a bare AppendEntries with term and leader is a heartbeat")
	}
	if isHeartbeat(ae) {
		t.Error("an AppendEntries with entries is not a heartbeat")
	}
}

func TestTransportHubLifecycle(t *testing.T) {
	if _, err := NewHub(TransportConfig{Timeout: -1, SnapshotChunkSize: -1}); err == nil {
		t.Fatal("NewHub accepted an invalid config")
	}
	n := trStartNode(t)
	tr, err := n.hub.Transport(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.hub.Transport(1); !errors.Is(err, ErrGroupExists) {
		t.Fatalf("second Transport(1): %v, want ErrGroupExists", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	tr2, err := n.hub.Transport(1)
	if err != nil {
		t.Fatalf("Transport(1) after Close: %v", err)
	}
	if err := n.hub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.hub.Transport(2); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("Transport after hub Close: %v, want ErrTransportClosed", err)
	}
	var resp raft.RequestVoteResponse
	if err := tr2.RequestVote("x", "127.0.0.1:1", &raft.RequestVoteRequest{}, &resp); !errors.Is(err, ErrTransportClosed) {
		t.Fatalf("RequestVote after hub Close: %v, want ErrTransportClosed", err)
	}
}

func TestTransportUnknownGroup(t *testing.T) {
	a, b := trStartNode(t), trStartNode(t)
	ta, err := a.hub.Transport(7)
	if err != nil {
		t.Fatal(err)
	}
	req := &raft.RequestVoteRequest{RPCHeader: trHeader(a.addr), Term: 5}

	// No group, no handler: an immediate NotFound, seen as ErrUnknownGroup.
	start := time.Now()
	var resp raft.RequestVoteResponse
	err = ta.RequestVote("b", b.addr, req, &resp)
	if !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("RequestVote to unknown group: %v, want ErrUnknownGroup", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("unknown group answered after %s", d)
	}

	// A handler that declines: still ErrUnknownGroup.
	b.hub.SetUnknownGroupHandler(func(GroupID) bool { return false })
	if err := ta.RequestVote("b", b.addr, req, &resp); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("RequestVote with declining handler: %v, want ErrUnknownGroup", err)
	}

	// A handler that opens the group on the fly: the RPC is served.
	var mu sync.Mutex
	var asked []GroupID
	b.hub.SetUnknownGroupHandler(func(id GroupID) bool {
		mu.Lock()
		asked = append(asked, id)
		mu.Unlock()
		tb, err := b.hub.Transport(id)
		if err != nil {
			return errors.Is(err, ErrGroupExists)
		}
		trServe(t, tb, func(rpc raft.RPC) {
			rv := rpc.Command.(*raft.RequestVoteRequest)
			rpc.Respond(&raft.RequestVoteResponse{Term: rv.Term, Granted: true}, nil)
		})
		return true
	})
	if err := ta.RequestVote("b", b.addr, req, &resp); err != nil {
		t.Fatalf("RequestVote with creating handler: %v", err)
	}
	if !resp.Granted || resp.Term != 5 {
		t.Fatalf("response %+v, want granted in term 5", resp)
	}
	mu.Lock()
	defer mu.Unlock()
	if !reflect.DeepEqual(asked, []GroupID{7}) {
		t.Fatalf("handler asked for %v, want [7]", asked)
	}
}

// TestTransportWaitsForGroup: an RPC for a group that opens while it
// waits is served (a split's new range, opened on the leader's node first);
// one for a group that does not open is refused after groupOpenWait.
func TestTransportWaitsForGroup(t *testing.T) {
	a, b := trStartNode(t), trStartNode(t)
	ta, err := a.hub.Transport(7)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var resp raft.RequestVoteResponse
	if err := ta.RequestVote("b", b.addr, &raft.RequestVoteRequest{RPCHeader: trHeader(a.addr), Term: 5}, &resp); !errors.Is(err, ErrUnknownGroup) {
		t.Fatalf("RequestVote to a group that never opens: %v, want ErrUnknownGroup", err)
	}
	if d := time.Since(start); d < groupOpenWait {
		t.Fatalf("refused after %s, before groupOpenWait (%s)", d, groupOpenWait)
	}

	// The group opens 100 ms after the calls were sent: a call that
	// reached b before then waits for it; one that came later finds it
	// open.
	voted, appended := make(chan error, 1), make(chan error, 1)
	go func() {
		var resp raft.RequestVoteResponse
		err := ta.RequestVote("b", b.addr, &raft.RequestVoteRequest{RPCHeader: trHeader(a.addr), Term: 6}, &resp)
		if err == nil && (!resp.Granted || resp.Term != 6) {
			err = fmt.Errorf("response %+v, want granted in term 6", resp)
		}
		voted <- err
	}()
	go func() {
		var resp raft.AppendEntriesResponse
		req := &raft.AppendEntriesRequest{RPCHeader: trHeader(a.addr), Term: 6, PrevLogEntry: 1, PrevLogTerm: 1,
			Entries: []*raft.Log{{Index: 2, Term: 6, Type: raft.LogNoop}}}
		err := ta.AppendEntries("b", b.addr, req, &resp)
		if err == nil && (!resp.Success || resp.Term != 6) {
			err = fmt.Errorf("response %+v, want success in term 6", resp)
		}
		appended <- err
	}()
	time.Sleep(100 * time.Millisecond)
	tb, err := b.hub.Transport(7)
	if err != nil {
		t.Fatal(err)
	}
	trServe(t, tb, func(rpc raft.RPC) {
		switch c := rpc.Command.(type) {
		case *raft.RequestVoteRequest:
			rpc.Respond(&raft.RequestVoteResponse{Term: c.Term, Granted: true}, nil)
		case *raft.AppendEntriesRequest:
			rpc.Respond(&raft.AppendEntriesResponse{Term: c.Term, Success: true}, nil)
		}
	})
	if err := <-voted; err != nil {
		t.Fatalf("vote for a group that opened while it waited: %v", err)
	}
	if err := <-appended; err != nil {
		t.Fatalf("append to a group that opened while it waited: %v", err)
	}
}

func TestTransportHeartbeatBypassesConsumer(t *testing.T) {
	a := trStartNode(t, func(c *TransportConfig) { c.Timeout = 300 * time.Millisecond })
	b := trStartNode(t)
	ta, err := a.hub.Transport(3)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.hub.Transport(3)
	if err != nil {
		t.Fatal(err)
	}
	// Nobody reads tb.Consumer(): the group's main loop is "busy".
	tb.SetHeartbeatHandler(func(rpc raft.RPC) {
		req := rpc.Command.(*raft.AppendEntriesRequest)
		rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, Success: true}, nil)
	})

	var resp raft.AppendEntriesResponse
	hb := &raft.AppendEntriesRequest{RPCHeader: trHeader(a.addr), Term: 4, Leader: []byte(a.addr)}
	for range 20 {
		if err := ta.AppendEntries("b", b.addr, hb, &resp); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		if !resp.Success || resp.Term != 4 {
			t.Fatalf("heartbeat response %+v", resp)
		}
	}

	// A real AppendEntries waits for the consumer and times out.
	ae := &raft.AppendEntriesRequest{
		RPCHeader: trHeader(a.addr), Term: 4, PrevLogEntry: 1, PrevLogTerm: 1,
		Entries: []*raft.Log{{Index: 2, Term: 4, Data: []byte("x")}}, LeaderCommitIndex: 1,
	}
	start := time.Now()
	if err := ta.AppendEntries("b", b.addr, ae, &resp); err == nil {
		t.Fatal("AppendEntries answered without a consumer")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("AppendEntries gave up after %s, want about the 300ms timeout", d)
	}
}

func TestTransportPartitionKnob(t *testing.T) {
	a, b := trStartNode(t), trStartNode(t)
	ta, _ := a.hub.Transport(1)
	tb, _ := b.hub.Transport(1)
	tb2, _ := b.hub.Transport(1 << 40) // group ids are 64-bit
	answer := func(rpc raft.RPC) {
		rpc.Respond(&raft.RequestVoteResponse{Granted: true}, nil)
	}
	trServe(t, tb, answer)
	trServe(t, tb2, answer)
	ta2, _ := a.hub.Transport(1 << 40)
	req := &raft.RequestVoteRequest{RPCHeader: trHeader(a.addr), Term: 1}
	var resp raft.RequestVoteResponse
	for _, tr := range []*GroupTransport{ta, ta2} {
		if err := tr.RequestVote("b", b.addr, req, &resp); err != nil {
			t.Fatal(err)
		}
	}

	// Outbound: cut at a.
	a.hub.SetPartitioned(b.addr, true)
	if err := ta.RequestVote("b", b.addr, req, &resp); !errors.Is(err, ErrPartitioned) {
		t.Fatalf("RequestVote while partitioned: %v, want ErrPartitioned", err)
	}
	a.hub.SetPartitioned(b.addr, false)
	if err := ta.RequestVote("b", b.addr, req, &resp); err != nil {
		t.Fatalf("RequestVote after heal: %v", err)
	}

	// Inbound: cut at b, refused as Unavailable.
	b.hub.SetPartitioned(a.addr, true)
	if err := ta.RequestVote("b", b.addr, req, &resp); err == nil {
		t.Fatal("RequestVote into a partitioned hub succeeded")
	}
	b.hub.SetPartitioned(a.addr, false)
	if err := ta.RequestVote("b", b.addr, req, &resp); err != nil {
		t.Fatalf("RequestVote after heal: %v", err)
	}

	// Every group shared one connection.
	a.hub.mu.RLock()
	conns := len(a.hub.mu.peers)
	a.hub.mu.RUnlock()
	if conns != 1 {
		t.Fatalf("hub a holds %d connections, want 1", conns)
	}
}

func TestTransportPipeline(t *testing.T) {
	a := trStartNode(t, func(c *TransportConfig) { c.Timeout = 300 * time.Millisecond; c.MaxPipelineInFlight = 4 })
	b := trStartNode(t)
	ta, _ := a.hub.Transport(8)
	tb, _ := b.hub.Transport(8)
	// b answers every request but the one with PrevLogEntry 100.
	trServe(t, tb, func(rpc raft.RPC) {
		req := rpc.Command.(*raft.AppendEntriesRequest)
		if req.PrevLogEntry == 100 {
			return
		}
		rpc.Respond(&raft.AppendEntriesResponse{Term: req.Term, LastLog: req.PrevLogEntry + uint64(len(req.Entries)), Success: true}, nil)
	})

	p, err := ta.AppendEntriesPipeline("b", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// More requests than MaxPipelineInFlight: AppendEntries blocks until
	// the consumer below drains answered futures.
	const n = 20
	go func() {
		for i := range uint64(n) {
			req := &raft.AppendEntriesRequest{
				RPCHeader: trHeader(a.addr), Term: 2, PrevLogEntry: i, PrevLogTerm: 2,
				Entries: []*raft.Log{{Index: i + 1, Term: 2, Data: []byte("e")}}, LeaderCommitIndex: i,
			}
			if _, err := p.AppendEntries(req, new(raft.AppendEntriesResponse)); err != nil {
				t.Errorf("pipelined AppendEntries %d: %v", i, err)
				return
			}
		}
	}()
	for i := range uint64(n) {
		select {
		case f := <-p.Consumer():
			if err := f.Error(); err != nil {
				t.Fatalf("future %d: %v", i, err)
			}
			if f.Request().PrevLogEntry != i || !f.Response().Success || f.Response().LastLog != i+1 {
				t.Fatalf("future %d answered %+v for request %d", i, f.Response(), f.Request().PrevLogEntry)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("future %d never came", i)
		}
	}

	// An unanswered request fails after Timeout, and so does the pipeline.
	start := time.Now()
	f, err := p.AppendEntries(&raft.AppendEntriesRequest{RPCHeader: trHeader(a.addr), Term: 2, PrevLogEntry: 100, PrevLogTerm: 2, LeaderCommitIndex: 1}, new(raft.AppendEntriesResponse))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Error(); err == nil || f.Response().Success {
		t.Fatalf("unanswered pipelined request: err %v, response %+v", err, f.Response())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("unanswered pipelined request failed after %s, want about 300ms", d)
	}
}

// TestTransportCloseInFlight closes hubs while RPCs of every kind wait on
// the other side, and checks that each returns an error promptly and that no
// goroutine is left behind.
func TestTransportCloseInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := trStartNode(t), trStartNode(t)
	defer b.stop()
	defer a.stop()

	ta, err := a.hub.Transport(5)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.hub.Transport(5)
	if err != nil {
		t.Fatal(err)
	}

	// b takes RPCs off its consumer and never answers them.
	taken := make(chan raft.RPC, 16)
	defer trServe(t, tb, func(rpc raft.RPC) { taken <- rpc })()
	wantTaken := func(what string) raft.RPC {
		t.Helper()
		select {
		case rpc := <-taken:
			return rpc
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never reached the consumer", what)
			return raft.RPC{}
		}
	}

	type result struct {
		what string
		err  error
	}
	results := make(chan result, 8)
	call := func(what string, fn func() error) {
		go func() { results <- result{what, fn()} }()
	}

	// Phase 1: b's hub closes under a waiting unary RPC.
	call("RequestVote", func() error {
		var resp raft.RequestVoteResponse
		return ta.RequestVote("b", b.addr, &raft.RequestVoteRequest{RPCHeader: trHeader(a.addr), Term: 1}, &resp)
	})
	wantTaken("RequestVote")
	start := time.Now()
	if err := b.hub.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.err == nil {
		t.Fatalf("%s succeeded after the server hub closed", r.what)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("%s returned %s after the server hub closed", r.what, d)
	}

	// Phase 2: a fresh server hub on the same server would need a new
	// server; instead use a third node and close the client hub a.
	c := trStartNode(t)
	defer c.stop()
	tc, err := c.hub.Transport(5)
	if err != nil {
		t.Fatal(err)
	}
	defer trServe(t, tc, func(rpc raft.RPC) { taken <- rpc })()

	call("AppendEntries", func() error {
		var resp raft.AppendEntriesResponse
		return ta.AppendEntries("c", c.addr, &raft.AppendEntriesRequest{
			RPCHeader: trHeader(a.addr), Term: 1, Entries: []*raft.Log{{Index: 1, Term: 1}},
		}, &resp)
	})
	wantTaken("AppendEntries")

	snapshot := bytes.Repeat([]byte("s"), 3<<20)
	call("InstallSnapshot", func() error {
		var resp raft.InstallSnapshotResponse
		return ta.InstallSnapshot("c", c.addr, &raft.InstallSnapshotRequest{
			RPCHeader: trHeader(a.addr), SnapshotVersion: 1, Term: 1, Size: int64(len(snapshot)),
		}, &resp, bytes.NewReader(snapshot))
	})
	snapRPC := wantTaken("InstallSnapshot")

	p, err := ta.AppendEntriesPipeline("c", c.addr)
	if err != nil {
		t.Fatal(err)
	}
	fut, err := p.AppendEntries(&raft.AppendEntriesRequest{RPCHeader: trHeader(a.addr), Term: 1}, new(raft.AppendEntriesResponse))
	if err != nil {
		t.Fatal(err)
	}
	wantTaken("pipelined AppendEntries")

	start = time.Now()
	if err := a.hub.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r := <-results
		if !errors.Is(r.err, ErrTransportClosed) {
			t.Errorf("%s after client hub close: %v, want ErrTransportClosed", r.what, r.err)
		}
	}
	if err := fut.Error(); !errors.Is(err, ErrTransportClosed) {
		t.Errorf("pipelined AppendEntries after client hub close: %v, want ErrTransportClosed", err)
	}
	if _, err := p.AppendEntries(&raft.AppendEntriesRequest{}, new(raft.AppendEntriesResponse)); err == nil {
		t.Error("pipeline accepted a request after the hub closed")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("in-flight calls returned %s after the client hub closed", d)
	}
	_ = p.Close()

	// The snapshot RPC's reader, held by a "raft" that never answered,
	// fails rather than hanging.
	if _, err := io.Copy(io.Discard, snapRPC.Reader); err == nil {
		t.Error("snapshot reader of a canceled InstallSnapshot ended with EOF")
	}
}
