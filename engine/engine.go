package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults applied by DefaultOptions and, for zero fields, by Open.
const (
	DefaultCacheSize    = 256 << 20
	DefaultMemTableSize = 64 << 20
	// maxMemTableSize is pebble's limit (exclusive) on 64-bit platforms.
	maxMemTableSize = 1<<32 - 1
)

// Options configures an Engine. The zero value of every field but Dir
// means "the default".
type Options struct {
	// Dir is the store directory; Open creates it.
	Dir string
	// FS is the filesystem holding Dir. nil means vfs.Default. Tests pass
	// vfs.NewMem(), vfs.NewCrashableMem() or an errorfs wrapper.
	FS vfs.FS
	// CacheSize is the block cache size in bytes (default 256 MiB).
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes (default 64 MiB).
	MemTableSize uint64
	// Logger receives the engine's and pebble's log lines (nil means
	// slog.Default()). See logging.go for the meaning of each level.
	Logger *slog.Logger
	// MaxConcurrentCompactions caps background compactions. Pebble runs one
	// normally and up to this many when compaction debt builds up. 0 means
	// max(2, GOMAXPROCS/2).
	MaxConcurrentCompactions int
}

// DefaultOptions returns the options for a store in dir with every default
// spelled out.
func DefaultOptions(dir string) Options {
	return Options{
		Dir:                      dir,
		FS:                       vfs.Default,
		CacheSize:                DefaultCacheSize,
		MemTableSize:             DefaultMemTableSize,
		Logger:                   slog.Default(),
		MaxConcurrentCompactions: defaultMaxConcurrentCompactions(),
	}
}

func defaultMaxConcurrentCompactions() int { return max(2, runtime.GOMAXPROCS(0)/2) }

// Validate reports every problem with o, joined; each wraps
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if strings.TrimSpace(o.Dir) == "" {
		bad("Dir is empty")
	}
	if o.CacheSize < 0 {
		bad("CacheSize is negative (%d)", o.CacheSize)
	}
	if o.MemTableSize >= maxMemTableSize {
		bad("MemTableSize %d must be below %d", o.MemTableSize, uint64(maxMemTableSize))
	}
	if o.MaxConcurrentCompactions < 0 {
		bad("MaxConcurrentCompactions is negative (%d)", o.MaxConcurrentCompactions)
	}
	return errors.Join(errs...)
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxConcurrentCompactions == 0 {
		o.MaxConcurrentCompactions = defaultMaxConcurrentCompactions()
	}
	return o
}

// Engine is one Pebble store: every range replica on a node and its Raft
// log live in it. All methods are safe for concurrent use. After Close,
// every method returns ErrClosed.
type Engine struct {
	db     *pebble.DB
	dir    string
	fs     *countingFS // wraps Options.FS; all store I/O goes through it
	popts  *pebble.Options
	log    *slog.Logger
	guard  *closeGuard // every operation on db holds it
	ingest struct {
		seq       atomic.Uint64 // names temporary sstables
		tableSize uint64        // target size of one ingested sstable
		// mu orders ingests against the creation of reads on db. Pebble
		// installs an IngestAndExcise's new version (old data excised)
		// before it publishes the ingested tables' sequence number, so a
		// read opened in between sees the span empty. IngestSpan holds mu
		// for writing across the ingest; every read on the live engine
		// (iterator, point read, snapshot) is created under mu for reading.
		mu sync.RWMutex
	}

	batchCommits       atomic.Uint64
	syncedBatchCommits atomic.Uint64

	mu struct {
		sync.Mutex
		// snapshots holds the open snapshots, closed by Close if the owner
		// leaked them.
		snapshots map[*Snapshot]struct{}
	}
}

// ingestTmpDir is the directory, inside the store directory, where
// IngestSpan builds sstables. Open empties it.
const ingestTmpDir = "ingest-tmp"

// ingestTableSize is the target size of one sstable built by IngestSpan.
const ingestTableSize = 64 << 20

