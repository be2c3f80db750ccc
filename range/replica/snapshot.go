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
)

// A raft snapshot of a range is a header followed by the engine's export of
// the range's span:
//
//	magic "shardsnp2" | applied:8 | lastTS:8 | gcThreshold:8 | len(desc):4 | desc (proto) | span export
const snapMagic = "shardsnp2"

var errBadSnapshot = errors.New("replica: malformed snapshot")

type fsmSnapshot struct {
	snap    *engine.Snapshot
	desc    *kvpb.RangeDescriptor
	applied uint64
	lastTS  engine.Timestamp
	gc      engine.Timestamp
}

// Snapshot captures the replica's state cheaply: a Pebble snapshot plus the
// descriptor and applied index. Raft compacts its log after the snapshot is
// persisted, so the applied state must be durable first: a synced rewrite of
// it makes everything applied so far durable (the WAL is sequential).
func (r *Replica) Snapshot() (raft.FSMSnapshot, error) {
	r.mu.Lock()
	desc, applied, lastTS, gc := r.mu.desc, r.mu.applied, r.mu.lastTS, r.mu.gcThreshold
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
	return &fsmSnapshot{snap: r.eng.NewSnapshot(), desc: desc, applied: applied, lastTS: lastTS, gc: gc}, nil
}

// Persist streams the header and the span into sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := s.write(sink)
	if err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc, err := proto.Marshal(s.desc)
	if err != nil {
		return err
	}
	hdr := []byte(snapMagic)
	hdr = binary.BigEndian.AppendUint64(hdr, s.applied)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(s.lastTS))
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(s.gc))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(enc)))
	hdr = append(hdr, enc...)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	if _, err := s.snap.ExportSpan(s.desc.StartKey, s.desc.EndKey, bw); err != nil {
		return fmt.Errorf("replica: export r%d: %w", s.desc.RangeId, err)
	}
	return bw.Flush()
}

// Release frees the Pebble snapshot.
func (s *fsmSnapshot) Release() { _ = s.snap.Close() }

// Restore replaces the replica's span and state with a snapshot's. The data
// is ingested atomically; the descriptor and applied index are written after
// it, synced. A crash in between leaves the new data with the old applied
// index, which raft's log replay (entries after the snapshot) does not need.
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
	if err := r.eng.IngestSpan(desc.StartKey, desc.EndKey, br); err != nil {
		return fmt.Errorf("replica: r%d: ingest snapshot: %w", r.id, err)
	}
	b := r.eng.NewBatch()
	defer b.Close()
	if err := b.Put(DescriptorKey(r.id), enc); err != nil {
		return err
	}
	if err := b.Put(appliedKey(r.id), encodeApplied(applied, lastTS)); err != nil {
		return err
	}
	if err := b.Put(gcKey(r.id), binary.BigEndian.AppendUint64(nil, uint64(gc))); err != nil {
		return err
	}
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("replica: r%d: store snapshot state: %w", r.id, err)
	}
	r.mu.Lock()
	r.mu.desc, r.mu.applied, r.mu.lastTS, r.mu.gcThreshold = desc, applied, lastTS, gc
	r.mu.cond.Broadcast()
	r.mu.Unlock()
	r.log.Info("restored snapshot", "applied", applied, "start", desc.StartKey, "end", desc.EndKey)
	return nil
}
