package engine

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// walCategory is the vfs.DiskWriteCategory pebble's WAL manager passes when
// it creates or recycles a log file.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// countingFS wraps the store's filesystem to count fsyncs of WAL files:
// the one number that shows whether group commit works (many synced batch
// commits per WAL sync). Everything else passes through.
type countingFS struct {
	vfs.FS
	walSyncs atomic.Uint64
}

var _ vfs.FS = (*countingFS)(nil)

func newCountingFS(fs vfs.FS) *countingFS { return &countingFS{FS: fs} }

func (fs *countingFS) isWAL(name string, category vfs.DiskWriteCategory) bool {
	return category == walCategory || strings.HasSuffix(fs.PathBase(name), ".log")
}

func (fs *countingFS) wrap(f vfs.File, name string, category vfs.DiskWriteCategory) vfs.File {
	if f == nil || !fs.isWAL(name, category) {
		return f
	}
	return &walFile{File: f, syncs: &fs.walSyncs}
}

// Create implements vfs.FS.
func (fs *countingFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	return fs.wrap(f, name, category), err
}

// ReuseForWrite implements vfs.FS; pebble recycles old WAL files with it.
func (fs *countingFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, category)
	return fs.wrap(f, newname, category), err
}

// OpenReadWrite implements vfs.FS.
func (fs *countingFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, category, opts...)
	return fs.wrap(f, name, category), err
}

// Unwrap implements vfs.FS.
func (fs *countingFS) Unwrap() vfs.FS { return fs.FS }

// walFile counts the calls that make a WAL file durable.
type walFile struct {
	vfs.File
	syncs *atomic.Uint64
}

func (f *walFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

func (f *walFile) SyncData() error {
	f.syncs.Add(1)
	return f.File.SyncData()
}

func (f *walFile) SyncTo(length int64) (fullSync bool, err error) {
	fullSync, err = f.File.SyncTo(length)
	if fullSync {
		f.syncs.Add(1)
	}
	return fullSync, err
}

// mkdirAllSynced creates dir and its missing ancestors and fsyncs the parent
// of every directory it created, so that the store directory itself survives
// a crash (pebble syncs the directory's contents, not its entry in the
// parent).
func mkdirAllSynced(fs vfs.FS, dir string) error {
	var missing []string
	for d := dir; ; {
		_, err := fs.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		parent := fs.PathDir(d)
		if parent == d || parent == "" {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		parent := fs.PathDir(missing[i])
		if parent == missing[i] || parent == "" {
			continue
		}
		if err := syncDir(fs, parent); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