// Open opens the store in o.Dir, creating it if needed. It refuses, with
// ErrIncompatibleStore, a store written with another comparer.
func Open(o Options) (*Engine, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	log := o.Logger.With("subsystem", "engine")
	if err := mkdirAllSynced(o.FS, o.Dir); err != nil {
		return nil, fmt.Errorf("engine: create store directory %s: %w", o.Dir, err)
	}
	if err := o.FS.RemoveAll(o.FS.PathJoin(o.Dir, ingestTmpDir)); err != nil {
		return nil, fmt.Errorf("engine: clear %s: %w", ingestTmpDir, err)
	}
	e := &Engine{dir: o.Dir, fs: newCountingFS(o.FS), log: log, guard: newCloseGuard()}
	e.ingest.tableSize = ingestTableSize
	e.mu.snapshots = make(map[*Snapshot]struct{})
	e.popts = pebbleOptions(o, e.fs, log)
	db, err := pebble.Open(o.Dir, e.popts)
	if err != nil {
		if strings.Contains(err.Error(), "comparer name from file") {
			return nil, fmt.Errorf("%w: %s was not written by this engine (comparer %q): %v",
				ErrIncompatibleStore, o.Dir, ComparerName, err)
		}
		return nil, fmt.Errorf("engine: open %s: %w", o.Dir, err)
	}
	e.db = db
	log.Info("opened store", "dir", o.Dir, "format", db.FormatMajorVersion().String())
	return e, nil
}

// pebbleOptions translates Options into pebble's, with the engine's fixed
// choices. See doc.go for the reasoning.
func pebbleOptions(o Options, fs vfs.FS, log *slog.Logger) *pebble.Options {
	po := &pebble.Options{
		Comparer:           Comparer,
		FS:                 fs,
		CacheSize:          o.CacheSize,
		MemTableSize:       o.MemTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{l: log.With("source", "pebble")},
		EventListener:      newEventListener(log),

		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       2,
		L0CompactionFileThreshold:   500,
		L0StopWritesThreshold:       20,
		LBaseMaxBytes:               64 << 20,
		MaxOpenFiles:                4096,
	}
	maxCompactions := o.MaxConcurrentCompactions
	po.CompactionConcurrencyRange = func() (int, int) { return 1, maxCompactions }
	for i := range po.Levels {
		l := &po.Levels[i]
		l.BlockSize = 32 << 10
		l.IndexBlockSize = 256 << 10
		// Bloom filters are built on Split prefixes (user keys), so point
		// MVCC reads (SeekPrefixGE) skip tables that lack the key.
		l.FilterPolicy = bloom.FilterPolicy(10)
		l.FilterType = pebble.TableFilter
	}
	po.TargetFileSizes[0] = 4 << 20
	po.EnsureDefaults()
	return po
}

// Close waits for operations in flight, closes any snapshot still open
// (logging a warning: that is a leak in the caller), and closes the store.
// It returns ErrClosed if the engine was already closed. Do not call it
// from inside a Scan callback.
func (e *Engine) Close() error {
	if !e.guard.close() {
		return ErrClosed
	}
	e.mu.Lock()
	leaked := e.mu.snapshots
	e.mu.snapshots = nil
	e.mu.Unlock()
	var errs []error
	if len(leaked) > 0 {
		e.log.Warn("closing snapshots left open", "count", len(leaked))
		for s := range leaked {
			s.guard.close()
			errs = append(errs, s.snap.Close())
		}
	}
	errs = append(errs, e.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("engine: close: %w", err)
	}
	e.log.Info("closed store", "dir", e.dir)
	return nil
}

// acquire registers an operation; release it with e.guard.release().
func (e *Engine) acquire() error {
	if !e.guard.acquire() {
		return ErrClosed
	}
	return nil
}

// Flush writes the memtable to an sstable and waits for it. Committed
// batches are durable without it (the WAL holds them); tests and tools use
// it to exercise the on-disk read path.
func (e *Engine) Flush() error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	if err := e.db.Flush(); err != nil {
		return fmt.Errorf("engine: flush: %w", err)
	}
	return nil
}

// Dir returns the store directory.
func (e *Engine) Dir() string { return e.dir }

// Checkpoint writes a consistent, openable copy of the store to destDir,
// which must not exist, on the store's filesystem. Sstables are hard-linked
// where the filesystem allows, so a checkpoint is cheap; the WAL is flushed
// first so the copy holds every batch committed before the call. Backups
// copy a checkpoint elsewhere and then remove it.
func (e *Engine) Checkpoint(destDir string) error {
	if err := e.acquire(); err != nil {
		return err
	}
	defer e.guard.release()
	if err := e.db.Checkpoint(destDir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("engine: checkpoint to %s: %w", destDir, err)
	}
	return nil
}
