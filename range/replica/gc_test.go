package replica

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

func gcCmd(threshold uint64) *kvpb.Command {
	return &kvpb.Command{Writes: []*kvpb.Request{{Value: &kvpb.Request_Gc{Gc: &kvpb.GCRequest{Threshold: threshold}}}}}
}

// versions lists the timestamps of every version of k, newest first, by
// probing down from the top.
func versions(t *testing.T, eng *engine.Engine, k string) []engine.Timestamp {
	t.Helper()
	var out []engine.Timestamp
	ts := engine.MaxTimestamp
	for {
		_, vts, err := eng.GetMVCC([]byte(k), ts)
		if err != nil {
			return out
		}
		out = append(out, vts)
		if vts <= 1 {
			return out
		}
		ts = vts - 1
	}
}

func TestGCKeepsWhatReadsAtOrAboveThresholdSee(t *testing.T) {
	eng := openEngine(t, vfs.NewMem())
	r := open(t, eng, 1, testDesc(1, "a", "z", 1), nil)
	idx := uint64(0)
	next := func(cmd *kvpb.Command) *ApplyResult {
		idx++
		return apply1(t, r, idx, cmd)
	}
	mustOK(t, next(writes(10, put("k", "v10"), put("d", "d10"), put("old", "o10"))))
	mustOK(t, next(writes(20, put("k", "v20"), del("d"))))
	mustOK(t, next(writes(30, put("k", "v30"))))

	res := next(gcCmd(25))
	mustOK(t, res)
	if got := res.Responses[0].GetGc().GetKeys(); got != 3 {
		t.Errorf("GC looked at %d keys, want 3 (k, d, old)", got)
	}
	// k keeps its version above the threshold and its newest below it.
	if got := versions(t, eng, "k"); len(got) != 2 || got[0] != 30 || got[1] != 20 {
		t.Errorf("versions of k after GC at 25: %v, want [30 20]", got)
	}
	// d was deleted at 20 <= 25: nothing of it is left.
	if got := versions(t, eng, "d"); len(got) != 0 {
		t.Errorf("versions of deleted d after GC: %v, want none", got)
	}
	// old's only version stays: it is what reads at 25 and later see.
	if got := versions(t, eng, "old"); len(got) != 1 {
		t.Errorf("versions of old after GC: %v, want one", got)
	}
	wantValue(t, eng, "k", "v30")
	wantValue(t, eng, "old", "o10")
	wantAbsent(t, eng, "d")

	// Reads below the threshold are refused; at it, they are served.
	if err := r.checkReadTS(24); err == nil {
		t.Error("a read below the GC threshold was accepted")
	}
	if err := r.checkReadTS(25); err != nil {
		t.Errorf("a read at the GC threshold was refused: %v", err)
	}
	// An older GC does nothing; the threshold survives a reopen.
	mustOK(t, next(gcCmd(15)))
	if got := versions(t, eng, "k"); len(got) != 2 {
		t.Errorf("an older GC removed versions: %v", got)
	}
	r2 := open(t, eng, 1, nil, nil)
	if got := r2.GCThreshold(); got != 25 {
		t.Errorf("GC threshold after reopen = %d, want 25", got)
	}
}

// TestGCDeletesClearedLockSlots: a commit clears its lock slots with empty
// values (applier.putLockSlot); a GC deletes them, and leaves a held lock
// and a rollback's record alone.
func TestGCDeletesClearedLockSlots(t *testing.T) {
	x := newTxnRange(t)
	s1, s2, s3 := at(100), at(200), at(300)
	x.ok(prewriteReq("p", s1, 3000, putM("p", "1"), putM("q", "1")))
	x.ok(commitReq(s1, at(110), "p", "q"))
	x.ok(prewriteReq("held", s2, 3000, putM("held", "2")))
	x.ok(prewriteReq("r", s3, 3000, putM("r", "3")))
	x.ok(rollbackReq(s3, "r"))
	rolledBack := x.slot("r")
	if rolledBack == nil || rolledBack.RolledBack == 0 {
		t.Fatalf("r's slot after a rollback is %v, want a rollback record", rolledBack)
	}
	for _, k := range []string{"p", "q"} {
		if raw, err := x.eng.Get([]byte(k)); err != nil || len(raw) != 0 {
			t.Fatalf("%s before GC: %q, %v; want a cleared slot", k, raw, err)
		}
	}

	x.ok(&kvpb.Request{Value: &kvpb.Request_Gc{Gc: &kvpb.GCRequest{Threshold: at(50)}}})
	for _, k := range []string{"p", "q"} {
		if raw, err := x.eng.Get([]byte(k)); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("%s after GC: %q, %v; want no slot", k, raw, err)
		}
		x.wantAt(k, at(110), "1")
	}
	x.wantLock("held", s2)
	if got := x.slot("r"); got == nil || got.RolledBack != rolledBack.RolledBack {
		t.Errorf("r's rollback record after GC: %v, want %v", got, rolledBack)
	}
	// The rolled-back transaction still cannot commit.
	x.fails(commitReq(s3, at(310), "r"), isTxnNotFound, "txn not found after rollback and GC")
}
