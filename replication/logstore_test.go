package replication

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"

	"github.com/shardingsystem/shard/engine"
)

// CachedLogBounds returns the bounds that the group's log store keeps in
// memory, for the tests of package replication_test.
func (g *Group) CachedLogBounds() (first, last uint64) {
	first, _ = g.logs.FirstIndex()
	last, _ = g.logs.LastIndex()
	return first, last
}

// lsEngine opens an engine on fs at dir; the test closes it at cleanup
// unless it was closed already.
func lsEngine(tb testing.TB, fs vfs.FS, dir string) *engine.Engine {
	tb.Helper()
	e, err := engine.Open(engine.Options{Dir: dir, FS: fs, CacheSize: 8 << 20, MemTableSize: 1 << 20,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, engine.ErrClosed) {
			tb.Error(err)
		}
	})
	return e
}

func lsOpen(tb testing.TB, e *engine.Engine, id GroupID) *LogStore {
	tb.Helper()
	s, err := OpenLogStore(e, id)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func lsEntry(idx uint64) *raft.Log {
	return &raft.Log{
		Index: idx, Term: idx/10 + 1, Type: raft.LogCommand,
		Data:       fmt.Appendf(nil, "data-%d", idx),
		Extensions: fmt.Appendf(nil, "ext-%d", idx),
		AppendedAt: time.Unix(1700000000, int64(idx)),
	}
}

func lsStore(tb testing.TB, s *LogStore, lo, hi uint64) {
	tb.Helper()
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, lsEntry(i))
	}
	if err := s.StoreLogs(logs); err != nil {
		tb.Fatal(err)
	}
}

func lsBounds(tb testing.TB, s *LogStore) (uint64, uint64) {
	tb.Helper()
	first, err := s.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	return first, last
}

