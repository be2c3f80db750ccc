package replication_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/replication"
)

// This file runs one range's raft group on three members, each with its
// own engine, hub and gRPC server on 127.0.0.1, and the range's real state
// machine (replica.Replica): replication as the server uses it, without
// the server.

const gtRange = 7

var gtQuiet = slog.New(slog.DiscardHandler)

// gtClock is the members' shared timestamp oracle.
var gtClock atomic.Uint64

func gtTSO(_ context.Context, n int) (engine.Timestamp, error) {
	return engine.Timestamp(gtClock.Add(uint64(n)) - uint64(n) + 1), nil
}

// gtMember is one member: its engine and transport outlive its group,
// which stops and reopens like a node's after a restart.
type gtMember struct {
	id      uint64
	addr    raft.ServerAddress
	eng     *engine.Engine
	hub     *replication.Hub
	srv     *grpc.Server
	served  chan struct{}
	snapDir string
	timing  replication.Timing

	rep *replica.Replica
	g   *replication.Group // nil while stopped
	// boot are the voters start bootstraps a new group with (none: it
	// waits for a leader to add it).
	boot []raft.Server

	// conns are the member's outbound connections, for kill.
	connsMu sync.Mutex
	conns   []net.Conn
}

// kill cuts every connection to and from the member at once, as its
// process dying would: no stream ends cleanly.
func (m *gtMember) kill() {
	m.connsMu.Lock()
	for _, c := range m.conns {
		_ = c.Close()
	}
	m.connsMu.Unlock()
	m.srv.Stop()
	_ = m.hub.Close() // no new connections
}

