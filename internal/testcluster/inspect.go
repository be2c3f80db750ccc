package testcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/serverpb"
)

// WaitFor polls cond every 20 ms until it returns true or timeout passes,
// then fails the test with what and cond's last explanation.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testcluster: timed out after %s waiting for %s: %s", timeout, what, why)
		}
		<-tick.C
	}
}

// callTimeout bounds one call the cluster makes to a node while polling.
const callTimeout = 2 * time.Second

// Descriptors returns every range descriptor in meta, in key order.
func (c *Cluster) Descriptors() []*kvpb.RangeDescriptor {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	descs, err := meta.New(c.client).Descriptors(ctx)
	if err != nil {
		c.tb.Fatalf("testcluster: read meta: %v", err)
	}
	return descs
}

func (c *Cluster) tryDescriptors() ([]*kvpb.RangeDescriptor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return meta.New(c.client).Descriptors(ctx)
}

// ReplicaState asks node i about its replica of range id (an error when
// the node is stopped or holds no such replica).
func (c *Cluster) ReplicaState(i int, id uint64) (*serverpb.ReplicaStateResponse, error) {
	if c.server(i) == nil {
		return nil, fmt.Errorf("n%d is stopped", i)
	}
	cl, err := c.pool.Internal(c.Addr(i))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	st, err := cl.ReplicaState(ctx, &serverpb.ReplicaStateRequest{RangeId: id})
	if err != nil {
		return nil, err
	}
	if st.Error != nil {
		return nil, st.Error
	}
	return st, nil
}

// checkMeta reports whether descs (in key order) tile the keyspace: the
// meta range, then user ranges from UserMin to KeyMax with no gap or
// overlap, and no range id twice.
func checkMeta(descs []*kvpb.RangeDescriptor) error {
	if len(descs) < 2 {
		return fmt.Errorf("meta holds %d descriptors", len(descs))
	}
	if d := descs[0]; d.RangeId != meta.MetaRangeID || !bytes.Equal(d.StartKey, keys.MetaMin) || !bytes.Equal(d.EndKey, keys.MetaMax) {
		return fmt.Errorf("first descriptor is r%d [%s, %s), not the meta range", d.RangeId, keys.Pretty(d.StartKey), keys.Pretty(d.EndKey))
	}
	ids := map[uint64]bool{}
	for i, d := range descs {
		if ids[d.RangeId] {
			return fmt.Errorf("r%d appears twice", d.RangeId)
		}
		ids[d.RangeId] = true
		if bytes.Compare(d.StartKey, d.EndKey) >= 0 {
			return fmt.Errorf("r%d is empty: [%s, %s)", d.RangeId, keys.Pretty(d.StartKey), keys.Pretty(d.EndKey))
		}
		if i > 0 && !bytes.Equal(descs[i-1].EndKey, d.StartKey) {
			return fmt.Errorf("r%d ends at %s but r%d starts at %s", descs[i-1].RangeId, keys.Pretty(descs[i-1].EndKey), d.RangeId, keys.Pretty(d.StartKey))
		}
	}
	if last := descs[len(descs)-1]; !bytes.Equal(last.EndKey, keys.KeyMax) {
		return fmt.Errorf("the last range, r%d, ends at %s, not at the end of the keyspace", last.RangeId, keys.Pretty(last.EndKey))
	}
	return nil
}

// voters counts a descriptor's voting replicas.
func voters(d *kvpb.RangeDescriptor) int {
	n := 0
	for _, r := range d.Replicas {
		if r.Type == kvpb.ReplicaType_VOTER {
			n++
		}
	}
	return n
}

// WaitReplicated waits until meta tiles the keyspace, every range in it has
// min(3, N) voters and no other replica, every voter has the range open
// with the same descriptor, and one of them leads. The voters' nodes must
// be running.
func (c *Cluster) WaitReplicated() {
	c.tb.Helper()
	want := min(3, c.N())
	WaitFor(c.tb, 60*time.Second, fmt.Sprintf("every range to have %d voters", want), func() (bool, string) {
		descs, err := c.tryDescriptors()
		if err != nil {
			return false, err.Error()
		}
		if err := checkMeta(descs); err != nil {
			return false, err.Error()
		}
		for _, d := range descs {
			if voters(d) != want || len(d.Replicas) != want {
				return false, fmt.Sprintf("r%d has %d replicas, %d of them voters", d.RangeId, len(d.Replicas), voters(d))
			}
			led := false
			for _, r := range d.Replicas {
				st, err := c.ReplicaState(int(r.NodeId), d.RangeId)
				if err != nil {
					return false, fmt.Sprintf("r%d on n%d: %v", d.RangeId, r.NodeId, err)
				}
				if !proto.Equal(st.Desc, d) {
					return false, fmt.Sprintf("r%d on n%d has descriptor generation %d, meta has %d", d.RangeId, r.NodeId, st.Desc.GetGeneration(), d.Generation)
				}
				led = led || st.RaftState == "Leader"
			}
			if !led {
				return false, fmt.Sprintf("r%d has no leader", d.RangeId)
			}
		}
		return true, ""
	})
}