func lsWantBounds(tb testing.TB, s *LogStore, first, last uint64) {
	tb.Helper()
	if f, l := lsBounds(tb, s); f != first || l != last {
		tb.Fatalf("bounds [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

// lsWantEntries checks that exactly the entries in present exist among
// 1..upto, each equal to what lsEntry made.
func lsWantEntries(tb testing.TB, s *LogStore, upto uint64, present func(uint64) bool) {
	tb.Helper()
	for i := uint64(1); i <= upto; i++ {
		var l raft.Log
		err := s.GetLog(i, &l)
		switch {
		case present(i) && err != nil:
			tb.Fatalf("entry %d: %v", i, err)
		case present(i):
			lsWantEqual(tb, &l, lsEntry(i))
		case !errors.Is(err, raft.ErrLogNotFound):
			tb.Fatalf("entry %d: got %v, want raft.ErrLogNotFound", i, err)
		}
	}
}

func lsWantEqual(tb testing.TB, got, want *raft.Log) {
	tb.Helper()
	if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
		!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
		!got.AppendedAt.Equal(want.AppendedAt) {
		tb.Fatalf("entry %d: got %+v, want %+v", want.Index, got, want)
	}
}

func TestLogStoreEmpty(t *testing.T) {
	s := lsOpen(t, lsEngine(t, vfs.NewMem(), "/db"), 1)
	lsWantBounds(t, s, 0, 0)
	var l raft.Log
	if err := s.GetLog(1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on an empty log: %v, want raft.ErrLogNotFound", err)
	}
	if err := s.StoreLogs(nil); err != nil {
		t.Fatalf("StoreLogs(nil): %v", err)
	}
	lsWantBounds(t, s, 0, 0)
	if err := s.DeleteRange(5, 10); err != nil {
		t.Fatalf("DeleteRange on an empty log: %v", err)
	}
	lsWantBounds(t, s, 0, 0)
}

func TestLogStoreStoreGet(t *testing.T) {
	s := lsOpen(t, lsEngine(t, vfs.NewMem(), "/db"), 1)
	if err := s.StoreLog(lsEntry(1)); err != nil {
		t.Fatal(err)
	}
	lsStore(t, s, 2, 10)
	lsWantBounds(t, s, 1, 10)
	lsWantEntries(t, s, 12, func(i uint64) bool { return i <= 10 })

	// Every field survives, including the zero values: no AppendedAt, no
	// data, no extensions, and each log type.
	for i, l := range []*raft.Log{
		{Index: 11, Term: 3, Type: raft.LogNoop},
		{Index: 12, Term: 3, Type: raft.LogConfiguration, Data: []byte{0, 1, 2}},
		{Index: 13, Term: 4, Type: raft.LogBarrier, Extensions: []byte("x")},
		{Index: 14, Term: 4, Type: raft.LogCommand, Data: bytes.Repeat([]byte("v"), 1<<20)},
	} {
		if err := s.StoreLog(l); err != nil {
			t.Fatal(err)
		}
		var got raft.Log
		if err := s.GetLog(l.Index, &got); err != nil {
			t.Fatal(err)
		}
		lsWantEqual(t, &got, l)
		if !got.AppendedAt.IsZero() {
			t.Fatalf("case %d: zero AppendedAt came back as %v", i, got.AppendedAt)
		}
	}
	lsWantBounds(t, s, 1, 14)

	// GetLog into a reused Log overwrites every field.
	l := lsEntry(13)
	l.Extensions, l.AppendedAt = []byte("stale"), time.Now()
	if err := s.GetLog(11, l); err != nil {
		t.Fatal(err)
	}
	lsWantEqual(t, l, &raft.Log{Index: 11, Term: 3, Type: raft.LogNoop})

	// The store owns neither the caller's slices nor hands out its own:
	// changing them changes nothing stored.
	in := lsEntry(15)
	if err := s.StoreLog(in); err != nil {
		t.Fatal(err)
	}
	in.Data[0] = 'X'
	var out raft.Log
	if err := s.GetLog(15, &out); err != nil {
		t.Fatal(err)
	}
	lsWantEqual(t, &out, lsEntry(15))
	out.Data[0] = 'Y'
	if err := s.GetLog(15, &out); err != nil {
		t.Fatal(err)
	}
	lsWantEqual(t, &out, lsEntry(15))

	// Storing an index again overwrites it (raft does after a conflict).
	over := lsEntry(5)
	over.Term, over.Data = 99, []byte("new")
	if err := s.StoreLogs([]*raft.Log{over}); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(5, &out); err != nil {
		t.Fatal(err)
	}
	lsWantEqual(t, &out, over)
	lsWantBounds(t, s, 1, 15)
}

func TestLogStoreDeleteRange(t *testing.T) {
	for _, tc := range []struct {
		name        string
		min, max    uint64
		first, last uint64
	}{
		{"prefix", 1, 4, 5, 10},
		{"suffix", 7, 10, 1, 6},
		{"all", 1, 10, 0, 0},
		{"middle", 4, 6, 1, 10},
		{"one at the start", 1, 1, 2, 10},
		{"one at the end", 10, 10, 1, 9},
		{"beyond both ends", 0, 20, 0, 0},
		{"before the start", 0, 0, 1, 10},
		{"after the end", 11, 20, 1, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := lsEngine(t, vfs.NewMem(), "/db")
			s := lsOpen(t, e, 1)
			lsStore(t, s, 1, 10)
			if err := s.DeleteRange(tc.min, tc.max); err != nil {
				t.Fatal(err)
			}
			lsWantBounds(t, s, tc.first, tc.last)
			present := func(i uint64) bool { return i <= 10 && (i < tc.min || i > tc.max) }
			lsWantEntries(t, s, 12, present)
			// A reopened store computes the same bounds from the engine.
			lsWantBounds(t, lsOpen(t, e, 1), tc.first, tc.last)
			// And keeps working: append after the end, as raft does.
			next := tc.last + 1
			if tc.last == 0 {
				next = 11
			}
			lsStore(t, s, next, next+1)
			first := tc.first
			if first == 0 {
				first = next
			}
			lsWantBounds(t, s, first, next+1)
		})
	}
}

// TestLogStoreBoundsAcrossGap covers the log of a follower that caught up
// by InstallSnapshot: raft keeps its old entries below the snapshot and
// appends after the snapshot's index, leaving a gap, then truncates a
// prefix that ends inside the gap, or a suffix that starts right after
// it. The bounds must name entries that exist.
func TestLogStoreBoundsAcrossGap(t *testing.T) {
	e := lsEngine(t, vfs.NewMem(), "/db")
	s := lsOpen(t, e, 1)
	lsStore(t, s, 1, 10)
	lsStore(t, s, 50, 60)
	lsWantBounds(t, s, 1, 60)

	if err := s.DeleteRange(51, 60); err != nil { // conflicting suffix after the gap... and a bit more
		t.Fatal(err)
	}
	lsWantBounds(t, s, 1, 50)
	if err := s.DeleteRange(50, 50); err != nil { // the suffix right after the gap
		t.Fatal(err)
	}
	lsWantBounds(t, s, 1, 10)
	lsWantBounds(t, lsOpen(t, e, 1), 1, 10)

	lsStore(t, s, 50, 60)
	if err := s.DeleteRange(1, 20); err != nil { // compaction ending inside the gap
		t.Fatal(err)
	}
	lsWantBounds(t, s, 50, 60)
	lsWantBounds(t, lsOpen(t, e, 1), 50, 60)
	first, _ := lsBounds(t, s)
	var l raft.Log
	if err := s.GetLog(first, &l); err != nil {
		t.Fatalf("GetLog(FirstIndex()=%d): %v", first, err)
	}
}

func TestLogStoreReopenKeepsBounds(t *testing.T) {
	fs := vfs.NewMem()
	e := lsEngine(t, fs, "/db")
	s := lsOpen(t, e, 7)
	lsStore(t, s, 100, 300)
	if err := s.DeleteRange(100, 149); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 12); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = lsEngine(t, fs, "/db")
	s = lsOpen(t, e, 7)
	lsWantBounds(t, s, 150, 300)
	lsWantEntries(t, s, 310, func(i uint64) bool { return i >= 150 && i <= 300 })
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 12 {
		t.Fatalf("CurrentTerm after reopen: %d, %v", v, err)
	}
}

// TestLogStoreStable checks the StableStore contract raft relies on: a
// missing key is an error whose text is exactly "not found" (raft compares
// the text), with a zero value.
func TestLogStoreStable(t *testing.T) {
	s := lsOpen(t, lsEngine(t, vfs.NewMem(), "/db"), 1)
	v, err := s.Get([]byte("LastVoteCand"))
	if err == nil || err.Error() != "not found" || v != nil {
		t.Fatalf("Get of a missing key: %q, %v; want nil, \"not found\"", v, err)
	}
	n, err := s.GetUint64([]byte("CurrentTerm"))
	if err == nil || err.Error() != "not found" || n != 0 {
		t.Fatalf("GetUint64 of a missing key: %d, %v; want 0, \"not found\"", n, err)
	}

	if err := s.Set([]byte("LastVoteCand"), []byte("3")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "3" {
		t.Fatalf("Get: %q, %v", v, err)
	}
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || len(v) != 0 {
		t.Fatalf("Get of an empty value: %q, %v", v, err)
	}
	for _, x := range []uint64{0, 1, 1 << 63, ^uint64(0)} {
		if err := s.SetUint64([]byte("CurrentTerm"), x); err != nil {
			t.Fatal(err)
		}
		if n, err := s.GetUint64([]byte("CurrentTerm")); err != nil || n != x {
			t.Fatalf("GetUint64: %d, %v; want %d", n, err, x)
		}
	}
	// A value that is not 8 bytes is corruption, not "not found".
	if err := s.Set([]byte("odd"), []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("odd")); err == nil || err.Error() == "not found" {
		t.Fatalf("GetUint64 of a 3-byte value: %v", err)
	}
}

// TestLogStoreGroupsAreSeparate puts two groups in one engine: each sees
// only its own log and stable values, and Destroy removes only its own.
func TestLogStoreGroupsAreSeparate(t *testing.T) {
	e := lsEngine(t, vfs.NewMem(), "/db")
	a, b := lsOpen(t, e, 1), lsOpen(t, e, 2)
	lsStore(t, a, 1, 5)
	lsStore(t, b, 3, 9)
	if err := a.SetUint64([]byte("CurrentTerm"), 5); err != nil {
		t.Fatal(err)
	}
	lsWantBounds(t, a, 1, 5)
	lsWantBounds(t, b, 3, 9)
	if _, err := b.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("group 2 sees group 1's term: %v", err)
	}
	// Group 256 shares group 1's low byte and group 2's... nothing: ids are
	// fixed width, so no id's keys are a prefix of another's.
	lsWantBounds(t, lsOpen(t, e, 256), 0, 0)

	if err := a.Destroy(); err != nil {
		t.Fatal(err)
	}
	lsWantBounds(t, a, 0, 0)
	lsWantBounds(t, lsOpen(t, e, 1), 0, 0)
	if _, err := a.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("term after Destroy: %v", err)
	}
	lsWantBounds(t, lsOpen(t, e, 2), 3, 9)
	lsWantEntries(t, b, 10, func(i uint64) bool { return i >= 3 && i <= 9 })
}

