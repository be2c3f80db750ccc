package replication

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/raft"
)

// An Exporter is an FSM whose state is durable on its own, whose raft
// snapshots record no data (their Persist writes nothing), and which
// exports its current state when a snapshot is sent (exportingStore).
type Exporter interface {
	raft.FSM
	// ExportState writes the FSM's current state in the format its Restore
	// reads. It may run concurrently with applies: it must read one
	// consistent state (a Pebble snapshot), which names the applied index
	// it is at.
	ExportState(w io.Writer) error
	// Applied is the index of the last entry the FSM applied (or the
	// index a restored snapshot's state is at).
	Applied() uint64
}

// exportingStore is raft's snapshot store for an FSM whose state is durable
// on its own (the replica's, in the engine): a snapshot the FSM recorded
// with no data is only a marker of how far the log may be truncated, and
// its data is exported from the FSM's current state when the snapshot is
// opened, i.e. when a follower must be caught up by snapshot. Taking a
// snapshot then costs a synced write and a few small files instead of an
// export of the whole range, so the log can be truncated soon after its
// entries are applied, before Pebble flushes them.
//
// The export is at or after the recorded index (the FSM's applied index
// only grows), and says which index it is at: the receiver's FSM skips the
// entries up to it when the leader sends the log from the recorded index
// on (invariant 2 in DESIGN.md).
//
// A snapshot received from a leader carries data, which raft opens to
// restore it. Once the FSM has applied the snapshot's index, that data is
// history: it stays the newest snapshot until this node takes its own,
// and if this node leads by then, a follower must get the state now, not
// the received one, whose descriptor may span ranges split off since (its
// restore would wipe their newer rows on the follower).
type exportingStore struct {
	*raft.FileSnapshotStore
	dir     string
	export  func(w io.Writer) error
	applied func() uint64
}

// Open returns the snapshot's data: what was written to it while the FSM
// has yet to restore it, else an export of the FSM's current state,
// spooled to an unlinked file so that its size is known before it is sent.
func (s *exportingStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.FileSnapshotStore.Open(id)
	if err != nil || meta.Size > 0 && s.applied() < meta.Index {
		return meta, rc, err
	}
	_ = rc.Close()
	f, size, err := s.spool()
	if err != nil {
		return nil, nil, fmt.Errorf("replication: export for snapshot %s: %w", id, err)
	}
	out := *meta
	out.Size = size
	return &out, f, nil
}

func (s *exportingStore) spool() (_ *os.File, size int64, err error) {
	f, err := os.CreateTemp(s.dir, "export-*")
	if err != nil {
		return nil, 0, err
	}
	// Unlinked at once: the file is gone with its last reader, or with the
	// process if it dies mid-send.
	if err := os.Remove(f.Name()); err != nil {
		_ = f.Close()
		return nil, 0, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := s.export(bw); err != nil {
		return nil, 0, err
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, err
	}
	if size, err = f.Seek(0, io.SeekCurrent); err != nil {
		return nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	return f, size, nil
}
