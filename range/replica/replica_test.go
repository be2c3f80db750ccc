package replica

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// The tests here drive the state machine directly: hand-made raft entries
// into ApplyBatch, on engines over in-memory filesystems, with no raft
// group.

var quiet = slog.New(slog.DiscardHandler)

func openEngine(t testing.TB, fs vfs.FS) *engine.Engine {
	t.Helper()
	e, err := engine.Open(engine.Options{Dir: "/db", FS: fs, CacheSize: 8 << 20, MemTableSize: 1 << 20, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil && !errors.Is(err, engine.ErrClosed) {
			t.Error(err)
		}
	})
	return e
}

func testDesc(id uint64, start, end string, gen uint64) *kvpb.RangeDescriptor {
	d := &kvpb.RangeDescriptor{RangeId: id, StartKey: []byte(start), EndKey: []byte(end), Generation: gen}
	for n := uint64(1); n <= 3; n++ {
		d.Replicas = append(d.Replicas, &kvpb.ReplicaDescriptor{NodeId: n, Addr: fmt.Sprintf("n%d:1", n)})
	}
	return d
}

// open opens (or reopens, from what the engine holds) replica desc.RangeId
// on node 1; desc is stored if the engine has no descriptor for it.
func open(t testing.TB, eng *engine.Engine, id uint64, desc *kvpb.RangeDescriptor, onSplit func(*kvpb.RangeDescriptor)) *Replica {
	t.Helper()
	r, err := Open(Config{RangeID: id, NodeID: 1, Engine: eng, Logger: quiet, OnSplit: onSplit}, desc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func put(k, v string) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: []byte(k), Value: []byte(v)}}}
}

func cput(k, v, expected string, exists bool) *kvpb.Request {
	var exp []byte
	if exists {
		exp = []byte(expected)
	}
	return &kvpb.Request{Value: &kvpb.Request_Cput{Cput: &kvpb.ConditionalPutRequest{
		Key: []byte(k), Value: []byte(v), Expected: exp, ExpectedExists: exists}}}
}

func del(k string) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: []byte(k)}}}
}

func delRange(start, end string) *kvpb.Request {
	return &kvpb.Request{Value: &kvpb.Request_DeleteRange{DeleteRange: &kvpb.DeleteRangeRequest{StartKey: []byte(start), EndKey: []byte(end)}}}
}

// entry makes raft entry idx carrying cmd.
func entry(t testing.TB, idx uint64, cmd *kvpb.Command) *raft.Log {
	t.Helper()
	data, err := proto.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
}

func writes(ts uint64, reqs ...*kvpb.Request) *kvpb.Command {
	return &kvpb.Command{Timestamp: ts, Writes: reqs}
}

// apply applies entries in one ApplyBatch and returns their results.
func apply(t testing.TB, r *Replica, logs ...*raft.Log) []*ApplyResult {
	t.Helper()
	var out []*ApplyResult
	for i, res := range r.ApplyBatch(logs) {
		if res == nil {
			out = append(out, nil)
			continue
		}
		ar, ok := res.(*ApplyResult)
		if !ok {
			t.Fatalf("entry %d: result %T", logs[i].Index, res)
		}
		out = append(out, ar)
	}
	return out
}

// apply1 applies one entry and returns its result.
func apply1(t testing.TB, r *Replica, idx uint64, cmd *kvpb.Command) *ApplyResult {
	t.Helper()
	return apply(t, r, entry(t, idx, cmd))[0]
}

func mustOK(t testing.TB, res *ApplyResult) {
	t.Helper()
	if res == nil || res.Err != nil {
		t.Fatalf("apply failed: %v", res)
	}
}

// read returns the newest visible version of k.
func read(t testing.TB, eng *engine.Engine, k string) (string, engine.Timestamp, bool) {
	t.Helper()
	v, ts, found, err := Get(eng, []byte(k), engine.MaxTimestamp)
	if err != nil {
		t.Fatal(err)
	}
	return string(v), ts, found
}

func wantValue(t testing.TB, eng *engine.Engine, k, v string) {
	t.Helper()
	if got, _, ok := read(t, eng, k); !ok || got != v {
		t.Fatalf("%s = %q (found %v), want %q", k, got, ok, v)
	}
}

func wantAbsent(t testing.TB, eng *engine.Engine, k string) {
	t.Helper()
	if got, ts, ok := read(t, eng, k); ok {
		t.Fatalf("%s = %q@%d, want absent", k, got, ts)
	}
}

