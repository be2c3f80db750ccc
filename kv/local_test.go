package kv

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/serverpb"
)

// TestLocalCallsRunInProcess: batches and timestamps asked of this node's
// own address run on its server in process (nothing listens there, so a
// call over the network would fail), with the status a remote call gives.
func TestLocalCallsRunInProcess(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	p := NewPool()
	defer p.Close()
	e := &echoNode{}
	p.SetLocal(addr, e)
	cl, err := p.Internal(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if resp, err := cl.Batch(ctx, getBatch("k")); err != nil || echoed(resp) != "k" {
		t.Fatalf("local batch: %q, %v", echoed(resp), err)
	}
	if resp, err := cl.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: 5}); err != nil || resp.First != 1000 || resp.Count != 5 {
		t.Fatalf("local timestamps: %v, %v", resp, err)
	}
	if _, err := cl.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: 13}); status.Code(err) != codes.Unavailable {
		t.Fatalf("local timestamps from a failing handler: %v, want Unavailable", err)
	}
	if e.unary.Load() != 1 || e.unaryTSO.Load() != 2 {
		t.Fatalf("handler calls: %d batches, %d timestamps; want 1 and 2", e.unary.Load(), e.unaryTSO.Load())
	}
	// The in-process client is made once: a call allocates nothing to
	// find it.
	if n := testing.AllocsPerRun(100, func() { _, _ = p.Internal(addr) }); n != 0 {
		t.Errorf("Internal of the local address allocates %v times per call", n)
	}
	_ = p.Close()
	if _, err := p.Internal(addr); err == nil {
		t.Error("Internal after Close succeeded")
	}
}
