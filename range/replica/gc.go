package replica

import (
	"encoding/binary"
	"errors"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// MVCC garbage collection. The leader proposes a GC command with a
// threshold (now minus the retention window); applying it keeps, for each
// key, its newest version at or below the threshold (dropped too if it is a
// delete) and every version above, and removes the rest. The threshold is
// then part of the replica's state: reads below it are refused, since the
// versions they would need may be gone.
//
// A GC also deletes the cleared lock slots (empty values, see
// applier.putLockSlot) it finds, so that a key locked once does not carry
// one for good; a hot key gets a new one with its next lock.

// gcKey holds the replica's GC threshold (8 bytes), written with each GC.
func gcKey(id uint64) []byte { return keys.ReplicaKey(id, keys.ReplicaGCSuffix, nil) }

func loadGCThreshold(eng engine.Reader, id uint64) (engine.Timestamp, error) {
	v, err := eng.Get(gcKey(id))
	if errors.Is(err, engine.ErrNotFound) {
		return 0, nil
	}
	if err != nil || len(v) != 8 {
		return 0, errors.Join(err, ErrCorruptVersion)
	}
	return engine.Timestamp(binary.BigEndian.Uint64(v)), nil
}

func (a *applier) gc(g *kvpb.GCRequest) (uint64, *kvpb.Error) {
	threshold := engine.Timestamp(g.Threshold)
	if threshold <= a.gcThreshold {
		return 0, nil // an older or repeated GC: nothing more to remove
	}
	b := a.batch()
	var n uint64
	err := a.r.eng.ScanMVCC(a.desc.StartKey, a.desc.EndKey, threshold, 0, func(k []byte, vts engine.Timestamp, raw []byte) error {
		kind, _, _, err := decodeVersion(raw)
		if err != nil {
			return err
		}
		below := vts
		if kind == versionDelete {
			below = vts + 1
		}
		n++
		return b.ClearVersionsBelow(k, below)
	})
	a.must(err, "gc")
	err = a.r.eng.Scan(a.desc.StartKey, a.desc.EndKey, func(k, raw []byte) error {
		if len(raw) != 0 {
			return nil // a lock, or a slot that remembers a rollback
		}
		return b.Delete(k)
	})
	a.must(err, "gc: cleared lock slots")
	a.gcThreshold = threshold
	a.must(b.Put(gcKey(a.r.id), binary.BigEndian.AppendUint64(nil, uint64(threshold))), "gc threshold")
	return n, nil
}
