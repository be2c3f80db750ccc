package replication

import (
	"io"
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestExportingStore: a snapshot recorded with no data opens as an export
// of the FSM's state at the time it is opened; one written with data (a
// snapshot received from a leader) opens as written until the FSM has
// restored it, then as an export too.
func TestExportingStore(t *testing.T) {
	dir := t.TempDir()
	files, err := raft.NewFileSnapshotStoreWithLogger(dir, 1, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	state := "state one"
	var applied uint64
	s := &exportingStore{FileSnapshotStore: files, dir: dir, export: func(w io.Writer) error {
		_, err := io.WriteString(w, state)
		return err
	}, applied: func() uint64 { return applied }}
	var conf raft.Configuration
	create := func(index uint64, data string) string {
		t.Helper()
		sink, err := s.Create(raft.SnapshotVersionMax, index, 1, conf, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(sink, data); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		return sink.ID()
	}
	open := func(id string) (*raft.SnapshotMeta, string) {
		t.Helper()
		meta, rc, err := s.Open(id)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return meta, string(b)
	}

	id := create(10, "")
	state = "state at 12"
	meta, got := open(id)
	if got != state || meta.Size != int64(len(state)) || meta.Index != 10 {
		t.Fatalf("lazy snapshot opened as %q, size %d, index %d", got, meta.Size, meta.Index)
	}
	state = "state at 15, longer"
	if _, got := open(id); got != state {
		t.Fatalf("lazy snapshot opened again as %q, want the state now", got)
	}

	id = create(20, "received data")
	if meta, got := open(id); got != "received data" || meta.Size != int64(len("received data")) {
		t.Fatalf("received snapshot opened as %q, size %d", got, meta.Size)
	}
	// Restored (the FSM is at its index or later), it opens as the state
	// now, which is what a follower must get from this node.
	applied, state = 20, "state at 20 with a narrower span"
	if meta, got := open(id); got != state || meta.Index != 20 {
		t.Fatalf("received snapshot, restored, opened as %q at %d; want the state now", got, meta.Index)
	}

	// Exports leave no files behind.
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("List = %v, %v", list, err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 || ents[0].Name() != "snapshots" {
		t.Fatalf("snapshot directory holds %v (%v)", ents, err)
	}
}