func gtStartMember(t *testing.T, id uint64, timing replication.Timing) *gtMember {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &gtMember{id: id, addr: raft.ServerAddress(lis.Addr().String()), snapDir: t.TempDir(), timing: timing, served: make(chan struct{})}
	m.eng, err = engine.Open(engine.Options{Dir: "/db", FS: vfs.NewMem(), CacheSize: 8 << 20, MemTableSize: 4 << 20, Logger: gtQuiet})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			m.connsMu.Lock()
			m.conns = append(m.conns, c)
			m.connsMu.Unlock()
		}
		return c, err
	}
	m.hub, err = replication.NewHub(replication.TransportConfig{LocalAddr: m.addr, Timeout: 2 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(dial)}})
	if err != nil {
		t.Fatal(err)
	}
	m.srv = grpc.NewServer(replication.ServerOptions()...)
	m.hub.Register(m.srv)
	go func() {
		defer close(m.served)
		_ = m.srv.Serve(lis)
	}()
	// Shutdown order: the group (raft goroutines), the hub, the server,
	// the engine everything above writes into.
	t.Cleanup(func() {
		m.stop(t)
		_ = m.hub.Close()
		m.srv.Stop()
		<-m.served
		if err := m.eng.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// start opens the member's replica from its engine and its group, as a
// node does on start.
func (m *gtMember) start(t *testing.T) {
	t.Helper()
	var err error
	m.rep, err = replica.Open(replica.Config{RangeID: gtRange, NodeID: m.id, Engine: m.eng, Logger: gtQuiet, TSO: gtTSO}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.g, err = replication.OpenGroup(replication.GroupConfig{
		ID: gtRange, NodeID: m.id, LocalAddr: m.addr, Engine: m.eng, Hub: m.hub, FSM: m.rep,
		SnapshotDir: replication.SnapshotDirFor(m.snapDir, gtRange), Timing: m.timing, Logger: gtQuiet,
		Bootstrap: m.boot,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.rep.Attach(m.g)
}

// stop closes the member's group; its engine keeps the state.
func (m *gtMember) stop(t *testing.T) {
	if m.g == nil {
		return
	}
	m.rep.MarkDestroyed()
	if err := m.g.Close(); err != nil && !errors.Is(err, replication.ErrGroupShutdown) {
		t.Errorf("close group on n%d: %v", m.id, err)
	}
	m.g = nil
}

// snapshots lists the raft snapshots in the member's snapshot directory.
func (m *gtMember) snapshots(t *testing.T) []*raft.SnapshotMeta {
	t.Helper()
	fs, err := raft.NewFileSnapshotStoreWithLogger(replication.SnapshotDirFor(m.snapDir, gtRange), 1, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	metas, err := fs.List()
	if err != nil {
		t.Fatal(err)
	}
	return metas
}

// logBounds reads the member's raft log bounds from its engine.
func (m *gtMember) logBounds(t *testing.T) (first, last uint64) {
	t.Helper()
	s, err := replication.OpenLogStore(m.eng, gtRange)
	if err != nil {
		t.Fatal(err)
	}
	first, _ = s.FirstIndex()
	last, _ = s.LastIndex()
	return first, last
}

func (m *gtMember) logCount(t *testing.T) int {
	n := 0
	p := keys.ReplicaKey(uint64(gtRange), keys.ReplicaLogSuffix, nil)
	if err := m.eng.Scan(p, keys.PrefixEnd(p), func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// spanDigest digests every stored entry of the range's span on the
// member's engine.
func (m *gtMember) spanDigest(t *testing.T) (string, int64) {
	t.Helper()
	snap := m.eng.NewSnapshot()
	defer snap.Close()
	h := sha256.New()
	n, err := snap.ExportSpan(keys.UserMin, keys.KeyMax, h)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// gtWaitFor polls cond until it holds or timeout passes.
func gtWaitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gtLeader(t *testing.T, ms []*gtMember) *gtMember {
	t.Helper()
	var leader *gtMember
	gtWaitFor(t, 10*time.Second, "a leader", func() (bool, string) {
		for _, m := range ms {
			if m.g != nil && m.g.IsLeader() {
				leader = m
				return true, ""
			}
		}
		return false, "no member leads"
	})
	return leader
}

// gtPut writes keys through the range's request path on the leader,
// following leadership changes, for up to 15 s. Safe to call from any
// goroutine.
func gtPut(ms []*gtMember, kvs ...string) error {
	var reqs []*kvpb.Request
	for i := 0; i < len(kvs); i += 2 {
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(kvs[i]), Value: []byte(kvs[i+1])}}})
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error = kvpb.NewUnavailable("no leader")
		for _, m := range ms {
			if m.g == nil || !m.g.IsLeader() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = m.rep.Execute(ctx, &kvpb.BatchRequest{RangeId: gtRange, Requests: reqs})
			cancel()
			break
		}
		var kerr *kvpb.Error
		switch {
		case err == nil:
			return nil
		case !errors.As(err, &kerr) || !kerr.Retryable() || time.Now().After(deadline):
			return fmt.Errorf("put %s...: %w", kvs[0], err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGroupSnapshotCatchUp stops a member, writes thousands of keys while
// the others snapshot and truncate their logs past the stopped member's
// last entry, restarts it on the same engine, and checks that it catches up
// by InstallSnapshot to the same bytes as the leader.
func TestGroupSnapshotCatchUp(t *testing.T) {
	timing := gtFastTiming()
	// More trailing logs than the snapshot threshold, like the defaults: a
	// member's first compaction after it installs a snapshot ends inside
	// the gap its log has (see the end of the test).
	timing.SnapshotThreshold = 64
	timing.TrailingLogs = 100
	timing.SnapshotInterval = 50 * time.Millisecond

	ms := gtStartGroup(t, timing)
	if err := gtPut(ms, "before/1", "x", "before/2", "y"); err != nil {
		t.Fatal(err)
	}

	// Stop a follower once it has what the leader has.
	leader := gtLeader(t, ms)
	var lagging *gtMember
	for _, m := range ms {
		if m != leader {
			lagging = m
		}
	}
	gtWaitFor(t, 10*time.Second, "the follower to apply", func() (bool, string) {
		return lagging.rep.Applied() >= leader.rep.Applied(), fmt.Sprintf("n%d applied %d, leader %d", lagging.id, lagging.rep.Applied(), leader.rep.Applied())
	})
	lagging.stop(t)
	_, lagLast := lagging.logBounds(t)
	// (Only the first configuration's marker at index 1: see bootstrap.)
	if n := len(lagging.snapshots(t)); n != 1 || lagging.snapshots(t)[0].Index != 1 {
		t.Fatalf("n%d has %d snapshots before the test needs one", lagging.id, n)
	}

	// Several thousand keys, ten per command, from eight writers.
	const keysTotal, perCmd, writers = 4000, 10, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for c := w; c < keysTotal/perCmd; c += writers {
				var kvs []string
				for k := range perCmd {
					i := c*perCmd + k
					kvs = append(kvs, fmt.Sprintf("key/%05d", i), fmt.Sprintf("value-%d", i))
				}
				if err := gtPut(ms, kvs...); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// The running members snapshot on their own (SnapshotThreshold) and
	// truncate their logs: the stopped member's next entry is gone.
	for _, m := range ms {
		if m == lagging {
			continue
		}
		gtWaitFor(t, 10*time.Second, fmt.Sprintf("n%d to truncate its log", m.id), func() (bool, string) {
			first, last := m.logBounds(t)
			return first > lagLast+1, fmt.Sprintf("n%d log [%d, %d], stopped member's ends at %d", m.id, first, last, lagLast)
		})
	}

	// A stopped member stores nothing.
	if first, last := lagging.logBounds(t); last != lagLast {
		t.Fatalf("n%d stored entries while stopped: log [%d, %d], %d at the stop", lagging.id, first, last, lagLast)
	}
	// An append the leader built before it truncated may still be held by
	// the stopped member's transport, which waits GroupOpenWait for a group
	// to open (Hub.accept): delivered after the restart, it would bring
	// the entries the test wants gone (raft takes them, as any late
	// message). Let every such append give up first.
	time.Sleep(4 * replication.GroupOpenWait)
	lagging.start(t)
	if err := gtPut(ms, "after/1", "z"); err != nil {
		t.Fatal(err)
	}
	leader = gtLeader(t, ms)
	gtWaitFor(t, 30*time.Second, fmt.Sprintf("n%d to catch up", lagging.id), func() (bool, string) {
		want := leader.rep.Applied()
		return lagging.rep.Applied() >= want, fmt.Sprintf("n%d applied %d, leader %d", lagging.id, lagging.rep.Applied(), want)
	})
	if s := lagging.snapshots(t); len(s) == 0 || s[0].Index == 1 {
		first, last := lagging.logBounds(t)
		var idx []uint64
		for _, m := range s {
			idx = append(idx, m.Index)
		}
		var others string
		for _, m := range ms {
			f, l := m.logBounds(t)
			others += fmt.Sprintf(" n%d leader=%v log [%d, %d] entries %d;", m.id, m == leader, f, l, m.logCount(t))
		}
		t.Fatalf("n%d caught up without a snapshot: snapshots at %v, log [%d, %d], entries from before the stop end at %d, applied %d;%s",
			lagging.id, idx, first, last, lagLast, lagging.rep.Applied(), others)
	}
	// Every member's span is the same bytes: compare once they have all
	// applied the same index.
	gtWaitFor(t, 10*time.Second, "the members to hold the same data", func() (bool, string) {
		want, wantN := leader.spanDigest(t)
		var why string
		for _, m := range ms {
			got, n := m.spanDigest(t)
			why += fmt.Sprintf(" n%d: applied %d, %d bytes %s;", m.id, m.rep.Applied(), n, got[:12])
			if got != want || n != wantN {
				return false, why
			}
		}
		return true, why
	})
	for _, k := range []string{"before/1", "key/00000", "key/03999", "after/1"} {
		if _, _, err := lagging.eng.GetMVCC([]byte(k), engine.MaxTimestamp); err != nil {
			t.Fatalf("n%d lacks %s: %v", lagging.id, k, err)
		}
	}
	// The caught-up member's log is its entries from before the stop, a
	// gap, then the entries after the snapshot. Its first compaction ends
	// inside the gap (TrailingLogs > SnapshotThreshold): the bounds its log
	// store keeps must still be those of the entries in the engine. A
	// mismatch while an append or a truncation is in flight is brief; one
	// that lasts is a wrong bound.
	for c := range 100 {
		if err := gtPut(ms, fmt.Sprintf("more/%03d", c), "v"); err != nil {
			t.Fatal(err)
		}
		gtWaitFor(t, 2*time.Second, fmt.Sprintf("n%d's cached log bounds to match its engine", lagging.id), func() (bool, string) {
			first, last := lagging.g.CachedLogBounds()
			f, l := lagging.logBounds(t)
			return first == f && last == l, fmt.Sprintf("cached [%d, %d], engine [%d, %d]; entries from before the stop end at %d", first, last, f, l, lagLast)
		})
	}
	// It compacts once it has SnapshotThreshold entries past its last
	// snapshot, which may be one it installed during the writes above (the
	// leader truncates too): write until it does.
	c := 0
	gtWaitFor(t, 30*time.Second, fmt.Sprintf("n%d to compact its log past its old entries", lagging.id), func() (bool, string) {
		first, last := lagging.logBounds(t)
		if first > lagLast {
			return true, ""
		}
		c++
		if err := gtPut(ms, fmt.Sprintf("more/x%04d", c), "v"); err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("log [%d, %d] after %d more writes", first, last, c)
	})
	// Its applied state is kept: a reopened replica starts from it.
	// Read it after the stop: entries still in flight may apply until then.
	lagging.stop(t)
	applied := lagging.rep.Applied()
	lagging.start(t)
	if got := lagging.rep.Applied(); got != applied {
		t.Fatalf("n%d reopened at applied %d, had %d", lagging.id, got, applied)
	}
	if !proto.Equal(lagging.rep.Desc(), leader.rep.Desc()) {
		t.Fatalf("n%d descriptor %v, leader's %v", lagging.id, lagging.rep.Desc(), leader.rep.Desc())
	}
}

// TestLeaseEndsBeforeNewLeader cuts the leader off from both followers
// and watches, every millisecond, the old leader's lease and the
// followers: the lease must end before either follower leads. Here two
// things end it: the lease's own expiry and raft's step-down after
// LeaderLeaseTimeout without a quorum (which HasLease sees), so this
// checks that nothing keeps a lease past both; TestLeasesHeld checks the
// expiry alone.
func TestLeaseEndsBeforeNewLeader(t *testing.T) {
	timing := gtFastTiming()
	ms := gtStartGroup(t, timing)
	if err := gtPut(ms, "k", "v"); err != nil {
		t.Fatal(err)
	}
	old := gtLeader(t, ms)
	gtWaitFor(t, 5*time.Second, "a lease", func() (bool, string) { return old.g.HasLease(), "no lease" })
	var followers []*gtMember
	for _, m := range ms {
		if m != old {
			followers = append(followers, m)
			old.hub.SetPartitioned(m.addr, true)
			m.hub.SetPartitioned(old.addr, true)
		}
	}
	cut := time.Now()
	var lastLease, newLeader time.Time
	for time.Since(cut) < 10*time.Second && newLeader.IsZero() {
		if old.g.HasLease() {
			lastLease = time.Now()
		}
		for _, f := range followers {
			if f.g.IsLeader() {
				newLeader = time.Now()
			}
		}
		time.Sleep(time.Millisecond)
	}
	if newLeader.IsZero() {
		t.Fatal("no new leader within 10 s of the cut")
	}
	if !lastLease.Before(newLeader) {
		t.Fatalf("the old leader held its lease %v after the cut, a follower led %v after it", lastLease.Sub(cut), newLeader.Sub(cut))
	}
	t.Logf("lease held until %v after the cut, new leader at %v", lastLease.Sub(cut), newLeader.Sub(cut))
	for _, m := range followers {
		old.hub.SetPartitioned(m.addr, false)
		m.hub.SetPartitioned(old.addr, false)
	}
}

// TestFollowersHastenWhenLeaderDies: when the leader's node dies, the
// followers' pipeline streams from it break; they campaign after the
// leader lease timeout instead of the heartbeat timeout, and go back to
// the usual timeout once one of them leads. Polling sees the shorter
// timeout: it lasts at least a lease timeout (400 ms) before anyone can
// campaign.
func TestFollowersHastenWhenLeaderDies(t *testing.T) {
	timing := gtFastTiming()
	timing.HeartbeatTimeout, timing.ElectionTimeout, timing.LeaderLeaseTimeout = time.Second, time.Second, 400*time.Millisecond
	ms := gtStartGroup(t, timing)
	if err := gtPut(ms, "k", "v"); err != nil {
		t.Fatal(err)
	}
	old := gtLeader(t, ms)
	var followers []*gtMember
	for _, m := range ms {
		if m != old {
			followers = append(followers, m)
			if hb := m.g.HeartbeatTimeout(); hb != timing.HeartbeatTimeout {
				t.Fatalf("n%d's heartbeat timeout is %v before anything happened", m.id, hb)
			}
		}
	}
	// The leader opens a follower's pipeline once a plain AppendEntries
	// with entries succeeded: wait until both followers have everything,
	// then give the streams a moment to open (the hastening works on
	// streams that exist).
	last := old.g.LastIndex()
	for _, f := range followers {
		gtWaitFor(t, 5*time.Second, "the followers to catch up", func() (bool, string) {
			return f.g.AppliedIndex() >= last, fmt.Sprintf("n%d applied %d of %d", f.id, f.g.AppliedIndex(), last)
		})
	}
	time.Sleep(200 * time.Millisecond)
	// The leader's node dies: every connection to and from it closes.
	old.kill()
	hastened := map[uint64]bool{}
	var leader *gtMember
	gtWaitFor(t, 10*time.Second, "a follower to lead", func() (bool, string) {
		for _, f := range followers {
			if f.g.HeartbeatTimeout() == timing.LeaderLeaseTimeout {
				hastened[f.id] = true
			}
			if f.g.IsLeader() {
				leader = f
			}
		}
		return leader != nil, "no leader"
	})
	for _, f := range followers {
		if !hastened[f.id] {
			t.Errorf("n%d never took the shorter heartbeat timeout", f.id)
		}
	}
	for _, f := range followers {
		if f == leader {
			continue
		}
		gtWaitFor(t, 5*time.Second, "the usual heartbeat timeout back", func() (bool, string) {
			hb := f.g.HeartbeatTimeout()
			return hb == timing.HeartbeatTimeout, fmt.Sprintf("n%d: %v", f.id, hb)
		})
	}
}

// gtFastTiming is raft timing for tests: elections in well under a second.
func gtFastTiming() replication.Timing {
	timing := replication.DefaultTiming()
	timing.HeartbeatTimeout = 300 * time.Millisecond
	timing.ElectionTimeout = 300 * time.Millisecond
	timing.LeaderLeaseTimeout = 150 * time.Millisecond
	timing.CommitTimeout = 5 * time.Millisecond
	return timing
}

// gtStartGroup starts three members and bootstraps the range on them.
func gtStartGroup(t *testing.T, timing replication.Timing) []*gtMember {
	t.Helper()
	ms := []*gtMember{gtStartMember(t, 1, timing), gtStartMember(t, 2, timing), gtStartMember(t, 3, timing)}
	desc := &kvpb.RangeDescriptor{RangeId: gtRange, StartKey: keys.UserMin, EndKey: keys.KeyMax, Generation: 1}
	var voters []raft.Server
	for _, m := range ms {
		desc.Replicas = append(desc.Replicas, &kvpb.ReplicaDescriptor{NodeId: m.id, Addr: string(m.addr)})
		voters = append(voters, raft.Server{ID: replication.ServerID(m.id), Address: m.addr, Suffrage: raft.Voter})
	}
	for _, m := range ms {
		if err := replica.WriteInitialState(m.eng, desc, 0); err != nil {
			t.Fatal(err)
		}
		m.boot = voters
		m.start(t)
	}
	return ms
}

// TestCampaignNow: a new group whose heartbeat timeout is an hour elects
// the member told to campaign, at once. Both ways of firing raft's timer
// are covered: a heartbeat timeout above the leader lease timeout (set
// shorter, then back) and one equal to it (set longer, then back), as a
// FastElection group has.
func TestCampaignNow(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		heartbeat, election, lease time.Duration
	}{
		{"above the lease timeout", time.Hour, time.Hour, 500 * time.Millisecond},
		{"at the lease timeout", time.Hour, 2 * time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timing := gtFastTiming()
			timing.HeartbeatTimeout, timing.ElectionTimeout, timing.LeaderLeaseTimeout = tc.heartbeat, tc.election, tc.lease
			ms := gtStartGroup(t, timing)
			// Bootstrapped before raft started: each knows the voters
			// before it can answer a vote.
			for _, m := range ms {
				if servers, err := m.g.Configuration(); err != nil || len(servers) != 3 {
					t.Fatalf("n%d's new group: configuration %v, %v; want the 3 voters", m.id, servers, err)
				}
			}
			ms[1].g.CampaignNow()
			// Without it no member would campaign for an hour.
			if l := gtLeader(t, ms); l != ms[1] {
				t.Fatalf("n%d leads, want n%d, which campaigned", l.id, ms[1].id)
			}
			if got := ms[1].g.HeartbeatTimeout(); got != tc.heartbeat {
				t.Fatalf("heartbeat timeout %s after CampaignNow, want %s restored", got, tc.heartbeat)
			}
		})
	}
}

// TestRestartedReplicaHoldsVotes: a replica that restarts on existing
// state refuses vote requests for a lease's length (min(HeartbeatTimeout,
// LeaderLeaseTimeout)), then answers them again. Before the crash it may
// have acknowledged a leader whose lease still runs (lease.go); raft,
// which forgot that leader, would otherwise vote at once, and a new leader
// could be elected while the old one still serves reads from its lease.
func TestRestartedReplicaHoldsVotes(t *testing.T) {
	timing := gtFastTiming()
	timing.HeartbeatTimeout, timing.ElectionTimeout, timing.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
	ms := gtStartGroup(t, timing)
	if err := gtPut(ms, "k", "v"); err != nil {
		t.Fatal(err)
	}
	var follower *gtMember
	for _, m := range ms {
		if !m.g.IsLeader() {
			follower = m
		}
	}
	// A candidate from outside the group: its requests reach the
	// follower's transport like any member's, and raft refuses them (it
	// is no voter) when the transport lets them through.
	cand := gtStartMember(t, 9, timing)
	tr, err := cand.hub.Transport(gtRange)
	if err != nil {
		t.Fatal(err)
	}
	ask := func() error {
		req := &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("9"), Addr: []byte(cand.addr)},
			Term: follower.g.Term() + 1, LastLogIndex: 1 << 40, LastLogTerm: 1 << 40}
		var resp raft.RequestVoteResponse
		return tr.RequestVote(replication.ServerID(follower.id), follower.addr, req, &resp)
	}
	if err := ask(); err != nil {
		t.Fatalf("a replica that did not restart: %v, want raft's answer", err)
	}
	follower.stop(t)
	restarted := time.Now() // before the start: the hold ends after restarted + the lease timeout
	follower.start(t)
	err = ask()
	if took := time.Since(restarted); took >= timing.LeaderLeaseTimeout {
		t.Skipf("the vote request came %v after the restart, past the hold: nothing to check", took)
	}
	if err == nil || !strings.Contains(err.Error(), "votes held") {
		t.Fatalf("a vote request right after the restart: %v, want it held", err)
	}
	time.Sleep(timing.LeaderLeaseTimeout - time.Since(restarted) + 50*time.Millisecond)
	if err := ask(); err != nil {
		t.Fatalf("a vote request a lease after the restart: %v, want raft's answer", err)
	}
}

// TestRestartedFollowerKeepsLease: the leader L holds its lease on the
// acknowledgements of follower A alone (the other follower, B, is cut off
// from L and campaigns). A restarts, and L cannot reach it afterwards. B's
// next vote request reaches A, which forgot L. No one may lead before L's
// lease has ended. B campaigns in rounds of 300-600 ms once it lost L;
// A restarts just before B's second round can start, which then comes
// within 300 ms, while the lease lasts 240 ms: most trials would catch an
// overlap.
func TestRestartedFollowerKeepsLease(t *testing.T) {
	timing := gtFastTiming()
	timing.LeaderLeaseTimeout = timing.HeartbeatTimeout
	ms := gtStartGroup(t, timing)
	if err := gtPut(ms, "k", "v"); err != nil {
		t.Fatal(err)
	}
	cut := func(a, b *gtMember, on bool) {
		a.hub.SetPartitioned(b.addr, on)
		b.hub.SetPartitioned(a.addr, on)
	}
	const trials = 8
	for trial := range trials {
		for _, a := range ms {
			for _, b := range ms {
				if a != b {
					a.hub.SetPartitioned(b.addr, false)
				}
			}
		}
		l := gtLeader(t, ms)
		var fa, fb *gtMember
		for _, m := range ms {
			switch {
			case m == l:
			case fa == nil:
				fa = m
			default:
				fb = m
			}
		}
		cut(l, fb, true)
		gtWaitFor(t, 5*time.Second, "the cut-off follower to campaign", func() (bool, string) {
			return fb.g.State() == "Candidate", fb.g.State()
		})
		time.Sleep(timing.ElectionTimeout - 30*time.Millisecond)
		gtWaitFor(t, 5*time.Second, "a lease on one follower", func() (bool, string) {
			return l.g.IsLeader() && l.g.HasLease(), "no lease"
		})
		fa.stop(t)
		cut(l, fa, true)
		fa.start(t)
		restarted := time.Now()
		var lastLease, newLeader time.Time
		for time.Since(restarted) < 3*time.Second && newLeader.IsZero() {
			// The new leader first: a lease seen after it overlaps it.
			if fa.g.IsLeader() || fb.g.IsLeader() {
				newLeader = time.Now()
			}
			if l.g.HasLease() {
				lastLease = time.Now()
			}
			time.Sleep(time.Millisecond)
		}
		if !newLeader.IsZero() && !lastLease.Before(newLeader) {
			t.Fatalf("trial %d: the old leader held its lease %v after the restart, when another led already (%v)",
				trial, lastLease.Sub(restarted), newLeader.Sub(restarted))
		}
		t.Logf("trial %d: lease until %v after the restart, new leader at %v", trial, lastLease.Sub(restarted), newLeader.Sub(restarted))
	}
}

// TestOnePCOutcomeAcrossLeaderChanges: blind one-phase commits (a
// deferred transaction's, which the client must not send twice) run on
// the leader while leadership moves, by transfers and by cutting the
// leader off for a while. A commit in flight when its leader steps down
// may still be committed by the next one; the old leader waits to see
// which, so that every commit ends with its real outcome, never an
// ambiguous one, and the data agree with the answers.
func TestOnePCOutcomeAcrossLeaderChanges(t *testing.T) {
	ms := gtStartGroup(t, gtFastTiming())
	if err := gtPut(ms, "k", "v"); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		key string
		err error
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		next     atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var leader *gtMember
				for _, m := range ms {
					if m.g.IsLeader() {
						leader = m
					}
				}
				if leader == nil {
					time.Sleep(time.Millisecond)
					continue
				}
				key := fmt.Sprintf("w%06d", next.Add(1))
				req := &kvpb.Request{Value: &kvpb.Request_OnePc{OnePc: &kvpb.OnePCRequest{
					Mutations: []*kvpb.Mutation{{Op: kvpb.LockOp_LOCK_PUT, Key: []byte(key), Value: []byte("x")}}}}}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := leader.rep.Execute(ctx, &kvpb.BatchRequest{RangeId: gtRange, Requests: []*kvpb.Request{req}})
				cancel()
				mu.Lock()
				outcomes = append(outcomes, outcome{key, err})
				mu.Unlock()
			}
		})
	}
	for round := range 6 {
		time.Sleep(80 * time.Millisecond)
		l := gtLeader(t, ms)
		if round%2 == 0 {
			if err := l.g.TransferLeadership(0, ""); err != nil {
				t.Logf("transfer from n%d: %v", l.id, err)
			}
			continue
		}
		// Cut the leader off: it steps down with commits in flight, some
		// of which reached a follower, and learns their fate once healed.
		for _, m := range ms {
			if m != l {
				l.hub.SetPartitioned(m.addr, true)
				m.hub.SetPartitioned(l.addr, true)
			}
		}
		time.Sleep(600 * time.Millisecond)
		for _, m := range ms {
			if m != l {
				l.hub.SetPartitioned(m.addr, false)
				m.hub.SetPartitioned(l.addr, false)
			}
		}
	}
	// Writes go on for a while: the old leader learns the fate of an
	// entry once it applies the entry's index, which the new leader's log
	// reaches only by growing past the old leader's last appends.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	l := gtLeader(t, ms)
	var ok, refused int
	for _, o := range outcomes {
		var kerr *kvpb.Error
		if o.err != nil && (!errors.As(o.err, &kerr) || kerr.Ambiguous) {
			t.Errorf("commit of %s: %v, want its outcome", o.key, o.err)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := l.rep.Execute(ctx, &kvpb.BatchRequest{RangeId: gtRange, Requests: []*kvpb.Request{
			{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: []byte(o.key)}}}}})
		cancel()
		if err != nil {
			t.Fatalf("read %s: %v", o.key, err)
		}
		found := resp.Responses[0].GetGet().GetFound()
		switch {
		case o.err == nil && !found:
			t.Errorf("commit of %s succeeded, but the key is not there", o.key)
		case o.err != nil && found:
			t.Errorf("commit of %s failed (%v), but the key is there", o.key, o.err)
		case o.err == nil:
			ok++
		default:
			refused++
		}
	}
	t.Logf("%d commits: %d applied, %d refused", len(outcomes), ok, refused)
	if ok == 0 {
		t.Fatal("no commit succeeded: the test tested nothing")
	}
}
