package replication

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// trFSM is a trivial FSM: it keeps every command it applies, so its
// snapshot is as large as the data written.
type trFSM struct {
	mu   sync.Mutex
	cmds [][]byte
}

func (f *trFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, bytes.Clone(l.Data))
	return len(f.cmds)
}

func (f *trFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return trFSMSnapshot(f.cmds[:len(f.cmds):len(f.cmds)]), nil
}

func (f *trFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	r := bufio.NewReader(rc)
	var cmds [][]byte
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		cmds = append(cmds, b)
	}
	f.mu.Lock()
	f.cmds = cmds
	f.mu.Unlock()
	return nil
}

// state summarizes the FSM: the number of commands and a digest of them.
func (f *trFSM) state() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := sha256.New()
	for _, c := range f.cmds {
		h.Write(c)
	}
	return fmt.Sprintf("%d:%x", len(f.cmds), h.Sum(nil)[:8])
}

type trFSMSnapshot [][]byte

func (s trFSMSnapshot) Persist(sink raft.SnapshotSink) error {
	w := bufio.NewWriter(sink)
	var lb [binary.MaxVarintLen64]byte
	for _, c := range s {
		w.Write(lb[:binary.PutUvarint(lb[:], uint64(len(c)))])
		w.Write(c)
	}
	if err := w.Flush(); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (trFSMSnapshot) Release() {}

// trReplica is one raft group member on one node; its stores survive a
// restart.
type trReplica struct {
	node   *trNode
	id     raft.ServerID
	group  GroupID
	conf   *raft.Config
	fsm    *trFSM
	logs   *raft.InmemStore
	snaps  *raft.InmemSnapshotStore
	r      *raft.Raft
	closed bool
}

func trRaftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(id), Level: hclog.Info, Output: os.Stderr})
	return c
}

// trStartGroup starts group id on every node, bootstrapped with all of
// them; tune adjusts each member's config.
func trStartGroup(t *testing.T, nodes []*trNode, id GroupID, tune func(*raft.Config)) []*trReplica {
	t.Helper()
	var servers []raft.Server
	for i, n := range nodes {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(fmt.Sprintf("n%d", i)), Address: n.addr})
	}
	var reps []*trReplica
	for i, n := range nodes {
		rep := &trReplica{
			node: n, id: servers[i].ID, group: id, conf: trRaftConfig(servers[i].ID),
			logs: raft.NewInmemStore(), snaps: raft.NewInmemSnapshotStore(),
		}
		if tune != nil {
			tune(rep.conf)
		}
		if err := raft.BootstrapCluster(rep.conf, rep.logs, rep.logs, rep.snaps, nil, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		rep.start(t)
		reps = append(reps, rep)
	}
	t.Cleanup(func() {
		for _, rep := range reps {
			rep.stop(t)
		}
	})
	return reps
}

// start (re)starts the replica's raft with its stores and a fresh FSM.
func (rep *trReplica) start(t *testing.T) {
	t.Helper()
	tr, err := rep.node.hub.Transport(rep.group)
	if err != nil {
		t.Fatal(err)
	}
	rep.fsm = &trFSM{}
	rep.r, err = raft.NewRaft(rep.conf, rep.fsm, rep.logs, rep.logs, rep.snaps, tr)
	if err != nil {
		t.Fatal(err)
	}
	rep.closed = false
}

// stop shuts the replica's raft down, which closes its group transport.
func (rep *trReplica) stop(t *testing.T) {
	if rep.closed {
		return
	}
	rep.closed = true
	if err := rep.r.Shutdown().Error(); err != nil {
		t.Errorf("shutdown %s group %d: %v", rep.id, rep.group, err)
	}
}

// trLeader waits for a member of reps, other than those in not, to lead.
func trLeader(t *testing.T, reps []*trReplica, not ...*trReplica) *trReplica {
	t.Helper()
	var leader *trReplica
	trWaitFor(t, 10*time.Second, "a leader", func() bool {
	next:
		for _, rep := range reps {
			for _, n := range not {
				if rep == n {
					continue next
				}
			}
			if !rep.closed && rep.r.State() == raft.Leader {
				leader = rep
				return true
			}
		}
		return false
	})
	return leader
}