// digest is a digest of every stored entry (every version) of the user
// keys in [start, end).
func digest(t testing.TB, eng *engine.Engine, start, end string) string {
	t.Helper()
	snap := eng.NewSnapshot()
	defer snap.Close()
	h := sha256.New()
	if _, err := snap.ExportSpan([]byte(start), []byte(end), h); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func state(r *Replica) (applied uint64, lastTS engine.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.applied, r.mu.lastTS
}

func TestApplyRejectsWritesOutsideSpan(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "b", "m", 1), nil)
	mustOK(t, apply1(t, r, 1, writes(100, put("b1", "v"))))
	before := digest(t, eng, "a", "z")

	for i, cmd := range []*kvpb.Command{
		writes(200, put("c", "x"), put("z", "y")), // the second is past the end
		writes(200, put("a", "y"), put("c", "x")), // the first is before the start
		writes(200, put("c", "x"), put("m", "y")), // the end key is outside
		writes(200, put("c", "x"), del("zz")),     // a delete outside
		writes(200, put("c", "x"), cput("a", "1", "", false)),
	} {
		res := apply1(t, r, uint64(i+2), cmd)
		if res == nil || res.Err.GetKeyMismatch() == nil {
			t.Fatalf("command %d: %v, want a key mismatch", i, res)
		}
		if d := res.Err.GetKeyMismatch().GetDesc(); !proto.Equal(d, r.Desc()) {
			t.Fatalf("command %d: mismatch carries descriptor %v", i, d)
		}
	}
	// No trace: not a version of any key, not the timestamp, but the
	// entries are consumed.
	if after := digest(t, eng, "a", "z"); after != before {
		t.Fatal("a rejected command changed the engine")
	}
	wantAbsent(t, eng, "c")
	if applied, ts := state(r); applied != 6 || ts != 100 {
		t.Fatalf("applied %d, last timestamp %d; want 6, 100", applied, ts)
	}
	// The reopened replica agrees.
	if applied, ts := state(open(t, eng, 5, nil, nil)); applied != 6 || ts != 100 {
		t.Fatalf("after reopen: applied %d, last timestamp %d; want 6, 100", applied, ts)
	}
}

