package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// lossyNode is node 1's Internal service as a client sees it, with the
// answer to chosen one-phase commits lost: the commit reaches the node and
// is applied, then the client gets a broken connection, as when a node
// dies between applying and answering. after runs between the two (a
// split, say).
type lossyNode struct {
	serverpb.UnimplementedInternalServer
	node serverpb.InternalClient
	// lose picks the commits whose answer is lost; after runs once a
	// lost commit was applied.
	lose  func(*kvpb.OnePCRequest) bool
	after func()
	// applied counts the one-phase commits the node applied.
	applied int
}

func (n *lossyNode) Batch(ctx context.Context, ba *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	resp, err := n.node.Batch(ctx, ba)
	p := ba.Requests[0].GetOnePc()
	if p == nil || err != nil || resp.Error != nil {
		return resp, err
	}
	n.applied++
	if n.lose == nil || !n.lose(p) {
		return resp, nil
	}
	n.lose = nil
	if n.after != nil {
		n.after()
	}
	return nil, status.Error(codes.Unavailable, "connection reset (injected after the commit was applied)")
}

func (n *lossyNode) GetTimestamps(ctx context.Context, req *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error) {
	return n.node.GetTimestamps(ctx, req)
}

// lossyClient is a kv client of a one-node cluster whose calls go through
// a lossyNode.
func lossyClient(t *testing.T) (*testcluster.Cluster, *lossyNode, *kv.Client) {
	t.Helper()
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	c.WaitReplicated()
	node, err := c.Internal(1)
	if err != nil {
		t.Fatal(err)
	}
	ln := &lossyNode{node: node}
	pool := kv.NewPool(c.DialOptions()...)
	t.Cleanup(func() { _ = pool.Close() })
	pool.SetLocal(c.Addr(1), ln)
	cl := kv.NewClient(kv.Config{Pool: pool, Seeds: func() []string { return []string{c.Addr(1)} }})
	t.Cleanup(cl.Close)
	return c, ln, cl
}

// readKeys reads keys in a new transaction.
func readKeys(t *testing.T, cl *kv.Client, keys ...string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out := map[string]string{}
	err := cl.RunTxn(ctx, func(ctx context.Context, tx *kv.Txn) error {
		for _, k := range keys {
			v, found, err := tx.Get(ctx, []byte(k))
			if err != nil {
				return err
			}
			if found {
				out[k] = string(v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %v: %v", keys, err)
	}
	return out
}

// TestCommitAppliedThenSplitIsCommitted: a transaction's commit point (the
// one-phase commit of the primary's range) is applied, its answer is lost,
// and the range splits between the keys it wrote before the client tries
// again. The retry finds a split, not the commit; the transaction is
// committed all the same, and every one of its writes must be, with
// Commit reporting success. (The fallback to two phases once rolled back
// the secondaries of such a committed transaction: the bank test's money
// went missing.)
func TestCommitAppliedThenSplitIsCommitted(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string // written by the transaction; "b…" are another range's
	}{
		{"one range", []string{"a/1", "a/2"}},
		{"two ranges", []string{"a/1", "a/2", "b/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ln, cl := lossyClient(t)
			c.Split([]byte("a/"))
			c.Split([]byte("b/"))
			ln.lose = func(p *kvpb.OnePCRequest) bool { return p.StartTs != 0 }
			ln.after = func() { c.Split([]byte("a/2")) }

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			tx, err := cl.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.keys {
				if _, _, err := tx.Get(ctx, []byte(k)); err != nil {
					t.Fatal(err)
				}
				if err := tx.Put([]byte(k), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tx.Commit(ctx); err != nil {
				t.Errorf("commit: %v (its commit point was applied)", err)
			}
			if ln.lose != nil {
				t.Fatal("no commit answer was lost: the test tested nothing")
			}
			got := readKeys(t, cl, tc.keys...)
			for _, k := range tc.keys {
				if got[k] != "v" {
					t.Errorf("%s = %q after the commit, want %q (read %v)", k, got[k], "v", got)
				}
			}
		})
	}
}

// TestDeferredCommitIsNotRepeated: a blind write of a deferred
// transaction (an autocommit UPSERT) takes its timestamps at the range,
// so a second copy would commit it again later, over whatever was
// committed in between (the Jepsen register test once read a value that
// had been overwritten come back). When its answer is lost, the client
// must report an unknown outcome, not send it again.
func TestDeferredCommitIsNotRepeated(t *testing.T) {
	c, ln, cl := lossyClient(t)
	c.Split([]byte("a/"))
	ln.lose = func(p *kvpb.OnePCRequest) bool { return p.StartTs == 0 }

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tx := cl.BeginDeferred()
	if err := tx.Put([]byte("a/1"), []byte("blind")); err != nil {
		t.Fatal(err)
	}
	_, err := tx.Commit(ctx)
	if !errors.Is(err, kv.ErrAmbiguous) {
		t.Errorf("commit whose answer was lost: %v, want an error matching kv.ErrAmbiguous", err)
	}
	if ln.applied != 1 {
		t.Errorf("the node applied the deferred commit %d times, want once", ln.applied)
	}
	if got := readKeys(t, cl, "a/1"); got["a/1"] != "blind" {
		t.Errorf("a/1 = %q, want the write that was applied", got["a/1"])
	}
}
