package replica

import (
	"bytes"
	"container/list"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/shardingsystem/shard/kvpb"
)

// Scan programs (what TiKV calls a coprocessor): a ScanRequest may carry a
// program that the range runs on every row the scan would return, so that a
// pushed-down WHERE, projection or partial aggregate runs next to the data
// and only its output crosses the network. The range layer knows nothing
// of what a program means: the server installs a Processor (the SQL layer's)
// that compiles the opaque program bytes, and the replica calls it.
//
// The program runs on exactly the rows the scan would have returned without
// it: the visible, committed version of each key of the span that passes
// the request's KeyFilter, in key order. Locks are checked as without a
// program (every lock in the part of the span read, on a key that passes
// the KeyFilter, whatever the program thinks of the row), so a scan with a
// program meets exactly the conflicts of one without.

// Processor compiles scan programs. Compile is called concurrently from
// many scans; the Program it returns is shared by them (and cached, see
// ProgramCache). An error is returned to the client as a ProgramError.
type Processor interface {
	Compile(program []byte) (Program, error)
}

// Program is a compiled scan program. It is safe for concurrent use: every
// scan response runs it through its own Run.
type Program interface {
	// Start begins the program's run over one scan response, with the
	// request's program_args.
	Start(args []byte) (Run, error)
}

// Run is one response's execution of a program. It is used by one
// goroutine and dropped after Finish.
type Run interface {
	// Row is called, in key order, with each row the scan would return.
	// keep=false drops the row; otherwise the response carries the row's
	// key with out as its value. key and value are valid only during the
	// call; out may alias value (the replica copies it).
	Row(key, value []byte) (out []byte, keep bool, err error)
	// Held returns the rows and bytes that the run holds back for Finish
	// (the groups of a partial aggregate); they count against the bounds
	// of a response (maxScanRows, maxScanBytes) like returned rows do.
	Held() (rows, bytes int)
	// Finish returns what the run accumulated (ScanResponse.partial), or
	// nil.
	Finish() ([]byte, error)
}

// ErrorDetail is implemented by errors of a Processor, Program or Run that
// carry a detail for the client; it travels as ProgramError.detail.
type ErrorDetail interface {
	ProgramErrorDetail() []byte
}

// programError turns an error of a program into the structured error the
// client receives.
func programError(err error) *kvpb.Error {
	var kerr *kvpb.Error
	if errors.As(err, &kerr) {
		return kerr
	}
	var d ErrorDetail
	var detail []byte
	if errors.As(err, &d) {
		detail = d.ProgramErrorDetail()
	}
	return kvpb.NewProgramError(err.Error(), detail)
}

// startProgram compiles (or finds in the cache) a request's program and
// starts its run.
func (r *Replica) startProgram(program, args []byte) (Run, error) {
	p := r.cfg.Processor
	if p == nil {
		return nil, kvpb.NewInvalid("r%d: this node runs no scan programs", r.id)
	}
	prog, err := p.Compile(program)
	if err != nil {
		return nil, programError(err)
	}
	run, err := prog.Start(args)
	if err != nil {
		return nil, programError(err)
	}
	return run, nil
}

// ProgramCache is a Processor that compiles through another one and keeps
// the most recently used programs: a bounded LRU keyed by the hash of the
// program bytes (the bytes themselves are compared on a hit, so a hash
// collision only costs a compilation). Safe for concurrent use; compiling
// happens outside the lock.
type ProgramCache struct {
	inner    Processor
	capacity int
	hits     atomic.Uint64
	misses   atomic.Uint64

	mu struct {
		sync.Mutex
		lru     *list.List // of *cachedProgram, most recent first
		entries map[uint64]*list.Element
	}
}

type cachedProgram struct {
	hash uint64
	code []byte
	prog Program
}

// NewProgramCache returns a cache of at most capacity compiled programs in
// front of inner.
func NewProgramCache(inner Processor, capacity int) *ProgramCache {
	c := &ProgramCache{inner: inner, capacity: max(capacity, 1)}
	c.mu.lru = list.New()
	c.mu.entries = map[uint64]*list.Element{}
	return c
}

// Compile implements Processor.
func (c *ProgramCache) Compile(program []byte) (Program, error) {
	h := xxhash.Sum64(program)
	c.mu.Lock()
	if el, ok := c.mu.entries[h]; ok {
		e := el.Value.(*cachedProgram)
		if bytes.Equal(e.code, program) {
			c.mu.lru.MoveToFront(el)
			c.mu.Unlock()
			c.hits.Add(1)
			return e.prog, nil
		}
	}
	c.mu.Unlock()
	c.misses.Add(1)
	prog, err := c.inner.Compile(program)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.mu.entries[h]; ok {
		// Compiled concurrently, or a collision: the newest wins.
		c.mu.lru.Remove(el)
	}
	c.mu.entries[h] = c.mu.lru.PushFront(&cachedProgram{hash: h, code: append([]byte(nil), program...), prog: prog})
	for c.mu.lru.Len() > c.capacity {
		last := c.mu.lru.Back()
		c.mu.lru.Remove(last)
		delete(c.mu.entries, last.Value.(*cachedProgram).hash)
	}
	return prog, nil
}

// ProgramCacheStats counts the cache's lookups.
type ProgramCacheStats struct {
	Hits, Misses uint64
	Entries      int
}

// Stats returns the cache's counters.
func (c *ProgramCache) Stats() ProgramCacheStats {
	c.mu.Lock()
	n := c.mu.lru.Len()
	c.mu.Unlock()
	return ProgramCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: n}
}