// TestApplyDeleteRangeStaysInSpan checks that a delete range wider than the
// span deletes only the span's keys: the keys beside it belong to other
// ranges on the same engine.
func TestApplyDeleteRangeStaysInSpan(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	b := eng.NewBatch()
	for _, k := range []string{"a", "a9", "m", "x"} {
		if err := b.PutMVCC([]byte(k), 1, encodeVersion(versionValue, 1, []byte("other range"))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	r := open(t, eng, 5, testDesc(5, "b", "m", 1), nil)
	mustOK(t, apply1(t, r, 1, writes(100, put("b", "1"), put("c", "2"), put("l", "3"))))
	res := apply1(t, r, 2, writes(200, delRange("a", "zz")))
	mustOK(t, res)
	if n := res.Responses[0].GetDeleteRange().GetDeleted(); n != 3 {
		t.Fatalf("delete range deleted %d keys, want 3", n)
	}
	for _, k := range []string{"b", "c", "l"} {
		wantAbsent(t, eng, k)
	}
	for _, k := range []string{"a", "a9", "m", "x"} {
		wantValue(t, eng, k, "other range")
	}
}

func TestApplyConditionalPut(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	idx := uint64(0)
	step := func(cmd *kvpb.Command) *ApplyResult {
		idx++
		return apply1(t, r, idx, cmd)
	}
	failed := func(res *ApplyResult, exists bool, actual string) {
		t.Helper()
		cf := res.Err.GetConditionFailed()
		if cf == nil || cf.ActualExists != exists || string(cf.Actual) != actual {
			t.Fatalf("result %v, want condition failed (exists %v, actual %q)", res, exists, actual)
		}
	}

	mustOK(t, step(writes(10, cput("k", "v1", "", false)))) // absent, as expected
	wantValue(t, eng, "k", "v1")
	failed(step(writes(20, cput("k", "v2", "", false))), true, "v1") // expected absent
	failed(step(writes(20, cput("k", "v2", "other", true))), true, "v1")
	failed(step(writes(20, cput("k", "v2", "", true))), true, "v1") // expected empty value
	mustOK(t, step(writes(20, cput("k", "v2", "v1", true))))
	wantValue(t, eng, "k", "v2")
	failed(step(writes(30, cput("absent", "x", "v", true))), false, "")
	// A deleted key is absent.
	mustOK(t, step(writes(30, del("k"))))
	failed(step(writes(40, cput("k", "v3", "v2", true))), false, "")
	mustOK(t, step(writes(40, cput("k", "v3", "", false))))
	wantValue(t, eng, "k", "v3")
	// An empty value exists and is not absence.
	mustOK(t, step(writes(50, put("empty", ""))))
	failed(step(writes(60, cput("empty", "x", "", false))), true, "")
	mustOK(t, step(writes(60, cput("empty", "x", "", true))))

	// A failed condition rejects the whole command: the put beside it
	// leaves no trace.
	before := digest(t, eng, "a", "z")
	failed(step(writes(70, put("side", "1"), cput("k", "v4", "wrong", true))), true, "v3")
	if digest(t, eng, "a", "z") != before {
		t.Fatal("a command with a failed condition changed the engine")
	}

	// In one ApplyBatch, a condition sees the writes of the entries before
	// it, which are not yet committed to the engine when it is checked.
	res := apply(t, r,
		entry(t, idx+1, writes(80, put("p", "1"))),
		entry(t, idx+2, writes(81, cput("p", "2", "1", true))),
		entry(t, idx+3, writes(82, cput("p", "3", "1", true))),
		entry(t, idx+4, writes(83, del("p"))),
		entry(t, idx+5, writes(84, cput("p", "4", "", false))),
	)
	mustOK(t, res[0])
	mustOK(t, res[1])
	failed(res[2], true, "2")
	mustOK(t, res[3])
	if !res[3].Responses[0].GetDelete().GetFound() {
		t.Fatal("delete in the same batch as the put did not find the key")
	}
	mustOK(t, res[4])
	wantValue(t, eng, "p", "4")
}

// TestApplyWritesOfOneCommandInOrder checks that the writes of one command
// take effect in order, as if they were sent one by one: a later write sees
// the earlier ones.
func TestApplyWritesOfOneCommandInOrder(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	res := apply1(t, r, 1, writes(10, put("k", "1"), del("k")))
	mustOK(t, res)
	if !res.Responses[1].GetDelete().GetFound() {
		t.Error("the delete did not find the key put before it in the same command")
	}
	wantAbsent(t, eng, "k")

	res = apply1(t, r, 2, writes(20, put("d", "1"), put("e", "1"), delRange("d", "f")))
	mustOK(t, res)
	if n := res.Responses[2].GetDeleteRange().GetDeleted(); n != 2 {
		t.Errorf("delete range deleted %d keys put before it in the same command, want 2", n)
	}
	wantAbsent(t, eng, "d")
	wantAbsent(t, eng, "e")

	// A condition sees the writes before it in the same command.
	res = apply1(t, r, 3, writes(30, put("c", "1"), cput("c", "2", "1", true)))
	mustOK(t, res)
	wantValue(t, eng, "c", "2")
	res = apply1(t, r, 4, writes(40, cput("n", "1", "", false), cput("n", "2", "", false)))
	if res.Err.GetConditionFailed() == nil {
		t.Errorf("second create of the same key in one command: %v, want condition failed", res)
	}
}

func TestApplySkipsAppliedEntriesAfterReopen(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	var logs []*raft.Log
	for i := uint64(1); i <= 5; i++ {
		logs = append(logs, entry(t, i, writes(i*10, put(fmt.Sprintf("k%d", i), "first"))))
	}
	for _, res := range apply(t, r, logs...) {
		mustOK(t, res)
	}
	// A restart: raft replays the log from its last snapshot (with
	// NoSnapshotRestoreOnStart), here from entry 3, with different bytes
	// for the entries already applied, to show they are not looked at.
	r = open(t, eng, 5, nil, nil)
	if got := r.Applied(); got != 5 {
		t.Fatalf("reopened replica applied %d, want 5", got)
	}
	var replay []*raft.Log
	for i := uint64(3); i <= 7; i++ {
		replay = append(replay, entry(t, i, writes(i*10, put(fmt.Sprintf("k%d", i), "replayed"))))
	}
	res := apply(t, r, replay...)
	for i, idx := range []uint64{3, 4, 5} {
		if res[i].Err.GetInvalid() == nil {
			t.Fatalf("entry %d, already applied, gave %v", idx, res[i])
		}
	}
	mustOK(t, res[3])
	mustOK(t, res[4])
	for i := 1; i <= 5; i++ {
		wantValue(t, eng, fmt.Sprintf("k%d", i), "first")
	}
	wantValue(t, eng, "k6", "replayed")
	if r.Applied() != 7 {
		t.Fatalf("applied %d, want 7", r.Applied())
	}

	// Entries other than commands advance the applied index only, and a
	// command that cannot be decoded is a deterministic rejection.
	res = apply(t, r,
		&raft.Log{Index: 8, Term: 2, Type: raft.LogConfiguration, Data: []byte("cfg")},
		&raft.Log{Index: 9, Term: 2, Type: raft.LogNoop},
		&raft.Log{Index: 10, Term: 2, Type: raft.LogCommand, Data: []byte{0xff, 0xff, 0xff}},
	)
	if res[0] != nil || res[1] != nil || res[2].Err.GetInvalid() == nil {
		t.Fatalf("results %v", res)
	}
	if got := open(t, eng, 5, nil, nil).Applied(); got != 10 {
		t.Fatalf("applied %d after reopen, want 10", got)
	}
}

// TestApplyTimestampsMonotonic checks that versions only grow: a leader
// whose clock is behind the last write's timestamp writes just above it.
func TestApplyTimestampsMonotonic(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	const t0 = 1_000_000
	for i, c := range []struct {
		proposed uint64
		want     engine.Timestamp
	}{
		{t0, t0},
		{t0 - 5000, t0 + 1}, // a new leader with a slower clock
		{t0 + 1, t0 + 2},    // equal to the last
		{0, t0 + 3},         // no clock at all
		{t0 + 100, t0 + 100},
	} {
		v := fmt.Sprintf("v%d", i)
		mustOK(t, apply1(t, r, uint64(i+1), writes(c.proposed, put("k", v))))
		got, ts, _ := read(t, eng, "k")
		if got != v || ts != c.want {
			t.Fatalf("write %d proposed at %d: newest is %q@%d, want %q@%d", i, c.proposed, got, ts, v, c.want)
		}
	}
	// The last timestamp survives a restart.
	r = open(t, eng, 5, nil, nil)
	mustOK(t, apply1(t, r, 6, writes(1, put("k", "after restart"))))
	if _, ts, _ := read(t, eng, "k"); ts != t0+101 {
		t.Fatalf("after restart a write proposed at 1 got %d, want %d", ts, t0+101)
	}
	// Writes of one command share one timestamp.
	res := apply1(t, r, 7, writes(1, put("x", "1"), put("y", "2")))
	mustOK(t, res)
	_, tx, _ := read(t, eng, "x")
	_, ty, _ := read(t, eng, "y")
	if tx != ty || tx != t0+102 {
		t.Fatalf("one command's writes at %d and %d, want both %d", tx, ty, t0+102)
	}
}

// randomCommand makes a command over a few keys, with timestamps that
// sometimes go backwards and keys that sometimes fall outside [b, t).
func randomCommand(rng *rand.Rand, ts *uint64) *kvpb.Command {
	key := func() string { return string(rune('a'+rng.IntN(22))) + fmt.Sprint(rng.IntN(4)) }
	*ts += uint64(rng.IntN(100)) - 30
	cmd := &kvpb.Command{Timestamp: *ts}
	for range 1 + rng.IntN(3) {
		var req *kvpb.Request
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			req = put(key(), fmt.Sprint(rng.IntN(3)))
		case 4, 5:
			req = cput(key(), fmt.Sprint(rng.IntN(3)), fmt.Sprint(rng.IntN(3)), rng.IntN(3) > 0)
		case 6, 7:
			req = del(key())
		case 8:
			a, b := key(), key()
			if a > b {
				a, b = b, a
			}
			req = delRange(a, b+"0")
		case 9:
			req = put("zz", "outside") // rejected
		}
		cmd.Writes = append(cmd.Writes, req)
	}
	return cmd
}

// TestApplyIsDeterministic applies one random log on three engines,
// batched differently (all at once, one by one, random chunks), and checks
// that the results and the stored bytes are the same.
func TestApplyIsDeterministic(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var logs []*raft.Log
	ts := uint64(1000)
	for i := uint64(1); i <= 400; i++ {
		logs = append(logs, entry(t, i, randomCommand(rng, &ts)))
	}
	type run struct {
		eng     *engine.Engine
		r       *Replica
		results []*ApplyResult
	}
	var runs []*run
	for _, chunk := range []func() int{
		func() int { return len(logs) },
		func() int { return 1 },
		func() int { return 1 + rng.IntN(20) },
	} {
		eng := openEngine(t, vfs.NewMem())
		x := &run{eng: eng, r: open(t, eng, 5, testDesc(5, "b", "t", 1), nil)}
		for rest := logs; len(rest) > 0; {
			n := min(chunk(), len(rest))
			x.results = append(x.results, apply(t, x.r, rest[:n]...)...)
			rest = rest[n:]
		}
		runs = append(runs, x)
	}
	want := digest(t, runs[0].eng, "a", "zz")
	wantApplied, wantTS := state(runs[0].r)
	for i, x := range runs[1:] {
		if got := digest(t, x.eng, "a", "zz"); got != want {
			t.Errorf("run %d stored different bytes than run 0", i+1)
		}
		if a, ts := state(x.r); a != wantApplied || ts != wantTS {
			t.Errorf("run %d: applied %d, last timestamp %d; run 0: %d, %d", i+1, a, ts, wantApplied, wantTS)
		}
		for j, res := range x.results {
			if !proto.Equal(res.Err, runs[0].results[j].Err) || len(res.Responses) != len(runs[0].results[j].Responses) {
				t.Fatalf("run %d entry %d: %v, run 0: %v", i+1, j+1, res, runs[0].results[j])
			}
			for k := range res.Responses {
				if !proto.Equal(res.Responses[k], runs[0].results[j].Responses[k]) {
					t.Fatalf("run %d entry %d response %d: %v, run 0: %v", i+1, j+1, k, res.Responses[k], runs[0].results[j].Responses[k])
				}
			}
		}
	}
}

func splitCmd(left, right *kvpb.RangeDescriptor) *kvpb.Command {
	return &kvpb.Command{Split: &kvpb.SplitTrigger{Left: left, Right: right}}
}

// halves returns the two halves of d split at key, as Replica.Split makes
// them.
func halves(d *kvpb.RangeDescriptor, key string, rightID uint64) (left, right *kvpb.RangeDescriptor) {
	left = proto.Clone(d).(*kvpb.RangeDescriptor)
	left.EndKey = []byte(key)
	left.Generation++
	right = &kvpb.RangeDescriptor{RangeId: rightID, StartKey: []byte(key), EndKey: d.EndKey, Generation: 1, Replicas: left.Replicas}
	return left, right
}

func TestApplySplit(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	desc := testDesc(5, "a", "z", 3)
	var opened []*kvpb.RangeDescriptor
	r := open(t, eng, 5, desc, func(right *kvpb.RangeDescriptor) {
		// Called once the split is in the engine.
		if d, err := LoadDescriptor(eng, right.RangeId); err != nil || !proto.Equal(d, right) {
			t.Errorf("OnSplit called before the right-hand side is stored: %v, %v", d, err)
		}
		opened = append(opened, right)
	})
	mustOK(t, apply1(t, r, 1, writes(100, put("b", "left"), put("n", "right"))))

	// Splits that do not match the descriptor are rejected, and change
	// nothing.
	left, right := halves(desc, "m", 9)
	bad := map[string]func(l, r *kvpb.RangeDescriptor){
		"stale generation": func(l, _ *kvpb.RangeDescriptor) { l.Generation = desc.Generation },
		"other range":      func(l, _ *kvpb.RangeDescriptor) { l.RangeId = 6 },
		"left start moved": func(l, _ *kvpb.RangeDescriptor) { l.StartKey = []byte("b") },
		"right end moved":  func(_, r *kvpb.RangeDescriptor) { r.EndKey = []byte("y") },
		"halves apart":     func(_, r *kvpb.RangeDescriptor) { r.StartKey = []byte("n") },
		"key at the start": func(l, r *kvpb.RangeDescriptor) { l.EndKey, r.StartKey = []byte("a"), []byte("a") },
		"key at the end":   func(l, r *kvpb.RangeDescriptor) { l.EndKey, r.StartKey = []byte("z"), []byte("z") },
	}
	idx := uint64(1)
	before := digest(t, eng, "a", "z")
	for name, mutate := range bad {
		l, rr := proto.Clone(left).(*kvpb.RangeDescriptor), proto.Clone(right).(*kvpb.RangeDescriptor)
		mutate(l, rr)
		idx++
		if res := apply1(t, r, idx, splitCmd(l, rr)); res.Err.GetInvalid() == nil {
			t.Fatalf("%s: %v, want invalid", name, res)
		}
	}
	if !proto.Equal(r.Desc(), desc) || len(opened) != 0 {
		t.Fatalf("rejected splits changed the descriptor to %v or opened %v", r.Desc(), opened)
	}
	if _, err := LoadDescriptor(eng, 9); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("rejected splits stored r9: %v", err)
	}
	if digest(t, eng, "a", "z") != before {
		t.Fatal("rejected splits changed user data")
	}

	idx++
	mustOK(t, apply1(t, r, idx, splitCmd(left, right)))
	if !proto.Equal(r.Desc(), left) {
		t.Fatalf("descriptor after split: %v", r.Desc())
	}
	if len(opened) != 1 || !proto.Equal(opened[0], right) {
		t.Fatalf("OnSplit got %v", opened)
	}
	if d, err := LoadDescriptor(eng, 5); err != nil || !proto.Equal(d, left) {
		t.Fatalf("stored left descriptor: %v, %v", d, err)
	}
	if !NeedsBootstrap(eng, 9) {
		t.Fatal("the right-hand side is not marked for bootstrap")
	}
	// The right-hand replica opens from what the split stored: its
	// descriptor, nothing applied, and the left's last timestamp, so that
	// its versions keep growing too.
	rr := open(t, eng, 9, nil, nil)
	if a, ts := state(rr); !proto.Equal(rr.Desc(), right) || a != 0 || ts != 100 {
		t.Fatalf("right-hand replica: %v applied %d last timestamp %d", rr.Desc(), a, ts)
	}
	// The data stays where it is; each side now rejects the other's keys.
	wantValue(t, eng, "n", "right")
	idx++
	if res := apply1(t, r, idx, writes(200, put("n", "x"))); res.Err.GetKeyMismatch() == nil {
		t.Fatalf("left accepted a right-hand key: %v", res)
	}
	if res := apply1(t, rr, 1, writes(200, put("b", "x"))); res.Err.GetKeyMismatch() == nil {
		t.Fatalf("right accepted a left-hand key: %v", res)
	}
	mustOK(t, apply1(t, rr, 2, writes(50, put("n", "r2"))))
	if _, ts, _ := read(t, eng, "n"); ts != 101 {
		t.Fatalf("first write on the right-hand side at %d, want 101", ts)
	}
	// Replaying the split after a restart is skipped like any entry.
	r = open(t, eng, 5, nil, nil)
	if res := apply1(t, r, idx-1, splitCmd(left, right)); res.Err.GetInvalid() == nil {
		t.Fatalf("replayed split: %v", res)
	}

	// A node that holds no replica of the right-hand side stores nothing
	// for it.
	eng2 := openEngine(t, vfs.NewMem())
	d2 := testDesc(5, "a", "z", 3)
	d2.Replicas = d2.Replicas[1:] // n2, n3
	r2 := open(t, eng2, 5, d2, func(*kvpb.RangeDescriptor) { t.Error("OnSplit on a node without the right-hand side") })
	l2, rt2 := halves(d2, "m", 9)
	mustOK(t, apply1(t, r2, 1, splitCmd(l2, rt2)))
	if _, err := LoadDescriptor(eng2, 9); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("r9 stored on a node that holds no replica of it: %v", err)
	}
}

