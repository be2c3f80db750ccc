package sql

import (
	"errors"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/sql/expr"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/sql/types"
)

// scanSpan is one key span a scan reads, with the filter of its keys.
type scanSpan struct {
	start, end []byte
	filter     *kvpb.KeyFilter
}

// spans returns what a full or shard scan reads: the database's span
// filtered to the table's rows, or the table's rows in the shard blocks of
// the given shard values.
func (s *scanRel) spans(e *execCtx) ([]scanSpan, error) {
	t := s.table
	pk := t.PrimaryIndex()
	if s.kind != accessShard {
		start, end := rowenc.DatabaseSpan(t.DB)
		return []scanSpan{{start: start, end: end, filter: rowenc.TableFilter(t, pk.ID)}}, nil
	}
	sc := t.ColumnByID(t.ShardColumn)
	vals, err := keyValues(e, s.shardVals, sc.Type)
	if err != nil {
		return nil, err
	}
	var hashes []uint64
	for _, d := range vals {
		hashes = appendUniqueHash(hashes, rowenc.ShardHash(sc.Type, d))
	}
	out := make([]scanSpan, len(hashes))
	for i, h := range hashes {
		prefix := rowenc.IndexPrefix(t.DB, h, t.ID, pk.ID)
		out[i] = scanSpan{start: prefix, end: keys.PrefixEnd(prefix)}
	}
	return out, nil
}

// keyValues evaluates lookup values and converts them to a key column's
// type, leaving out those that cannot equal any of its values.
func keyValues(e *execCtx, xs []expr.Expr, to types.T) ([]types.Datum, error) {
	var out []types.Datum
	for _, x := range xs {
		d, err := expr.ConstEval(e.ev, x)
		if err != nil {
			return nil, err
		}
		if d, ok := keyValue(d, x.Type(), to); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// runProgram runs the scan's program over spans, handing fn each response
// in key order; limit > 0 stops after that many kept rows. ran is false when
// the program could not run (pushdown off, or the transaction's own writes
// in a span): the caller reads whole rows instead.
func (s *scanRel) runProgram(e *execCtx, spans []scanSpan, limit int, fn func(kv.ProgramPage) (kept int, err error)) (ran bool, err error) {
	if s.push == nil || !pushdownOn(e) {
		return false, nil
	}
	for _, sp := range spans {
		if e.txn.HasWrites(sp.start, sp.end, sp.filter) {
			return false, nil
		}
	}
	prog := kv.Program{Code: s.push.code, Args: encodeArgs(s.push.spec.Params, e.ev.Params)}
	total := 0
	for _, sp := range spans {
		want := 0
		if limit > 0 {
			if want = limit - total; want <= 0 {
				break
			}
		}
		err := e.txn.ScanProgram(e.ctx, sp.start, sp.end, want, sp.filter, prog, func(pg kv.ProgramPage) error {
			n, err := fn(pg)
			total += n
			return err
		})
		if errors.Is(err, kv.ErrOwnWrites) {
			return false, nil
		}
		if err != nil {
			return false, fromProgramError(err)
		}
	}
	return true, nil
}

// scanPushed reads the scan's rows through its row program (filter,
// projection, limit); pushed is false when it did not (see runProgram).
func (s *scanRel) scanPushed(e *execCtx, spans []scanSpan) (found []scanned, pushed bool, err error) {
	if s.push == nil || s.push.agg {
		return nil, false, nil
	}
	limit := 0
	if l := s.push.limit; l != nil {
		// A bad LIMIT or OFFSET is the limit operator's error to report.
		lim, err1 := evalCount(e, l.limit, "LIMIT")
		off, err2 := evalCount(e, l.offset, "OFFSET")
		if err1 == nil && err2 == nil && lim >= 0 {
			if lim == 0 {
				return nil, true, nil
			}
			limit = int(min(lim+max(off, 0), 1<<40))
		}
	}
	t := s.table
	pushed, err = s.runProgram(e, spans, limit, func(pg kv.ProgramPage) (int, error) {
		for _, kv := range pg.Rows {
			r, err := rowenc.DecodeRow(t, kv.Key, kv.Value)
			if err != nil {
				return 0, err
			}
			found = append(found, scanned{key: kv.Key, row: r})
		}
		return len(pg.Rows), nil
	})
	return found, pushed, err
}

// pushedRows computes the aggregation from the partial aggregates of its
// scan's ranges; ok is false when the scan could not run its program.
func (r *aggRel) pushedRows(e *execCtx) (out []row, ok bool, err error) {
	s := r.push
	spans, err := s.spans(e)
	if err != nil {
		return nil, false, err
	}
	m := r.newMerger()
	prog := s.push.prog
	ok, err = s.runProgram(e, spans, 0, func(pg kv.ProgramPage) (int, error) {
		return 0, prog.decodePartials(pg.Partial, func(vals row, states [][]any) error {
			g := m.group(vals)
			for i, st := range states {
				if err := g.states[i].(expr.Partial).Merge(st); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil || !ok {
		return nil, ok, err
	}
	out, err = m.finish(e)
	return out, true, err
}
