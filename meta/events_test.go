package meta_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
)

func TestEventsAppendListTrim(t *testing.T) {
	ctx := context.Background()
	m := meta.New(newFakeDB())
	var last int64
	for i := range 10 {
		evs := []*kvpb.Event{
			{RangeId: uint64(i%3 + 2), Kind: "split", Message: fmt.Sprintf("e%d.a", i), Reporter: 1},
			{RangeId: uint64(i%3 + 2), Kind: "hot-key", Message: fmt.Sprintf("e%d.b", i), Reporter: 1},
		}
		// Every event of a round gets its own time, even with a clock
		// that stands still.
		last = meta.StampEvents(evs, 1000, last)
		if err := m.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	all, err := m.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 20 || all[0].Message != "e0.a" || all[19].Message != "e9.b" {
		t.Fatalf("got %d events, first %q last %q; want 20 in order", len(all), all[0].GetMessage(), all[len(all)-1].GetMessage())
	}
	r2, err := m.Events(ctx, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2) != 3 || r2[2].Message != "e9.b" || r2[0].Message != "e6.b" {
		t.Fatalf("range 2, newest 3: %v", r2)
	}
	n, err := m.TrimEvents(ctx, 5)
	if err != nil || n != 15 {
		t.Fatalf("trim: %d, %v; want 15 dropped", n, err)
	}
	left, _ := m.Events(ctx, 0, 0)
	if len(left) != 5 || left[0].Message != "e7.b" {
		t.Fatalf("after trim: %v", left)
	}
}

func TestSetNodeState(t *testing.T) {
	ctx := context.Background()
	m := meta.New(newFakeDB())
	if err := m.PutNode(ctx, &kvpb.NodeDescriptor{NodeId: 4, RpcAddr: "a:1"}); err != nil {
		t.Fatal(err)
	}
	n, err := m.SetNodeState(ctx, 4, kvpb.NodeState_DRAINING)
	if err != nil || n.State != kvpb.NodeState_DRAINING || n.RpcAddr != "a:1" {
		t.Fatalf("SetNodeState: %v, %v", n, err)
	}
	nodes, _ := m.Nodes(ctx)
	if len(nodes) != 1 || nodes[0].State != kvpb.NodeState_DRAINING {
		t.Fatalf("stored: %v", nodes)
	}
	if _, err := m.SetNodeState(ctx, 9, kvpb.NodeState_DRAINING); err == nil {
		t.Fatal("no error for an unknown node")
	}
}