// TestSplitIsAtomicAcrossCrashes applies a split among unsynced entries
// on a crashable filesystem, then recovers from crashes that keep random
// parts of the unsynced data. Each recovery must hold both new descriptors
// with the left's applied index past the split, or neither; and exactly
// the writes of the entries up to its applied index.
func TestSplitIsAtomicAcrossCrashes(t *testing.T) {
	fs := vfs.NewCrashableMem()
	eng := openEngine(t, fs)
	desc := testDesc(5, "a", "z", 1)
	r := open(t, eng, 5, desc, nil) // stores the descriptor, synced
	left, right := halves(desc, "m", 9)
	const splitAt, entries = 20, 30
	big := string(bytes.Repeat([]byte("v"), 2000)) // fills WAL blocks
	syncWAL := func() {
		b := eng.NewBatch()
		if err := b.Put([]byte("\x01zsync"), nil); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
	}
	var clones []*vfs.MemFS
	for i := uint64(1); i <= entries; i++ {
		cmd := writes(i, put(fmt.Sprintf("k%03d", i), big))
		if i == splitAt {
			cmd = splitCmd(left, right)
		}
		mustOK(t, apply1(t, r, i, cmd))
		switch {
		case i == splitAt-2 || i == splitAt+6:
			syncWAL() // applying never syncs; raft's log writes do
		case i >= splitAt-1 && i <= splitAt+8:
			for s := range uint64(4) {
				clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(i, s))}))
			}
		}
	}
	split, whole := 0, 0
	for n, clone := range clones {
		e := openEngine(t, clone)
		rep := open(t, e, 5, nil, nil)
		d, applied := rep.Desc(), rep.Applied()
		rd, rerr := LoadDescriptor(e, 9)
		switch {
		case proto.Equal(d, left):
			split++
			if rerr != nil || !proto.Equal(rd, right) || applied < splitAt {
				t.Fatalf("crash %d: left is split at applied %d but right-hand side is %v, %v", n, applied, rd, rerr)
			}
		case proto.Equal(d, desc):
			whole++
			if !errors.Is(rerr, engine.ErrNotFound) || applied >= splitAt {
				t.Fatalf("crash %d: range is whole at applied %d but right-hand side is %v, %v", n, applied, rd, rerr)
			}
		default:
			t.Fatalf("crash %d: descriptor %v", n, d)
		}
		for i := uint64(1); i <= entries; i++ {
			_, _, found := read(t, e, fmt.Sprintf("k%03d", i))
			if want := i != splitAt && i <= applied; found != want {
				t.Fatalf("crash %d: applied %d but k%03d found=%v", n, applied, i, found)
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d recoveries after the split, %d before it", split, whole)
	if split == 0 || whole == 0 {
		t.Fatalf("the crashes did not land on both sides of the split (%d after, %d before)", split, whole)
	}
}

// memSink is a raft.SnapshotSink over a buffer.
type memSink struct {
	bytes.Buffer
	closed, canceled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.canceled = true; return nil }

// persist takes a raft snapshot of r, which records no data, and returns
// what replication's snapshot store would send for it: an export of r's
// current state.
func persist(t testing.TB, r *Replica) []byte {
	t.Helper()
	snap, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.canceled || sink.Len() != 0 {
		t.Fatalf("sink closed %v canceled %v, %d bytes", sink.closed, sink.canceled, sink.Len())
	}
	var out bytes.Buffer
	if err := r.ExportState(&out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func restore(r *Replica, b []byte) error { return r.Restore(io.NopCloser(bytes.NewReader(b))) }

func TestSnapshotRoundTrip(t *testing.T) {
	src := openEngine(t, vfs.NewMem())
	desc := testDesc(5, "b", "m", 4)
	r := open(t, src, 5, desc, nil)
	// Several versions, tombstones and a key on each edge.
	mustOK(t, apply1(t, r, 1, writes(10, put("b", "1"), put("c", "1"), put("l\xff", "edge"))))
	mustOK(t, apply1(t, r, 2, writes(20, put("c", "2"), del("b"), put("d", ""))))
	mustOK(t, apply1(t, r, 3, writes(30, put("e", "3"))))
	// Another range's data on the source engine is not part of it.
	b := src.NewBatch()
	_ = b.PutMVCC([]byte("m"), 5, encodeVersion(versionValue, 5, []byte("next range")))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	snap := persist(t, r)

	// The target holds an older state of the range (other keys, an older
	// descriptor) and other ranges' data on both sides.
	dst := openEngine(t, vfs.NewMem())
	old := testDesc(5, "b", "m", 2)
	r2 := open(t, dst, 5, old, nil)
	mustOK(t, apply1(t, r2, 1, writes(5, put("h-stale", "x"), put("c", "old"))))
	b = dst.NewBatch()
	_ = b.PutMVCC([]byte("a"), 1, encodeVersion(versionValue, 1, []byte("left neighbour")))
	_ = b.PutMVCC([]byte("m"), 1, encodeVersion(versionValue, 1, []byte("right neighbour")))
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}

	if err := restore(r2, snap); err != nil {
		t.Fatal(err)
	}
	if digest(t, dst, "b", "m") != digest(t, src, "b", "m") {
		t.Fatal("restored span differs from the source's")
	}
	wantAbsent(t, dst, "h-stale")
	wantValue(t, dst, "a", "left neighbour")
	wantValue(t, dst, "m", "right neighbour")
	for _, x := range []*Replica{r2, open(t, dst, 5, nil, nil)} { // live, and reopened
		if a, ts := state(x); a != 3 || ts != 30 || !proto.Equal(x.Desc(), desc) {
			t.Fatalf("restored state: applied %d, last timestamp %d, %v", a, ts, x.Desc())
		}
	}
	// It carries on from the snapshot's index.
	if res := apply1(t, r2, 3, writes(40, put("x", "1"))); res.Err.GetInvalid() == nil {
		t.Fatalf("entry at the snapshot's index applied again: %v", res)
	}
	mustOK(t, apply1(t, r2, 4, writes(1, put("f", "4"))))
	if _, ts, _ := read(t, dst, "f"); ts != 31 {
		t.Fatalf("first write after restore at %d, want 31", ts)
	}
}

func TestSnapshotRestoreRejectsBadSnapshots(t *testing.T) {
	src := openEngine(t, vfs.NewMem())
	r := open(t, src, 5, testDesc(5, "b", "m", 4), nil)
	mustOK(t, apply1(t, r, 1, writes(10, put("c", "1"), put("d", "2"))))
	good := persist(t, r)

	other := open(t, src, 6, testDesc(6, "m", "z", 1), nil)
	wrongRange := persist(t, other)

	dst := openEngine(t, vfs.NewMem())
	r2 := open(t, dst, 5, testDesc(5, "b", "m", 2), nil)
	mustOK(t, apply1(t, r2, 1, writes(5, put("c", "old"))))
	before := digest(t, dst, "", "\xff")

	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	for name, b := range map[string][]byte{
		"empty":            nil,
		"bad magic":        flip(0),
		"truncated header": good[:20],
		"truncated data":   good[:len(good)-10],
		"corrupt data":     flip(len(good) - 30),
		"other range":      wrongRange,
	} {
		if err := restore(r2, b); err == nil {
			t.Fatalf("%s: restored", name)
		}
		if digest(t, dst, "", "\xff") != before {
			t.Fatalf("%s: a failed restore changed the engine", name)
		}
		if a, _ := state(r2); a != 1 || r2.Desc().Generation != 2 {
			t.Fatalf("%s: a failed restore changed the replica: applied %d, %v", name, a, r2.Desc())
		}
	}
}

// TestSnapshotMakesAppliedStateDurable: raft truncates its log once a
// snapshot is persisted, so everything applied before the snapshot must
// survive a crash even though applying does not sync.
func TestSnapshotMakesAppliedStateDurable(t *testing.T) {
	fs := vfs.NewCrashableMem()
	eng := openEngine(t, fs)
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	for i := uint64(1); i <= 20; i++ {
		mustOK(t, apply1(t, r, i, writes(i, put(fmt.Sprintf("k%02d", i), "v"))))
	}
	persist(t, r)
	crashed := openEngine(t, fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0}))
	if got := open(t, crashed, 5, nil, nil).Applied(); got != 20 {
		t.Fatalf("applied %d after a crash following the snapshot, want 20", got)
	}
	wantValue(t, crashed, "k20", "v")
}

// TestExportStateDuringApplies: a snapshot is exported while the leader
// keeps applying (replication's store exports when it sends one), so the
// applied index it names must be the one its data is at: the receiver
// skips the entries up to that index.
func TestExportStateDuringApplies(t *testing.T) {
	src := openEngine(t, vfs.NewMem())
	r := open(t, src, 5, testDesc(5, "a", "z", 1), nil)
	const maxExports = 64
	exports := make(chan []byte, maxExports)
	var exported atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(exports)
		for {
			select {
			case <-done:
				return
			default:
			}
			if exported.Load() == maxExports {
				return
			}
			var b bytes.Buffer
			if err := r.ExportState(&b); err != nil {
				t.Error(err)
				return
			}
			exports <- b.Bytes()
			exported.Add(1)
			// The next export after another apply, so that exports are
			// spread over the applies whatever the scheduling.
			for at, _ := state(r); ; runtime.Gosched() {
				select {
				case <-done:
					return
				default:
				}
				if now, _ := state(r); now != at {
					break
				}
			}
		}
	}()
	// Apply until the exporter has run several times during the applies,
	// however the two goroutines are scheduled.
	for exported.Load() == 0 {
		runtime.Gosched()
	}
	n := uint64(0)
	for first := exported.Load(); n < 300 || (exported.Load()-first < 4 && exported.Load() < maxExports && n < 100000); {
		n++
		mustOK(t, apply1(t, r, n, writes(n, put(fmt.Sprintf("k%06d", n), "v"))))
	}
	close(done)
	seen := map[uint64]bool{}
	for b := range exports {
		dst := openEngine(t, vfs.NewMem())
		r2 := open(t, dst, 5, testDesc(5, "a", "z", 1), nil)
		if err := restore(r2, b); err != nil {
			t.Fatal(err)
		}
		applied, _ := state(r2)
		seen[applied] = true
		// Entry i wrote k<i>: the export holds exactly k1..k<applied>.
		var count uint64
		var last []byte
		err := dst.ScanMVCC([]byte("a"), []byte("z"), engine.MaxTimestamp, 0, func(k []byte, _ engine.Timestamp, _ []byte) error {
			count, last = count+1, append(last[:0], k...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("k%06d", applied); count != applied || (applied > 0 && string(last) != want) {
			t.Fatalf("export at applied index %d holds %d keys, the last %q; want %d, the last %q", applied, count, last, applied, want)
		}
	}
	if len(seen) < 2 {
		t.Fatalf("exports at %d distinct indexes: none raced the applies", len(seen))
	}
}

// TestMergeWaitRecordsNothingAsApplied: while a merge's left-hand side
// waits for its node's right-hand replica (Config.WaitMerge), the engine
// and the published state say the merge is not applied yet. A crash, or a
// snapshot exported, during the wait must not record the merge's index
// with the descriptor from before it: the merge would never be applied
// there.
func TestMergeWaitRecordsNothingAsApplied(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	desc := testDesc(5, "a", "m", 3)
	right := testDesc(6, "m", "z", 4)
	right.MergingInto = 5
	merged := proto.Clone(desc).(*kvpb.RangeDescriptor)
	merged.EndKey, merged.Generation = right.EndKey, 4
	const mergeAt = 3
	var during []string
	var r *Replica
	r, err := Open(Config{RangeID: 5, NodeID: 1, Engine: eng, Logger: quiet, WaitMerge: func(id, index uint64) error {
		v, err := eng.Get(appliedKey(5))
		if err != nil {
			return err
		}
		stored := binary.BigEndian.Uint64(v)
		d, err := LoadDescriptor(eng, 5)
		if err != nil {
			return err
		}
		if stored >= mergeAt || !proto.Equal(d, desc) {
			during = append(during, fmt.Sprintf("stored applied %d with end %q", stored, d.EndKey))
		}
		if got, _ := state(r); got >= mergeAt {
			during = append(during, fmt.Sprintf("published applied %d", got))
		}
		return nil
	}}, desc)
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, apply1(t, r, 1, writes(100, put("b", "left"))))
	mustOK(t, apply1(t, r, mergeAt, &kvpb.Command{Merge: &kvpb.MergeTrigger{Left: merged, Right: right, RightApplied: 7}}))
	if len(during) > 0 {
		t.Fatalf("during the merge's wait: %v", during)
	}
	if applied, _ := state(r); applied != mergeAt || !proto.Equal(r.Desc(), merged) {
		t.Fatalf("after the merge: applied %d, descriptor %v", applied, r.Desc())
	}
}

// TestAppliedIndexNeverAheadOfEffects applies, in one batch, entries whose
// commands flush the batch before they run (a one-phase commit, whose
// conditions read the engine). After every flush, what a lazy snapshot
// export or a crash would find must hold the effects of every entry up to
// the stored applied index: a follower restored from it, or this node
// after a restart, skips those entries. (A one-phase commit's flush once
// recorded its own index before its write; an export taken then lost the
// write on the follower, as the set Jepsen test found.)
func TestAppliedIndexNeverAheadOfEffects(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 5, testDesc(5, "a", "z", 1), nil)
	wrote := map[uint64]string{1: "b", 2: "k1", 3: "k2", 4: "c"}
	var bad []string
	afterFlush = func(*Replica) {
		v, err := eng.Get(appliedKey(5))
		if err != nil {
			bad = append(bad, err.Error())
			return
		}
		stored := binary.BigEndian.Uint64(v)
		for i := uint64(1); i <= stored; i++ {
			if _, _, ok := read(t, eng, wrote[i]); !ok {
				bad = append(bad, fmt.Sprintf("applied %d stored without %s (entry %d)", stored, wrote[i], i))
			}
		}
	}
	defer func() { afterFlush = nil }()
	mut := func(k string) *kvpb.Mutation {
		return &kvpb.Mutation{Key: []byte(k), Op: kvpb.LockOp_LOCK_PUT, Value: []byte("v")}
	}
	for i, res := range apply(t, r,
		entry(t, 1, writes(100, put("b", "v"))),
		entry(t, 2, &kvpb.Command{Writes: []*kvpb.Request{onePCReq(110, 111, mut("k1"))}}),
		entry(t, 3, &kvpb.Command{Writes: []*kvpb.Request{onePCReq(120, 121, mut("k2"))}}),
		entry(t, 4, writes(130, put("c", "v")))) {
		if res == nil || res.Err != nil {
			t.Fatalf("entry %d: %v", i+1, res)
		}
	}
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	if applied, _ := state(r); applied != 4 {
		t.Fatalf("applied %d after the batch, want 4", applied)
	}
}
