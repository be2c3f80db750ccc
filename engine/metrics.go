package engine

// Metrics is a point-in-time snapshot of the engine's counters and gauges.
// Counters are cumulative since Open. The server exports them to
// Prometheus as shard_engine_<name>_<unit>.
type Metrics struct {
	// WALSyncs counts fsyncs of WAL files (counted by the engine's
	// filesystem wrapper). WALSyncs / SyncedBatchCommits below 1 means
	// group commit is sharing fsyncs between concurrent commits.
	WALSyncs uint64
	// WALBytesWritten is the bytes written to the WAL, framing included.
	WALBytesWritten uint64
	// BatchCommits counts successful Batch.Commit calls;
	// SyncedBatchCommits the subset with sync=true.
	BatchCommits       uint64
	SyncedBatchCommits uint64

	// DiskUsageBytes is the space used by the store: live and obsolete
	// sstables and WAL files.
	DiskUsageBytes uint64
	// MemTableSizeBytes and MemTableCount describe the memtables in
	// memory (the mutable one and those waiting to flush).
	MemTableSizeBytes uint64
	MemTableCount     int64
	// L0Files and L0Sublevels: a growing L0 means compactions fall behind
	// (writes stall at 20 sublevels).
	L0Files     int64
	L0Sublevels int32
	// ReadAmplification is the number of sstables a point read may consult.
	ReadAmplification int
	// Flushes, Compactions and Ingests count completed operations;
	// FlushesInProgress, CompactionsInProgress and CompactionDebtBytes
	// show the backlog.
	Flushes               int64
	Compactions           int64
	FlushesInProgress     int64
	CompactionsInProgress int64
	CompactionDebtBytes   uint64
	Ingests               uint64
	// TableBytesWritten is the bytes flushes and compactions wrote to
	// sstables; over WALBytesWritten it is the write amplification of the
	// LSM (entries deleted while still in a memtable are never written).
	TableBytesWritten uint64
	// BlockCacheSizeBytes, BlockCacheHits and BlockCacheMisses describe the
	// block cache.
	BlockCacheSizeBytes int64
	BlockCacheHits      int64
	BlockCacheMisses    int64
	// OpenSnapshots counts snapshots not yet closed.
	OpenSnapshots int
}

// Metrics returns the current metrics. After Close it returns the
// engine-side counters only (the pebble fields are zero).
func (e *Engine) Metrics() Metrics {
	m := Metrics{
		WALSyncs:           e.fs.walSyncs.Load(),
		BatchCommits:       e.batchCommits.Load(),
		SyncedBatchCommits: e.syncedBatchCommits.Load(),
	}
	if err := e.acquire(); err != nil {
		return m
	}
	defer e.guard.release()
	pm := e.db.Metrics()
	m.WALBytesWritten = pm.WAL.BytesWritten
	m.DiskUsageBytes = pm.DiskSpaceUsage()
	m.MemTableSizeBytes = pm.MemTable.Size
	m.MemTableCount = pm.MemTable.Count
	m.L0Files = pm.Levels[0].TablesCount
	m.L0Sublevels = pm.Levels[0].Sublevels
	m.ReadAmplification = pm.ReadAmp()
	m.Flushes = pm.Flush.Count
	m.Compactions = pm.Compact.Count
	m.FlushesInProgress = pm.Flush.NumInProgress
	m.CompactionsInProgress = pm.Compact.NumInProgress
	m.CompactionDebtBytes = pm.Compact.EstimatedDebt
	m.Ingests = pm.Ingest.Count
	// Not pm.Total(): its TableBytesFlushed counts the WAL's bytes (and
	// ingested ones) as if flushed.
	for i := range pm.Levels {
		m.TableBytesWritten += pm.Levels[i].TableBytesFlushed + pm.Levels[i].TableBytesCompacted
	}
	m.BlockCacheSizeBytes = pm.BlockCache.Size
	m.BlockCacheHits = pm.BlockCache.Hits
	m.BlockCacheMisses = pm.BlockCache.Misses
	m.OpenSnapshots = pm.Snapshots.Count
	return m
}