// trConverged waits until every running member's FSM equals the leader's.
func trConverged(t *testing.T, reps []*trReplica, leader *trReplica) {
	t.Helper()
	trWaitFor(t, 15*time.Second, "followers to converge", func() bool {
		want := leader.fsm.state()
		for _, rep := range reps {
			if !rep.closed && rep.fsm.state() != want {
				return false
			}
		}
		return true
	})
}

func trApply(t *testing.T, leader *trReplica, cmd []byte) {
	t.Helper()
	if err := leader.r.Apply(cmd, 5*time.Second).Error(); err != nil {
		t.Fatalf("apply on %s group %d: %v", leader.id, leader.group, err)
	}
}

func TestTransportRaftGroups(t *testing.T) {
	nodes := []*trNode{trStartNode(t), trStartNode(t), trStartNode(t)}
	groups := map[GroupID][]*trReplica{}
	for _, id := range []GroupID{1, 2, 3} {
		groups[id] = trStartGroup(t, nodes, id, nil)
	}
	for id, reps := range groups {
		leader := trLeader(t, reps)
		for i := range 50 {
			trApply(t, leader, fmt.Appendf(nil, "group %d cmd %d", id, i))
		}
		trConverged(t, reps, leader)
		if got := leader.fsm.state(); got[:3] != "50:" {
			t.Fatalf("group %d leader state %s, want 50 commands", id, got)
		}
	}
	// Nine rafts; a hub holds at most one connection per peer node (a hub
	// that never led nor stood for election has dialed nobody).
	for i, n := range nodes {
		n.hub.mu.RLock()
		conns := len(n.hub.mu.peers)
		n.hub.mu.RUnlock()
		if conns > 2 {
			t.Errorf("hub %d holds %d connections, want at most 2", i, conns)
		}
	}
}

func TestTransportInstallSnapshot(t *testing.T) {
	nodes := []*trNode{trStartNode(t), trStartNode(t), trStartNode(t)}
	reps := trStartGroup(t, nodes, 11, func(c *raft.Config) {
		c.TrailingLogs = 4
		c.SnapshotThreshold = 1 << 20 // only the explicit snapshot below
	})
	leader := trLeader(t, reps)
	trApply(t, leader, []byte("before"))
	trConverged(t, reps, leader)

	var lagging *trReplica
	for _, rep := range reps {
		if rep != leader {
			lagging = rep
			break
		}
	}
	lagging.stop(t)

	// 4 MiB of commands while it is down, then a snapshot that truncates
	// the log past the lagging member's last entry.
	for i := range 64 {
		payload := bytes.Repeat([]byte{'x'}, 64<<10) // raft keeps it
		payload[0] = byte(i)
		trApply(t, leader, payload)
	}
	if err := leader.r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	lastLogs, _ := lagging.logs.LastIndex()
	firstLeader, _ := leader.logs.FirstIndex()
	if firstLeader <= lastLogs+1 {
		t.Fatalf("leader log starts at %d, lagging member ends at %d: no snapshot needed", firstLeader, lastLogs)
	}

	lagging.start(t)
	trConverged(t, reps, leader)
	metas, err := lagging.snaps.List()
	if err != nil || len(metas) == 0 {
		t.Fatalf("lagging member has no snapshot (%v): it did not catch up by InstallSnapshot", err)
	}
	if metas[0].Size < 4<<20 {
		t.Fatalf("installed snapshot is %d bytes, want at least 4 MiB", metas[0].Size)
	}
}

func TestTransportPartitionLeader(t *testing.T) {
	nodes := []*trNode{trStartNode(t), trStartNode(t), trStartNode(t)}
	reps := trStartGroup(t, nodes, 21, nil)
	old := trLeader(t, reps)
	trApply(t, old, []byte("before"))

	for _, n := range nodes {
		if n != old.node {
			old.node.hub.SetPartitioned(n.addr, true)
		}
	}
	leader := trLeader(t, reps, old)
	trWaitFor(t, 5*time.Second, "the partitioned leader to step down", func() bool {
		return old.r.State() != raft.Leader
	})
	trApply(t, leader, []byte("during"))

	for _, n := range nodes {
		old.node.hub.SetPartitioned(n.addr, false)
	}
	trApply(t, leader, []byte("after"))
	trConverged(t, reps, leader)
	trWaitFor(t, 5*time.Second, "the old leader to follow", func() bool {
		addr, _ := old.r.LeaderWithID()
		return old.r.State() == raft.Follower && addr == leader.node.addr
	})
}
