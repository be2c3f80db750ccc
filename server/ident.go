package server

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
)

// ErrNotOurDataDir is returned for a data directory that has files but no
// marker: shard never writes into a directory it did not create.
var ErrNotOurDataDir = errors.New("server: not a shard data directory")

// ErrClusterMismatch is returned when the data directory belongs to another
// cluster than the nodes named by --join.
var ErrClusterMismatch = errors.New("server: data directory belongs to another cluster")

const markerFile = "SHARD"

type marker struct {
	Format int    `json:"format"`
	Note   string `json:"note"`
}

// freshDir describes what prepareDataDir made, so a failed start can undo
// it.
type freshDir struct {
	dir     string
	made    bool // the directory was new or empty: prepareDataDir marked it
	created bool // the directory itself did not exist
}

// undo removes what a failed start wrote into a directory it had just
// made: everything in it, and the directory itself if it created it.
func (f freshDir) undo() {
	if f.created {
		_ = os.RemoveAll(f.dir)
		return
	}
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(f.dir, e.Name()))
	}
}

// prepareDataDir checks that dir is empty, missing, or ours, and marks a new
// one. It changes nothing in a directory that is not ours.
func prepareDataDir(dir string) (freshDir, error) {
	fresh := freshDir{dir: dir}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		fresh.created = true
	case err != nil:
		return fresh, fmt.Errorf("server: read data directory %s: %w", dir, err)
	}
	if len(entries) > 0 {
		b, err := os.ReadFile(filepath.Join(dir, markerFile))
		if errors.Is(err, os.ErrNotExist) {
			return fresh, fmt.Errorf("%w: %s has %d entries and no %s file; refusing to touch it", ErrNotOurDataDir, dir, len(entries), markerFile)
		}
		if err != nil {
			return fresh, fmt.Errorf("server: read %s: %w", markerFile, err)
		}
		var m marker
		if err := json.Unmarshal(b, &m); err != nil || m.Format != 1 {
			return fresh, fmt.Errorf("%w: %s has an unreadable %s file (format %d)", ErrNotOurDataDir, dir, markerFile, m.Format)
		}
		return fresh, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fresh, fmt.Errorf("server: create data directory: %w", err)
	}
	fresh.made = true
	b, _ := json.Marshal(marker{Format: 1, Note: "shard data directory; do not edit"})
	if err := os.WriteFile(filepath.Join(dir, markerFile), append(b, '\n'), 0o644); err != nil {
		fresh.undo()
		return freshDir{}, fmt.Errorf("server: write marker: %w", err)
	}
	return fresh, nil
}

// ident is the node's identity, stored in the engine's node-local keys.
type ident struct {
	ClusterID string
	NodeID    uint64
	// Bootstrapped is set once the meta range holds the initial records
	// (first node only) or the node has joined.
	Bootstrapped bool
}

var (
	clusterIDKey    = keys.NodeLocalKey("cluster-id")
	nodeIDKey       = keys.NodeLocalKey("node-id")
	bootstrappedKey = keys.NodeLocalKey("bootstrapped")
)

func loadIdent(eng *engine.Engine) (ident, error) {
	var id ident
	v, err := eng.Get(clusterIDKey)
	if errors.Is(err, engine.ErrNotFound) {
		return id, nil
	}
	if err != nil {
		return id, err
	}
	id.ClusterID = string(v)
	n, err := eng.Get(nodeIDKey)
	if err != nil {
		return id, fmt.Errorf("server: cluster id without node id: %w", err)
	}
	if len(n) != 8 {
		return id, fmt.Errorf("server: corrupt node id")
	}
	id.NodeID = binary.BigEndian.Uint64(n)
	_, err = eng.Get(bootstrappedKey)
	id.Bootstrapped = err == nil
	return id, nil
}

func storeIdent(eng *engine.Engine, id ident) error {
	b := eng.NewBatch()
	defer b.Close()
	if err := b.Put(clusterIDKey, []byte(id.ClusterID)); err != nil {
		return err
	}
	if err := b.Put(nodeIDKey, binary.BigEndian.AppendUint64(nil, id.NodeID)); err != nil {
		return err
	}
	if id.Bootstrapped {
		if err := b.Put(bootstrappedKey, []byte{1}); err != nil {
			return err
		}
	}
	return b.Commit(true)
}
