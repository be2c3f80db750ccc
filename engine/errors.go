package engine

import "errors"

// Sentinel errors. Match them with errors.Is: most are returned wrapped with
// detail. Pebble's own errors are translated to these at the package
// boundary where a sentinel exists (pebble.ErrNotFound becomes ErrNotFound);
// the rest are wrapped with an "engine: " context.
var (
	// ErrNotFound: the key (or, for MVCC reads, a live version at the read
	// timestamp) does not exist.
	ErrNotFound = errors.New("engine: not found")
	// ErrClosed: the Engine or Snapshot was closed, or is closing.
	ErrClosed = errors.New("engine: closed")
	// ErrKeyTooLarge: a user key longer than MaxKeySize was written.
	ErrKeyTooLarge = errors.New("engine: key too large")
	// ErrValueTooLarge: a value longer than MaxValueSize was written.
	ErrValueTooLarge = errors.New("engine: value too large")
	// ErrInvalidTimestamp: an MVCC write used timestamp 0, which is reserved
	// for unversioned keys.
	ErrInvalidTimestamp = errors.New("engine: invalid timestamp")
	// ErrInvalidSpan: a span with start >= end was passed where a non-empty
	// span is required.
	ErrInvalidSpan = errors.New("engine: invalid span")
	// ErrMalformedKey: DecodeKey was given bytes that are not an engine key.
	ErrMalformedKey = errors.New("engine: malformed key")
	// ErrCorrupt: stored data or a span stream failed a consistency check
	// (bad checksum, truncation, unknown tag, keys out of order or out of
	// the span).
	ErrCorrupt = errors.New("engine: corrupt data")
	// ErrInvalidOptions: Options.Validate found a problem.
	ErrInvalidOptions = errors.New("engine: invalid options")
	// ErrIncompatibleStore: the directory holds a store written with another
	// key comparer (another key encoding), which this engine cannot read.
	ErrIncompatibleStore = errors.New("engine: incompatible store")
	// ErrBatchClosed: a Batch was used after Commit or Close.
	ErrBatchClosed = errors.New("engine: batch closed")
)
