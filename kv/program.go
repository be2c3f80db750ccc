package kv

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// ErrOwnWrites is returned by ScanProgram when the transaction has buffered
// writes in the span: the ranges cannot see them, so a program run there
// would miss them. The caller scans without a program instead.
var ErrOwnWrites = errors.New("kv: the transaction has buffered writes in the span of a programmed scan")

// Program is a scan program for the ranges (see range/replica.Processor):
// Code is compiled, and cached, by the nodes that run it; Args are one
// scan's arguments (bound parameters). Both are opaque to kv.
type Program struct {
	Code []byte
	Args []byte
}

// ProgramPage is the output of a programmed scan's response: the rows the
// program kept, in key order, with the program's output as their values,
// and what it accumulated over the rows of the response (a partial
// aggregate), if anything.
type ProgramPage struct {
	Rows    []*kvpb.KeyValue
	Partial []byte
}

// maxParallelScans bounds the ranges one programmed scan reads at once.
const maxParallelScans = 8

// ScanStats counts what scans brought back to this client: responses,
// rows, and the bytes of their keys and values (partial results included).
// Examined counts the rows that scan programs ran on at the ranges.
type ScanStats struct {
	Responses, Rows, Bytes, Examined uint64
}

type scanCounters struct{ responses, rows, bytes, examined atomic.Uint64 }

func (s *scanCounters) record(resp *kvpb.ScanResponse) {
	s.responses.Add(1)
	s.rows.Add(uint64(len(resp.GetRows())))
	n := len(resp.GetPartial())
	for _, r := range resp.GetRows() {
		n += len(r.Key) + len(r.Value)
	}
	s.bytes.Add(uint64(n))
	s.examined.Add(uint64(resp.GetExamined()))
}

// ScanStats returns the client's scan counters.
func (c *Client) ScanStats() ScanStats {
	s := &c.scans
	return ScanStats{Responses: s.responses.Load(), Rows: s.rows.Load(), Bytes: s.bytes.Load(), Examined: s.examined.Load()}
}

// HasWrites reports whether the transaction has buffered writes (not mere
// FOR UPDATE locks) on keys of [start, end) that match filter (nil: all).
func (t *Txn) HasWrites(start, end []byte, filter *kvpb.KeyFilter) bool {
	for k, m := range t.writes {
		if m.Op != kvpb.LockOp_LOCK_ONLY && k >= string(start) && k < string(end) && (filter == nil || filter.Matches([]byte(k))) {
			return true
		}
	}
	return false
}

// ScanProgram reads the keys of [start, end) that match filter (nil: all)
// as of the transaction's start timestamp, and has the ranges run prog on
// each visible row (see kvpb.ScanRequest.program). fn receives every
// response's output, in key order, on the calling goroutine. limit > 0
// stops the scan once the program has kept that many rows in all (the last
// page is trimmed to it), asking the ranges one after the other; without a
// limit the ranges are read in parallel. ScanProgram follows resume keys
// and range splits, and resolves the locks it meets as Scan does. An error
// of fn ends the scan and is returned.
//
// A program's failure comes back as a *kvpb.Error with a ProgramError.
// The transaction's own buffered writes are invisible to the ranges: with
// writes in the span (HasWrites), ScanProgram fails with ErrOwnWrites.
func (t *Txn) ScanProgram(ctx context.Context, start, end []byte, limit int, filter *kvpb.KeyFilter, prog Program, fn func(ProgramPage) error) error {
	if t.done {
		return ErrTxnDone
	}
	if t.HasWrites(start, end, filter) {
		return ErrOwnWrites
	}
	if err := t.readable(ctx); err != nil {
		return err
	}
	t.scanned = true
	if limit > 0 {
		kept := 0
		return t.c.scanProgramSpan(ctx, start, end, limit, t.at(), filter, prog, func(p ProgramPage) (bool, error) {
			if kept+len(p.Rows) >= limit {
				p.Rows = p.Rows[:limit-kept]
				return false, fn(p)
			}
			kept += len(p.Rows)
			return true, fn(p)
		})
	}
	spans, err := t.c.rangeSpans(ctx, start, end)
	if err != nil {
		return err
	}
	if len(spans) == 1 {
		return t.c.scanProgramSpan(ctx, start, end, 0, t.at(), filter, prog, func(p ProgramPage) (bool, error) { return true, fn(p) })
	}
	// Read the ranges in parallel, then hand their pages over in order.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([][]ProgramPage, len(spans))
	// The first error to happen is the answer: it cancels the other
	// ranges, whose errors then only say so.
	var firstErr error
	var once sync.Once
	sem := make(chan struct{}, maxParallelScans)
	var wg sync.WaitGroup
	for i, sp := range spans {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := t.c.scanProgramSpan(ctx, sp[0], sp[1], 0, t.at(), filter, prog, func(p ProgramPage) (bool, error) {
				pages[i] = append(pages[i], p)
				return true, nil
			})
			if err != nil {
				once.Do(func() { firstErr = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	for i := range spans {
		for _, p := range pages[i] {
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// rangeSpans cuts [start, end) at the boundaries of the ranges the client
// knows of (looking them up as needed).
func (c *Client) rangeSpans(ctx context.Context, start, end []byte) ([][2][]byte, error) {
	var out [][2][]byte
	for k := start; bytes.Compare(k, end) < 0; {
		d, err := c.LookupRange(ctx, k)
		if err != nil {
			return nil, err
		}
		segEnd := end
		if len(d.EndKey) > 0 && bytes.Compare(d.EndKey, end) < 0 {
			segEnd = d.EndKey
		}
		out = append(out, [2][]byte{k, segEnd})
		k = segEnd
	}
	return out, nil
}

// scanProgramSpan runs a programmed scan of [start, end) one response after
// the other; fn returns false to stop.
func (c *Client) scanProgramSpan(ctx context.Context, start, end []byte, limit int, ts engine.Timestamp, filter *kvpb.KeyFilter, prog Program, fn func(ProgramPage) (bool, error)) error {
	kept := 0
	for bytes.Compare(start, end) < 0 {
		want := 0
		if limit > 0 {
			want = limit - kept
		}
		req := &kvpb.Request{Value: &kvpb.Request_Scan{Scan: &kvpb.ScanRequest{StartKey: start, EndKey: end, Limit: int64(want),
			ReadTs: uint64(ts), Filter: filter, Program: prog.Code, ProgramArgs: prog.Args}}}
		resp, err := c.sendResolving(ctx, start, req)
		if err != nil {
			return err
		}
		s := resp.GetScan()
		c.scans.record(s)
		kept += len(s.GetRows())
		more, err := fn(ProgramPage{Rows: s.GetRows(), Partial: s.GetPartial()})
		if err != nil || !more {
			return err
		}
		if len(s.GetResumeKey()) == 0 {
			break
		}
		start = s.ResumeKey
	}
	return nil
}
