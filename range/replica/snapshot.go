package replica

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
)

// A raft snapshot of a range is a header followed by the engine's export of
// the range's span:
//
//	magic "shardsnp2" | applied:8 | lastTS:8 | gcThreshold:8 | len(desc):4 | desc (proto) | span export
const snapMagic = "shardsnp2"

var errBadSnapshot = errors.New("replica: malformed snapshot")

// Snapshot marks how far raft may truncate the log: the replica's state is
// durable in the engine on its own, so the snapshot records no data, and
// replication's snapshot store calls ExportState when it sends one to a
// follower. Raft truncates its log after the snapshot is persisted, so the
// applied state must be durable first: a synced rewrite of it makes
// everything applied so far durable (the WAL is sequential).
func (r *Replica) Snapshot() (raft.FSMSnapshot, error) {
	r.mu.Lock()
	desc, applied, lastTS := r.mu.desc, r.mu.applied, r.mu.lastTS
	r.mu.Unlock()
	if desc == nil {
		return nil, ErrNotInitialized
	}
	b := r.eng.NewBatch()
	defer b.Close()
	if err := b.Put(appliedKey(r.id), encodeApplied(applied, lastTS)); err != nil {
		return nil, err
	}
	if err := b.Commit(true); err != nil {
		return nil, fmt.Errorf("replica: r%d: sync before snapshot: %w", r.id, err)
	}
	return markSnapshot{}, nil
}

// A replica's group gets lazy snapshots: see replication.Exporter.
var _ replication.Exporter = (*Replica)(nil)

// markSnapshot is a snapshot with no data (see Snapshot).
type markSnapshot struct{}

func (markSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (markSnapshot) Release()                             {}

// ExportState writes the replica's current state in the format Restore
// reads: the applied state, GC threshold and descriptor as of one Pebble
// snapshot, then the descriptor's span from it. It may run concurrently
// with applies (replication.Exporter): an apply batch writes its effects,
// applied index and descriptor together, so the snapshot holds all of one
// batch or none of it.
func (r *Replica) ExportState(w io.Writer) error {
	snap := r.eng.NewSnapshot()
	defer snap.Close()
	v, err := snap.Get(appliedKey(r.id))
	if err != nil {
		return fmt.Errorf("replica: r%d: export: applied state: %w", r.id, err)
	}
	if len(v) != 16 {
		return fmt.Errorf("replica: r%d: export: corrupt applied state (%d bytes)", r.id, len(v))
	}
	enc, err := snap.Get(DescriptorKey(r.id))
	if err != nil {
		return fmt.Errorf("replica: r%d: export: descriptor: %w", r.id, err)
	}
	desc := &kvpb.RangeDescriptor{}
	if err := proto.Unmarshal(enc, desc); err != nil {
		return fmt.Errorf("replica: r%d: export: corrupt descriptor: %w", r.id, err)
	}
	gc, err := loadGCThreshold(snap, r.id)
	if err != nil {
		return fmt.Errorf("replica: r%d: export: gc threshold: %w", r.id, err)
	}
	hdr := []byte(snapMagic)
	hdr = append(hdr, v...) // applied:8 | lastTS:8
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(gc))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(enc)))
	hdr = append(hdr, enc...)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := snap.ExportSpan(desc.StartKey, desc.EndKey, w); err != nil {
		return fmt.Errorf("replica: export r%d: %w", r.id, err)
	}
	return nil
}

// Restore replaces the replica's span and state with a snapshot's: the
// data, descriptor, applied state and GC threshold in one atomic, durable
// ingest.
func (r *Replica) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 256<<10)
	hdr := make([]byte, len(snapMagic)+8+8+8+4)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("%w: header: %v", errBadSnapshot, err)
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return fmt.Errorf("%w: bad magic", errBadSnapshot)
	}
	p := hdr[len(snapMagic):]
	applied := binary.BigEndian.Uint64(p)
	lastTS := engine.Timestamp(binary.BigEndian.Uint64(p[8:]))
	gc := engine.Timestamp(binary.BigEndian.Uint64(p[16:]))
	n := binary.BigEndian.Uint32(p[24:])
	if n > 1<<20 {
		return fmt.Errorf("%w: descriptor of %d bytes", errBadSnapshot, n)
	}
	enc := make([]byte, n)
	if _, err := io.ReadFull(br, enc); err != nil {
		return fmt.Errorf("%w: descriptor: %v", errBadSnapshot, err)
	}
	desc := &kvpb.RangeDescriptor{}
	if err := proto.Unmarshal(enc, desc); err != nil || desc.RangeId != r.id {
		return fmt.Errorf("%w: descriptor of r%d in snapshot for r%d (%v)", errBadSnapshot, desc.RangeId, r.id, err)
	}
	// The state goes in with the data, atomically: a crash must not leave
	// the new data with the old applied index, or raft would apply the
	// entries between the snapshot's index and the export's again.
	state := []engine.KeyValue{
		{Key: DescriptorKey(r.id), Value: enc},
		{Key: appliedKey(r.id), Value: encodeApplied(applied, lastTS)},
		{Key: gcKey(r.id), Value: binary.BigEndian.AppendUint64(nil, uint64(gc))},
	}
	if err := r.eng.IngestSpan(desc.StartKey, desc.EndKey, br, state...); err != nil {
		return fmt.Errorf("replica: r%d: ingest snapshot: %w", r.id, err)
	}
	r.mu.Lock()
	r.mu.desc, r.mu.applied, r.mu.lastTS, r.mu.gcThreshold = desc, applied, lastTS, gc
	r.restores.Add(1) // before the applied index is seen to move
	r.mu.cond.Broadcast()
	r.mu.Unlock()
	r.log.Info("restored snapshot", "applied", applied, "start", desc.StartKey, "end", desc.EndKey)
	return nil
}