// LeaderOf returns the node that leads range id, waiting up to 10 s for
// one. Two nodes may both believe they lead for a moment; the higher term
// wins.
func (c *Cluster) LeaderOf(id uint64) int {
	c.tb.Helper()
	leader := 0
	WaitFor(c.tb, 10*time.Second, fmt.Sprintf("a leader of r%d", id), func() (bool, string) {
		var term uint64
		var why []string
		for i := 1; i <= c.N(); i++ {
			st, err := c.ReplicaState(i, id)
			if err != nil {
				why = append(why, fmt.Sprintf("n%d: %v", i, err))
				continue
			}
			why = append(why, fmt.Sprintf("n%d: %s term %d", i, st.RaftState, st.Term))
			if st.RaftState == "Leader" && st.Term > term {
				leader, term = i, st.Term
			}
		}
		return leader != 0, strings.Join(why, "; ")
	})
	return leader
}

// Split splits the range holding key at key through the Admin service of
// the first running node that answers, and returns the two halves.
func (c *Cluster) Split(key []byte) (left, right *kvpb.RangeDescriptor) {
	c.tb.Helper()
	var errs []string
	for i := 1; i <= c.N(); i++ {
		if c.server(i) == nil {
			continue
		}
		conn, err := c.pool.Conn(c.Addr(i))
		if err != nil {
			c.tb.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := serverpb.NewAdminClient(conn).SplitRange(ctx, &serverpb.SplitRangeRequest{Key: key})
		cancel()
		if err == nil {
			return resp.Left, resp.Right
		}
		errs = append(errs, fmt.Sprintf("n%d: %v", i, err))
	}
	c.tb.Fatalf("testcluster: split at %s: %s", keys.Pretty(key), strings.Join(errs, "; "))
	return nil, nil
}

// SpanDigest is a digest of every entry (every MVCC version, with its
// stored bytes) of the user keys in [start, end) of eng: the sha256 of the
// engine's span export, which is the same bytes for the same entries.
// entries is the export's size in bytes.
func SpanDigest(eng *engine.Engine, start, end []byte) (digest string, size int64, err error) {
	snap := eng.NewSnapshot()
	defer snap.Close()
	h := sha256.New()
	n, err := snap.ExportSpan(start, end, h)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), n, nil
}

// WaitReplicasAgree is the cluster's consistency check. It waits until
// meta tiles the keyspace and, for every range in meta, every running
// replica's descriptor equals meta's and its span holds the same entries
// (SpanDigest) as every other running replica's. Call it once writes have
// stopped; followers may take a moment to apply what the leader has.
func (c *Cluster) WaitReplicasAgree() {
	c.tb.Helper()
	WaitFor(c.tb, 30*time.Second, "the replicas of every range to hold the same data", func() (bool, string) {
		descs, err := c.tryDescriptors()
		if err != nil {
			return false, err.Error()
		}
		if err := checkMeta(descs); err != nil {
			return false, err.Error()
		}
		for _, d := range descs {
			if ok, why := c.replicasAgree(d); !ok {
				return false, why
			}
		}
		return true, ""
	})
}

// replicasAgree compares the running replicas of d.
func (c *Cluster) replicasAgree(d *kvpb.RangeDescriptor) (bool, string) {
	var first string
	var report []string
	agree := true
	for _, r := range d.Replicas {
		i := int(r.NodeId)
		s := c.server(i)
		if s == nil {
			continue
		}
		st, err := c.ReplicaState(i, d.RangeId)
		if err != nil {
			return false, fmt.Sprintf("r%d on n%d: %v", d.RangeId, i, err)
		}
		if !proto.Equal(st.Desc, d) {
			return false, fmt.Sprintf("r%d on n%d has descriptor generation %d, meta has %d", d.RangeId, i, st.Desc.GetGeneration(), d.Generation)
		}
		dg, n, err := SpanDigest(s.Engine(), d.StartKey, d.EndKey)
		if err != nil {
			return false, fmt.Sprintf("r%d on n%d: %v", d.RangeId, i, err)
		}
		report = append(report, fmt.Sprintf("n%d applied %d: %s (%d bytes)", i, st.AppliedIndex, dg, n))
		if first == "" {
			first = dg
		} else if dg != first {
			agree = false
		}
	}
	if !agree {
		return false, fmt.Sprintf("r%d differs between replicas: %s", d.RangeId, strings.Join(report, "; "))
	}
	return true, ""
}

// Internal returns an Internal (node-to-node) client of node i.
func (c *Cluster) Internal(i int) (serverpb.InternalClient, error) {
	return c.pool.Internal(c.Addr(i))
}

// Admin returns an Admin client of node i.
func (c *Cluster) Admin(i int) (serverpb.AdminClient, error) {
	conn, err := c.pool.Conn(c.Addr(i))
	if err != nil {
		return nil, err
	}
	return serverpb.NewAdminClient(conn), nil
}