// TestLogStoreUnderRaft runs hashicorp/raft's own use of the stores: it
// bootstraps a group on a LogStore, reads its state back with raft's
// helpers, then runs a single-voter raft on it that applies entries,
// snapshots (compacting the log) and restarts from the same stores.
func TestLogStoreUnderRaft(t *testing.T) {
	e := lsEngine(t, vfs.NewMem(), "/db")
	s := lsOpen(t, e, 3)
	snaps := raft.NewInmemSnapshotStore()
	addr, trans := raft.NewInmemTransport("n1")
	defer trans.Close()

	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout = 50 * time.Millisecond
	conf.ElectionTimeout = 50 * time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.TrailingLogs = 10
	conf.SnapshotThreshold = 1 << 30 // only the explicit snapshot below
	conf.Logger = hclog.NewNullLogger()

	if has, err := raft.HasExistingState(s, s, snaps); err != nil || has {
		t.Fatalf("HasExistingState of an empty store: %v, %v", has, err)
	}
	cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: addr}}}
	if err := raft.BootstrapCluster(conf, s, s, snaps, trans, cfg); err != nil {
		t.Fatal(err)
	}
	if has, err := raft.HasExistingState(s, s, snaps); err != nil || !has {
		t.Fatalf("HasExistingState after bootstrap: %v, %v", has, err)
	}
	// GetConfiguration marks the config it is given as not to be started:
	// give it a copy.
	getConf := *conf
	got, err := raft.GetConfiguration(&getConf, &lsFSM{}, s, s, snaps, trans)
	if err != nil || len(got.Servers) != 1 || got.Servers[0].ID != "n1" {
		t.Fatalf("GetConfiguration: %+v, %v", got, err)
	}

	run := func(fsm *lsFSM, from, to int) *raft.Raft {
		t.Helper()
		r, err := raft.NewRaft(conf, fsm, s, s, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for r.State() != raft.Leader {
			if time.Now().After(deadline) {
				t.Fatal("no leader")
			}
			time.Sleep(5 * time.Millisecond)
		}
		for i := from; i < to; i++ {
			if err := r.Apply(fmt.Appendf(nil, "cmd-%d", i), 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	fsm := &lsFSM{}
	r := run(fsm, 0, 100)
	_, lastBefore := lsBounds(t, s)
	if err := r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, last := lsBounds(t, s)
	if last != lastBefore || first != last-conf.TrailingLogs+1 {
		t.Fatalf("after a snapshot at %d with 10 trailing logs the log is [%d, %d]", lastBefore, first, last)
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same stores: raft restores the snapshot and replays
	// the trailing log; the new leader appends after the old last index.
	fsm = &lsFSM{}
	r = run(fsm, 100, 110)
	defer func() { _ = r.Shutdown().Error() }()
	if n := fsm.count(); n != 110 {
		t.Fatalf("FSM holds %d commands after restart and 10 more, want 110", n)
	}
	if _, l := lsBounds(t, s); l <= last {
		t.Fatalf("last index %d after restart, was %d", l, last)
	}
}

// lsFSM counts commands; its snapshot is the count.
type lsFSM struct {
	mu struct {
		sync.Mutex
		n int
	}
}

func (f *lsFSM) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.n
}

func (f *lsFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.n++
	return nil
}

func (f *lsFSM) Snapshot() (raft.FSMSnapshot, error) { return lsSnap(f.count()), nil }

func (f *lsFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var n int
	if _, err := fmt.Fscan(rc, &n); err != nil {
		return err
	}
	f.mu.Lock()
	f.mu.n = n
	f.mu.Unlock()
	return nil
}

type lsSnap int

func (s lsSnap) Persist(sink raft.SnapshotSink) error {
	if _, err := fmt.Fprint(sink, int(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (lsSnap) Release() {}

// The raftbench benchmarks are hashicorp/raft's shared benchmarks for
// log and stable stores.
func lsBench(b *testing.B, fn func(*testing.B, *LogStore)) {
	fn(b, lsOpen(b, lsEngine(b, vfs.NewMem(), "/db"), 1))
}

func BenchmarkLogStoreFirstIndex(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.FirstIndex(b, s) })
}
func BenchmarkLogStoreLastIndex(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.LastIndex(b, s) })
}
func BenchmarkLogStoreGetLog(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.GetLog(b, s) })
}
func BenchmarkLogStoreStoreLog(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.StoreLog(b, s) })
}
func BenchmarkLogStoreStoreLogs(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.StoreLogs(b, s) })
}
func BenchmarkLogStoreDeleteRange(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.DeleteRange(b, s) })
}
func BenchmarkLogStoreSet(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.Set(b, s) })
}
func BenchmarkLogStoreGet(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.Get(b, s) })
}
func BenchmarkLogStoreSetUint64(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.SetUint64(b, s) })
}
func BenchmarkLogStoreGetUint64(b *testing.B) {
	lsBench(b, func(b *testing.B, s *LogStore) { raftbench.GetUint64(b, s) })
}
